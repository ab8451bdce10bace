"""The gradebook of ``course grade --roster``: one row per student whatever they submitted,
the copy that counts, deadlines, and the Canvas and Moodle exports.

The class of 8 here is graded by a stand-in for the grader's worker (full marks for a
copy that holds work, "not attempted" for one as the course wrote it, "unreadable" for a
file that does not open), so these tests take about a second: the grading itself is
tested in tests/test_grading.py, which also regrades two students of its sample class
into that class's results.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from course_utils.status import NOT_ATTEMPTED, PASSED, UNREADABLE, WRONG
from course_utils.tooling import cli
from course_utils.tooling.grading import gradebook, grading, grading_reports
from course_utils.tooling.student import copies, progress

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(__file__).resolve().parent / "lms_samples"
NB01, NB03 = "01_unrolling_an_rnn.ipynb", "03_coding_bptt.ipynb"
ANSWERED = {NB01: ROOT / "solutions" / NB01, NB03: ROOT / "solutions" / NB03}
AS_GIVEN = {NB01: ROOT / "notebooks" / NB01, NB03: ROOT / "notebooks" / NB03}
MAX01, MAX03 = 5, 10


def _stand_in(job, timeout):
    """The worker's result for ``job``, decided from the file alone (see the docstring)."""
    path = Path(job.path)
    res = grading_reports.SubmissionResult(job.display, job.student, job.notebook,
                                           heldout_seeds=list(job.seeds))
    c = copies.inspect(path)
    if not c.readable:
        res.problem, res.problem_cause = "not a readable notebook: stand-in", UNREADABLE
        res.exercises = [grading_reports.ExerciseResult.of(e, WRONG, res.problem, cause=UNREADABLE)
                         for e in job.entries]
        return res
    res.exercises = [grading_reports.ExerciseResult.of(e, PASSED if c.work else NOT_ATTEMPTED)
                     for e in job.entries]
    return res


def _put(folder: Path, name: str, source: Path | str, age_s: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(source, Path):
        shutil.copy(source, path)
    else:
        path.write_text(source)
    t = dt.datetime.now().timestamp() - age_s
    os.utime(path, (t, t))
    return path


DEADLINE = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)


def _stamp(folder: Path, when: dt.datetime) -> None:
    """nbgrader's timestamp.txt, as ``nbgrader collect`` writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))


def make_class(sub: Path) -> None:
    """The roster's 8 (carol submitted nothing) and ivan, who is not on it."""
    for who in ("alice", "bob"):  # ordinary
        for nb in (NB01, NB03):
            _put(sub / who / "week3", nb, ANSWERED[nb])
    _stamp(sub / "bob" / "week3", DEADLINE + dt.timedelta(days=2))  # late, within his extension
    _put(sub / "dave", NB01, ANSWERED[NB01])
    _put(sub / "dave", "03_coding_bptt.updated.ipynb", ANSWERED[NB03])  # only the .updated copy
    _put(sub / "erin", NB01, ANSWERED[NB01])
    _put(sub / "erin", NB03, AS_GIVEN[NB03], age_s=3600)  # stale
    _put(sub / "erin", "03_coding_bptt.updated.ipynb", ANSWERED[NB03])  # new, with the answers
    _put(sub / "frank", NB01, ANSWERED[NB01], age_s=7200)
    _put(sub / "frank", "01_unrolling_an_rnn-Copy1.ipynb", ANSWERED[NB01], age_s=60)
    _put(sub / "frank", "01_unrolling_an_rnn.bak.ipynb", '{"cells": [')  # corrupt, newest
    _put(sub / "frank", NB03, ANSWERED[NB03])
    _put(sub / "grace", "submission.zip", "PK\x03\x04 not really")  # zip only
    for nb in (NB01, NB03):  # late: 1.5 days after the deadline, nbgrader's layout
        _put(sub / "heidi" / "week3", nb, ANSWERED[nb])
        _put(sub / "ivan", nb, ANSWERED[nb])
    _stamp(sub / "heidi" / "week3", DEADLINE + dt.timedelta(days=1, hours=12))


