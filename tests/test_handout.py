"""Handouts that hold no answers (``course build --assignment DIR [--only SELECTORS]``):
a cell whose source or stored output shows a graded answer is left out, found by the
answers' code (:mod:`course_utils.tooling.publish.handout`), not by a list; ``--only`` writes a
handout of only the assigned exercises, the others keeping the course's answer."""

from __future__ import annotations

import inspect
from pathlib import Path

import nbformat
import pytest

from course_utils.maths import rnn
from course_utils.reference import nb03
from course_utils.tooling import cli
from course_utils.tooling.publish import build, handout
from course_utils.tooling.publish.editions import NotebookError

ROOT = Path(__file__).resolve().parents[1]
NB03 = ROOT / "solutions" / "03_coding_bptt.ipynb"
NB01 = ROOT / "solutions" / "01_unrolling_an_rnn.ipynb"


def _read(path):
    return nbformat.read(str(path), as_version=4)


def _left_out(nb) -> dict[str, list[str]]:
    return {c.id: c.metadata["course"]["left_out"] for c in nb.cells
            if "left_out" in c.metadata.get("course", {})}


def test_cells_that_show_an_answer_are_left_out_of_the_assignment_edition():
    """The old nb03 appendix (it printed ``rnn_backward_fast``'s source: a whole BPTT, found
    to answer ``ex03_rnn_backward`` by running its check), a retyped reference in a
    markdown cell, and a cell that prints the loss's answer, each caught; an honest cell
    that only calls the references stays."""
    nb = _read(NB03)
    appendix = nbformat.v4.new_code_cell(
        "print(inspect.getsource(rnn.rnn_backward_fast).split('\"\"\"')[-1])", id="leak-out")
    appendix.outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text=inspect.getsource(rnn.rnn_backward_fast))]
    body = inspect.getsource(nb03.rnn_step_backward).split('"""')[-1]
    retyped = nbformat.v4.new_markdown_cell(f"Compare:\n```python\n{body}```", id="leak-md")
    loss = nbformat.v4.new_code_cell(inspect.getsource(nb03.temporal_softmax_loss)
                                     .replace("def temporal_softmax_loss", "def my_loss"),
                                     id="leak-src")
    honest = nbformat.v4.new_code_cell("grads = nb03.rnn_backward(dh, x, h0, h, Wxh, Whh)",
                                       id="honest")
    nb.cells += [appendix, retyped, loss, honest]
    logs: list[str] = []
    student = handout.make_handout(nb, NB03, log=logs.append)
    assert _left_out(student) == {"leak-out": ["ex03_rnn_backward"],
                                  "leak-md": ["ex03_rnn_step_backward"],
                                  "leak-src": ["ex03_temporal_softmax_loss"]}, logs
    assert student.cells[-1].source == honest.source
    assert any("its output shows the answer to ex03_rnn_backward" in m for m in logs), logs
    # what made the appendix an answer: a course function that passes the exercise's check
    found = dict(handout._functions_answering("ex03_rnn_backward"))
    assert "course_utils.maths.rnn.rnn_backward_fast" in found
    assert handout.revealing_cells(student, nb, handout.exercise_ids(NB03)) == []


@pytest.mark.parametrize("path", build.solution_paths(ROOT), ids=lambda p: p.name[:2])
def test_no_assignment_edition_of_the_course_shows_a_graded_answer(path):
    """Every notebook's assignment edition as it is: nothing had to be left out (a lesson
    that gives an answer away is rewritten, not cut)."""
    logs: list[str] = []
    student = handout.make_handout(_read(path), path, log=logs.append)
    assert not _left_out(student) and not logs, logs


def test_short_and_long_answers_need_a_long_shared_run():
    step = handout.tokens("return np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)")
    assert handout.reveals("h = np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)  # the step", step)
    assert not handout.reveals("a = x @ Wxh.T  # one product", step)
    assert handout.tokens("f('a b c')  # note") == ["f", "(", "S", ")"]
    long = handout.tokens(inspect.getsource(rnn.rnn_backward_fast))
    assert not handout.reveals("dx, dh0, dWxh, dWhh, db = rnn_backward_fast(dh, x, h0, h, "
                               "Wxh, Whh)", long)


def test_build_only_writes_a_handout_of_the_assigned_exercises(tmp_path, capsys):
    logs: list[str] = []
    written = build.write_assignment(tmp_path, only={"ex03_rnn_backward"}, log=logs.append)
    assert [p.name for p in written] == [NB03.name]
    nb = _read(written[0])
    assert nb.metadata["course"]["assigned"] == ["ex03_rnn_backward"]
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    assert "raise NotImplementedError()" in cells["ex03_rnn_backward_code"].source
    for other in ("ex03_rnn_step_backward_code", "ex03_temporal_softmax_loss_code"):
        src = cells[other].source
        assert src.startswith(handout.NOT_ASSIGNED) and "NotImplementedError" not in src
        assert "BEGIN SOLUTION" not in src and not cells[other].metadata.nbgrader["solution"]
    # the command line: --only needs --assignment; a selector that matches nothing fails
    assert cli.main(["build", "--only", "ex03_rnn_backward"]) == 2
    assert cli.main(["build", "--assignment", str(tmp_path / "x"), "--only", "ex99_*"]) == 1
    assert "matches no exercise" in capsys.readouterr().err
    with pytest.raises(NotebookError, match="none of its exercises"):
        build.write_assignment(tmp_path, names=["01"], only={"ex03_rnn_backward"},
                               log=logs.append)


def test_an_unassigned_answer_that_shows_an_assigned_one_stops_the_build():
    nb = _read(NB01)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == "ex01_rnn_forward_code")
    cell.source = cell.source.replace(
        "### BEGIN SOLUTION", "### BEGIN SOLUTION\n    step = lambda x, h_prev: np.tanh(x @ Wxh.T "
        "+ h_prev @ Whh.T + b)", 1)
    with pytest.raises(NotebookError, match="assign them together"):
        handout.make_handout(nb, NB01, only={"ex01_rnn_step_forward"}, log=lambda m: None)
