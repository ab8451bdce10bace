"""The grading command: ``python -m course_utils grade SUBMISSIONS…``.

The class of sample submissions (tests/grading_students.py) reproduces issue 14's
folder: honest, empty, wrong, loop, crash, flood, reuse, rebind, renamed parameters,
invalid JSON, deleted checks, late output, and variants of the two cheats, plus four
classic mistakes for the class report. It is graded once through the command line, two at
a time.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from unittest import mock

import nbformat
import numpy as np
import pytest
from grading_students import FWD, MISTAKES, NAME, STEP, _cell, load, make_class
from report_class import parse_report

from course_utils.checks import ex01
from course_utils.reference import nb01 as ref01
from course_utils.tooling import cli
from course_utils.tooling.grading import (
    grading,
    grading_checks,
    grading_notebook,
    grading_reports,
    grading_select,
    sandbox,
    sandbox_view,
)
from course_utils.tooling.publish import build

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT, TIMEOUT = 20, 90
SEED = 4242


def _grade_here(path, entries, notebook, *, student, display, seeds=(), timeout=None,
                cell_timeout=None):
    """grading_notebook.grade_notebook in this process, with the Job the command would make."""
    gn = grading_notebook
    return gn.grade_notebook(gn.Job(
        str(path), notebook, student, display, entries, str(ROOT),
        gn.DEFAULT_TIMEOUT if timeout is None else timeout,
        gn.DEFAULT_CELL_TIMEOUT if cell_timeout is None else cell_timeout,
        list(seeds), "", []))


@pytest.fixture(scope="module")
def nb01():
    return load()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, nb01):
    tmp = tmp_path_factory.mktemp("grading")
    expected = make_class(tmp / "submissions", nb01, mistakes=True)
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["grade", str(tmp / "submissions"), "--timeout", str(TIMEOUT),
                       "--cell-timeout", str(CELL_TIMEOUT), "--seed", str(SEED),
                       "--jobs", "2", "--out", str(tmp / "grades")])
    assert rc == 0
    data = json.loads((tmp / "grades" / "grades.json").read_text())
    return {"table": out.getvalue(), "json": {s["student"]: s for s in data["submissions"]},
            "csv": (tmp / "grades" / "grades.csv").read_text(), "expected": expected,
            "elapsed": time.perf_counter() - t0, "tmp": tmp}


def _ex(graded, student, gid):
    return next(e for e in graded["json"][student]["exercises"] if e["id"] == gid)


# ---------------------------------------------------------------------------------------
# The class, one submission per case
# ---------------------------------------------------------------------------------------
def test_every_submission_gets_the_expected_statuses(graded):
    assert set(graded["json"]) == set(graded["expected"])
    for student, (expected, what) in graded["expected"].items():
        got = tuple(_ex(graded, student, gid)["status"] for gid in (STEP, FWD))
        assert got == expected, (student, what, graded["json"][student])
        s = graded["json"][student]
        assert s["total"] == sum(p for st, p in zip(got, (2, 3)) if st == "passed")
        assert s["heldout_seeds"] == [SEED]
        assert "killed" not in s["problem"], s


def test_the_honest_and_the_noisy_get_full_marks(graded):
    for student in ("alice", "frank", "laura", "ivan", "ken"):
        s = graded["json"][student]
        assert (s["total"], s["max_total"], s["problem"]) == (5, 5, ""), s
        assert "Held-out cases (seeds 4242) passed too" in _ex(graded, student, FWD)["reason"]


def test_reuse_earns_nothing_with_the_reason(graded):
    for student in ("grace", "mallory", "olivia"):
        e = _ex(graded, student, FWD)
        assert e["points"] == 0 and e["reason"].startswith("not your work"), e
    assert "`course_utils.reference.nb01.rnn_step_forward`" in _ex(graded, "grace", STEP)["reason"]
    assert "uses the course's reference `course_utils.reference.nb01.rnn_forward`" in \
        _ex(graded, "mallory", FWD)["reason"]
    assert any("course_utils" in f for f in _ex(graded, "grace", STEP)["review"])


def test_tampering_earns_nothing(graded):
    for student, what in (("heidi", "course_utils.checks.ex01.check_rnn_forward"),
                          ("niaj", "course_utils.checks.checker.grading_mode")):
        s = graded["json"][student]
        assert s["total"] == 0 and "tampering" in s["problem"] and what in s["problem"], s


def test_failures_name_what_happened(graded):
    assert "Most likely: it is the right answer times 2" in _ex(graded, "carol", FWD)["reason"]
    assert "time limit" in _ex(graded, "dave", STEP)["reason"]
    assert "exited (exit code 1)" in _ex(graded, "erin", STEP)["reason"]
    assert graded["json"]["judy"]["problem"].startswith("not a readable notebook")
    peggy = graded["json"]["peggy"]
    assert peggy["problem"].startswith(f"time limit: cell 7 ran longer than {CELL_TIMEOUT} s"), peggy
    assert "no answer within" not in peggy["problem"]  # the cell's limit, not the notebook's
    assert "not attempted yet" in _ex(graded, "bob", STEP)["reason"]


def test_every_failure_no_check_decided_carries_its_cause(graded):
    """The grader sets a machine cause where it writes the reason; the reports read it."""
    assert _ex(graded, "dave", STEP)["cause"] == "time-limit"
    assert graded["json"]["peggy"]["problem_cause"] == "time-limit"
    assert _ex(graded, "erin", STEP)["cause"] == "crash"
    for student in ("grace", "mallory", "olivia"):
        assert _ex(graded, student, FWD)["cause"] == "reuse", student
    for student in ("heidi", "niaj"):
        s = graded["json"][student]
        assert s["problem_cause"] == "tampering" and _ex(graded, student, FWD)["cause"] == "tampering"
    judy = graded["json"]["judy"]
    assert judy["problem_cause"] == "unreadable" and _ex(graded, "judy", STEP)["cause"] == "unreadable"
    for student in ("alice", "carol"):  # a check decided: no cause
        assert {e["cause"] for e in graded["json"][student]["exercises"]} == {""}, student


def test_the_json_verdicts_are_machine_readable(graded):
    carol = _ex(graded, "carol", FWD)["verdict"]
    assert (carol["status"], carol["kind"], carol["output"], carol["case"]) == ("wrong", "values",
                                                                                "h", 1)
    assert carol["hint"] == "it is the right answer times 2: a missing or extra factor."
    assert carol["seed"] is None and carol["message"].startswith("the output is wrong")
    bob = _ex(graded, "bob", STEP)["verdict"]
    assert (bob["status"], bob["kind"]) == ("not attempted", "not-implemented")
    alice = _ex(graded, "alice", STEP)["verdict"]
    assert alice["status"] == "passed" and alice["kind"] is None
    assert _ex(graded, "dave", STEP)["verdict"] is None  # no verdict: the time limit


def test_table_csv_and_json(graded):
    lines = graded["table"].splitlines()
    assert lines[0] == f"== {NAME} =="
    assert lines[1].split() == ["student/file", STEP, FWD, "total"]
    row = {ln.split()[0].split("/")[0]: ln.split()[1:] for ln in lines[2:]
           if ln.strip() and ln.split()[0].endswith(NAME)}
    assert row["alice"] == ["pass", "2/2", "pass", "3/3", "5/5"]
    assert row["bob"] == ["-", "0/2", "-", "0/3", "0/5"]
    assert row["carol"] == ["pass", "2/2", "FAIL", "0/3", "2/5"]
    assert "Reasons for FAIL:" in graded["table"] and "To review by hand" in graded["table"]
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(graded["csv"]))}
    assert rows["alice"]["total"] == "5" and rows["alice"]["reason"] == ""
    assert rows["carol"]["reason"].startswith(f"{FWD}: the output is wrong")
    assert rows["dave"][f"{STEP} status"] == "wrong" and "time limit" in rows["dave"]["reason"]
    assert "not a readable notebook" in rows["judy"]["reason"]
    # 50 MB of printing did not end up in the gradebook (20 submissions: about 37 kB)
    assert len((graded["tmp"] / "grades" / "grades.json").read_text()) < 100_000


def test_grades_json_has_the_mistake_ids(graded):
    for student, mistakes in MISTAKES.items():
        for gid, want in mistakes.items():
            e = _ex(graded, student, gid)
            assert e["status"] == "wrong", (student, e)
            assert (e["verdict"]["mistake"], e["verdict"]["mistake_name"]) == \
                (want, want.split("/", 1)[1]), (student, e["verdict"])
    assert _ex(graded, "trent", STEP)["verdict"]["seed"] == SEED  # held-out cases only
    for s in graded["json"].values():
        for e in s["exercises"]:
            if e["verdict"] is not None:
                assert {"mistake", "mistake_name"} <= set(e["verdict"]), e
            if e["status"] == "passed":
                assert e["verdict"]["mistake"] is None


def test_the_class_report_counts_equal_the_verdicts(graded):
    assert "report.html" in graded["table"].splitlines()[-1]
    got = parse_report((graded["tmp"] / "grades" / "report.html").read_text())
    mistakes: dict[str, set] = {}
    for student, s in graded["json"].items():
        for e in s["exercises"]:
            if e["status"] == "wrong" and e["verdict"] and e["verdict"]["mistake"]:
                mistakes.setdefault(e["verdict"]["mistake"], set()).add(student)
    assert {k: (n, set(who)) for k, (n, who) in got["mistakes"].items()} == \
        {k: (len(v), v) for k, v in mistakes.items()}
    # the same mistake in other code, or with another factor, counts together
    assert mistakes[f"{STEP}/whh-not-transposed"] == {"quinn", "rupert"}
    assert mistakes[f"{FWD}/constant-factor"] == {"carol", "rupert"}
    for gid in (STEP, FWD):
        st = [_ex(graded, s, gid)["status"] for s in graded["json"]]
        assert got["exercises"][gid] == {"pass": st.count("passed"), "fail": st.count("wrong"),
                                         "not-attempted": st.count("not attempted")}

    def who(flag):
        n, lines = got["flags"][flag]
        names = {ln.split(" ", 1)[0] for ln in lines}
        assert n == len(names), (flag, lines)
        return names

    assert who("heldout") == {"trent"}
    assert who("timeouts") == {"dave", "peggy"}
    assert "erin" in who("crashes")
    assert who("reuse") == {"grace", "mallory", "olivia"}
    assert who("tampering") == {"heidi", "niaj"}
    assert who("unreadable") == {"judy"}
    assert "grace" in who("review")


def test_regrading_two_students_changes_only_their_rows(graded, tmp_path):
    """Two student folders graded alone into (a copy of) the class's --out: their rows are
    replaced, named by their folders; every other row, the CSV's and the gradebook's, stays."""
    import shutil

    out = tmp_path / "grades"
    shutil.copytree(graded["tmp"] / "grades", out)
    before = json.loads((out / "grades.json").read_text())
    sub = graded["tmp"] / "submissions"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["grade", str(sub / "frank"), str(sub / "grace"), "--timeout", str(TIMEOUT),
                       "--cell-timeout", str(CELL_TIMEOUT), "--seed", str(SEED), "--out", str(out)])
    assert rc == 0
    after = json.loads((out / "grades.json").read_text())
    old = {s["student"]: s for s in before["submissions"]}
    new = {s["student"]: s for s in after["submissions"]}
    assert set(new) == set(old)
    for student in old:
        if student in ("frank", "grace"):
            assert new[student]["file"] == f"{student}/{NAME}"
            assert new[student]["total"] == old[student]["total"]
            assert new[student]["graded_at"] >= old[student]["graded_at"]
        else:
            assert new[student] == old[student], student
    rows = {r["id"]: r for r in after["gradebook"]["students"]}
    assert set(rows) == set(old) and rows["alice"] == {
        r["id"]: r for r in before["gradebook"]["students"]}["alice"]
    csv_rows = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert set(csv_rows) == set(old) and csv_rows["grace"]["total"] == "0"


def test_the_class_gets_a_gradebook_row_each(graded):
    """Without a roster every student folder is a row: one notebook each, graded."""
    data = json.loads((graded["tmp"] / "grades" / "grades.json").read_text())
    rows = {r["id"]: r for r in data["gradebook"]["students"]}
    assert set(rows) == set(graded["expected"])
    for student, r in rows.items():
        assert r["notebooks"][NAME]["status"] == ("unreadable" if student == "judy" else "graded")
        assert r["total"] == graded["json"][student]["total"] and r["not_graded"] == []
        assert r["notebooks"][NAME]["submitted_from"] == "file modification time"


# ---------------------------------------------------------------------------------------
# Held-out checks, renamed parameters, robustness
# ---------------------------------------------------------------------------------------
def test_a_special_cased_answer_fails_the_held_out_cases(tmp_path, nb01):
    """A function that only knows the visible cases' answers passes them, not held-out ones."""
    sol, stu = nb01
    table = {c["x"].tobytes(): ref01.rnn_step_forward(**c).tolist() for c in ex01.step_cases()}
    nb = nbformat.from_dict(json.loads(json.dumps(sol)))
    _cell(nb, STEP + "_code").source = (
        f"_T = {table!r}\n\ndef rnn_step_forward(x, h_prev, Wxh, Whh, b):\n"
        "    return np.array(_T.get(x.tobytes(), np.zeros((x.shape[0], Whh.shape[0]))))\n")
    path = tmp_path / NAME
    nbformat.write(nb, str(path))
    entries = [e for e in grading_select.load_catalogue(ROOT)[NAME] if e["id"] == STEP]
    r = _grade_here(path, entries, NAME, student="s", display="s", seeds=[SEED],
                    timeout=60, cell_timeout=CELL_TIMEOUT)
    e = r.exercises[0]
    assert e.status == "wrong" and "not the held-out ones (seed 4242)" in e.reason, e
    r = _grade_here(path, entries, NAME, student="s", display="s", seeds=[],
                    timeout=60, cell_timeout=CELL_TIMEOUT)
    assert r.exercises[0].status == "passed"  # the visible check alone is fooled


