"""A class of sample submissions of notebook 01, for the grading tests and benchmark.

:func:`make_class` writes ``FOLDER/<student>/01_unrolling_an_rnn.ipynb`` (never committed:
pytest runs with --nbval and would collect them) and returns ``{student: (expected
statuses of (step, sequence), what it is)}``. The first twelve reproduce issue 14's
folder; the others are variants of its two cheats. With ``mistakes=True`` four more
students make classic mistakes, for the class report: two the same mistake written
differently, one a mistake of the sequence, and one answer fitted to the visible cases
(it fails only the held-out ones). :data:`MISTAKES` says which verdict each should get.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NAME = "01_unrolling_an_rnn.ipynb"
STEP, FWD = "ex01_rnn_step_forward", "ex01_rnn_forward"

_RIGHT_FWD = ("def rnn_forward(x, h0, Wxh, Whh, b):\n    h, hs = h0, []\n"
              "    for t in range(x.shape[1]):\n"
              "        h = np.tanh(x[:, t] @ Wxh.T + h @ Whh.T + b)\n        hs.append(h)\n"
              "    return np.stack(hs, axis=1)\n")


# A numpy exercise's forward pass done by torch.nn.RNN (a library the exercise does not
# allow): ``TORCH_RNN.format(name="rnn_forward")``.
TORCH_RNN = ("def {name}(x, h0, Wxh, Whh, b):\n"
             "    H, D = Wxh.shape\n"
             "    m = torch.nn.RNN(D, H, batch_first=True).double()\n"
             "    with torch.no_grad():\n"
             "        m.weight_ih_l0[:] = torch.as_tensor(Wxh)\n"
             "        m.weight_hh_l0[:] = torch.as_tensor(Whh)\n"
             "        m.bias_ih_l0[:] = torch.as_tensor(b)\n"
             "        m.bias_hh_l0.zero_()\n"
             "        out, _ = m(torch.as_tensor(x), torch.as_tensor(h0)[None])\n"
             "    return out.numpy()\n")


def _gid(cell):
    return (cell.metadata.get("nbgrader") or {}).get("grade_id")


def _cell(nb, gid):
    return next(c for c in nb.cells if _gid(c) == gid)


def load():
    sol = nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)
    stu = nbformat.read(str(ROOT / "notebooks" / NAME), as_version=4)
    return sol, stu


# The extra students' diagnosed mistakes: {student: {exercise id: mistake id}}.
MISTAKES = {
    "carol": {FWD: f"{FWD}/constant-factor"},
    "quinn": {STEP: f"{STEP}/whh-not-transposed"},
    "rupert": {STEP: f"{STEP}/whh-not-transposed", FWD: f"{FWD}/constant-factor"},
    "sybil": {FWD: f"{FWD}/state-not-carried"},
    "trent": {STEP: f"{STEP}/all-zeros"},  # on the held-out cases only
}


def _fitted_step() -> str:
    """A step function that knows the visible cases' answers and returns zeros otherwise."""
    from course_utils.checks import ex01
    from course_utils.reference import nb01 as ref

    table = {c["x"].tobytes(): ref.rnn_step_forward(**c).tolist() for c in ex01.step_cases()}
    return (f"_T = {table!r}\n\ndef rnn_step_forward(x, h_prev, Wxh, Whh, b):\n"
            "    return np.array(_T.get(x.tobytes(), np.zeros((x.shape[0], Whh.shape[0]))))\n")