ROSTER = ("id,name,email,extension\n"
          "alice,Alice A,alice@example.edu,\nbob,Bob B,bob@example.edu,3\n"
          "carol,Carol C,carol@example.edu,\ndave,Dave D,dave@example.edu,\n"
          "erin,Erin E,erin@example.edu,\nfrank,Frank F,frank@example.edu,\n"
          "grace,Grace G,grace@example.edu,\nheidi,Heidi H,heidi@example.edu,\n")


def _grade(tmp: Path, monkeypatch, *paths, extra=()) -> dict:
    monkeypatch.setattr(grading, "_grade_isolated", _stand_in)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["grade", *map(str, paths), "--assignment", str(tmp / "week3.txt"),
                       "--seed", "1", "--out", str(tmp / "grades"), *extra])
    assert rc == 0, out.getvalue()
    data = json.loads((tmp / "grades" / "grades.json").read_text())
    data["table"] = out.getvalue()
    return data


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("class")
    make_class(tmp_path / "submitted")
    (tmp_path / "roster.csv").write_text(ROSTER)
    (tmp_path / "week3.txt").write_text("01\n03\n")
    with pytest.MonkeyPatch.context() as mp:
        data = _grade(tmp_path, mp, tmp_path / "submitted",
                      extra=["--roster", str(tmp_path / "roster.csv"), "--deadline",
                             DEADLINE.isoformat(), "--late-penalty", "10"])
    return tmp_path, data


def _rows(data) -> dict:
    return {s["id"]: s for s in data["gradebook"]["students"]}


def test_a_roster_of_8_gives_a_row_per_student_with_status_and_total(graded):
    tmp, data = graded
    rows = _rows(data)
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
                          "ivan"]
    status = {k: (r["notebooks"][NB01]["status"], r["notebooks"][NB03]["status"], r["total"],
                  r["final"]) for k, r in rows.items()}
    assert status == {
        "alice": ("graded", "graded", 15, 15),
        "bob": ("graded", "graded", 15, 15),             # late, but within his extension
        "carol": ("missing", "missing", 0, 0),           # submitted nothing
        "dave": ("graded", "graded", 15, 15),            # only the .updated copy
        "erin": ("graded", "several candidates", 15, 15),  # the new copy counts
        "frank": ("several candidates", "graded", 15, 15),  # the newest readable duplicate
        "grace": ("missing", "missing", 0, 0),           # a zip only
        "heidi": ("graded", "graded", 15, 12),           # 2 days late at 10 % a day: -3
        "ivan": ("graded", "graded", 15, 15),
    }
    assert all(r["max_total"] == MAX01 + MAX03 for r in rows.values())
    assert [r["on_roster"] for r in rows.values()] == [True] * 8 + [False]
    heidi = rows["heidi"]["notebooks"]
    assert {n["days_late"] for n in heidi.values()} == {2}
    assert {n["submitted_from"] for n in heidi.values()} == {"nbgrader timestamp"}
    assert rows["alice"]["notebooks"][NB01]["submitted_from"] == "file modification time"
    assert rows["bob"]["notebooks"][NB01]["days_late"] == 0
    assert rows["dave"]["notebooks"][NB03]["file"] == "dave/03_coding_bptt.updated.ipynb"
    assert rows["frank"]["notebooks"][NB01]["file"] == "frank/01_unrolling_an_rnn-Copy1.ipynb"
    assert rows["carol"]["name"] == "Carol C" and rows["carol"]["graded_at"] == ""
    assert rows["alice"]["graded_at"] and rows["alice"]["commit"]


