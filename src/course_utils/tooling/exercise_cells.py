"""The exercise registry applied to the course's notebooks (what ``course build``, ``course
exercises`` and the grader use): the catalogue of the notebooks present in ``solutions/``,
and the exercise cells of a solution notebook made what the registry says.

The registry itself (:mod:`course_utils.checks.registry`) declares the exercises and knows
no notebook files; this module reads and edits them. It is also the one place that says
what a cell is (:func:`grade_id`, :func:`role`, :func:`source`), for the build, the
editions, the grader and ``course progress``: those three functions take a cell as
nbformat gives it or as plain JSON (a submission's, which may be anything), and this
module imports only the standard library until a function needs the registry, so
``course progress`` can use it before the course's environment exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..checks.registry import Exercise

CHECK, SOLUTION, WRITTEN_ANSWER = "check", "solution", "written answer"  # what a cell is


def nbgrader(cell) -> dict:
    """The cell's ``nbgrader`` metadata ({} when there is none or it is not a dict)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def grade_id(cell) -> str | None:
    """The cell's nbgrader ``grade_id`` (None when it has none, or not a string)."""
    gid = nbgrader(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def source(cell) -> str:
    """The cell's text (a list of lines joined; "" when it is not text)."""
    src = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def role(cell) -> str | None:
    """What an exercise cell is: :data:`CHECK` (a graded code cell: the check),
    :data:`SOLUTION` (the code cell the student writes, ``<id>_code``),
    :data:`WRITTEN_ANSWER` (a graded markdown answer), or None (any other cell)."""
    nbg = nbgrader(cell)
    kind = cell.get("cell_type") if isinstance(cell, dict) else None
    if kind == "markdown":
        return WRITTEN_ANSWER if nbg.get("grade") and nbg.get("solution") else None
    if kind != "code":
        return None
    return CHECK if nbg.get("grade") else SOLUTION if nbg.get("solution") else None


def notebook_files(root: Path) -> dict[int, str]:
    """``{NN: file name}`` of the solution notebooks in ``root/solutions``."""
    out = {}
    from .course_files import notebooks_in

    for p in notebooks_in(Path(root) / "solutions"):
        out.setdefault(int(p.name[:2]), p.name)
    return out


def catalogue(root: Path, exercises=None) -> dict[str, list[dict]]:
    """``{notebook file name: [{"id", "title", "points", "kind", "notebook"}]}`` for the
    notebooks present in ``root/solutions`` (what ``course exercises`` and the grader use)."""
    from ..checks import discovery

    files = notebook_files(root)
    cat: dict[str, list[dict]] = {}
    for e in exercises if exercises is not None else discovery.exercises():
        if e.notebook in files:
            cat.setdefault(files[e.notebook], []).append(
                {"id": e.id, "title": e.title, "points": e.points, "kind": e.kind,
                 "notebook": e.notebook})
    return cat


def _set_metadata(cell, meta: dict) -> None:
    cell.metadata["nbgrader"] = meta["nbgrader"]
    if "course" in meta:
        course = dict(cell.metadata.get("course") or {})
        course.update(meta["course"])
        cell.metadata["course"] = course


def _defines(cell, function: str) -> bool:
    return (cell.cell_type == "code" and "BEGIN SOLUTION" in cell.source
            and f"def {function}(" in cell.source)


def _new_check_cell(exercise: Exercise):
    import nbformat

    cell = nbformat.v4.new_code_cell(exercise.check_cell_source())
    cell.id = f"{exercise.id}-check"[:64]
    _set_metadata(cell, exercise.graded_metadata())
    return cell


def sync_notebook(nb, number: int, exercises=None) -> list[str]:
    """Make notebook ``number``'s exercise cells what the registry says; return what changed.

    For each entry of the notebook: a written answer (the markdown cell with its
    ``grade_id``) gets its metadata; a code exercise's solution cell (``<id>_code``, or,
    for a new exercise, the code cell with a solution region defining the function) gets
    its metadata, and the check cell after it its source and metadata (a new exercise's
    check cell is inserted). What cannot be matched is left for :func:`problems`.
    """
    from ..checks import discovery, registry

    exercises = [e for e in (exercises if exercises is not None else discovery.exercises())
               if e.notebook == number]
    changed: list[str] = []

    def index(gid):
        return next((i for i, c in enumerate(nb.cells) if grade_id(c) == gid), None)

    for e in exercises:
        if e.kind == registry.WRITTEN:
            i = index(e.id)
            if i is not None and nb.cells[i].cell_type == "markdown":
                before = _meta_copy(nb.cells[i])
                _set_metadata(nb.cells[i], e.graded_metadata())
                if _meta_copy(nb.cells[i]) != before:
                    changed.append(f"{e.id}: metadata")
            continue
        i = index(e.answer_id)
        if i is None and index(e.id) is None:  # a new exercise: adopt its solution cell
            hits = [k for k, c in enumerate(nb.cells) if _defines(c, e.function)
                    and not c.metadata.get("nbgrader")]
            i = hits[0] if len(hits) == 1 else None
        if i is None:
            continue
        before = _meta_copy(nb.cells[i])
        _set_metadata(nb.cells[i], e.solution_metadata())
        if _meta_copy(nb.cells[i]) != before:
            changed.append(f"{e.answer_id}: metadata")
        j = i + 1
        nxt = nb.cells[j] if j < len(nb.cells) else None
        if index(e.id) is None and not (nxt is not None and role(nxt) == CHECK):
            nb.cells.insert(j, _new_check_cell(e))
            changed.append(f"{e.id}: check cell added")
            nxt = nb.cells[j]
        if nxt is None or grade_id(nxt) != e.id:
            continue
        before = (nxt.source, _meta_copy(nxt))
        nxt.source = e.check_cell_source()
        _set_metadata(nxt, e.graded_metadata())
        if (nxt.source, _meta_copy(nxt)) != before:
            changed.append(f"{e.id}: check cell")
    return changed


def _meta_copy(cell) -> Any:
    import json

    return json.dumps({k: cell.metadata.get(k) for k in ("nbgrader", "course")}, sort_keys=True)


def problems(nb, number: int, exercises=None) -> list[str]:
    """What in notebook ``number`` does not fit the registry (after :func:`sync_notebook`):
    a missing solution, check or answer cell, a check cell not right after its solution
    cell, a graded cell that no entry describes."""
    from ..checks import discovery, registry

    exercises = [e for e in (exercises if exercises is not None else discovery.exercises())
               if e.notebook == number]
    where = {}
    for i, c in enumerate(nb.cells):
        gid = grade_id(c)
        if gid:
            where.setdefault(gid, i)
    out = []
    for e in exercises:
        if e.kind == registry.WRITTEN:
            if e.id not in where or nb.cells[where[e.id]].cell_type != "markdown":
                out.append(f"{e.id}: no markdown answer cell with grade_id {e.id!r}")
            continue
        if e.answer_id not in where:
            out.append(f"{e.id}: no solution cell (a code cell defining `def {e.function}(` "
                       "with a ### BEGIN SOLUTION region)")
        elif where.get(e.id) != where[e.answer_id] + 1:
            out.append(f"{e.id}: the check cell must come right after the solution cell "
                       f"(cell {where[e.answer_id]})")
    known = {e.id for e in exercises} | {e.answer_id for e in exercises if e.kind == registry.CODE}
    for gid, i in where.items():
        if gid not in known:
            out.append(f"cell {i}: grade_id {gid!r} is not in the exercise registry")
    return out
