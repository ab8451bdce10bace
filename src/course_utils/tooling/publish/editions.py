"""The student editions of a solution notebook, made with nbgrader's own preprocessors
(``ClearSolutions``, ``ClearHiddenTests``, ``ClearOutput``, ``LockCells``) and normalised so
the file is byte-identical on every run:

* the **self-study edition** (``notebooks/``, :func:`make_student`): after each written-answer
  cell, a collapsed ``<details>`` block holds the model answer, so a self-learner gets
  feedback;
* the **assignment edition** (:func:`make_assignment`): no model answers and no hints in the
  *Further exercises* section, for instructors who grade written answers.

A generated notebook records a hash of its cell sources (:func:`sources_hash`), so
:func:`student_status` can tell a student's edits from the generated file.
:mod:`course_utils.tooling.publish.build` writes the editions.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..exercise_cells import WRITTEN_ANSWER, grade_id, role


class NotebookError(Exception):
    """A malformed solution notebook; the message names the file and the cell."""


def _preprocessors():
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions, LockCells

    return [ClearSolutions(), ClearHiddenTests(), ClearOutput(), LockCells()]


def sources_hash(nb) -> str:
    """SHA-256 over cell types and sources: what 'edited since generated' compares."""
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    return h.hexdigest()


EDITIONS = ("self-study", "assignment")
MODEL_ANSWER_SUMMARY = "Model answer (write your own first, then compare)"
FURTHER_HEADING = re.compile(r"^## Further exercises[ \t]*$", re.M)
NEXT_HEADING = re.compile(r"^#{1,2} ", re.M)
HINT_BLOCK = re.compile(r"[ \t]*<details>\s*<summary>\s*Hint\b.*?</details>[ \t]*\n?", re.S | re.I)


def is_written_answer(cell) -> bool:
    """A markdown cell whose whole text is a graded model answer (nbgrader solution + grade)."""
    return role(cell) == WRITTEN_ANSWER


def model_answer_cell(answer_cell):
    """The collapsed ``<details>`` cell the self-study edition puts after a written answer."""
    import nbformat

    gid = grade_id(answer_cell)
    text = (f"<details><summary>{MODEL_ANSWER_SUMMARY}</summary>\n\n"
            f"{answer_cell.source.strip()}\n\n</details>")
    cell = nbformat.v4.new_markdown_cell(text, metadata={"course": {"model_answer_for": gid}})
    cell.id = f"{answer_cell.id}-model"[:64] if answer_cell.get("id") else f"{gid}-model"[:64]
    return cell


def strip_further_exercise_hints(source: str) -> str:
    """Remove ``<details><summary>Hint…</summary>…</details>`` blocks from the *Further
    exercises* section of a markdown source (up to the next ``#``/``##`` heading)."""
    m = FURTHER_HEADING.search(source)
    if not m:
        return source
    end = NEXT_HEADING.search(source, m.end())
    stop = end.start() if end else len(source)
    return source[:m.end()] + HINT_BLOCK.sub("", source[m.end():stop]) + source[stop:]


def _nbgrader_release(nb, path: Path):
    """nbgrader's student version of a solution notebook, normalised (a new object)."""
    import copy

    student = copy.deepcopy(nb)
    resources: dict = {}
    try:
        for pp in _preprocessors():
            student, resources = pp.preprocess(student, resources)
    except Exception as exc:
        raise NotebookError(f"{path.name}: nbgrader could not generate the student version: "
                            f"{exc}") from exc
    for cell in student.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    student.metadata.pop("widgets", None)
    return student


def make_student(nb, path: Path, edition: str = "self-study"):
    """Return a student edition of a solution notebook (a new object).

    ``edition="self-study"`` (what ``notebooks/`` holds): nbgrader's student version plus,
    after each written-answer cell, a collapsed ``<details>`` model answer.
    ``edition="assignment"``: nbgrader's student version without Further-exercise hints
    and without model answers (see :func:`make_assignment`).
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, not {edition!r}")
    student = _nbgrader_release(nb, path)
    if edition == "self-study":
        answers = {grade_id(c): c for c in nb.cells if is_written_answer(c)}
        cells = []
        for cell in student.cells:
            cells.append(cell)
            if is_written_answer(cell) and grade_id(cell) in answers:
                cells.append(model_answer_cell(answers[grade_id(cell)]))
        student.cells = cells
    else:
        for cell in student.cells:
            if cell.cell_type == "markdown":
                cell.source = strip_further_exercise_hints(cell.source)
    md = student.metadata
    md["course"] = {
        "generated_from": f"solutions/{path.name}",
        "sources_sha256": sources_hash(student),
        "note": "Generated by `python course.py build`; edit solutions/, not this file.",
    }
    if edition == "assignment":
        md["course"]["edition"] = "assignment"
    return student


def make_assignment(nb, path: Path):
    """The assignment edition of a solution notebook: what students get when their written
    answers are graded, and what the grader should run. No model answers, no hints in the
    *Further exercises* section; otherwise nbgrader's student version."""
    return make_student(nb, path, edition="assignment")


def without_hints(nb, path: Path):
    """The solution notebook with the hints of its Further-exercises section removed (in place)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = strip_further_exercise_hints(cell.source)
    return nb


def dumps(nb) -> str:
    """Serialise exactly as Jupyter does (so saving in JupyterLab changes nothing)."""
    import nbformat

    return nbformat.writes(nb) + "\n"


def student_status(target: Path) -> str:
    """'missing', 'generated' (untouched since generated) or 'edited'."""
    import nbformat

    if not target.exists():
        return "missing"
    try:
        old = nbformat.read(str(target), as_version=4)
    except Exception:
        return "edited"
    stored = old.metadata.get("course", {}).get("sources_sha256")
    return "generated" if stored == sources_hash(old) else "edited"