def test_days_late_count_a_part_of_a_day_and_the_extension():
    due = dt.datetime(2026, 12, 8, 23, 59, tzinfo=dt.UTC)
    assert gradebook.days_late("2026-12-10T11:59:00+00:00", due) == 2
    assert gradebook.days_late("2026-12-08T23:59:00+00:00", due) == 0
    assert gradebook.days_late("2026-12-09T00:00:00+00:00", due) == 1
    assert gradebook.days_late("2026-12-10T11:59:00+00:00", due, "3") == 0
    assert gradebook.days_late("2026-12-10T11:59:00+00:00", due, "2026-12-10T12:00") in (0, 1)


def test_every_file_not_graded_is_listed_with_why(graded):
    tmp, data = graded
    rows = _rows(data)
    listed = {x["file"]: x["why"] for r in rows.values() for x in r["not_graded"]}
    assert set(listed) == {"erin/03_coding_bptt.ipynb", "frank/01_unrolling_an_rnn.ipynb",
                           "frank/01_unrolling_an_rnn.bak.ipynb", "grace/submission.zip"}
    assert listed["erin/03_coding_bptt.ipynb"] == "holds no work (its cells are as the course wrote them)"
    assert listed["frank/01_unrolling_an_rnn.ipynb"].startswith("saved earlier")
    assert listed["frank/01_unrolling_an_rnn.bak.ipynb"] == "does not open as a notebook"
    assert listed["grace/submission.zip"].startswith("not a notebook")
    report = (tmp / "grades" / "report.html").read_text()
    for f in listed:
        assert f in report, f
    assert 'data-student="carol"' in report and "several candidates" in report
    book = list(csv.DictReader(io.StringIO((tmp / "grades" / "gradebook.csv").read_text())))
    assert [r["id"] for r in book] == list(rows)
    assert book[3][f"{NB03} status"] == "graded" and book[6]["not graded"].startswith("grace/")
    assert book[7]["submitted"].endswith("(nbgrader timestamp)") and book[7]["days late"] == "2"
    assert book[0]["submitted"].endswith("(file modification time)")
    # grades.csv keeps one row per graded file, as before
    assert len(list(csv.DictReader(io.StringIO((tmp / "grades" / "grades.csv").read_text())))) \
        == 14


def test_regrading_two_students_keeps_everyone_elses_rows(graded, monkeypatch, tmp_path):
    tmp, data = tmp_path / "class", graded[1]
    shutil.copytree(graded[0], tmp)
    before = {(s["student"], s["notebook"]): s for s in data["submissions"]}
    # erin drops her stale copy, grace unpacks her zip into her folder; each graded alone
    (tmp / "submitted" / "erin" / NB03).unlink()
    _put(tmp / "submitted" / "grace", NB01, ANSWERED[NB01])
    after = _grade(tmp, monkeypatch, tmp / "submitted" / "erin", tmp / "submitted" / "grace")
    subs = {(s["student"], s["notebook"]): s for s in after["submissions"]}
    assert set(subs) == set(before) | {("grace", NB01)}
    for key, s in before.items():
        if key[0] not in ("erin", "grace"):
            assert subs[key] == s, key
    assert subs[("erin", NB03)]["others"] == [] and subs[("grace", NB01)]["file"] == \
        f"grace/{NB01}"
    rows = _rows(after)
    assert len(rows) == 9 and rows["carol"]["notebooks"][NB01]["status"] == "missing"
    assert rows["erin"]["notebooks"][NB03]["status"] == "graded"
    assert (rows["grace"]["notebooks"][NB01]["status"], rows["grace"]["total"]) == ("graded", 5)
    assert rows["heidi"]["final"] == 12  # the roster, deadline and penalty were kept


