"""Red-team suite of the grader (issue 22): submissions of notebook 01 with otherwise empty
or wrong work that attack the grader. Each must score 0 or be flagged for review under
``course grade`` (called through the grader's Python entry point, as the grading tests do),
and none may change another submission's grade.

An attack the grader does not stop yet is marked ``xfail(strict=True)`` with the reason, so
the day it is stopped the mark must go (and the threat model be updated).
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from grading_students import FWD, NAME, STEP, TORCH_RNN, _cell, load

from course_utils.tooling.grading import grading, sandbox_view

ROOT = Path(__file__).resolve().parents[1]
SEED = 4242
pytestmark = pytest.mark.slow

needs_namespaces = pytest.mark.skipif(not sandbox_view.can_hide(),
                                      reason="needs Linux user namespaces (unshare)")


@pytest.fixture(scope="module")
def nb01():
    return load()


def _save(folder: Path, student: str, nb) -> Path:
    (folder / student).mkdir(parents=True, exist_ok=True)
    path = folder / student / NAME
    nbformat.write(nb, str(path))
    return path


def _added(stu, source: str, *, after: str = FWD):
    """The student notebook with a code cell the student added after ``after``'s cell."""
    nb = copy.deepcopy(stu)
    i = nb.cells.index(_cell(nb, after))
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(source))
    return nb


def _answered(stu, step=None, fwd=None, added=None):
    """The student notebook with the step and forward answers given (the others left as
    generated) and, if ``added``, a code cell the student added after the forward's cell."""
    nb = copy.deepcopy(stu)
    for gid, src in ((STEP, step), (FWD, fwd)):
        if src is not None:
            _cell(nb, gid + "_code").source = src
    return _added(nb, added) if added else nb


def _grade(folder: Path, **kw) -> dict:
    res = grading.grade([folder], seeds=[SEED], timeout=120, cell_timeout=60, **kw)
    return {r.student: r for r in res}


# ---------------------------------------------------------------------------------------
# Cross-submission writes
# ---------------------------------------------------------------------------------------
# An added cell that, for 25 s, rewrites every file it can find under the grader's
# temporary folders and the other submissions: job files get 50 points per exercise and a
# notebook path of its choosing (the honest solution it plants), result files full marks,
# notebooks the honest solution.
_REWRITE_EVERYTHING = r'''
import json, os, tempfile, time
_HONEST = "@HONEST@"
_TARGETS = "@TARGETS@"

def _forge(path):
    name = os.path.basename(path)
    try:
        if name.endswith(".ipynb"):
            open(path, "w").write(_HONEST)
            return
        try:
            data = json.load(open(path))
        except Exception:
            data = None
        if isinstance(data, dict):
            for key in ("entries", "exercises"):
                for e in data.get(key) or []:
                    if isinstance(e, dict):
                        e["points"] = e["max_points"] = 50
                        e["status"] = "passed"
            if "path" in data:
                planted = os.path.join(os.path.dirname(path), "planted.ipynb")
                open(planted, "w").write(_HONEST)
                data["path"] = planted
            open(path, "w").write(json.dumps(data))
        else:
            open(path, "w").write("x")
    except Exception:
        pass

def _tops():
    for tmp in {tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"}:
        try:
            for d in os.listdir(tmp):
                if d.startswith(("course-", "tmp")):  # the grader's and Python's folders
                    yield os.path.join(tmp, d)
        except OSError:
            pass
    yield from _TARGETS

_end = time.monotonic() + 25
while time.monotonic() < _end:
    for top in _tops():
        for dirpath, dirnames, filenames in os.walk(top):
            for f in filenames:
                _forge(os.path.join(dirpath, f))
    time.sleep(0.005)
'''