@pytest.mark.parametrize("stopper, why", [
    ("import os\nos._exit(3)\n", "exited (exit code 3)"),
    ("while True:\n    pass\n", "ran longer than 20 s"),
])
def test_partial_credit_survives_a_crash(tmp_path, nb01, stopper, why):
    """A cell that kills the process or never ends, between the two answers: the step,
    answered before it, is graded; the sequence, after it, is not, and says which cell
    stopped it."""
    sol, _ = nb01
    nb = nbformat.from_dict(json.loads(json.dumps(sol)))
    at = nb.cells.index(_cell(nb, STEP)) + 1
    nb.cells.insert(at, nbformat.v4.new_code_cell(stopper))
    path = tmp_path / NAME
    nbformat.write(nb, str(path))
    entries = grading_select.load_catalogue(ROOT)[NAME]
    r = _grade_here(path, entries, NAME, student="s", display="s", seeds=[SEED],
                    timeout=120, cell_timeout=20)
    step, fwd = r.exercises
    assert (step.status, step.points) == ("passed", 2), step
    assert fwd.status == "wrong" and fwd.points == 0
    assert f"cell {at} stopped the notebook" in fwd.reason and why in fwd.reason, fwd.reason
    assert grading_notebook.CELL_NUMBERS in fwd.reason  # says how cells are counted
    assert r.problem.startswith(("the process running the code", "time limit: cell"))
    assert f"cell {at}" in r.problem and "the exercises before it were graded" in r.problem


