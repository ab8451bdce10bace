"""The behaviour recorder (course_utils.checks.behaviour): what runs underneath a student's
function while a check calls it, and the verdict on it (issue 22 item 3)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from grading_students import TORCH_RNN

from course_utils.checks import behaviour, discovery, registry

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = str(Path(registry.__file__).resolve().parents[1])


def _student(src: str, **glb) -> dict:
    """Define functions as a notebook cell does (module ``__main__``)."""
    ns = {"__name__": "__main__", "np": np, **glb}
    exec(compile(src, "<cell>", "exec"), ns)
    return ns


def _record(fn, *args, **kwargs):
    rec = behaviour.Recorder(package_dir=PACKAGE)
    out = rec.wrap(fn)(*args, **kwargs)
    return rec, out


def _kinds(rec, kind):
    return [e["what"] for e in rec.events() if e["kind"] == kind]


ARGS = dict(x=np.ones((2, 3, 4)), h0=np.zeros((2, 5)), Wxh=np.full((5, 4), 0.1),
            Whh=np.eye(5) * 0.5, b=np.zeros(5))


def test_numpy_only_code_records_numpy_and_nothing_of_the_course():
    ns = _student("def f(x, h0, Wxh, Whh, b):\n"
                  "    h, out = h0, np.zeros((x.shape[0], x.shape[1], h0.shape[1]))\n"
                  "    for t in range(x.shape[1]):\n"
                  "        h = np.tanh(x[:, t] @ Wxh.T + h @ Whh.T + b)\n"
                  "        out[:, t] = h\n"
                  "    return out\n")
    rec, _ = _record(ns["f"], **ARGS)
    assert _kinds(rec, "library") == ["numpy"]
    assert _kinds(rec, "course") == [] and _kinds(rec, "recorder") == []
    assert sys.getprofile() is None  # switched off again


def test_a_course_function_is_recorded_with_its_module_and_qualname_not_what_it_calls():
    from course_utils.lessons import unrolling

    ns = _student("def f(x, h0, Wxh, Whh, b):\n"
                  "    return unrolling.jacobians.forward(x, h0, Wxh, Whh, b)\n",
                  unrolling=unrolling)
    rec, out = _record(ns["f"], **ARGS)
    assert out.shape == (2, 3, 5)
    # forward calls activate (course code): only the function the student's code entered
    assert _kinds(rec, "course") == ["course_utils.maths.jacobians.forward"]
    why, flags = behaviour.judge(rec.events(), function="f", libraries=("numpy",))
    assert why.startswith("not your work") and "course_utils.maths.jacobians.forward" in why
    # an allowed helper earns nothing and is not flagged
    assert behaviour.judge(rec.events(), function="f", libraries=("numpy",),
                           helpers=("course_utils.maths.jacobians.forward",)) == (None, [])


def test_a_course_method_called_back_by_a_library_is_recorded():
    import torch

    from course_utils.lessons import charlm

    model = charlm.CharLM(5, 4, cell="rnn", emb_dim=3)
    ns = _student("def f(m, x):\n    return m(x, None)[0]\n")
    rec, _ = _record(ns["f"], model, torch.zeros((2, 3), dtype=torch.int64))
    assert _kinds(rec, "course") == ["course_utils.lessons.charlm.CharLM.forward"]
    assert _kinds(rec, "library") == ["torch"]


def test_torch_in_a_numpy_exercise_is_flagged_with_the_module():
    import torch

    ns = _student(TORCH_RNN.format(name="f"), torch=torch)
    rec, _ = _record(ns["f"], **ARGS)
    why, flags = behaviour.judge(rec.events(), function="rnn_forward", libraries=("numpy",))
    assert why is None and len(flags) == 1
    assert "torch.nn.modules" in flags[0] and "this exercise asks for numpy" in flags[0]
    assert "rnn_forward" in flags[0]


def test_torch_through_c_functions_only_is_seen_too():
    import torch

    ns = _student("def f(x, h0, Wxh, Whh, b):\n"
                  "    t = torch.from_numpy(x[:, 0])\n"
                  "    return torch.tanh(t).numpy()\n", torch=torch)
    rec, _ = _record(ns["f"], **ARGS)
    assert _kinds(rec, "library") == ["torch"]


def test_the_standard_library_is_always_allowed():
    import math

    ns = _student("import math, functools\n"
                  "def f(a):\n    return functools.reduce(lambda u, v: u + math.tanh(v), a, 0.0)\n")
    rec, _ = _record(ns["f"], [0.5, 1.0])
    assert rec.events() == []
    assert behaviour.judge(rec.events(), function="f", libraries=("numpy",)) == (None, [])
    assert math.isfinite(ns["f"]([1.0]))


def test_switching_the_recorder_off_is_caught():
    ns = _student("import sys\n"
                  "def f(a):\n    h = sys.getprofile()\n    sys.setprofile(None)\n"
                  "    sys.setprofile(h)\n    return a\n")
    rec, _ = _record(ns["f"], 1)
    assert {"sys.getprofile", "sys.setprofile"} <= set(_kinds(rec, "recorder"))
    why, _ = behaviour.judge(rec.events(), function="f", libraries=("numpy",))
    assert "recorder was switched off" in why
    ns = _student("import sys\ndef f(a):\n    sys.setprofile(None)\n    return a\n")
    rec, _ = _record(ns["f"], 1)
    assert "the profile hook was removed" in _kinds(rec, "recorder")
    assert sys.getprofile() is None


def test_threads_the_function_starts_are_recorded():
    import torch

    ns = _student("import threading\n"
                  "def f(a):\n    out = []\n"
                  "    t = threading.Thread(target=lambda: out.append(torch.tanh(torch.ones(1))))\n"
                  "    t.start(); t.join()\n    return a\n", torch=torch)
    rec, _ = _record(ns["f"], 1)
    assert _kinds(rec, "library") == ["torch"]
    assert threading.getprofile() is None if hasattr(threading, "getprofile") else True


def test_nested_wrapped_calls_and_a_raising_function_leave_no_hook_behind():
    rec = behaviour.Recorder(package_dir=PACKAGE)
    inner = rec.wrap(_student("def f(a):\n    return np.zeros(a)\n")["f"])
    outer = rec.wrap(_student("def g(a):\n    return inner(a)\n", inner=inner)["g"])
    assert outer(2).shape == (2,)
    boom = rec.wrap(_student("def b():\n    return 1 / 0\n")["b"])
    with pytest.raises(ZeroDivisionError):
        boom()
    assert sys.getprofile() is None and rec._active == 0
    assert _kinds(rec, "library") == ["numpy"]


def test_a_fresh_copy_s_names_are_the_course_s():
    assert behaviour.normal_name("_course_fresh_1a2b3c4d.maths.tbptt.detach_state") == \
        "course_utils.maths.tbptt.detach_state"
    assert behaviour.module_of_file(f"{PACKAGE}/maths/rnn.py", PACKAGE) == "course_utils.maths.rnn"
    assert behaviour.module_of_file("/tmp/ipykernel_1/2.py", PACKAGE) is None


def test_known_code_objects_are_the_course_s_whatever_their_file():
    src = "def helper(a):\n    return a + 1\n"
    code = compile(src, "<course course_utils.maths.fake>", "exec")
    ns = {"__name__": "course_utils.maths.fake"}
    exec(code, ns)
    known = {id(c): "course_utils.maths.fake" for c in behaviour.code_objects(code)}
    user = _student("def f(a):\n    return helper(a)\n", helper=ns["helper"])
    rec = behaviour.Recorder(known=known)
    assert rec.wrap(user["f"])(1) == 2
    assert _kinds(rec, "course") == ["course_utils.maths.fake.helper"]


# ---------------------------------------------------------------------------------------
# The registry declares what each answer may run
# ---------------------------------------------------------------------------------------
def test_every_code_exercise_declares_its_libraries_and_helpers():
    for e in discovery.exercises():
        if e.kind != registry.CODE:
            continue
        assert e.libraries and all(isinstance(x, str) and "." not in x for x in e.libraries), e.id
        assert not set(e.libraries) & behaviour.STDLIB, e.id
        for name in e.helper_names:
            assert name.startswith("course_utils."), (e.id, name)
        assert e.reference not in e.helpers, e.id
    with pytest.raises(ValueError, match="libraries"):
        registry.Exercise("ex01_x", 1, "X", 1, function="x", reference=len, cases=list,
                          seed=1, description="d", binds="x_fn")


def _solution_functions(path: Path) -> tuple[dict, list]:
    """The solution's setup cell and answer cells run as a notebook would (check cells
    become ``name = function``, as in ``course grade``), and its code entries."""
    from course_utils.tooling.grading import grading_checks

    nb = nbformat.read(str(path), as_version=4)
    plan = grading_checks.make_plan(str(path))
    ns = {"__name__": "__main__"}
    for _, src in plan.setup:
        exec(compile(grading_checks._strip_magics(src), "<setup>", "exec"), ns)
    entries = [e for e in discovery.exercises()
               if e.notebook == int(path.name[:2]) and e.kind == registry.CODE]
    for e in entries:
        cell = next(c for c in nb.cells
                    if (c.metadata.get("nbgrader") or {}).get("grade_id") == e.answer_id)
        exec(compile(cell.source, "<cell>", "exec"), ns)
        ns[e.binds] = ns[e.function]
    return ns, entries


@pytest.mark.slow
def test_no_answer_key_is_flagged_or_refused():
    """Every solution's answer, recorded while its check runs: no course function but its
    helpers, no library but its own (no false positive)."""
    for path in sorted((ROOT / "solutions").glob("0*.ipynb")):
        ns, entries = _solution_functions(path)
        for e in entries:
            rec = behaviour.Recorder(package_dir=PACKAGE)
            assert e.run_check(rec.wrap(ns[e.function])).passed, e.id
            assert behaviour.judge(rec.events(), function=e.function, libraries=e.libraries,
                                   helpers=e.helper_names) == (None, []), (e.id, rec.events())
            assert set(_kinds(rec, "library")) <= set(e.libraries), e.id


def _best(fn, repeats=5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@pytest.mark.slow
def test_the_recorder_costs_little_on_a_numpy_check(capsys):
    """Timing is printed, never asserted (the machine may be busy); what is asserted is
    that the recorded run gives the same verdict."""
    ns, entries = _solution_functions(ROOT / "solutions" / "03_coding_bptt.ipynb")
    e = next(x for x in entries if x.id == "ex03_rnn_backward")
    fn = ns[e.function]
    rec = behaviour.Recorder(package_dir=PACKAGE)
    plain = _best(lambda: e.run_check(fn))
    recorded = _best(lambda: e.run_check(rec.wrap(fn)))
    with capsys.disabled():
        print(f"\n{e.id}: check {plain * 1e3:.1f} ms plain, {recorded * 1e3:.1f} ms recorded")
    assert e.run_check(rec.wrap(fn)).passed


def test_review_flags_read_every_cell_that_defines_the_function():
    """A copy of a reference written in another exercise's answer cell (it redefines the
    function, and the last definition is the one checked) is flagged, with that cell."""
    import inspect as _inspect
    import json

    from course_utils.reference import nb03
    from course_utils.tooling.grading import grading_checks as gc

    path = ROOT / "solutions" / "03_coding_bptt.ipynb"
    plan = gc.make_plan(str(path))
    cells = json.loads(path.read_text())["cells"]
    _, where = gc.sandbox_cells(plan, cells, set())
    j = where["ex03_temporal_softmax_loss"]
    cells[j]["source"] = gc.source(cells[j]) + "\n\n" + _inspect.getsource(nb03.rnn_backward)
    chk = plan.checks["ex03_rnn_backward"]
    flags = gc.review_flags(plan, chk, cells, where)
    assert any("the answer cell of ex03_temporal_softmax_loss is a copy" in f for f in flags), flags
    assert not gc.review_flags(plan, plan.checks["ex03_rnn_step_backward"], cells, where)


def test_the_import_system_calling_the_course_s_finder_is_not_a_use():
    """An import inside the answer (torch imports lazily) asks every finder on
    ``sys.meta_path``, the course's own (``course_utils._MovedModules``) among them."""
    assert any(type(f).__module__ == "course_utils" for f in sys.meta_path)
    ns = _student("def f(a):\n    try:\n        import no_such_module_for_the_recorder\n"
                  "    except ImportError:\n        pass\n    return a\n")
    rec, _ = _record(ns["f"], 1)
    assert rec.events() == []