@needs_namespaces
def test_no_submission_changes_another_s_grade(tmp_path, nb01):
    sol, stu = nb01
    folder = tmp_path / "submitted"
    # Two at a time: the attacker (aaron) runs while adam is graded, then bob, the
    # submission graded next; both are empty and must stay at 0.
    _save(folder, "adam", copy.deepcopy(stu))
    victim = _save(folder, "bob", copy.deepcopy(stu))
    before = victim.read_bytes()
    honest = nbformat.writes(sol)
    src = (_REWRITE_EVERYTHING.replace('"@HONEST@"', repr(honest))
           .replace('"@TARGETS@"', repr([str(folder), str(tmp_path)])))
    compile(src, "attack", "exec")
    _save(folder, "aaron", _added(stu, src))
    got = _grade(folder, jobs=2)
    for student in ("adam", "bob", "aaron"):
        assert got[student].total == 0 and got[student].max_total == 5, got[student]
    for student in ("adam", "bob"):
        assert [e.status for e in got[student].exercises] == ["not attempted"] * 2, got[student]
    assert victim.read_bytes() == before
    assert not any(p.name == "planted.ipynb" for p in tmp_path.rglob("*"))


# ---------------------------------------------------------------------------------------
# The other attacks: each submission's work is otherwise empty. An attack on the sandbox
# (un-hiding, reading secrets) must earn 0 points: a review flag is not enough, since the
# text the flags look for is easy to hide. Reuse must earn 0 or be flagged.
# ---------------------------------------------------------------------------------------
def _zero_or_flagged(r) -> list:
    """The exercises that earned points without a review flag (should be none)."""
    assert r.max_total == 5, r
    return [(e.id, e.points, e.reason) for e in r.exercises if e.points and not e.review]


# Where a solution's code turns up, define the two functions from it (the attacker's
# "payload"): a code cell of the solution notebook, a reference module's text, a plan.
_PAYLOAD = r'''
import json as _json, re as _re

def _use(text):
    """Define rnn_step_forward and rnn_forward from any text holding their code."""
    try:
        cells = [c.get("source", "") for c in _json.loads(text).get("cells", [])]
        cells = ["".join(c) if isinstance(c, list) else c for c in cells]
    except Exception:
        cells = [text]
    found = {}
    for src in cells:
        if "def rnn_step_forward" in src or "def rnn_forward" in src:
            ns = {"np": __import__("numpy")}
            try:
                exec(src.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""), ns)
            except BaseException:
                continue
            for k in ("rnn_step_forward", "rnn_forward"):
                if callable(ns.get(k)) and k not in found:
                    found[k] = ns[k]
    globals().update(found)
    return bool(found)
'''


def _earned(r) -> list:
    """The exercises that earned points (an attack that must be stopped: none)."""
    assert r.max_total == 5, r
    return [(e.id, e.points, e.reason) for e in r.exercises if e.points]


def _attack(stu, body: str):
    return _added(stu, _PAYLOAD + body)


@needs_namespaces
def test_the_hidden_solutions_cannot_be_unhidden(tmp_path, nb01):
    """umount / remount of the folder hidden over solutions/, as root of the sandbox's user
    namespace, by the command and by the system call; then read the solution."""
    sol_dir = ROOT / "solutions"
    body = f'''
import ctypes, os, subprocess
_d = {str(sol_dir)!r}
for _cmd in (["umount", _d], ["umount", "-l", _d], ["mount", "-o", "remount,rw", _d],
             ["mount", "--bind", "/", "/mnt"]):
    subprocess.run(_cmd, capture_output=True)
_libc = ctypes.CDLL(None, use_errno=True)
for _i in range(3):
    _libc.umount2(_d.encode(), 2)  # MNT_DETACH
for _f in os.listdir(_d) if os.path.isdir(_d) else []:
    if _f.startswith("01"):
        _use(open(os.path.join(_d, _f)).read())
'''
    _save(tmp_path, "uma", _attack(nb01[1], body))
    r = _grade(tmp_path)["uma"]
    assert _earned(r) == [], r