def test_a_failing_worker_becomes_a_row(tmp_path):
    entries = grading_select.load_catalogue(ROOT)[NAME]
    job = grading.Job(str(tmp_path / "x.ipynb"), NAME, "s", "s", entries,
                      root=str(tmp_path / "no-course"), timeout=30, cell_timeout=10, seeds=[],
                      digest="", hide=[])
    assert grading.Job.from_dict(job.to_dict()) == job
    (tmp_path / "x.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    r = grading._grade_isolated(job, timeout=30)
    assert [e.status for e in r.exercises] == ["wrong", "wrong"]
    assert r.problem.startswith("the grader's worker failed (exit code 1)"), r.problem
    assert r.problem_cause == "crash" and {e.cause for e in r.exercises} == {"crash"}


def test_an_exception_in_a_job_does_not_abort_the_run(tmp_path, nb01, monkeypatch):
    (tmp_path / "a").mkdir()
    nbformat.write(nb01[0], str(tmp_path / "a" / NAME))

    def boom(job, timeout):
        raise json.JSONDecodeError("corrupt result", "", 0)

    monkeypatch.setattr(grading, "_grade_isolated", boom)
    res = grading.grade([tmp_path], seeds=[])
    assert res[0].total == 0 and "JSONDecodeError" in res[0].problem
    assert "JSONDecodeError" in grading_reports.to_csv(res)


def _gone(pid: int) -> bool:
    """The process has exited (gone, or a zombie waiting to be collected)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in state


def test_the_sandbox_sees_no_course_and_no_instructor(tmp_path):
    """Run code in a sandbox: course_utils is not importable, solutions/ is hidden where
    the machine allows it (and nothing outside the scratch folder is writable, no other
    process is visible), the environment is stripped, limits are set, and a detached
    child is killed with the sandbox."""
    os.environ["INSTRUCTOR_SECRET"] = "x"
    try:
        box = sandbox.Sandbox(hide=[ROOT / "solutions", ROOT / "src"])
    finally:
        del os.environ["INSTRUCTOR_SECRET"]
    outside = tmp_path / "written-from-the-sandbox"
    src = ("import os, sys, resource, subprocess\n"
           "def probe():\n"
           "    try:\n        import course_utils.reference.nb01 as r\n        imp = repr(r.rnn_forward)\n"
           "    except Exception as e:\n        imp = type(e).__name__\n"
           f"    d = {str(ROOT / 'solutions')!r}\n"
           "    sols = os.listdir(d) if os.path.isdir(d) else []\n"
           "    p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
           "    try:\n"
           f"        open({str(outside)!r}, 'w').write('x')\n"
           "    except OSError:\n        pass\n"
           "    others = os.path.exists(f'/proc/{os.getppid()}') and os.getppid() > 1\n"
           "    return [imp, len(sols), 'INSTRUCTOR_SECRET' in os.environ,\n"
           "            resource.getrlimit(resource.RLIMIT_AS)[0], os.getcwd(), p.pid,\n"
           "            len([d for d in os.listdir('/proc') if d.isdigit()])]\n")
    try:
        box.load(*sandbox.course_sources(), {"course_utils.reference.nb01": ["rnn_forward"]},
                 [{"index": 0, "source": src, "kind": "answer"}], timeout=60)
        info = box.describe(["probe"])["probe"]
        imp, n_sol, secret, mem, cwd, pid, n_proc = box.proxy("probe", info, timeout=30)()
    finally:
        box.close()
    assert imp == "<course reference course_utils.reference.nb01.rnn_forward>"
    assert n_sol == (0 if sandbox_view.view() != "none" else len(os.listdir(ROOT / "solutions")))
    assert secret is False and mem == sandbox.MEMORY_LIMIT
    assert cwd.startswith(str(box.scratch))
    assert box.view == sandbox_view.view() and box.isolated == (box.view != "none")
    if box.isolated:  # its own PID namespace: the sandbox's few processes only
        assert not outside.exists() and n_proc < 10
        time.sleep(0.5)
        assert sandbox.marked_processes(box.token) == []
    else:
        time.sleep(0.5)
        assert _gone(pid)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_reaper_kills_a_detached_grandchild_without_reading_environments(tmp_path,
                                                                             monkeypatch):
    """Some containers refuse to read another process's environment, so the marker scan
    finds nothing: the reaper alone must kill a double-forked, detached process, and report
    how the code's own process died."""
    monkeypatch.setattr(sandbox, "marked_processes", lambda token: [])
    marker = tmp_path / "grandchild.pid"
    src = ("import os, subprocess, sys\n"
           "def spawn():\n"
           "    code = ('import subprocess, sys; '\n"
           "            'p = subprocess.Popen([\"sleep\", \"300\"], start_new_session=True); '\n"
           "            'open(sys.argv[1], \"w\").write(str(p.pid))')\n"
           f"    subprocess.run([sys.executable, '-c', code, {str(marker)!r}], check=True)\n"
           "    return os.getpid()\n"
           "def crash():\n"
           "    os.kill(os.getpid(), 9)\n")
    box = sandbox.Sandbox(isolate=False)  # the reaper alone (the fallback)
    try:
        box.load(*sandbox.course_sources(), {}, [{"index": 0, "source": src, "kind": "answer"}],
                 timeout=60)
        info = box.describe(["spawn", "crash"])
        box.proxy("spawn", info["spawn"], timeout=30)()
        pid = int(marker.read_text())
        assert Path(f"/proc/{pid}").exists()  # orphaned, alive, in a session of its own
        with pytest.raises(sandbox.SandboxError, match=r"died \(SIGKILL"):
            box.proxy("crash", info["crash"], timeout=30)()
    finally:
        box.close()
    time.sleep(0.2)
    assert _gone(pid)


def test_the_bwrap_view_is_an_allow_list(tmp_path):
    """Read-only: /usr, the Python installation and a few system files; writable: the
    scratch folder; never the course tree or the home folder as a whole."""
    cmd = sandbox_view.bwrap_view(tmp_path)
    binds = [(cmd[i], cmd[i + 1], cmd[i + 2]) for i, a in enumerate(cmd)
             if a in ("--ro-bind", "--ro-bind-try", "--bind")]
    allowed = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                              sys.base_exec_prefix)}
    for kind, src, _dest in binds:
        if kind == "--bind":
            assert src == str(tmp_path)
        else:
            assert src in allowed or src.startswith(("/usr", "/etc/", "/sys/", "/bin", "/lib",
                                                     "/sbin")), src
        assert src not in (str(ROOT), str(ROOT / "src"), str(Path.home()), "/")
    assert "--unshare-user" in cmd and cmd[cmd.index("--cap-drop") + 1] == "ALL"
    # A copy of course_utils installed into the Python installation is hidden.
    installed = Path(sys.prefix) / "lib" / "site-packages" / "course_utils"
    fake = Path(os.path.realpath(sys.prefix)) / "lib" / "site-packages" / "course_utils"
    with mock.patch.object(sandbox_view, "__file__", str(fake / "tooling" / "grading" / "sandbox_view.py")):
        cmd = sandbox_view.bwrap_view(tmp_path)
    assert cmd[cmd.index(str(installed)) - 1] == "--tmpfs"
    assert "\n" not in sandbox_view.bwrap_warning()


