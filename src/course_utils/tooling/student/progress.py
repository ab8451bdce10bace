"""A self-learner's progress, read from their own notebooks: ``python3 course.py progress``.

For every exercise of every notebook in ``notebooks/`` it says, from the outputs of the
student's latest run that Jupyter saved in the file, whether the exercise **passes**,
**fails** (with the check's one-line reason), was **edited but not run** since, or is
**untouched**; a written answer is **answered** or untouched. Every check cell leaves, in
its saved outputs, an empty output whose metadata holds its verdict (``course_verdict``:
the status, the one-line reason and, when a classic mistake was diagnosed, its short name,
shown next to the reason: ``fails (whh-not-transposed): …``); a notebook saved by an older
version of the course, without it, is read from the verdict line the check printed. Nothing is executed and
nothing is sent anywhere: it only reads the ``.ipynb`` files, so it takes a fraction of a
second. ``--verify`` re-runs the notebooks in grading mode (a fresh kernel per notebook on
a temporary copy; the student's files are not touched) and reports those verdicts instead.

Standard library only (``course.py`` loads it by path before any environment exists;
``--verify`` alone needs the course's environment, for Jupyter).

Exercises are recognised by their nbgrader metadata: a check cell has
``nbgrader.grade = true`` and a ``grade_id``; its solution cell has the ``grade_id`` with
``_code`` appended; a written answer is a markdown cell with ``grade`` and ``solution``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ...status import ICONS, NOT_ATTEMPTED, PASSED, VERDICT_KEY, WRONG
from ..course_files import is_blank_answer
from ..exercise_cells import CHECK, SOLUTION, WRITTEN_ANSWER, grade_id, role, source
from . import copies

# A row's status is the course's (course_utils.status), or one of two only a saved
# notebook can tell: a solution edited since its check last ran, a written answer.
EDITED, ANSWERED = "edited, not run", "answered"
# How the report says each status, and its mark.
SAYS = {PASSED: "passes", WRONG: "fails", NOT_ATTEMPTED: "untouched", EDITED: EDITED,
        ANSWERED: ANSWERED}
MARK = {PASSED: ICONS[PASSED], WRONG: ICONS[WRONG], NOT_ATTEMPTED: "·", EDITED: "✎",
        ANSWERED: "✎"}


class NotACourseNotebook(ValueError):
    """A file that is not valid notebook JSON, or carries no exercise of this course."""


@dataclass
class Row:
    """One exercise of one notebook: its id, title, kind, status and a one-line detail."""

    notebook: str
    exercise: str
    title: str
    kind: str  # "code" or "written"
    status: str  # PASSED | WRONG | NOT_ATTEMPTED (course_utils.status) | EDITED | ANSWERED
    detail: str = ""
    mistake: str = ""  # the diagnosed mistake's short name (a failing check), or ""

    @property
    def says(self) -> str:
        """The status as the report says it ("passes", "fails", "untouched", …)."""
        return SAYS[self.status]


def _output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []) or []:
        if not isinstance(out, dict):
            continue
        if out.get("output_type") == "stream":
            parts.append(source({"source": out.get("text", "")}))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename', 'Error')}: {out.get('evalue', '')}")
    return "".join(parts)


def _published(cell: dict) -> dict | None:
    """The verdict the check cell published in its outputs' metadata (``course_verdict``,
    :data:`~course_utils.status.VERDICT_KEY`: its status, reason and mistake), the last
    one, or None (a cell not run, or saved before check cells published their verdict)."""
    for out in reversed(cell.get("outputs", []) or []):
        meta = out.get("metadata") if isinstance(out, dict) else None
        info = meta.get(VERDICT_KEY) if isinstance(meta, dict) else None
        if isinstance(info, dict) and info.get("status") in (PASSED, WRONG, NOT_ATTEMPTED):
            return info
    return None


def _verdict(cell: dict) -> tuple[str, str, str] | None:
    """The check's verdict: (status, reason, the diagnosed mistake's short name or ""),
    from the metadata it published; for a notebook saved by an older version of the
    course, read from the last verdict line it printed. None if the check has not run."""
    info = _published(cell)
    if info is not None:
        name = info.get("mistake_name")
        return (info["status"], str(info.get("reason") or ""),
                name if isinstance(name, str) else "")
    old = _printed_verdict(_output_text(cell))
    return None if old is None else (*old, "")


def _printed_verdict(output: str) -> tuple[str, str] | None:
    """The last verdict line a check printed: (status, reason), or None (older notebooks,
    whose check cells published no verdict metadata)."""
    for line in reversed(output.splitlines()):
        line = line.strip()
        for status, icon in ICONS.items():
            if line.startswith(icon):
                return status, line[len(icon):].strip()
        if line.startswith("ExerciseFailed:"):
            return WRONG, line.split(":", 1)[1].strip()
    return None


def _title(cell: dict, fallback: str) -> str:
    course = cell.get("metadata", {}).get("course", {})
    return course.get("title", fallback) if isinstance(course, dict) else fallback


def read_notebook(path: Path) -> list[Row]:
    """The exercises of one notebook and their status, from its saved outputs."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = nb["cells"]
        if not isinstance(cells, list):
            raise TypeError("cells is not a list")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise NotACourseNotebook(f"{Path(path).name}: not a readable notebook ({exc})") from None
    name = Path(path).stem
    code_cells = {grade_id(c): c for c in cells if role(c) == SOLUTION}
    rows = []
    for cell in cells:
        gid, kind = grade_id(cell), role(cell)
        if kind not in (CHECK, WRITTEN_ANSWER) or gid is None:
            continue
        title = _title(cell, gid)
        if kind == WRITTEN_ANSWER:
            answered = not is_blank_answer(source(cell))
            rows.append(Row(name, gid, title, "written",
                            ANSWERED if answered else NOT_ATTEMPTED))
            continue
        verdict = _verdict(cell)
        solution = code_cells.get(f"{gid}_code")
        edited = solution is not None and "raise NotImplementedError()" not in source(solution)
        if verdict is None:
            status = EDITED if edited else NOT_ATTEMPTED
            rows.append(Row(name, gid, title, "code", status))
        elif verdict[0] == NOT_ATTEMPTED and edited:
            rows.append(Row(name, gid, title, "code", EDITED))
        else:
            fails = verdict[0] == WRONG
            rows.append(Row(name, gid, title, "code", verdict[0], verdict[1] if fails else "",
                            verdict[2] if fails else ""))
    if not rows:
        raise NotACourseNotebook(f"{Path(path).name}: no exercises of this course in it")
    return rows