@needs_namespaces
def test_no_job_plan_or_seed_is_within_reach(tmp_path, nb01):
    """Every process's command line, environment and open files, and every file under
    the temporary folders: none holds the plan (the solution's code) or the seeds."""
    body = r'''
import os, tempfile
_texts = []
for _p in os.listdir("/proc"):
    if not _p.isdigit():
        continue
    for _n in ("cmdline", "environ"):
        try:
            _texts.append(open(f"/proc/{_p}/{_n}", "rb").read().decode(errors="replace"))
        except OSError:
            pass
    try:
        for _fd in os.listdir(f"/proc/{_p}/fd"):
            try:
                _h = os.open(f"/proc/{_p}/fd/{_fd}", os.O_RDONLY | os.O_NONBLOCK)
                _texts.append(os.read(_h, 1 << 22).decode(errors="replace"))
                os.close(_h)
            except OSError:
                pass
    except OSError:
        pass
_tops = ["/dev/shm"]
for _tmp in {tempfile.gettempdir(), "/tmp", "/var/tmp"}:
    try:  # the grader's folders (other folders hold other copies: see the test below)
        _tops += [os.path.join(_tmp, d) for d in os.listdir(_tmp) if d.startswith("course-")]
    except OSError:
        pass
for _top in _tops:
    for _dp, _dn, _fn in os.walk(_top):
        for _f in _fn:
            try:
                _texts.append(open(os.path.join(_dp, _f), errors="replace").read(1 << 22))
            except OSError:
                pass
_SEEN = [t for t in _texts if "4242" in t or "solution_sources" in t]
for _t in _texts:
    if "rnn_step_forward" in _t:
        try:
            for _s in _json.loads(_t).get("plan", {}).get("solution_sources", []):
                _use(_s)
        except Exception:
            _use(_t)
'''
    _save(tmp_path, "vic", _attack(nb01[1], body))
    r = _grade(tmp_path)["vic"]
    assert _earned(r) == [], r


def test_the_import_finder_holds_no_reference_code(tmp_path, nb01):
    """The sandbox's import finder serves course_utils from the sources the grader sent: a
    reference's code is not among them."""
    body = r'''
import sys
for _f in sys.meta_path:
    _src = getattr(_f, "sources", {}).get("course_utils.reference.nb01")
    if _src:
        _ns = {"__name__": "course_utils.reference.copy", "__package__": "course_utils.reference"}
        exec(_src, _ns)
        rnn_step_forward, rnn_forward = _ns["rnn_step_forward"], _ns["rnn_forward"]
'''
    _save(tmp_path, "walt", _attack(nb01[1], body))
    r = _grade(tmp_path)["walt"]
    assert _earned(r) == [], r


@pytest.mark.xfail(not sandbox_view.can_bwrap(), strict=True,
                   reason="without bubblewrap's allow-list view of the disk the sandbox "
                   "reads every folder but the hidden ones: another copy of the course (a "
                   "clone, a backup) gives the answers")
@needs_namespaces
def test_another_copy_of_the_course_on_disk_gives_nothing(tmp_path, nb01):
    backup = tmp_path / "backup" / "reference_nb01.py"
    backup.parent.mkdir()
    backup.write_text((ROOT / "src" / "course_utils" / "reference" / "nb01.py").read_text())
    body = f'''
import os
for _dp, _dn, _fn in os.walk({str(tmp_path / "backup")!r}):
    for _f in _fn:
        _use(open(os.path.join(_dp, _f)).read())
'''
    _save(tmp_path / "submitted", "xena", _attack(nb01[1], body))
    r = _grade(tmp_path / "submitted")["xena"]
    assert _earned(r) == [], r


# A course function that computes the step: torch's, from another lesson.
_SHIPPED_STEP = ("from course_utils.maths.tbptt import torch_rnn_step\n\n"
                 "def {name}(x, h_prev, Wxh, Whh, b):\n"
                 "    t = [torch.as_tensor(a) for a in (x, h_prev, Wxh, Whh, b)]\n"
                 "    return torch_rnn_step(*t).numpy()\n")


