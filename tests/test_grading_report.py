"""The class report (``grades/report.html``) on a small class graded in-process.

The report of the real sample class (graded through ``course grade``) is tested in
``test_grading.py``; the browser test in ``test_report_browser.py``.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from report_class import FWD, NAME, STEP, make_results, parse_report

from course_utils.tooling.grading import grading_html, grading_summary

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results():
    return make_results()


@pytest.fixture(scope="module")
def report(results):
    run = grading_html.run_info(results, root=ROOT, options={"--jobs": 2}, digest="d" * 64)
    return grading_html.render(results, run)


def _expected_mistakes(results) -> dict[str, set[str]]:
    """{mistake id: students}, straight from the verdicts."""
    out: dict[str, set[str]] = {}
    for r in results:
        for e in r.exercises:
            if e.status == "wrong" and e.verdict and e.verdict.get("mistake"):
                out.setdefault(e.verdict["mistake"], set()).add(r.student)
    return out


def test_the_counts_equal_the_verdicts(results, report):
    got = parse_report(report)
    expected = _expected_mistakes(results)
    assert {k: (n, set(s)) for k, (n, s) in got["mistakes"].items()} == \
        {k: (len(v), v) for k, v in expected.items()}
    # the same mistake written differently, and a factor of 2 and of 0.5, count together
    assert expected[f"{STEP}/whh-not-transposed"] == {"ben", "cleo"}
    assert expected[f"{FWD}/constant-factor"] == {"cleo", "dan"}
    assert "right answer times 2:" in report and "right answer times 0.5:" in report
    for gid in (STEP, FWD):
        statuses = [e.status for r in results for e in r.exercises if e.id == gid]
        assert got["exercises"][gid] == {"pass": statuses.count("passed"),
                                         "fail": statuses.count("wrong"),
                                         "not-attempted": statuses.count("not attempted")}


def test_mistakes_are_ranked_and_show_their_hint(results, report):
    nb, = grading_summary.class_summary(results)[0]
    step = next(ex for ex in nb.exercises if ex.id == STEP)
    assert [g.count for g in step.mistakes] == sorted((g.count for g in step.mistakes),
                                                      reverse=True)
    assert step.mistakes[0].key == f"{STEP}/whh-not-transposed"
    assert "instead of `h_prev @ Whh.T`" in step.mistakes[0].hint
    assert "instead of `h_prev @ Whh.T`" in report
    assert report.index(f'data-mistake="{STEP}/whh-not-transposed"') < \
        report.index(f'data-mistake="{STEP}/bias-missing"')


def test_flags_name_the_students(report):
    flags = parse_report(report)["flags"]
    assert flags["heldout"][0] == 1 and flags["heldout"][1][0].startswith(f"joy ({STEP})")
    assert flags["timeouts"][0] == 1 and flags["timeouts"][1][0].startswith("gus")
    assert flags["crashes"][0] == 1 and all(x.startswith("hal") for x in flags["crashes"][1])
    assert flags["reuse"][0] == 1 and flags["reuse"][1][0].startswith("ivy")
    assert flags["review"][0] == 1 and "importlib" in flags["review"][1][0]
    # the recorder switched off inside one exercise is tampering too (it was "other")
    assert flags["tampering"][0] == 1 and flags["tampering"][1][0].startswith(f"kim ({FWD})")


def test_grader_failures_are_classified_by_the_cause_the_grader_set():
    """The reports read the machine cause, never the wording: every cause has its label,
    an unknown or missing one (an old grades.json) is "other"."""
    from course_utils import status
    from course_utils.checks import behaviour

    c = grading_summary.grader_failure
    assert {cause: c(cause) for cause in status.CAUSES} == {
        "time-limit": "time limit", "crash": "crash", "reuse": "not the student's work",
        "tampering": "tampering", "unreadable": "unreadable", "other": "other"}
    assert c("") == c("nonsense") == "other"
    assert (behaviour.REUSE, behaviour.TAMPERING) == (status.REUSE, status.TAMPERING)
    why, _ = behaviour.judge([{"kind": "recorder", "what": "sys.setprofile"}], function="f",
                             libraries=("numpy",))
    assert why.startswith("the grader's recorder was switched off") and why.cause == "tampering"
    why, _ = behaviour.judge([{"kind": "course", "what": "course_utils.maths.rnn.f"}],
                             function="f", libraries=("numpy",))
    assert why.startswith("not your work") and why.cause == "reuse"


def test_the_report_is_self_contained_and_semantic(report):
    import re

    got = parse_report(report)
    assert got["lang"] == "en" and got["external"] == [] and got["scripts"] == 1
    (src, alt), = got["images"]
    assert src.startswith("data:image/png;base64,")
    assert alt.startswith(f"Bar chart of the total scores in {NAME} (out of 5 points), "
                          "11 submissions: ")
    assert "scored 0" in alt and "scored 5" in alt
    levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", report)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels
    assert '<th scope="col" aria-sort="ascending"><button type="button">student</button>' in report
    for word in ("✓</span> pass", "✗</span> fail", "–</span> not attempted"):
        assert word in report  # every status in words too, not colour alone
    assert "option --jobs" in report and "held-out seeds" in report and "d" * 64 in report
    assert "notes.ipynb: cannot tell which course notebook this is" in report


def test_the_histogram_says_what_it_shows(results):
    nb, = grading_summary.class_summary(results)[0]
    uri, alt = grading_html.histogram(nb)
    png = base64.b64decode(uri.split(",", 1)[1])
    assert png.startswith(b"\x89PNG")
    counts = {t: nb.totals.count(t) for t in set(nb.totals)}
    for total, n in counts.items():
        assert f"{n} submission{'s' if n != 1 else ''} scored {total:g}" in alt


def test_written_answers_and_an_empty_run():
    from course_utils.tooling.grading.grading_reports import ExerciseResult, SubmissionResult

    r = SubmissionResult("s/02_deriving_bptt.ipynb", "s", "02_deriving_bptt.ipynb", [
        ExerciseResult("ex02_why", "Why", 1, "manual", 0, "written answer: grade by hand",
                       kind="written"),
        ExerciseResult("ex02_how", "How", 2, "not attempted", 0, "written answer left blank",
                       kind="written")])
    html = grading_html.render([r])
    assert "Written answer, graded by hand: 1 answered, 0 left blank, 0 missing" in html
    assert "Written answer, graded by hand: 0 answered, 1 left blank" in html
    assert "✎</span> manual ?/1" in html and "graded by hand" in html
    empty = grading_html.render([])
    assert "Class report: 0 submissions" in empty and "<table" in empty


def test_grade_writes_the_report_with_its_provenance(tmp_path, monkeypatch, results, capsys):
    """The command's wiring, with the grading itself replaced by the in-process class."""
    from course_utils.tooling import cli
    from course_utils.tooling.grading import grading

    monkeypatch.setattr(grading, "grade", lambda *a, **k: results)
    rc = cli.main(["grade", str(tmp_path), "--seed", "4242", "--jobs", "2",
                   "--out", str(tmp_path / "grades")])
    assert rc == 0
    assert capsys.readouterr().out.rstrip().endswith("report.html")
    text = (tmp_path / "grades" / "report.html").read_text()
    assert parse_report(text)["mistakes"]
    for shown in ("course version (git commit)", "held-out seeds</th><td>4242",
                  "option --seed</th><td>4242", "option --jobs</th><td>2",
                  "option --cell-timeout", "date (UTC)"):
        assert shown in text, shown

    # the grades are written even when the report cannot be
    def broken(*a, **k):
        raise RuntimeError("no report today")

    monkeypatch.setattr(grading_html, "render", broken)
    rc = cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "again")])
    assert rc == 0 and (tmp_path / "again" / "grades.json").exists()
    assert "the class report failed: RuntimeError: no report today" in capsys.readouterr().err


def test_a_reason_with_a_cause_survives_copies_and_the_json_of_a_result():
    import copy
    import json
    import pickle

    from course_utils.checks.behaviour import Reason
    from course_utils.tooling.grading.grading_reports import ExerciseResult, SubmissionResult

    why = Reason("the grader's recorder was switched off inside `f`", "tampering")
    for again in (copy.deepcopy(why), pickle.loads(pickle.dumps(why))):
        assert (again, again.cause) == (why, "tampering")
    r = SubmissionResult("f", "s", "n", [ExerciseResult("e", "t", 1, "wrong", 0, why,
                                                        cause=why.cause)])
    back = SubmissionResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back.exercises[0].reason == why and back.exercises[0].cause == "tampering"