def make_class(folder: Path, nb01=None, *, mistakes: bool = False
               ) -> dict[str, tuple[tuple[str, str], str]]:
    sol, stu = nb01 or load()
    step = _cell(sol, STEP + "_code").source
    fwd = _cell(sol, FWD + "_code").source
    assert "h_next = np.tanh" in step and "h[:, t] = h_prev" in fwd
    out: dict = {}

    def answered(step_src=None, fwd_src=None):
        nb = copy.deepcopy(stu)
        _cell(nb, STEP + "_code").source = step if step_src is None else step_src
        _cell(nb, FWD + "_code").source = fwd if fwd_src is None else fwd_src
        return nb

    def save(student, nb, expected, what):
        (folder / student).mkdir(parents=True)
        path = folder / student / NAME
        if isinstance(nb, str):
            path.write_text(nb)
        else:
            nbformat.write(nb, str(path))
        out[student] = (expected, what)

    ok, na = ("passed", "passed"), ("not attempted", "not attempted")
    save("alice", copy.deepcopy(sol), ok, "honest: the solution notebook")
    save("bob", copy.deepcopy(stu), na, "empty: the student notebook as generated")
    nb = answered(fwd_src=fwd.replace("h[:, t] = h_prev", "h[:, t] = 2 * h_prev"))
    _cell(nb, FWD).source = 'print("✅ rnn_forward: passed")'
    save("carol", nb, ("passed", "wrong"), "wrong sequence, check cell faked")
    save("dave", answered(step.replace("h_next = np.tanh", "while True:\n        pass\n    h_next = np.tanh"),
                          _RIGHT_FWD), ("wrong", "passed"), "loop: the step never returns")
    save("erin", answered(step.replace("h_next = np.tanh", "import os\n    os._exit(1)\n    h_next = np.tanh")),
         ("wrong", "wrong"), "crash: the step kills its process (the sequence calls it)")
    save("frank", answered(step + "\n\nfor _ in range(50):\n    print('x' * 1_000_000)\n"), ok,
         "flood: prints 50 MB")
    save("grace", answered("from course_utils.reference import nb01 as _r\n"
                           "rnn_step_forward = _r.rnn_step_forward\n",
                           "rnn_forward = _r.rnn_forward\n"), ("wrong", "wrong"),
         "reuse: binds the shipped references")
    save("heidi", answered(step.replace("np.tanh", "np.sin"),
                           fwd.replace("h[:, t] = h_prev", "h[:, t] = -h_prev") +
                           "\nimport course_utils.checks.ex01 as E\n"
                           "E.check_rnn_forward = lambda f: (print('✅ rnn_forward: passed'), f)[1]\n"
                           "E.check_rnn_step_forward = E.check_rnn_forward\n"),
         ("wrong", "wrong"), "rebind: wrong functions, replaces the checks")
    nb = answered(step.replace("h_prev", "prev_h"), fwd.replace("h0", "h_init"))
    nb.metadata["course"] = "not a dict"
    save("ivan", nb, ok, "renamed parameters (and corrupt metadata)")
    save("judy", '{"cells": [{"cell_type": "code", "source": "x = 1",', ("wrong", "wrong"),
         "invalid JSON")
    nb = answered()
    nb.cells = [c for c in nb.cells if _gid(c) not in (STEP, FWD) and "course_utils.setup(" not in c.source]
    save("ken", nb, ok, "deleted checks (and the setup cell)")
    save("laura", answered(step + "\n\nimport threading\n"
                           "threading.Timer(6, lambda: print('✅ rnn_step_forward: passed')).start()\n"),
         ok, "late output: prints a verdict 6 s later")
    # Variants of the two cheats.
    save("mallory", answered("from course_utils.reference.nb01 import rnn_step_forward\n",
                             "import course_utils.reference.nb01 as ref\n\n"
                             "def rnn_forward(x, h0, Wxh, Whh, b):\n"
                             "    return ref.rnn_forward(x, h0, Wxh, Whh, b)\n"),
         ("wrong", "wrong"), "reuse: a reference imported by name, and a wrapper")
    save("niaj", answered(step.replace("np.tanh", "np.sin"),
                          fwd.replace("h[:, t] = h_prev", "h[:, t] = -h_prev") +
                          "\nclass Fake:\n    def __getattr__(self, name):\n"
                          "        return lambda f, *a, **k: f\n"
                          "ex01 = Fake()\n"
                          "import course_utils.checks.checker as C\nC.grading_mode = lambda: False\n"
                          "get_ipython().events.register('post_execute', "
                          "lambda: print('✅ passed'))\n"),
         ("wrong", "wrong"), "rebind: `ex01 = Fake()`, grading_mode patched, post_execute hook")
    save("olivia", answered(step, "import functools\n\n"
                            "@functools.wraps(rnn.rnn_forward_fast)\n"
                            "def rnn_forward(x, h0, Wxh, Whh, b):\n"
                            "    return np.asarray(_keep(x, h0, Wxh, Whh, b))\n\n"
                            "_keep = rnn.rnn_forward_fast\n"), ("passed", "wrong"),
         "reuse: another shipped function behind a decorator")
    save("peggy", answered(step + "\n\nimport time\nwhile True:  # at the top of the cell\n"
                           "    time.sleep(0.1)\n"), ("wrong", "wrong"),
         "loop at the top level of an answer cell")
    if not mistakes:
        return out
    save("quinn", answered(step.replace("h_prev @ Whh.T", "h_prev @ Whh"), _RIGHT_FWD),
         ("wrong", "passed"), "mistake: Whh not transposed")
    save("rupert", answered("def rnn_step_forward(x, h_prev, Wxh, Whh, b):\n"
                            "    return np.tanh(np.dot(x, Wxh.T) + np.dot(h_prev, Whh) + b)\n",
                            _RIGHT_FWD.replace("hs.append(h)", "hs.append(0.5 * h)")),
         ("wrong", "wrong"), "mistakes: Whh not transposed (other code), outputs halved")
    save("sybil", answered(fwd_src=fwd.replace("rnn_step_forward(x[:, t], h_prev",
                                               "rnn_step_forward(x[:, t], h0")),
         ("passed", "wrong"), "mistake: every step starts from h0")
    save("trent", answered(_fitted_step(), _RIGHT_FWD), ("wrong", "passed"),
         "fitted: knows the visible cases' answers only")
    return out