def counted(folder: Path) -> tuple[list[Path], list[str]]:
    """The copy of each course notebook in ``folder`` that a grader reads
    (:mod:`course_utils.tooling.student.copies`: the copy saved last that holds your work) and the
    folder's other notebooks, and a line for each notebook with several copies saying
    which one counts."""
    chosen, notes, seen = [], [], set()
    for stem, choice in copies.notebooks_in(folder).items():
        chosen.append(choice.counts)
        seen.update([choice.counts, *(p for p, _ in choice.others)])
        if choice.others:
            notes.append(copies.describe(stem, choice))
    chosen += [p for p in Path(folder).glob("*.ipynb") if p not in seen]  # other notebooks
    return sorted(chosen, key=lambda p: p.name), notes


def collect(folder: Path) -> tuple[list[Row], list[str]]:
    """Rows for every notebook in ``folder`` (sorted), read from the copy that counts
    (:func:`counted`), and one message per unreadable file or notebook with copies."""
    rows, problems = [], []
    paths, notes = counted(folder)
    for path in paths:
        try:
            rows += _rows_of(path)
        except NotACourseNotebook as exc:
            problems.append(str(exc))
    return rows, problems + notes


def _rows_of(path: Path, executed: Path | None = None) -> list[Row]:
    """:func:`read_notebook` of ``path`` (or of its ``executed`` copy), the rows named by the
    notebook ``path`` is a copy of."""
    rows = read_notebook(executed or path)
    stem = copies.base_stem(Path(path).name)
    for r in rows:
        r.notebook = stem if stem == Path(path).stem else f"{stem} (in {Path(path).name})"
    return rows


