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

Two editions come from the same source:

* the **self-study edition** (``notebooks/``, :func:`make_student`): after each written-answer
  cell, a collapsed ``<details>`` block holds the model answer, so a self-learner gets
  feedback;
* the **assignment edition** (:func:`make_assignment`, written by :func:`write_assignment`
  or ``python -m course_utils build --assignment DIR``): no model answers and no hints in
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

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
NB_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
SOLUTION_MARK = "BEGIN SOLUTION"
HIDDEN_MARK = "BEGIN HIDDEN TESTS"


class NotebookError(Exception):
    """A malformed solution notebook; the message names the file and the cell."""


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
    paths = sorted(p for p in (root / "solutions").glob("*.ipynb") if NB_NAME.match(p.name))
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
        gid = meta.get("grade_id")
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
    from ..checks import registry

    number = int(path.name[:2])
    entries = registry.exercises()
    changed = registry.sync_notebook(nb, number, entries)
    validate_solution(nb, path)
    unknown = "is not in the exercise registry"
    found = registry.problems(nb, number, entries)
    bad = [p for p in found if unknown not in p]
    if bad:
        raise NotebookError(f"{path.name}: " + "; ".join(bad))
    for p in found:
        log(f"warning: {path.name}: {p} (it is not in the catalogue and is not graded)")
    return changed


# ---------------------------------------------------------------------------------------
# Student notebook generation
# ---------------------------------------------------------------------------------------
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
    meta = cell.metadata.get("nbgrader") or {}
    return cell.cell_type == "markdown" and bool(meta.get("solution")) and bool(meta.get("grade"))


def model_answer_cell(answer_cell):
    """The collapsed ``<details>`` cell the self-study edition puts after a written answer."""
    import nbformat

    grade_id = answer_cell.metadata["nbgrader"]["grade_id"]
    text = (f"<details><summary>{MODEL_ANSWER_SUMMARY}</summary>\n\n"
            f"{answer_cell.source.strip()}\n\n</details>")
    cell = nbformat.v4.new_markdown_cell(text, metadata={"course": {"model_answer_for": grade_id}})
    cell.id = f"{answer_cell.id}-model"[:64] if answer_cell.get("id") else f"{grade_id}-model"[:64]
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
        answers = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if is_written_answer(c)}
        cells = []
        for cell in student.cells:
            cells.append(cell)
            gid = (cell.metadata.get("nbgrader") or {}).get("grade_id")
            if is_written_answer(cell) and gid in answers:
                cells.append(model_answer_cell(answers[gid]))
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


def _write_each(dest: Path, root: Path, names: list[str] | None, make, what: str,
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
                     log=print) -> list[Path]:
    """Write the assignment edition of every (or the named) solution notebook into ``dest``.

    ``dest`` is created if needed; existing files of the same names are replaced. Returns
    the written paths. ``notebooks/`` is not touched.
    """
    return _write_each(dest, root, names, make_assignment, "assignment edition", log)


def _without_hints(nb, path: Path):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = strip_further_exercise_hints(cell.source)
    return nb


def write_nbgrader_source(dest: Path, root: Path = ROOT, names: list[str] | None = None,
                          log=print) -> list[Path]:
    """Write the solution notebooks without Further-exercise hints into ``dest``: an nbgrader
    source folder whose ``generate_assignment`` release is the assignment edition."""
    return _write_each(dest, root, names, _without_hints, "nbgrader source", log)


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


# ---------------------------------------------------------------------------------------
# Execution of solutions
# ---------------------------------------------------------------------------------------
def execute_notebook(nb, cwd: Path, timeout: int = 600, env_updates: dict | None = None):
    """Execute ``nb`` in place in a fresh kernel of *this* Python (not a kernelspec lookup)."""
    import os

    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec
    from nbclient import NotebookClient

    km = KernelManager()
    env = {k: v for k, v in os.environ.items() if k not in {"COURSE_GRADING", "MPLBACKEND"}}
    env.update(env_updates or {})
    km._kernel_spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (ipykernel)", language="python", env=env)
    client = NotebookClient(nb, km=km, timeout=timeout, record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    return nb


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
                execute_notebook(nb, path.parent)
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
    from ..checks import registry

    return registry.catalogue(root)


def dump_json(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