@pytest.mark.skipif(not sandbox_view.can_hide(), reason="needs Linux user namespaces")
def test_a_death_by_signal_is_named_in_the_namespaces_too():
    src = "import os\ndef crash():\n    os.kill(os.getpid(), 9)\n"
    with sandbox.Sandbox() as box:
        assert box.isolated
        box.load(*sandbox.course_sources(), {}, [{"index": 0, "source": src, "kind": "answer"}],
                 timeout=60)
        info = box.describe(["crash"])
        with pytest.raises(sandbox.SandboxError, match=r"died \(SIGKILL"):
            box.proxy("crash", info["crash"], timeout=30)()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_code_that_kills_the_reaper_dies_with_it():
    src = ("import os, signal\n"
           "def patricide():\n"
           "    me = os.getpid()\n"
           "    open('pid', 'w').write(str(me))\n"
           "    os.kill(os.getppid(), signal.SIGKILL)\n"
           "    import time; time.sleep(30)\n")
    box = sandbox.Sandbox(isolate=False)  # in its own namespaces it sees no reaper
    try:
        box.load(*sandbox.course_sources(), {}, [{"index": 0, "source": src, "kind": "answer"}],
                 timeout=60)
        info = box.describe(["patricide"])
        with pytest.raises(sandbox.SandboxError) as died:
            box.proxy("patricide", info["patricide"], timeout=20)()
        assert "time limit" not in str(died.value)  # the pipe closed: no wait for the limit
        pid = int((box.scratch / "work" / "pid").read_text())
    finally:
        box.close()
    assert _gone(pid)