def test_an_allowed_library_may_use_what_it_depends_on_but_not_hand_work_to_another():
    assert "typing_extensions" in behaviour.dependencies(frozenset({"torch"}))
    dep = {"kind": "library", "what": "typing_extensions", "module": "typing_extensions",
           "via": "torch"}
    assert behaviour.judge([dep], function="f", libraries=("torch",)) == (None, [])
    _, flags = behaviour.judge([dict(dep, via="")], function="f", libraries=("torch",))
    assert flags and "typing_extensions" in flags[0]  # the student's own call of it
    import torch

    # numpy's Python code calls torch: numpy does not depend on torch, so it is flagged
    ns = _student("def f(x):\n    return np.apply_along_axis(torch.as_tensor, 1, x)\n",
                  torch=torch)
    rec, _ = _record(ns["f"], np.ones((2, 3)))
    assert {"kind": "library", "what": "torch", "module": "torch.as_tensor", "via": "numpy"} \
        in rec.events()
    _, flags = behaviour.judge(rec.events(), function="f", libraries=("numpy",))
    assert len(flags) == 1 and "(torch) ran inside `f`" in flags[0]


# ---------------------------------------------------------------------------------------
# Every thread and child process (issue 29 item 2)
# ---------------------------------------------------------------------------------------
# An earlier cell starts a worker thread; the function hands its arguments to it through a
# queue and waits for the answer: the work runs in a thread that existed before the call.
_WORKER = ("import queue, threading\n"
           "_jobs, _answers = queue.Queue(), queue.Queue()\n"
           "def _serve():\n"
           "    while True:\n"
           "        args = _jobs.get()\n"
           "        _answers.put(WORK(*args))\n"
           "threading.Thread(target=_serve, daemon=True, name='helper').start()\n"
           "def f(*args):\n"
           "    _jobs.put(args)\n"
           "    return _answers.get()\n")