def test_a_shipped_function_named_in_the_answer_is_flagged(tmp_path, nb01):
    _save(tmp_path, "yan", _answered(nb01[1], step=_SHIPPED_STEP.format(name="rnn_step_forward")))
    r = _grade(tmp_path)["yan"]
    assert _zero_or_flagged(r) == [], r


def test_a_library_the_exercise_does_not_allow_is_flagged(tmp_path, nb01):
    _save(tmp_path, "zed", _answered(nb01[1], fwd=TORCH_RNN.format(name="rnn_forward")))
    r = _grade(tmp_path)["zed"]
    assert _zero_or_flagged(r) == [], r
    flags = next(e.review for e in r.exercises if e.id == FWD)
    assert any("torch.nn.modules" in f and "this exercise asks for numpy" in f
               for f in flags), flags


# ---------------------------------------------------------------------------------------
# Reuse detected by behaviour (issue 22 item 3): what runs underneath the student's
# function while the check calls it, whatever the cell and whatever the text.
# ---------------------------------------------------------------------------------------
# notebook 01's setup cell imports `unrolling`, whose `jacobians.forward` is the forward
# pass of another lesson (not a reference; nothing in the text names the course)
_SETUP_FORWARD = ("def rnn_step_forward(x, h_prev, Wxh, Whh, b):\n"
                  "    return unrolling.jacobians.forward(x[:, None], h_prev, Wxh, Whh, b)[:, 0]\n")
_SETUP_SEQ = ("def rnn_forward(x, h0, Wxh, Whh, b):\n"
              "    return unrolling.jacobians.forward(x, h0, Wxh, Whh, b)\n")
_IMPORTED_SEQ = ("from course_utils.maths.jacobians import forward as _fw\n\n"
                 "def rnn_forward(x, h0, Wxh, Whh, b):\n"
                 "    return _fw(x, h0, Wxh, Whh, b)\n")
_ADDED_HELPER = "import torch\n\n" + TORCH_RNN.format(name="_fast")
_CALLS_HELPER = ("def rnn_forward(x, h0, Wxh, Whh, b):\n"
                 "    return _fast(x, h0, Wxh, Whh, b)\n")


@pytest.fixture(scope="module")
def by_behaviour(tmp_path_factory, nb01):
    sol, stu = nb01
    folder = tmp_path_factory.mktemp("behaviour")

    def answered(step=None, fwd=None, added=None):
        return _answered(stu, step, fwd, added)

    right_step, right_fwd = (_cell(sol, g + "_code").source for g in (STEP, FWD))
    _save(folder, "sam", answered(_SETUP_FORWARD, _SETUP_SEQ))
    _save(folder, "ida", answered(right_step, _IMPORTED_SEQ))
    _save(folder, "ada", answered(right_step, _CALLS_HELPER, added=_ADDED_HELPER))
    _save(folder, "hal", answered(right_step, right_fwd))
    return _grade(folder, jobs=2)


def _exercise(r, gid):
    return next(e for e in r.exercises if e.id == gid)


def test_a_course_function_the_setup_cell_imports_earns_nothing(by_behaviour):
    r = by_behaviour["sam"]
    assert _earned(r) == [], r
    for gid in (STEP, FWD):
        e = _exercise(r, gid)
        assert e.reason.startswith("not your work") and \
            "`course_utils.maths.jacobians.forward`" in e.reason, e


def test_a_course_function_off_the_reference_list_earns_nothing(by_behaviour):
    r = by_behaviour["ida"]
    assert (_exercise(r, STEP).points, _exercise(r, FWD).points) == (2, 0), r
    assert "`course_utils.maths.jacobians.forward` ran inside `rnn_forward`" in \
        _exercise(r, FWD).reason