def test_values_travel_without_pickles():
    blobs: list = []
    value = [np.arange(6.0).reshape(2, 3), (1, 2.5, None, "s", True), np.float64(0.25),
             {"k": np.int64(3)}, object()]
    desc = sandbox.child.encode(value, blobs)
    header, got_blobs = sandbox.child.unpack(sandbox.child.pack({"v": desc}, blobs))
    got = sandbox.child.decode(header["v"], got_blobs)
    assert np.array_equal(got[0], value[0]) and got[1] == value[1]
    assert type(got[2]) is np.float64 and got[2] == 0.25 and got[3] == {"k": 3}
    assert type(got[4]).__name__ == "object"
    with pytest.raises(ValueError):  # an object array would need a pickle
        np.load(io.BytesIO(b"\x93NUMPY" + b"\x00" * 10), allow_pickle=False)


def test_plan_of_every_notebook_keeps_what_the_answer_keys_use():
    for path in build.solution_paths(ROOT):
        plan = grading_checks.make_plan(str(path))
        entries = [e for e in grading_select.load_catalogue(ROOT)[path.name] if e["kind"] == "code"]
        assert set(plan.checks) == {e["id"] for e in entries}, path.name
        for chk in plan.checks.values():
            ref = chk.exercise.reference
            assert ref.__name__ in plan.forbidden[ref.__module__], (path.name, chk.id)
    plan = grading_checks.make_plan(str(ROOT / "solutions" / "05_truncated_bptt.ipynb"))
    assert "rnn_forward" not in plan.forbidden.get("course_utils.reference.nb01", [])
    assert "rnn_backward" not in plan.forbidden.get("course_utils.reference.nb03", [])
    assert "rnn_forward_fast" in plan.forbidden["course_utils.maths.rnn"]  # an ANSWER_MODULE
    plan = grading_checks.make_plan(str(ROOT / "solutions" / "07_lstm.ipynb"))
    assert "sigmoid" not in plan.forbidden["course_utils.maths.lstm"]
    assert "lstm_state_gradients" in plan.forbidden["course_utils.lessons.cell_flow"]
    assert "lstm_step_forward" in plan.forbidden["course_utils.reference.nb07"]
    d = grading_checks.plan_to_dict(plan)
    assert grading_checks.plan_from_dict(json.loads(json.dumps(d))) == plan


