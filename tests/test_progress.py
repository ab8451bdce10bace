"""`course progress`: a self-learner's own progress, read from their saved notebooks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.tooling.student import progress

ROOT = Path(__file__).resolve().parents[1]
NB01 = "01_unrolling_an_rnn.ipynb"


def _cells(nb, grade_id):
    return next(c for c in nb["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _solution_source(grade_id):
    sol = json.loads((ROOT / "solutions" / NB01).read_text())
    return _cells(sol, grade_id)["source"]


def _stream(text):
    return [{"name": "stdout", "output_type": "stream", "text": [text]}]


@pytest.fixture()
def folder(tmp_path):
    """A copy of the student notebooks, as a student who has done some of the work has it."""
    for p in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(p, tmp_path / p.name)
    nb = json.loads((tmp_path / NB01).read_text())
    # step forward: answered and run, passing; sequence forward: answered, run, failing
    _cells(nb, "ex01_rnn_step_forward_code")["source"] = _solution_source(
        "ex01_rnn_step_forward_code")
    _cells(nb, "ex01_rnn_step_forward")["outputs"] = _stream(
        "✅ rnn_step_forward: passed (4 random cases).\n")
    _cells(nb, "ex01_rnn_forward_code")["source"] = "def rnn_forward(x, h0, Wxh, Whh, b):\n    return x\n"
    _cells(nb, "ex01_rnn_forward")["outputs"] = _stream(
        "❌ rnn_forward: wrong. Output h has shape (2, 5, 3); expected (2, 5, 4).\n"
        "Later cells use the reference implementation.\n")
    (tmp_path / NB01).write_text(json.dumps(nb))
    return tmp_path


def test_reads_pass_fail_untouched_and_the_reason(folder):
    rows, problems = progress.collect(folder)
    assert problems == []
    by_id = {r.exercise: r for r in rows}
    assert by_id["ex01_rnn_step_forward"].status == "passed"
    assert by_id["ex01_rnn_forward"].status == "wrong"
    assert "shape (2, 5, 3)" in by_id["ex01_rnn_forward"].detail
    assert by_id["ex03_rnn_backward"].status == "not attempted"
    assert by_id["ex02_cost_of_paths"].kind == "written"
    assert by_id["ex02_cost_of_paths"].status == "not attempted"
    report = progress.format_report(rows, problems)
    assert "1 of" in report and "1 fail" in report
    assert report.index("01_unrolling_an_rnn") < report.index("08_char_language_model")


def test_edited_but_not_run_is_not_called_untouched(folder):
    nb = json.loads((folder / "03_coding_bptt.ipynb").read_text())
    code = _cells(nb, "ex03_rnn_step_backward_code")
    code["source"] = "".join(code["source"]).replace("raise NotImplementedError()", "return 0")
    (folder / "03_coding_bptt.ipynb").write_text(json.dumps(nb))
    rows = {r.exercise: r for r in progress.collect(folder)[0]}
    assert rows["ex03_rnn_step_backward"].status == "edited, not run"


def test_written_answers_count_when_written(folder):
    nb = json.loads((folder / "02_deriving_bptt.ipynb").read_text())
    _cells(nb, "ex02_cost_of_paths")["source"] = "Exponential in T, linear for BPTT."
    (folder / "02_deriving_bptt.ipynb").write_text(json.dumps(nb))
    rows = {r.exercise: r for r in progress.collect(folder)[0]}
    assert rows["ex02_cost_of_paths"].status == "answered"


def test_corrupt_and_foreign_notebooks_get_one_line_and_the_rest_is_listed(folder):
    (folder / "04_vanishing_exploding_gradients.ipynb").write_text('{"cells": [')
    (folder / "my_notes.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code",
                                                                  "metadata": {}, "source": "1"}]}))
    (folder / "weird.ipynb").write_text(json.dumps({"cells": {"not": "a list"}}))
    (folder / "01_unrolling_an_rnn.updated.ipynb").write_text("{}")  # a copy that does not count
    rows, problems = progress.collect(folder)
    assert len(problems) == 4 and all("\n" not in p for p in problems)
    assert any(p.startswith("01_unrolling_an_rnn: your answers in 01_unrolling_an_rnn.ipynb are")
               and "01_unrolling_an_rnn.updated.ipynb: does not open" in p for p in problems)
    assert any(p.startswith("04_vanishing") and "not a readable notebook" in p for p in problems)
    assert any(p.startswith("my_notes") and "no exercises" in p for p in problems)
    assert {r.notebook for r in rows} >= {"01_unrolling_an_rnn", "08_char_language_model"}
    assert "04_vanishing_exploding_gradients" not in {r.notebook for r in rows}


def test_progress_on_the_course_needs_only_the_stdlib(folder):
    """Its speed (well under a second) is a benchmark, benchmarks/time_budgets.py."""
    out = subprocess.run([sys.executable, "-S", str(ROOT / "course.py"), "progress", str(folder)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ex01_rnn_step_forward" in out.stdout and "passes" in out.stdout


@pytest.mark.slow
def test_verify_reruns_in_grading_mode_on_a_copy(tmp_path):
    nb = json.loads((ROOT / "notebooks" / NB01).read_text())
    _cells(nb, "ex01_rnn_step_forward_code")["source"] = _solution_source(
        "ex01_rnn_step_forward_code")
    # a forged verdict in the saved file: --verify must not believe it
    _cells(nb, "ex01_rnn_forward")["outputs"] = _stream("✅ rnn_forward: passed\n")
    path = tmp_path / NB01
    path.write_text(json.dumps(nb))
    before = path.read_bytes()
    rows, problems = progress.verify(tmp_path)
    assert problems == []
    by_id = {r.exercise: r.status for r in rows}
    assert by_id["ex01_rnn_step_forward"] == "passed"
    assert by_id["ex01_rnn_forward"] != "passed"
    assert path.read_bytes() == before, "--verify must not touch the student's file"


def test_a_failing_check_names_the_mistake_next_to_the_reason(folder):
    """The check cell, run in a real kernel, leaves the diagnosed mistake in its outputs'
    metadata (the printed verdict is unchanged); progress shows its short name."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(ROOT / "notebooks" / NB01), as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    code = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == "ex01_rnn_step_forward_code")
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                 == "ex01_rnn_step_forward")
    blank, blank_check = (next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get(
        "grade_id") == gid) for gid in ("ex01_rnn_forward_code", "ex01_rnn_forward"))
    code.source = ("def rnn_step_forward(x, h_prev, Wxh, Whh, b):\n"
                   "    return np.tanh(x @ Wxh.T + h_prev @ Whh + b)\n")
    nb.cells = [setup, code, check, blank, blank_check]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(cwd=str(folder))
    outs = check.outputs
    assert [o.output_type for o in outs] == ["stream", "display_data"], outs
    assert outs[0].text.startswith("❌ rnn_step_forward: the output is wrong in case 1")
    assert "Most likely: you used `h_prev @ Whh`" in outs[0].text
    assert outs[1].data == {"text/plain": ""}
    assert outs[1].metadata["course_verdict"]["mistake"] == \
        "ex01_rnn_step_forward/whh-not-transposed"
    # every verdict is published, an unanswered exercise's too
    assert blank_check.outputs[-1].metadata["course_verdict"]["status"] == "not attempted"
    for p in folder.glob("*.ipynb"):
        p.unlink()
    nbformat.write(nb, str(folder / NB01))
    rows, problems = progress.collect(folder)
    row = next(r for r in rows if r.exercise == "ex01_rnn_step_forward")
    assert (row.status, row.mistake) == ("wrong", "whh-not-transposed")
    assert row.detail.startswith("rnn_step_forward: the output is wrong in case 1")
    assert "fails (whh-not-transposed): rnn_step_forward: the output is" in \
        progress.format_report(rows, problems)