def format_report(rows: list[Row], problems: list[str], *, width: int = 100) -> str:
    """The terminal report: a block per notebook, a line per exercise, then a summary."""
    lines, current = [], None
    for r in rows:
        if r.notebook != current:
            current = r.notebook
            lines.append(f"\n{current}")
        detail = f": {r.detail}" if r.detail else ""
        mistake = f" ({r.mistake})" if r.mistake else ""
        line = f"  {MARK[r.status]} {r.exercise:30} {r.says}{mistake}{detail}"
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    for p in problems:
        lines.append(f"\n! {p}")
    code = [r for r in rows if r.kind == "code"]
    done = sum(r.status == PASSED for r in code)
    failing = sum(r.status == WRONG for r in code)
    written = [r for r in rows if r.kind == "written"]
    lines.append(f"\n{done} of {len(code)} code exercises pass, {failing} fail; "
                 f"{sum(r.status == ANSWERED for r in written)} of {len(written)} written "
                 f"answers written (compare them with the model answers).")
    return "\n".join(lines).lstrip("\n")


def verify(folder: Path, *, python: str | None = None, timeout: int | None = None
           ) -> tuple[list[Row], list[str]]:
    """Re-run every notebook of ``folder`` in grading mode on a temporary copy and read
    the verdicts from the executed copies (needs Jupyter: the course's environment).
    A cell that runs over ``timeout`` s (default: the build's, 180) stops that notebook
    with a problem line naming the cell."""
    rows, problems = [], []
    python = python or sys.executable
    # The course's headless client (tooling/headless.py: no explorer hang). The lesson's
    # explorers (cells tagged ``explorer``) decide no verdict, so they are left out to save
    # time. A time-out exits 3 with one line naming the cell.
    runner = ("import sys, nbformat\n"
              "from course_utils.tooling import headless\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "nb.cells = [c for c in nb.cells if 'explorer' not in c.metadata.get('tags', [])]\n"
              "timeout = int(sys.argv[3]) or headless.CELL_TIMEOUT\n"
              "client = headless.notebook_client(nb, timeout=timeout, allow_errors=True,"
              " kernel_name='python3')\n"
              "try:\n"
              "    client.execute(cwd=sys.argv[4])\n"
              "except headless.CellTimeoutError:\n"
              "    sys.exit(headless.describe_timeout(client, timeout))\n"
              "nbformat.write(nb, sys.argv[2])\n")
    env = {**os.environ, "COURSE_GRADING": "1"}
    with tempfile.TemporaryDirectory(prefix="course-progress-") as tmp:
        paths, notes = counted(folder)
        problems += notes
        for path in paths:
            try:
                read_notebook(path)
            except NotACourseNotebook as exc:
                problems.append(str(exc))
                continue
            out = Path(tmp) / path.name
            res = subprocess.run([python, "-c", runner, str(path), str(out), str(timeout or 0),
                                  str(path.parent)], env=env, capture_output=True, text=True)
            if res.returncode != 0 or not out.exists():
                last = (res.stderr.strip().splitlines() or ["it did not finish"])[-1]
                problems.append(f"{path.name}: could not be re-run ({last})")
                continue
            rows += _rows_of(path, out)
    return rows, problems


def run(folder: Path | None, *, verify_: bool, root: Path) -> int:
    """``course progress [--verify] [FOLDER]`` (default: the course's ``notebooks/``), its
    arguments parsed by the command line (:mod:`.cli`)."""
    folder = Path(folder) if folder else Path(root) / "notebooks"
    if not folder.is_dir():
        print(f"progress: {folder} is not a folder", file=sys.stderr)
        return 2
    rows, problems = verify(folder) if verify_ else collect(folder)
    print(format_report(rows, problems))
    return 0