def test_a_library_used_in_an_added_cell_is_flagged(by_behaviour):
    r = by_behaviour["ada"]
    assert [x for x in _zero_or_flagged(r) if x[0] == FWD] == [], r
    flags = _exercise(r, FWD).review
    assert any("(torch) ran inside `rnn_forward`; this exercise asks for numpy" in f
               for f in flags), flags
    assert not _exercise(r, STEP).review


def test_an_honest_answer_earns_full_marks_and_no_flag(by_behaviour):
    r = by_behaviour["hal"]
    assert r.total == r.max_total == 5, r
    assert [e.review for e in r.exercises] == [[], []], r


def test_a_shipped_torch_step_earns_nothing(tmp_path, nb01):
    nb = copy.deepcopy(nb01[1])
    _cell(nb, STEP + "_code").source = _SHIPPED_STEP.format(name="rnn_step_forward")
    _save(tmp_path, "yul", nb)
    e = _exercise(_grade(tmp_path)["yul"], STEP)
    assert e.points == 0 and "`course_utils.maths.tbptt.torch_rnn_step`" in e.reason, e


def test_review_flags_read_the_cells_the_student_added(tmp_path, nb01):
    """The answer cells are left as released; an added cell defines both functions: one a
    copy of the reference, one from a shipped function."""
    ref = (ROOT / "src" / "course_utils" / "reference" / "nb01.py").read_text()
    fwd = ref[ref.index("def rnn_forward"):].replace("rnn_step_forward(", "_step(")
    nb = _added(nb01[1], _SHIPPED_STEP.format(name="_step") + "\nrnn_step_forward = _step\n\n"
                + fwd)
    _save(tmp_path, "amos", nb)
    r = _grade(tmp_path)["amos"]
    assert _earned(r) == [], r  # the shipped torch step runs underneath both: 0
    fwd_flags = next(e.review for e in r.exercises if e.id == FWD)
    assert any("(added)" in f for f in fwd_flags), fwd_flags


# ---------------------------------------------------------------------------------------
# Work in another thread or process (issue 29 item 2): whatever thread or process does the
# work, the check sees it, as if the answer did it itself.
# ---------------------------------------------------------------------------------------
_TORCH_STEP = ("def _fast_step(x, h_prev, Wxh, Whh, b):\n"
               "    return _fast(x[:, None], h_prev, Wxh, Whh, b)[:, 0]\n")
# an added cell starts a worker thread; the answers hand their arguments to it
_WORKER_THREAD = ("import queue, threading\nimport torch\n\n" + TORCH_RNN.format(name="_fast")
                  + "\n" + _TORCH_STEP + "\n_jobs, _answers = queue.Queue(), queue.Queue()\n\n"
                  "def _serve():\n    while True:\n        fn, args = _jobs.get()\n"
                  "        _answers.put(fn(*args))\n\n"
                  "threading.Thread(target=_serve, daemon=True, name='worker').start()\n")
_QUEUED_STEP = ("def rnn_step_forward(x, h_prev, Wxh, Whh, b):\n"
                "    _jobs.put((_fast_step, (x, h_prev, Wxh, Whh, b)))\n"
                "    return _answers.get()\n")
_QUEUED_FWD = ("def rnn_forward(x, h0, Wxh, Whh, b):\n"
               "    _jobs.put((_fast, (x, h0, Wxh, Whh, b)))\n    return _answers.get()\n")
# threads the answers start: through threading, and past it
_THREAD_FWD = ("def rnn_forward(x, h0, Wxh, Whh, b):\n    import threading\n    out = []\n"
               "    t = threading.Thread(target=lambda: out.append(_fast(x, h0, Wxh, Whh, b)))\n"
               "    t.start()\n    t.join()\n    return out[0]\n")
_RAW_THREAD_STEP = ("def rnn_step_forward(x, h_prev, Wxh, Whh, b):\n    import _thread, time\n"
                    "    out = []\n    _thread.start_new_thread(\n"
                    "        lambda: out.append(_fast_step(x, h_prev, Wxh, Whh, b)), ())\n"
                    "    while not out:\n        time.sleep(0.001)\n    return out[0]\n")
