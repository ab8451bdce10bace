"""Generate the student notebooks from ``solutions/`` and re-execute the solutions.

``solutions/`` is the single source of truth. For every ``solutions/NN_name.ipynb``:

1. its exercise cells are made what the exercise registry says (:mod:`course_utils.checks.registry`:
   the check cells' sources and the nbgrader metadata of check, solution and written-answer
   cells; a new exercise's check cell is added after its solution cell), and it is
   validated (nbformat schema, nbgrader cell metadata, solution regions only in solution
   cells, unique exercise ids, every registered exercise present); a problem names the
   file and the cell;
2. (optionally) it is re-executed in place in a fresh kernel of the current Python, so
   stored outputs are fresh; no timing metadata is recorded;
3. ``notebooks/NN_name.ipynb`` is generated with nbgrader's own preprocessors
   (``ClearSolutions``, ``ClearHiddenTests``, ``ClearOutput``, ``LockCells``), then
   normalised so the file is byte-identical on every run.

Two editions come from the same source (:mod:`course_utils.tooling.publish.editions` makes them):

* the **self-study edition** (``notebooks/``): after each written-answer cell, a collapsed
  ``<details>`` block holds the model answer, so a self-learner gets feedback;
* the **assignment edition** (written by :func:`write_assignment` or
  ``python -m course_utils build --assignment DIR``): no model answers and no hints in
  the *Further exercises* section, for instructors who grade written answers. This is the
  edition to hand out for grading. :func:`write_nbgrader_source` writes the matching
  nbgrader source folder (``solutions/`` without Further-exercise hints), whose
  ``nbgrader generate_assignment`` release is the assignment edition.

A generated notebook records a hash of its cell sources. If the file in ``notebooks/``
no longer matches its hash (someone edited it, e.g. a student's work), it is not
overwritten unless ``force=True``; then the old file is kept as ``*.bak.ipynb``.

Needs the instructor extra (``pip install -e .[dev]``): nbgrader, nbclient, nbformat.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ...provenance import ROOT
from ..course_files import NB_NAME, notebooks_in  # noqa: F401 (NB_NAME: build's name of old)
from ..exercise_cells import grade_id
from .editions import (
    NotebookError,
    dumps,
    make_assignment,  # noqa: F401 (build.make_assignment: the tests use it)
    make_student,
    student_status,
    without_hints,
)

SOLUTION_MARK = "BEGIN SOLUTION"
HIDDEN_MARK = "BEGIN HIDDEN TESTS"


@dataclass
class BuildResult:
    solution: Path
    student: Path
    status: str  # "written", "unchanged", "would change", "kept (edited)"
    executed: bool = False


# ---------------------------------------------------------------------------------------
# Discovery and validation
# ---------------------------------------------------------------------------------------
def solution_paths(root: Path = ROOT, names: list[str] | None = None) -> list[Path]:
    """The solution notebooks, sorted; ``names`` filters by prefix ('01') or file name."""
    paths = notebooks_in(root / "solutions")
    if names:
        paths = [p for p in paths if any(p.name.startswith(n) or p.stem == n for n in names)]
        if not paths:
            raise NotebookError(f"no solution notebook matches {names}")
    return paths


def read_notebook(path: Path):
    """Read and schema-validate a notebook, with a clear error naming the file."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:
        raise NotebookError(f"{path}: not a readable notebook ({exc})") from exc
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise NotebookError(f"{path}: invalid notebook: {exc.message}") from exc
    return nb


def _cell_label(path: Path, i: int, cell) -> str:
    first = (cell.source.strip().splitlines() or [""])[0][:60]
    return f"{path.name}, cell {i} ({cell.cell_type}: {first!r})"