def test_exercises_shows_the_assignments_total(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("01\nex03_rnn_backward 6\n")
    assert cli.main(["exercises", "--assignment", str(tmp_path / "a.txt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].split()[:2] == ["total", "11"], out[-1]


# ---------------------------------------------------------------------------------------
# The rule: which copy counts
# ---------------------------------------------------------------------------------------
def test_base_stem_of_copies():
    for name in ("03_coding_bptt.ipynb", "03_coding_bptt.updated.ipynb",
                 "03_coding_bptt.fresh2.ipynb", "03_coding_bptt-Copy1.ipynb",
                 "03_coding_bptt (1).ipynb", "Copy of 03_coding_bptt.ipynb",
                 "03_coding_bptt-Copy1.bak.ipynb"):
        assert copies.base_stem(name) == "03_coding_bptt", name
    assert not copies.is_copy_name("03_coding_bptt.ipynb")
    assert copies.is_copy_name("03_coding_bptt.mine.ipynb")


def test_the_copy_saved_last_with_work_counts(tmp_path):
    old = _put(tmp_path, NB03, ANSWERED[NB03], age_s=100)
    fresh = _put(tmp_path, "03_coding_bptt.fresh.ipynb", AS_GIVEN[NB03])  # newest, no work
    assert copies.choose([old, fresh]).counts == old
    new = _put(tmp_path, "03_coding_bptt.updated.ipynb", ANSWERED[NB03], age_s=10)
    choice = copies.choose([old, fresh, new])
    assert choice.counts == new
    assert [p.name for p, _ in choice.others] == ["03_coding_bptt.fresh.ipynb", NB03]
    # progress reads the same copy and says so
    rows, notes = progress.collect(tmp_path)
    assert {r.notebook for r in rows} == {"03_coding_bptt (in 03_coding_bptt.updated.ipynb)"}
    assert notes == [copies.describe("03_coding_bptt", choice)]
    assert "your answers in 03_coding_bptt.updated.ipynb are the ones a grader will read" \
        in notes[0]


def test_the_rule_is_said_in_the_guide_and_by_update():
    from course_utils.tooling.student import update

    guide = " ".join((ROOT / "INSTRUCTORS.md").read_text().split())
    assert copies.RULE in guide
    src = " ".join(Path(update.__file__).read_text().split())
    assert "_copies.RULE" in src


# ---------------------------------------------------------------------------------------
# Rosters and exports, to Canvas's and Moodle's published layouts
# ---------------------------------------------------------------------------------------
def _results(*rows):
    out = []
    for student, nb, pts in rows:
        r = grading_reports.SubmissionResult(f"{student}/{nb}", student, nb)
        r.exercises = [grading_reports.ExerciseResult("x", "x", 5, PASSED if pts else WRONG, pts)]
        out.append(r)
    return out


CAT = {NB01: [{"id": "x", "points": 5, "kind": "code"}]}


def test_the_canvas_export_matches_canvas_layout():
    roster = gradebook.read_roster(SAMPLES / "canvas_gradebook_export.csv")
    assert [(s.id, s.name) for s in roster] == [("ada", "Lovelace, Ada"), ("alan", "Turing, Alan"),
                                                ("grace", "Hopper, Grace")]
    book = gradebook.build(_results(("ada", NB01, 5), ("S-0002", NB01, 0)), CAT,
                           gradebook.Settings("Week 3", roster=roster))
    got = list(csv.reader(io.StringIO(gradebook.canvas_csv(book))))
    sample = list(csv.reader((SAMPLES / "canvas_gradebook_export.csv").open()))
    assert got[0][:5] == sample[0][:5] == gradebook.CANVAS_COLUMNS
    assert got[0][5] == "Week 3"
    assert got[1][0] == sample[1][0] == "    Points Possible" and got[1][5] == "5"
    assert [r[:5] for r in got[2:]] == [r[:5] for r in sample[2:5]]  # each student's own ids
    assert [r[5] for r in got[2:]] == ["5", "0", "0"]


def test_the_moodle_export_matches_moodle_layout():
    roster = gradebook.read_roster(SAMPLES / "moodle_grades_export.csv")
    assert [s.id for s in roster] == ["S-0001", "S-0002", "S-0003"]
    assert "ada" in roster[0].keys  # a folder named by the e-mail's user part
    book = gradebook.build(_results(("ada", NB01, 5)), CAT,
                           gradebook.Settings("Week 3", roster=roster))
    got = list(csv.DictReader(io.StringIO(gradebook.moodle_csv(book))))
    sample = list(csv.DictReader((SAMPLES / "moodle_grades_export.csv").open()))
    for col in gradebook.MOODLE_COLUMNS:
        assert col in sample[0], col
        assert [r[col] for r in got] == [r[col] for r in sample], col
    assert [r["Week 3"] for r in got] == ["5", "0", "0"]


def test_plain_rosters_and_their_mistakes(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("\ufeffstudent;name\nAda;Ada L\nalan;Alan T\n")
    assert [(s.id, s.name) for s in gradebook.read_roster(p)] == [("Ada", "Ada L"),
                                                                   ("alan", "Alan T")]
    p.write_text("id,email\nada,x@e.org\nbob,x@e.org\n")
    with pytest.raises(gradebook.RosterError, match="names two students"):
        gradebook.read_roster(p)
    book = gradebook.build(_results(("ADA", NB01, 5)), CAT,
                           gradebook.Settings(roster=[gradebook.Student("ada", "", {"ada"})]))
    assert [(s["id"], s["total"]) for s in book["students"]] == [("ada", 5)]  # case ignored


def test_the_guide_quotes_the_class_of_60():
    """The numbers of the class-of-60 paragraph in INSTRUCTORS.md are the results file's."""
    from course_utils import provenance

    rec = provenance.load_results("grading_class_60")
    r = rec["results"]
    c, two = r["class"], r["regrade_two"]
    text = " ".join((ROOT / "INSTRUCTORS.md").read_text().split())
    assert f"(`{rec['script']}`, {rec['date'][:10]}" in text
    assert f"{r['students']} students on a roster" in text
    assert f"{r['on_roster_absent']} more on the roster who submitted nothing" in text
    assert f"`--jobs {r['jobs']}` graded them in {c['cpu_s']} CPU seconds, " \
        f"{c['cpu_s_per_submission']} each, and the gradebook had {c['gradebook_rows']} rows" in text
    assert c["gradebook_rows"] == r["students"] + r["on_roster_absent"]
    assert f"took {two['cpu_s']} CPU seconds and changed only their {len(two['rows_changed'])} " \
        f"rows ({two['rows_kept']} kept)" in text
    assert f"load average of {round(rec['machine']['load_average'])}" in text


def test_a_folder_given_alone_names_its_student(tmp_path):
    """``grade submitted/frank``: frank, also in nbgrader's layout (``frank/ps1/…`` with its
    timestamp.txt); ``grade submitted/``: the folders below it; loose files: their names."""
    from course_utils.tooling.grading import grading_select

    frank = tmp_path / "submitted" / "frank"
    _put(frank, NB01, ANSWERED[NB01])
    assert grading_select.student_of(frank / NB01, frank, NB01) == "frank"
    assert grading._display(frank / NB01, frank) == f"frank/{NB01}"
    _stamp(tmp_path / "submitted" / "grace" / "ps1", DEADLINE)
    _put(tmp_path / "submitted" / "grace" / "ps1", NB01, ANSWERED[NB01])
    grace = tmp_path / "submitted" / "grace"
    assert grading_select.student_of(grace / "ps1" / NB01, grace, NB01) == "grace"
    sub = tmp_path / "submitted"
    assert grading_select.student_of(grace / "ps1" / NB01, sub, NB01) == "grace"
    assert gradebook.student_folders([sub]) == {"frank": [], "grace": []}
    loose = tmp_path / "loose"
    _put(loose, f"alice_{NB01}", ANSWERED[NB01])
    assert grading_select.student_of(loose / f"alice_{NB01}", loose, NB01) == "alice"
    assert gradebook.student_folders([loose]) == {}