@pytest.mark.slow
def test_every_answer_key_earns_full_marks_with_held_out_cases(tmp_path):
    cat = grading_select.load_catalogue(ROOT)
    for name, entries in cat.items():
        r = _grade_here(ROOT / "solutions" / name, entries, name, student="key",
                    display=name, seeds=[11, 987654])
        assert r.total == r.max_total, (name, [(e.id, e.reason) for e in r.exercises])
        assert not [e.review for e in r.exercises if e.review], name


def test_a_changed_course_file_stops_grading(tmp_path, nb01, monkeypatch):
    for s in ("a", "b"):
        (tmp_path / s).mkdir()
        nbformat.write(nb01[1], str(tmp_path / s / NAME))
    digests = iter(["d0", "d1", "d1", "d1"])
    monkeypatch.setattr(grading, "course_digest", lambda root=ROOT: next(digests))
    monkeypatch.setattr(grading, "_grade_isolated", lambda job, timeout: grading._failed(job, "x"))
    res = grading.grade([tmp_path], seeds=[])
    assert "changed on disk while this submission was graded" in res[0].problem
    assert res[1].problem.startswith("not graded: the course's files changed")


# ---------------------------------------------------------------------------------------
# Assignments (subsets), identification
# ---------------------------------------------------------------------------------------
def test_parse_assignment_and_select():
    sel = grading_select.parse_assignment("# week 1\nex01_rnn_forward 5\n\nex01_rnn_step_*  # all steps\n")
    assert sel == {"ex01_rnn_forward": 5.0, "ex01_rnn_step_*": None}
    cat = {NAME: [{"id": STEP, "points": 2}, {"id": FWD, "points": 3}],
           "03_coding_bptt.ipynb": [{"id": "ex03_x", "points": 4}]}
    picked = grading_select.select(cat, sel)
    assert picked == {NAME: [{"id": STEP, "points": 2}, {"id": FWD, "points": 5.0}]}
    assert grading_select.select(cat, {"03": None}) == {"03_coding_bptt.ipynb": [{"id": "ex03_x", "points": 4}]}
    assert grading_select.select(cat, {}) == cat
    with pytest.raises(grading_select.GradingError, match="matches no exercise"):
        grading_select.select(cat, {"ex01_typo": None})
    with pytest.raises(grading_select.GradingError):
        grading_select.parse_assignment("ex01_rnn_forward five\n")