def validate_solution(nb, path: Path) -> list[dict]:
    """Check the nbgrader metadata; return the exercise catalogue of this notebook.

    Each catalogue entry: ``{"id", "title", "points", "kind", "cell"}`` for every graded
    cell (a check cell or a manually graded answer).
    """
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    seen: dict[str, int] = {}
    catalogue = []
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader")
        src = cell.source
        has_solution = SOLUTION_MARK in src
        has_hidden = HIDDEN_MARK in src
        if has_solution and src.count(SOLUTION_MARK) != src.count("END SOLUTION"):
            raise NotebookError(f"{_cell_label(path, i, cell)}: unbalanced BEGIN/END SOLUTION markers")
        if has_solution and not (meta and meta.get("solution")):
            raise NotebookError(f"{_cell_label(path, i, cell)}: has a solution region but no "
                                "nbgrader metadata with solution: true")
        if has_hidden and not (meta and meta.get("grade")):
            raise NotebookError(f"{_cell_label(path, i, cell)}: hidden tests outside a grade cell")
        if meta is None:
            continue
        try:
            MetadataValidator().validate_cell(cell)
        except ValidationError as exc:
            raise NotebookError(f"{_cell_label(path, i, cell)}: bad nbgrader metadata: {exc}") from exc
        gid = grade_id(cell)
        if gid in seen:
            raise NotebookError(f"{_cell_label(path, i, cell)}: grade_id {gid!r} already used "
                                f"by cell {seen[gid]}")
        seen[gid] = i
        if meta.get("grade"):
            course = cell.metadata.get("course", {})
            catalogue.append({
                "id": gid,
                "title": course.get("title", gid),
                "points": meta.get("points", 0),
                "kind": "code" if cell.cell_type == "code" else "written",
                "cell": i,
            })
    return catalogue


def apply_registry(nb, path: Path, log=print) -> list[str]:
    """Make the notebook's exercise cells what the registry says, then validate it.

    Returns what changed (empty when the notebook already agrees). Raises
    :class:`NotebookError` if a registered exercise has no cells here, or they are out of
    place; a graded cell that no entry describes is reported in the log.
    """
    from ...checks import discovery
    from .. import exercise_cells

    number = int(path.name[:2])
    exercises = discovery.exercises()
    changed = exercise_cells.sync_notebook(nb, number, exercises)
    validate_solution(nb, path)
    unknown = "is not in the exercise registry"
    found = exercise_cells.problems(nb, number, exercises)
    bad = [p for p in found if unknown not in p]
    if bad:
        raise NotebookError(f"{path.name}: " + "; ".join(bad))
    for p in found:
        log(f"warning: {path.name}: {p} (it is not in the catalogue and is not graded)")
    return changed