def test_a_thread_started_before_the_call_is_recorded():
    import torch

    ns = _student(TORCH_RNN.format(name="_fast") + _WORKER.replace("WORK", "_fast"),
                  torch=torch)
    rec, out = _record(ns["f"], *ARGS.values())
    assert out.shape == (2, 3, 5)
    [torch_event] = [e for e in rec.events() if e["what"] == "torch"]
    assert torch_event["thread"] == "`helper`" and torch_event["via"] == ""
    why, flags = behaviour.judge(rec.events(), function="rnn_forward", libraries=("numpy",))
    assert why is None and len(flags) == 1
    assert "(torch) ran inside `rnn_forward` in another thread (`helper`)" in flags[0]
    # a course function that does the work there: 0, naming the thread
    from course_utils.lessons import unrolling

    ns = _student(_WORKER.replace("WORK", "unrolling.jacobians.forward"), unrolling=unrolling)
    rec, _ = _record(ns["f"], *ARGS.values())
    why, _ = behaviour.judge(rec.events(), function="rnn_forward", libraries=("numpy",))
    assert why.startswith("not your work") and \
        "`course_utils.maths.jacobians.forward` (in thread `helper`)" in why
    assert sys.getprofile() is None
    assert behaviour._C311 is None or _no_hook_left()