def test_identify_and_student_names(tmp_path):
    names = [NAME, "03_coding_bptt.ipynb"]
    gen = {"course": {"generated_from": "solutions/03_coding_bptt.ipynb"}}
    assert grading_select.identify(Path("anything.ipynb"), gen, names) == "03_coding_bptt.ipynb"
    assert grading_select.identify(Path("alice_01_unrolling_an_rnn.ipynb"), {}, names) == NAME
    assert grading_select.identify(Path("03-alice.ipynb"), {}, names) == "03_coding_bptt.ipynb"
    assert grading_select.identify(Path("homework.ipynb"), {}, names) is None
    # metadata.course that is not a dict (it crashed the whole run)
    assert grading_select.identify(Path("x_01_unrolling_an_rnn.ipynb"), {"course": "x"}, names) == NAME
    assert grading_select.identify(Path("y.ipynb"), ["not", "a", "dict"], names) is None
    base = tmp_path / "submitted"
    assert grading_select.student_of(base / "alice" / "ps1" / NAME, base, NAME) == "alice"
    assert grading_select.student_of(tmp_path / "bob_01_unrolling_an_rnn.ipynb", None, NAME) == "bob"


def test_discover_finds_copies_and_skips_checkpoints(tmp_path):
    """Side files are found (which copy counts is decided per student: tests/test_gradebook.py)."""
    for rel in ["a/01_x.ipynb", "a/01_x.updated.ipynb", "a/01_x.fresh2.ipynb",
                "a/.ipynb_checkpoints/01_x-checkpoint.ipynb", "b/01_x.ipynb"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found = grading_select.discover([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p, _ in found] == [
        "a/01_x.fresh2.ipynb", "a/01_x.ipynb", "a/01_x.updated.ipynb", "b/01_x.ipynb"]
    with pytest.raises(grading_select.GradingError):
        grading_select.discover([tmp_path / "missing"])


def test_unreadable_and_unknown_submissions(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "01_unrolling_an_rnn.ipynb").write_text("not json")
    (tmp_path / "s" / "homework.ipynb").write_text("{}")
    res = grading.grade([tmp_path / "s"], timeout=30, cell_timeout=10)
    by_file = {r.file: r for r in res}
    bad = by_file["01_unrolling_an_rnn.ipynb"]
    assert {e.status for e in bad.exercises} == {"wrong"} and "not a readable notebook" in bad.problem
    assert by_file["homework.ipynb"].problem.startswith("cannot tell")
    assert "homework.ipynb" in grading_reports.format_table(res)


def test_written_answers_are_left_for_manual_grading():
    """Scoring of markdown answers, without a kernel."""
    nb = nbformat.v4.new_notebook()
    meta = {"grade": True, "solution": True, "grade_id": "ex02_why", "points": 1,
            "locked": False, "schema_version": 3, "task": False}
    nb.cells = [nbformat.v4.new_markdown_cell("Because the gradient is a sum.",
                                              metadata={"nbgrader": meta}),
                nbformat.v4.new_markdown_cell("YOUR ANSWER HERE",
                                              metadata={"nbgrader": dict(meta, grade_id="ex02_how")})]
    entries = [{"id": "ex02_why", "title": "Why", "points": 1, "kind": "written", "source": ""},
               {"id": "ex02_how", "title": "How", "points": 2, "kind": "written", "source": ""}]
    path = Path(build.ROOT) / "does-not-matter.ipynb"
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "02_x.ipynb"
        nbformat.write(nb, str(path))
        r = _grade_here(path, entries, "02_x.ipynb", student="s", display="s")
    assert [(e.status, e.points) for e in r.exercises] == [("manual", 0), ("not attempted", 0)]
    assert r.max_total == 0  # written answers are not in the automatic maximum
    assert "manual ?/1" in grading_reports.format_table([r])


def test_the_guide_quotes_the_throughput_benchmark():
    """The numbers in the throughput paragraph of INSTRUCTORS.md are the results file's."""
    import re

    from course_utils import provenance

    rec = provenance.load_results("grading_throughput")
    res = rec["results"]
    text = " ".join((ROOT / "INSTRUCTORS.md").read_text().split())
    for nb in ("01", "03", "08"):
        r = res["notebooks"][nb]
        assert re.search(rf"notebook {nb}, {r['per_minute']} (submissions )?per minute "
                         rf"\({r['cpu_s_per_submission']} CPU s", text), nb
    c = res["class_01"]
    assert f"class of {c['submissions']} sample submissions" in text
    assert f"took {c['wall_s']:g} s, {c['cpu_s_per_submission']} CPU seconds each" in text
    assert f"`--jobs {res['jobs']}`" in text and f"`--cell-timeout {res['cell_timeout']:g}`" in text
    assert rec["date"][:10] in text
    ng = res["nbgrader_class_01"]
    assert res["ratio_to_nbgrader"] == round(c["per_minute"] / ng["per_minute"], 2) >= 2
    assert f"took {ng['wall_s']:g} s for the same class in the same run, {ng['per_minute']} per minute" in text
    assert f"**{res['ratio_to_nbgrader']} times** as fast" in text
    assert f"{len(ng['not_processed'])} of the {ng['submissions']} it could not process" in text
    assert f"{c['per_minute']} per minute" in text
    cpu = {nb: r["cpu_s_per_submission"] for nb, r in res["notebooks"].items()}
    assert f"about {round(500 * cpu['01'] / 60)} (01) to {round(500 * cpu['08'] / 60)} (08) CPU minutes" in text
    assert c["scores"]["alice"] == [5, 5] and c["scores"]["grace"] == [0, 5]
    assert c["scores"]["heidi"] == [0, 5]