# a process forked by an added cell serves rnn_forward through a pipe; rnn_step_forward
# runs a Python process for each call
_SERVER_PROCESS = ("import multiprocessing as _mp\n\n"
                   "def _serve(conn):\n    while True:\n        x, h, Wxh, Whh, b = conn.recv()\n"
                   "        hs = []\n        for t in range(x.shape[1]):\n"
                   "            h = np.tanh(x[:, t] @ Wxh.T + h @ Whh.T + b)\n"
                   "            hs.append(h)\n        conn.send(np.stack(hs, 1))\n\n"
                   "_here, _there = _mp.get_context('fork').Pipe()\n"
                   "_mp.get_context('fork').Process(target=_serve, args=(_there,), daemon=True)"
                   ".start()\n")
_PIPED_FWD = ("def rnn_forward(x, h0, Wxh, Whh, b):\n    _here.send((x, h0, Wxh, Whh, b))\n"
              "    return _here.recv()\n")
_SUBPROCESS_STEP = (
    "def rnn_step_forward(x, h_prev, Wxh, Whh, b):\n    import json, subprocess, sys\n"
    "    code = ('import json, math, sys\\n'\n"
    "            'x, h, W, U, b = json.load(sys.stdin)\\n'\n"
    "            'print(json.dumps([[math.tanh(sum(p * q for p, q in zip(xr, w)) '\n"
    "            '+ sum(p * q for p, q in zip(hr, u)) + c) for w, u, c in zip(W, U, b)] '\n"
    "            'for xr, hr in zip(x, h)]))')\n"
    "    data = json.dumps([a.tolist() for a in (x, h_prev, Wxh, Whh, b)])\n"
    "    out = subprocess.run([sys.executable, '-I', '-c', code], input=data,\n"
    "                         capture_output=True, text=True).stdout\n"
    "    return np.array(json.loads(out))\n")


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory, nb01):
    folder = tmp_path_factory.mktemp("elsewhere")

    def answered(step, fwd, added):
        return _answered(nb01[1], step, fwd, added)

    _save(folder, "tom", answered(_QUEUED_STEP, _QUEUED_FWD, _WORKER_THREAD))
    _save(folder, "tia", answered(_RAW_THREAD_STEP, _THREAD_FWD, "import torch\n\n"
                                  + TORCH_RNN.format(name="_fast") + "\n" + _TORCH_STEP))
    _save(folder, "pat", answered(_SUBPROCESS_STEP, _PIPED_FWD, _SERVER_PROCESS))
    return _grade(folder, jobs=2)


def test_a_worker_thread_started_in_an_earlier_cell_is_flagged(elsewhere):
    r = elsewhere["tom"]
    assert _zero_or_flagged(r) == [], r
    for gid, fn in ((STEP, "rnn_step_forward"), (FWD, "rnn_forward")):
        assert any(f"(torch) ran inside `{fn}` in another thread (`worker`); this exercise "
                   "asks for numpy" in f for f in _exercise(r, gid).review), _exercise(r, gid)


def test_threads_started_during_the_check_are_seen(elsewhere):
    r = elsewhere["tia"]
    assert _zero_or_flagged(r) == [], r
    step, fwd = _exercise(r, STEP), _exercise(r, FWD)
    assert step.points == 0 and "a thread started outside `threading`" in step.reason, step
    assert any("(torch) ran inside `rnn_forward` in another thread" in f for f in fwd.review), fwd


def test_work_done_by_a_child_process_earns_nothing(elsewhere):
    r = elsewhere["pat"]
    assert _earned(r) == [], r
    step, fwd = _exercise(r, STEP), _exercise(r, FWD)
    assert "a child process started (`" in step.reason, step  # fork_exec or posix_spawn
    assert "a child process was running (pid" in fwd.reason, fwd
