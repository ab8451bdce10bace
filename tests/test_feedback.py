"""Feedback to hand back (``grades/feedback/<student>.html``), on the small class graded
in-process, and the report's agreement with the terminal (issue 31 items 3 and 6)."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from report_class import FWD, NAME, STEP, make_results

from course_utils.checks import discovery, ex03
from course_utils.reference import nb03
from course_utils.status import PASSED, WRONG
from course_utils.tooling.grading import grading_feedback, grading_html
from course_utils.tooling.grading.grading_reports import (
    ExerciseResult,
    SubmissionResult,
    reason_summary,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results():
    return make_results()


class _Outline(HTMLParser):
    """The headings (level, text), the lang, scripts and external references of a page."""

    def __init__(self):
        super().__init__()
        self.headings, self.lang, self.scripts, self.external = [], None, 0, []
        self._h = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.lang = a.get("lang", self.lang) if tag == "html" else self.lang
        self.scripts += tag == "script"
        for k in ("src", "href"):
            if (a.get(k) or "").startswith(("http:", "https:", "//")):
                self.external.append(a[k])
        if re.fullmatch(r"h[1-6]", tag):
            self._h = [int(tag[1]), ""]

    def handle_data(self, data):
        if self._h is not None:
            self._h[1] += data

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._h:
            self.headings.append(tuple(self._h))
            self._h = None


def test_one_accessible_file_per_student_with_the_whole_diagnosis(tmp_path, results):
    out = grading_feedback.write_feedback(results, tmp_path / "feedback", ROOT)
    students = {r.student for r in results if r.notebook is not None}
    assert {p.stem for p in out.glob("*.html")} == students  # not the stray notes.ipynb
    ben = next(r for r in results if r.student == "ben")
    wrong = ben.exercises[0]
    hint = next(d for d in wrong.verdict["details"] if d.startswith("Most likely"))
    page = (out / "ben.html").read_text()
    assert grading_feedback.esc(hint) in page            # the full hint ...
    assert hint not in reason_summary(ben)                # ... which the CSV's reason drops
    assert "points: <strong>0/2</strong>" in page and "points: <strong>3/3</strong>" in page
    assert "Look again at:</strong> notebook <code>01_unrolling_an_rnn.ipynb</code>, " \
           "section “3. Exercise: one step forward”" in page
    outline = _Outline()
    outline.feed(page)
    assert outline.lang == "en" and not outline.scripts and not outline.external
    assert [h[0] for h in outline.headings][:3] == [1, 2, 3]
    assert 'name="viewport"' in page
    for who, words in (("eve", "not attempted"), ("joy", "held-out seed 4242"),
                       ("gus", "time limit"), ("ada", "passed")):
        assert words in (out / f"{who}.html").read_text(), who
    assert grading_feedback.CELLS in page
    # a line the grader added to the verdict (the answer cell raised) is shown too
    again = copy.deepcopy(ben)
    again.exercises[0].reason += "\nThe answer cell (cell 7) raised ValueError: bad"
    assert "The answer cell (cell 7) raised ValueError: bad" in grading_feedback.render(
        "ben", [again], ROOT)


def test_file_names_are_safe_and_distinct(tmp_path):
    rows = [SubmissionResult(f"{s}/{NAME}", s, NAME, [ExerciseResult(STEP, "t", 2, PASSED, 2)])
            for s in ("a b", "a/b", "../x")]
    out = grading_feedback.write_feedback(rows, tmp_path, ROOT)
    assert sorted(p.name for p in out.iterdir()) == ["a_b-2.html", "a_b.html", "x.html"]


def _overflow_result() -> SubmissionResult:
    entry = discovery.find("ex03_temporal_softmax_loss")
    v = entry.run_check(ex03.LOSS_MISTAKES[0].fn)  # no max-subtraction: inf/inf = NaN
    return SubmissionResult("olga/03.ipynb", "olga", "03_coding_bptt.ipynb", [ExerciseResult(
        entry.id, entry.title, 3, WRONG, 0, str(v), verdict=v.to_dict())]), v


def test_the_report_and_the_terminal_agree_on_an_overflowing_softmax():
    r, v = _overflow_result()
    assert v.kind == "non-finite" and f"Most likely: {ex03.HINT_OVERFLOW}" in str(v)
    assert v.mistake == "ex03_temporal_softmax_loss/no-max-subtraction"
    page = grading_html.render([r])
    assert 'data-mistake="ex03_temporal_softmax_loss/no-max-subtraction"' in page
    assert grading_html.esc(ex03.HINT_OVERFLOW) in page and "NaN or inf" not in page


def test_a_sequence_failing_by_its_own_step_links_to_the_step():
    def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):  # dh_prev not transposed
        dx, dh_prev, dWxh, dWhh, db = nb03.rnn_step_backward(dh_next, x, h_prev, h_next, Wxh,
                                                             Whh)
        da = dh_next * (1 - h_next ** 2)
        return dx, da @ Whh.T, dWxh, dWhh, db

    def rnn_backward(dh, x, h0, h, Wxh, Whh):
        g = {"rnn_step_backward": rnn_step_backward}
        step = g["rnn_step_backward"]
        N, T, _ = x.shape
        dx, carry = np.zeros_like(x), np.zeros_like(h0)
        dWxh, dWhh, db = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros(Whh.shape[0])
        for t in range(T - 1, -1, -1):
            prev = h[:, t - 1] if t else h0
            dx[:, t], carry, a, b_, c = step(dh[:, t] + carry, x[:, t], prev, h[:, t], Wxh, Whh)
            dWxh, dWhh, db = dWxh + a, dWhh + b_, db + c
        return dx, carry, dWxh, dWhh, db

    step, seq = discovery.find("ex03_rnn_step_backward"), discovery.find("ex03_rnn_backward")
    vs, vq = step.run_check(rnn_step_backward), seq.run_check(rnn_backward)
    assert not vs.passed and vq.mistake and vq.mistake.split("/")[1].startswith("step-"), vq
    rows = [SubmissionResult("sam/03.ipynb", "sam", "03_coding_bptt.ipynb", [
        ExerciseResult(e.id, e.title, e.points, WRONG, 0, str(v), verdict=v.to_dict())
        for e, v in ((step, vs), (seq, vq))])]
    page = grading_html.render(rows)
    assert 'data-caused-by="ex03_rnn_step_backward"' in page
    assert '<a href="#ex03_rnn_step_backward">' in page and 'id="ex03_rnn_step_backward"' in page
    fb = grading_feedback.render("sam", rows, ROOT)
    assert '<a href="#fb-ex03_rnn_step_backward">' in fb and 'id="fb-ex03_rnn_step_backward"' in fb


def test_grade_writes_feedback_and_names_its_sandbox_once(tmp_path, monkeypatch, results,
                                                          capsys):
    from course_utils.tooling import cli
    from course_utils.tooling.grading import grading

    monkeypatch.setattr(grading, "grade", lambda *a, **k: results)
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "g")]) == 0
    out, err = capsys.readouterr()
    assert sum(ln.startswith("sandbox: ") for ln in err.splitlines()) == 1, err
    assert (tmp_path / "g" / "feedback" / "ben.html").exists()
    assert f"one file per student, into {tmp_path / 'g' / 'feedback'}/" in out
    report = (tmp_path / "g" / "report.html").read_text()
    assert grading_html.esc(grading.sandbox_line()) in report
    assert {FWD, STEP} <= {e.id for r in results for e in r.exercises}