def _no_hook_left() -> bool:
    """No thread keeps the recorder's hook (3.11: read from the thread states)."""
    import ctypes

    api, _, at = behaviour._C311
    ts = api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
    while ts:
        if (ctypes.c_void_p * 16).from_address(ts)[at]:
            return False
        ts = api.PyThreadState_Next(ts)
    return True


def test_a_library_s_own_thread_is_not_the_student_s_in_the_kernel():
    """In the student's kernel the kernel's own threads run library code meanwhile: not
    recorded (``every_thread=False``); in the sandbox every other thread is the student's."""
    import torch

    lib = {"__name__": "somelib.worker", "torch": torch}
    exec("import threading\nstop = threading.Event()\n"
         "def loop():\n    while not stop.is_set():\n        torch.zeros(1)\n", lib)
    t = threading.Thread(target=lib["loop"], daemon=True)
    t.start()
    try:
        assert behaviour.library_thread(t)
        ns = _student("import time\ndef f(a):\n    time.sleep(0.05)\n    return a\n")
        rec, _ = _record(ns["f"], 1)
        assert rec.events() == []
        strict = behaviour.Recorder(package_dir=PACKAGE, every_thread=True)
        strict.wrap(ns["f"])(1)
        assert "torch" in [e["what"] for e in strict.events()]
    finally:
        lib["stop"].set()
        t.join()