def _published(status, reason, mistake_name=None):
    return {"output_type": "display_data", "data": {"text/plain": ""},
            "metadata": {"course_verdict": {"name": "f", "status": status, "reason": reason,
                                            "kind": None, "mistake": None,
                                            "mistake_name": mistake_name}}}


def test_the_published_verdict_is_read_not_the_printed_icons(folder):
    """The check cell's published verdict decides: a pass printed in other words, and a
    failure whose printed line looks like a pass, are read from the metadata."""
    nb = json.loads((folder / NB01).read_text())
    _cells(nb, "ex01_rnn_step_forward")["outputs"] = (
        _stream("all good\n") + [_published("passed", "rnn_step_forward: passed")])
    _cells(nb, "ex01_rnn_forward")["outputs"] = (
        _stream("✅ rnn_forward: passed\n")
        + [_published("wrong", "rnn_forward: h is wrong", "whh-not-transposed")])
    (folder / NB01).write_text(json.dumps(nb))
    rows, _ = progress.collect(folder)
    by_id = {r.exercise: r for r in rows}
    assert by_id["ex01_rnn_step_forward"].status == "passed"
    row = by_id["ex01_rnn_forward"]
    assert (row.status, row.detail, row.mistake) == ("wrong", "rnn_forward: h is wrong",
                                                     "whh-not-transposed")