# ---------------------------------------------------------------------------------------
# Writing an edition of every notebook
# ---------------------------------------------------------------------------------------
def _write_each(dest: Path, root: Path, names: list[str] | None, make, what: str, *,
                log=print) -> list[Path]:
    """Write ``make(nb, path)`` for every (or the named) solution notebook into ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in solution_paths(root, names):
        nb = read_notebook(path)
        apply_registry(nb, path, log)
        target = dest / path.name
        target.write_text(dumps(make(nb, path)))
        written.append(target)
        log(f"{target}: {what} written")
    return written


def write_assignment(dest: Path, root: Path = ROOT, names: list[str] | None = None,
                     log=print, only: set[str] | None = None) -> list[Path]:
    """Write the assignment edition of every (or the named) solution notebook into ``dest``,
    without the cells that reveal a graded answer (:mod:`course_utils.tooling.publish.handout`).

    ``only``: the exercise ids assigned (default: all); the notebooks written are then
    those that hold one, and the exercises not assigned keep their answer keys.
    ``dest`` is created if needed; existing files of the same names are replaced. Returns
    the written paths. ``notebooks/`` is not touched.
    """
    from . import handout

    if only is not None and not names:
        files = exercise_cells_notebooks(root, only)
        names = sorted(files)
        if not names:
            raise NotebookError(f"no exercise matches {sorted(only)}")
    return _write_each(dest, root, names,
                       lambda nb, path: handout.make_handout(nb, path, only, log),
                       "assignment edition" + (" (only the assigned exercises)" if only else ""),
                       log=log)


def exercise_cells_notebooks(root: Path, ids) -> set[str]:
    """The solution notebooks (file names) that hold one of the exercises ``ids``."""
    return {nb for nb, entries in catalogue(root).items()
            if any(e["id"] in ids for e in entries)}


def write_nbgrader_source(dest: Path, root: Path = ROOT, names: list[str] | None = None,
                          log=print) -> list[Path]:
    """Write the solution notebooks without Further-exercise hints into ``dest``: an nbgrader
    source folder whose ``generate_assignment`` release is the assignment edition."""
    return _write_each(dest, root, names, without_hints, "nbgrader source", log=log)


# ---------------------------------------------------------------------------------------
# Execution of solutions
# ---------------------------------------------------------------------------------------
def execute_notebook(nb, cwd: Path, timeout: int | None = None, env_updates: dict | None = None):
    """Execute ``nb`` in place in a fresh kernel of *this* Python (not a kernelspec lookup).

    Uses the course's headless client (:mod:`.headless`: no explorer hang). Raises
    :class:`~.headless.ExecutionTimeout`, naming the cell, if a cell runs over ``timeout``
    seconds (default ``headless.CELL_TIMEOUT``), and nbclient's ``CellExecutionError`` if a
    cell raises.
    """
    import os

    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    from .. import headless

    timeout = timeout or headless.CELL_TIMEOUT
    # The asynchronous manager, as nbclient's own: with a blocking one, nbclient's waits for
    # output block its event loop, so neither the cell time-out nor the kernel-alive check
    # can ever fire (measured: a 2 s time-out let a 30 s cell run to its end).
    km = AsyncKernelManager()
    env = {k: v for k, v in os.environ.items() if k not in {"COURSE_GRADING", "MPLBACKEND"}}
    env.update(env_updates or {})
    km._kernel_spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (ipykernel)", language="python", env=env)
    client = headless.notebook_client(nb, km=km, timeout=timeout, record_timing=False,
                                      resources={"metadata": {"path": str(cwd)}})
    try:
        # shut the kernel down at the end, even after an error: nbclient leaves a kernel it
        # did not start itself (km=) running, an idle process per notebook until we exit
        client.execute(cleanup_kc=True)
    except headless.CellTimeoutError as exc:
        raise headless.ExecutionTimeout(headless.describe_timeout(client, timeout)) from exc
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    return nb


def execute_solution(nb, path: Path, timeout: int | None = None, log=print):
    """Execute the solution notebook ``nb`` (read from ``path``); a notebook in which a cell
    runs over ``timeout`` s is executed once more, and a second time-out raises
    :class:`NotebookError` naming the cell."""
    from .. import headless

    for attempt in (1, 2):
        try:
            return execute_notebook(nb, path.parent, timeout=timeout)
        except headless.ExecutionTimeout as exc:
            if attempt == 2:
                raise NotebookError(f"{path.name}: {exc}, twice in a row; run the notebook "
                                    "in JupyterLab to see where it stops") from exc
            log(f"{path.name}: {exc}; executing the notebook once more")


# ---------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------
def build(root: Path = ROOT, names: list[str] | None = None, *, execute: bool = True,
          check: bool = False, force: bool = False, log=print) -> list[BuildResult]:
    """Regenerate ``notebooks/`` (and re-execute ``solutions/`` unless ``execute=False``).

    With ``check=True`` nothing is written; results say which student notebooks would
    change. Raises :class:`NotebookError` for a malformed solution notebook.
    """
    import time

    results = []
    (root / "notebooks").mkdir(exist_ok=True)
    for path in solution_paths(root, names):
        nb = read_notebook(path)
        synced = apply_registry(nb, path, log)
        if synced:
            log(f"{path.relative_to(root)}: exercise cells "
                f"{'differ from' if check else 'updated from'} the registry ({', '.join(synced)})")
            if not check and not execute:
                path.write_text(dumps(nb))
        executed = False
        if execute and not check:
            t0 = time.perf_counter()
            try:
                execute_solution(nb, path, log=log)
            except NotebookError:
                raise
            except Exception as exc:
                raise NotebookError(f"{path.name}: execution failed: {exc}") from exc
            text = dumps(nb)
            if path.read_text() != text:
                path.write_text(text)
            executed = True
            log(f"executed {path.relative_to(root)} in {time.perf_counter() - t0:.1f} s")
        target = root / "notebooks" / path.name
        text = dumps(make_student(nb, path))
        if target.exists() and target.read_text() == text and not (check and synced):
            status = "unchanged"
        elif check:
            status = "would change"
        elif student_status(target) == "edited" and not force:
            status = "kept (edited)"
            log(f"NOT overwriting {target.relative_to(root)}: it was edited after it was "
                "generated. Re-run with --force to replace it (a .bak copy is kept).")
        else:
            if target.exists() and student_status(target) == "edited":
                backup = target.with_suffix(".bak.ipynb")
                backup.write_text(target.read_text())
                log(f"kept the edited version as {backup.relative_to(root)}")
            target.write_text(text)
            status = "written"
        results.append(BuildResult(path, target, status, executed))
        log(f"{target.relative_to(root)}: {status}")
    return results


def catalogue(root: Path = ROOT) -> dict[str, list[dict]]:
    """The exercise catalogue from the registry, for the solution notebooks in ``root``:
    ``{notebook file name: [{"id", "title", "points", "kind", "notebook"}]}``."""
    from .. import exercise_cells

    return exercise_cells.catalogue(root)


def dump_json(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