def test_work_handed_to_a_process_or_a_raw_thread_earns_nothing():
    ns = _student("import subprocess, sys, _thread, time\n"
                  "def by_process(a):\n"
                  "    return subprocess.run([sys.executable, '-c', 'print(2)'],\n"
                  "                          capture_output=True).stdout\n"
                  "def by_raw_thread(a):\n"
                  "    out = []\n"
                  "    _thread.start_new_thread(out.append, (a,))\n"
                  "    while not out:\n        time.sleep(0.001)\n"
                  "    return out[0]\n")
    rec, out = _record(ns["by_process"], 1)
    assert out.strip() == b"2"
    why, _ = behaviour.judge(rec.events(), function="f", libraries=("numpy",))
    assert "a child process started (`" in why and "0 points" in why
    rec, out = _record(ns["by_raw_thread"], 1)
    why, _ = behaviour.judge(rec.events(), function="f", libraries=("numpy",))
    assert out == 1 and "a thread started outside `threading`" in why


def test_a_child_process_started_earlier_is_seen_while_the_function_runs():
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ns = _student("def f(a):\n    return a\n")
        rec, _ = _record(ns["f"], 1)
        [left] = [e["what"] for e in rec.events() if e["kind"] == "elsewhere"]
        assert left.startswith(f"a child process was running (pid {child.pid}: ")
    finally:
        child.kill()
        child.wait()
    rec, _ = _record(ns["f"], 1)
    assert rec.events() == []


def test_where_running_threads_cannot_be_hooked_a_student_s_thread_is_refused(monkeypatch):
    monkeypatch.setattr(behaviour, "_C311", None)
    monkeypatch.setattr(behaviour, "_setprofile_all_threads", None)
    ns = _student(_WORKER.replace("WORK", "sorted").replace("'helper'", "'helper2'"))
    rec, out = _record(ns["f"], [3, 1, 2])
    assert out == [1, 2, 3]
    why, _ = behaviour.judge(rec.events(), function="f", libraries=("numpy",))
    assert "thread `helper2` was running, which the recorder cannot follow" in why
    plain = _student("def g(a):\n    return a\n")  # other threads (pytest's) are not refused
    rec, _ = _record(plain["g"], 1)
    # only the workers of these tests (`helper…`, still alive) are refused
    assert all("thread `helper" in e["what"] for e in rec.events()), rec.events()
