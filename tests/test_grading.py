"""The grading command: ``python -m course_utils grade SUBMISSIONS…``.

Sample submissions are generated here from notebook 01 (never committed: pytest runs
with --nbval and would collect them): the solution (correct), the student version
(empty), and edited copies that are wrong, loop, ignore interrupts, crash the kernel,
delete a check cell and rename a function, and print megabytes.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import time
from pathlib import Path

import nbformat
import pytest

from course_utils import build, cli, grading

ROOT = Path(__file__).resolve().parents[1]
NAME = "01_unrolling_an_rnn.ipynb"
STEP, FWD = "ex01_rnn_step_forward", "ex01_rnn_forward"
# Short limits keep this file fast; the cell limit must still let the setup cell (imports
# torch) finish on a loaded 2-core machine.
CELL_TIMEOUT, TIMEOUT = 20, 40


def _gid(cell):
    return (cell.metadata.get("nbgrader") or {}).get("grade_id")


def _cell(nb, gid):
    return next(c for c in nb.cells if _gid(c) == gid)


@pytest.fixture(scope="module")
def nb01():
    sol = nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)
    stu = nbformat.read(str(ROOT / "notebooks" / NAME), as_version=4)
    return sol, stu


def _answered(nb01, step=None, fwd=None):
    """The student notebook with both solution cells answered (optionally replaced)."""
    sol, stu = nb01
    nb = copy.deepcopy(stu)
    _cell(nb, STEP + "_code").source = step if step is not None else _cell(sol, STEP + "_code").source
    _cell(nb, FWD + "_code").source = fwd if fwd is not None else _cell(sol, FWD + "_code").source
    return nb


def make_submissions(folder: Path, nb01) -> dict[str, str]:
    """Write submissions/<student>/01_unrolling_an_rnn.ipynb; return {student: what it is}."""
    sol, stu = nb01
    step = _cell(sol, STEP + "_code").source
    fwd = _cell(sol, FWD + "_code").source
    assert "h_next = np.tanh" in step and "h[:, t] = h_prev" in fwd
    subs = {}

    def save(student, nb, what):
        (folder / student).mkdir(parents=True)
        nbformat.write(nb, str(folder / student / NAME))
        subs[student] = what

    save("correct", copy.deepcopy(sol), "the solution notebook")
    save("empty", copy.deepcopy(stu), "the student notebook as generated")
    # Wrong: the sequence doubles every state; also prints ~2 MB, and fakes its check cell.
    nb = _answered(nb01, step=step + "\n\nfor _ in range(2000):\n    print('x' * 1000)\n",
                   fwd=fwd.replace("h[:, t] = h_prev", "h[:, t] = 2 * h_prev"))
    _cell(nb, FWD).source = 'print("✅ rnn_forward: passed")'
    save("wrong", nb, "step right (prints 2 MB), sequence wrong, check cell faked")
    # Loop: an infinite loop in the step; the sequence is written without calling it.
    own_loop = ("def rnn_forward(x, h0, Wxh, Whh, b):\n    h, hs = h0, []\n"
                "    for t in range(x.shape[1]):\n"
                "        h = np.tanh(x[:, t] @ Wxh.T + h @ Whh.T + b)\n        hs.append(h)\n"
                "    return np.stack(hs, axis=1)\n")
    save("loop", _answered(nb01, step=step.replace("h_next = np.tanh", "while True:\n        pass\n    h_next = np.tanh"),
                           fwd=own_loop), "step loops forever, sequence right")
    # Stubborn: a loop that swallows the interrupt, so only the notebook time limit ends it.
    save("stubborn", _answered(nb01, step=step.replace(
        "h_next = np.tanh",
        "import time\n    while True:\n        try:\n            time.sleep(0.05)\n"
        "        except BaseException:\n            pass\n    h_next = np.tanh")),
        "step loops and ignores interrupts")
    save("crash", _answered(nb01, step=step.replace("h_next = np.tanh", "import os\n    os._exit(1)\n    h_next = np.tanh")),
         "the step kills the kernel")
    # Deleted and renamed: the step's check cell is gone; rnn_forward is called `forward`.
    nb = _answered(nb01, fwd=fwd.replace("def rnn_forward", "def forward"))
    nb.cells = [c for c in nb.cells if _gid(c) != STEP]
    save("deleted_renamed", nb, "step check cell deleted, rnn_forward renamed")
    return subs


@pytest.fixture(scope="module")
def graded(tmp_path_factory, nb01):
    """Grade the folder of samples once through the command line (2 in parallel)."""
    tmp = tmp_path_factory.mktemp("grading")
    make_submissions(tmp / "submissions", nb01)
    out = io.StringIO()
    t0 = time.perf_counter()
    import contextlib

    with contextlib.redirect_stdout(out):
        rc = cli.main(["grade", str(tmp / "submissions"), "--timeout", str(TIMEOUT),
                       "--cell-timeout", str(CELL_TIMEOUT), "--max-output", "100000",
                       "--jobs", "2", "--out", str(tmp / "grades")])
    elapsed = time.perf_counter() - t0
    assert rc == 0
    data = json.loads((tmp / "grades" / "grades.json").read_text())
    by_student = {s["student"]: s for s in data["submissions"]}
    return {"table": out.getvalue(), "json": by_student, "elapsed": elapsed,
            "csv": (tmp / "grades" / "grades.csv").read_text(), "tmp": tmp}


def _ex(graded, student, gid):
    return next(e for e in graded["json"][student]["exercises"] if e["id"] == gid)


# ---------------------------------------------------------------------------------------
# The sample folder, one submission per case
# ---------------------------------------------------------------------------------------
def test_every_submission_is_graded_within_the_time_limits(graded):
    assert set(graded["json"]) == {"correct", "empty", "wrong", "loop", "stubborn", "crash",
                                   "deleted_renamed"}
    for s in graded["json"].values():
        # the subprocess was never killed: each finished within its own time limit
        assert s["seconds"] < TIMEOUT + 20, s
        assert "killed" not in s["problem"], s
    # 7 submissions, 2 at a time: even on a loaded machine well below 7 time limits
    assert graded["elapsed"] < 4 * (TIMEOUT + 20)


def test_correct_gets_full_marks(graded):
    s = graded["json"]["correct"]
    assert [(e["id"], e["status"], e["points"]) for e in s["exercises"]] == [
        (STEP, "pass", 2), (FWD, "pass", 3)]
    assert (s["total"], s["max_total"], s["problem"]) == (5, 5, "")


def test_empty_is_not_attempted(graded):
    s = graded["json"]["empty"]
    assert [e["status"] for e in s["exercises"]] == ["not attempted"] * 2
    assert s["total"] == 0 and s["max_total"] == 5
    assert "not attempted yet" in _ex(graded, "empty", STEP)["reason"]  # in the JSON


def test_wrong_fails_with_the_verdict_and_a_faked_check_does_not_count(graded):
    assert _ex(graded, "wrong", STEP)["status"] == "pass"  # 2 MB of output changed nothing
    e = _ex(graded, "wrong", FWD)
    assert e["status"] == "fail" and e["points"] == 0
    assert "❌ rnn_forward" in e["reason"] and "relative error" in e["reason"]
    assert "check cell had been edited" in e["reason"]
    assert graded["json"]["wrong"]["total"] == 2


def test_loop_fails_on_the_time_limit_and_the_rest_is_graded(graded):
    e = _ex(graded, "loop", STEP)
    assert e["status"] == "fail" and f"longer than {CELL_TIMEOUT} s" in e["reason"]
    assert _ex(graded, "loop", FWD)["status"] == "pass"
    assert graded["json"]["loop"]["total"] == 3
    assert graded["json"]["loop"]["seconds"] < TIMEOUT + 10


def test_loop_that_ignores_interrupts_stops_at_the_notebook_limit(graded):
    s = graded["json"]["stubborn"]
    assert [e["status"] for e in s["exercises"]] == ["fail", "fail"]
    assert "time limit" in _ex(graded, "stubborn", STEP)["reason"]
    assert "notebook time limit" in _ex(graded, "stubborn", FWD)["reason"]
    assert "time limit" in s["problem"]


def test_crash_is_graded_as_failing(graded):
    s = graded["json"]["crash"]
    assert [e["status"] for e in s["exercises"]] == ["fail", "fail"]
    assert "kernel died" in _ex(graded, "crash", STEP)["reason"]
    assert "kernel died" in _ex(graded, "crash", FWD)["reason"]
    assert s["problem"] == "the kernel died"


def test_deleted_cell_and_renamed_function(graded):
    e = _ex(graded, "deleted_renamed", STEP)
    assert e["status"] == "fail" and "check cell missing" in e["reason"]
    e = _ex(graded, "deleted_renamed", FWD)
    assert e["status"] == "fail" and "NameError" in e["reason"] and "renamed" in e["reason"]


def test_table_csv_and_json(graded):
    table = graded["table"]
    lines = table.splitlines()
    assert lines[0] == f"== {NAME} =="
    assert lines[1].split() == ["student/file", STEP, FWD, "total"]
    row = {ln.split()[0].split("/")[0]: ln.split() for ln in lines[2:] if ln.strip()
           and ln.split()[0].endswith(NAME)}
    assert row["correct"][1:] == ["pass", "2/2", "pass", "3/3", "5/5"]
    assert row["empty"][1:] == ["-", "0/2", "-", "0/3", "0/5"]
    assert row["wrong"][1:] == ["pass", "2/2", "FAIL", "0/3", "2/5"]
    assert row["loop"][1:] == ["FAIL", "0/2", "pass", "3/3", "3/5"]
    assert row["crash"][1:] == ["FAIL", "0/2", "FAIL", "0/3", "0/5"]
    assert "Reasons for FAIL:" in table and "crash/01_unrolling_an_rnn.ipynb: the kernel died" in table
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(graded["csv"]))}
    assert rows["correct"]["total"] == "5" and rows["correct"]["max"] == "5"
    assert rows["wrong"][FWD] == "0" and rows["wrong"][f"{FWD} status"] == "fail"
    assert rows["correct"]["file"] == "correct/01_unrolling_an_rnn.ipynb"
    assert rows["correct"]["notebook"] == NAME
    # 2 MB of printing did not end up in the gradebook
    assert len((graded["tmp"] / "grades" / "grades.json").read_text()) < 20_000


# ---------------------------------------------------------------------------------------
# Assignments (subsets), identification, in-process grading
# ---------------------------------------------------------------------------------------
def test_only_a_subset_in_process(tmp_path, nb01):
    sol, _ = nb01
    path = tmp_path / "bob_01_unrolling_an_rnn.ipynb"
    nbformat.write(sol, str(path))
    res = grading.grade([path], selectors={FWD: 10}, timeout=60, cell_timeout=30,
                        isolate=False)
    assert len(res) == 1
    r = res[0]
    assert r.student == "bob" and r.notebook == NAME
    assert [(e.id, e.status, e.points, e.max_points) for e in r.exercises] == [(FWD, "pass", 10, 10)]


def test_parse_assignment_and_select():
    sel = grading.parse_assignment("# week 1\nex01_rnn_forward 5\n\nex01_rnn_step_*  # all steps\n")
    assert sel == {"ex01_rnn_forward": 5.0, "ex01_rnn_step_*": None}
    cat = {NAME: [{"id": STEP, "points": 2}, {"id": FWD, "points": 3}],
           "03_coding_bptt.ipynb": [{"id": "ex03_x", "points": 4}]}
    picked = grading.select(cat, sel)
    assert picked == {NAME: [{"id": STEP, "points": 2}, {"id": FWD, "points": 5.0}]}
    assert grading.select(cat, {"03": None}) == {"03_coding_bptt.ipynb": [{"id": "ex03_x", "points": 4}]}
    assert grading.select(cat, {}) == cat
    with pytest.raises(grading.GradingError, match="matches no exercise"):
        grading.select(cat, {"ex01_typo": None})
    with pytest.raises(grading.GradingError):
        grading.parse_assignment("ex01_rnn_forward five\n")


def test_identify_and_student_names(tmp_path):
    names = [NAME, "03_coding_bptt.ipynb"]
    gen = {"course": {"generated_from": "solutions/03_coding_bptt.ipynb"}}
    assert grading.identify(Path("anything.ipynb"), gen, names) == "03_coding_bptt.ipynb"
    assert grading.identify(Path("alice_01_unrolling_an_rnn.ipynb"), {}, names) == NAME
    assert grading.identify(Path("03-alice.ipynb"), {}, names) == "03_coding_bptt.ipynb"
    assert grading.identify(Path("homework.ipynb"), {}, names) is None
    base = tmp_path / "submitted"
    assert grading.student_of(base / "alice" / "ps1" / NAME, base, NAME) == "alice"
    assert grading.student_of(tmp_path / "bob_01_unrolling_an_rnn.ipynb", None, NAME) == "bob"


def test_discover_skips_side_files_and_checkpoints(tmp_path):
    for rel in ["a/01_x.ipynb", "a/01_x.updated.ipynb", "a/01_x.fresh2.ipynb",
                "a/.ipynb_checkpoints/01_x-checkpoint.ipynb", "b/01_x.ipynb"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found = grading.discover([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p, _ in found] == ["a/01_x.ipynb", "b/01_x.ipynb"]
    with pytest.raises(grading.GradingError):
        grading.discover([tmp_path / "missing"])


def test_unreadable_and_unknown_submissions(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "01_unrolling_an_rnn.ipynb").write_text("not json")
    (tmp_path / "s" / "homework.ipynb").write_text("{}")
    res = grading.grade([tmp_path / "s"], timeout=30, cell_timeout=10, isolate=False)
    by_file = {r.file: r for r in res}
    bad = by_file["01_unrolling_an_rnn.ipynb"]
    assert {e.status for e in bad.exercises} == {"fail"} and "not a readable notebook" in bad.problem
    assert by_file["homework.ipynb"].problem.startswith("cannot tell")
    assert "homework.ipynb" in grading.format_table(res)


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
        r = grading.grade_notebook(path, entries, "02_x.ipynb", student="s", display="s")
    assert [(e.status, e.points) for e in r.exercises] == [("manual", 0), ("not attempted", 0)]
    assert r.max_total == 0  # written answers are not in the automatic maximum
    assert "manual ?/1" in grading.format_table([r])


def test_a_grader_that_overruns_is_killed_with_its_kernel(nb01, tmp_path):
    """The last line of defence: the grading subprocess and its kernel are killed."""
    sol, _ = nb01
    pidfile = tmp_path / "kernel_pid"
    step = _cell(sol, STEP + "_code").source
    nb = _answered(nb01, step=step + (
        f"\n\nimport os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "while True:\n    try:\n        time.sleep(0.05)\n    except BaseException:\n        pass\n"))
    path = tmp_path / NAME
    nbformat.write(nb, str(path))
    job = {"path": str(path), "notebook": NAME, "student": "s", "display": NAME,
           "entries": grading.load_catalogue(ROOT)[NAME], "timeout": 300, "cell_timeout": 300,
           "max_output": 1000}
    t0 = time.perf_counter()
    r = grading._grade_isolated(job, timeout=20 - grading.KILL_GRACE)  # killed after 20 s
    assert time.perf_counter() - t0 < 40
    assert [e.status for e in r.exercises] == ["fail", "fail"]
    assert r.problem.startswith("killed after 20 s") and r.total == 0
    if pidfile.exists():  # the kernel got as far as the loop: it must be gone
        pid = int(pidfile.read_text())
        time.sleep(1)
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            state = "gone"
        assert state == "gone" or "State:\tZ" in state, state
