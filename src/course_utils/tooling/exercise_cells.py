"""The exercise registry applied to the course's notebooks (what ``course build``, ``course
exercises`` and the grader use): the catalogue of the notebooks present in ``solutions/``,
and the exercise cells of a solution notebook made what the registry says.

The registry itself (:mod:`course_utils.checks.registry`) declares the exercises and knows
no notebook files; this module reads and edits them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..checks import registry
from ..checks.registry import CODE, WRITTEN, Exercise


def notebook_files(root: Path) -> dict[int, str]:
    """``{NN: file name}`` of the solution notebooks in ``root/solutions``."""
    out = {}
    for p in sorted((Path(root) / "solutions").glob("[0-9][0-9]_*.ipynb")):
        out.setdefault(int(p.name[:2]), p.name)
    return out


def catalogue(root: Path, entries=None) -> dict[str, list[dict]]:
    """``{notebook file name: [{"id", "title", "points", "kind", "notebook"}]}`` for the
    notebooks present in ``root/solutions`` (what ``course exercises`` and the grader use)."""
    files = notebook_files(root)
    cat: dict[str, list[dict]] = {}
    for e in entries if entries is not None else registry.exercises():
        if e.notebook in files:
            cat.setdefault(files[e.notebook], []).append(
                {"id": e.id, "title": e.title, "points": e.points, "kind": e.kind,
                 "notebook": e.notebook})
    return cat


def _gid(cell) -> str | None:
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")


def _set_metadata(cell, meta: dict) -> None:
    cell.metadata["nbgrader"] = meta["nbgrader"]
    if "course" in meta:
        course = dict(cell.metadata.get("course") or {})
        course.update(meta["course"])
        cell.metadata["course"] = course


def _defines(cell, function: str) -> bool:
    return (cell.cell_type == "code" and "BEGIN SOLUTION" in cell.source
            and f"def {function}(" in cell.source)


def _new_check_cell(entry: Exercise):
    import nbformat

    cell = nbformat.v4.new_code_cell(entry.check_cell_source())
    cell.id = f"{entry.id}-check"[:64]
    _set_metadata(cell, entry.graded_metadata())
    return cell


def sync_notebook(nb, number: int, entries=None) -> list[str]:
    """Make notebook ``number``'s exercise cells what the registry says; return what changed.

    For each entry of the notebook: a written answer (the markdown cell with its
    ``grade_id``) gets its metadata; a code exercise's solution cell (``<id>_code``, or,
    for a new exercise, the code cell with a solution region defining the function) gets
    its metadata, and the check cell after it its source and metadata (a new exercise's
    check cell is inserted). What cannot be matched is left for :func:`problems`.
    """
    entries = [e for e in (entries if entries is not None else registry.exercises())
               if e.notebook == number]
    changed: list[str] = []

    def index(gid):
        return next((i for i, c in enumerate(nb.cells) if _gid(c) == gid), None)

    for e in entries:
        if e.kind == WRITTEN:
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
        if index(e.id) is None and not (nxt is not None and
                                        (nxt.metadata.get("nbgrader") or {}).get("grade")):
            nb.cells.insert(j, _new_check_cell(e))
            changed.append(f"{e.id}: check cell added")
            nxt = nb.cells[j]
        if nxt is None or _gid(nxt) != e.id:
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


def problems(nb, number: int, entries=None) -> list[str]:
    """What in notebook ``number`` does not fit the registry (after :func:`sync_notebook`):
    a missing solution, check or answer cell, a check cell not right after its solution
    cell, a graded cell that no entry describes."""
    entries = [e for e in (entries if entries is not None else registry.exercises())
               if e.notebook == number]
    where = {}
    for i, c in enumerate(nb.cells):
        gid = _gid(c)
        if gid:
            where.setdefault(gid, i)
    out = []
    for e in entries:
        if e.kind == WRITTEN:
            if e.id not in where or nb.cells[where[e.id]].cell_type != "markdown":
                out.append(f"{e.id}: no markdown answer cell with grade_id {e.id!r}")
            continue
        if e.answer_id not in where:
            out.append(f"{e.id}: no solution cell (a code cell defining `def {e.function}(` "
                       "with a ### BEGIN SOLUTION region)")
        elif where.get(e.id) != where[e.answer_id] + 1:
            out.append(f"{e.id}: the check cell must come right after the solution cell "
                       f"(cell {where[e.answer_id]})")
    known = {e.id for e in entries} | {e.answer_id for e in entries if e.kind == CODE}
    for gid, i in where.items():
        if gid not in known:
            out.append(f"cell {i}: grade_id {gid!r} is not in the exercise registry")
    return out
