"""Grading one submission (``course grade``): its written answers and its code.

:func:`grade_notebook` runs in a worker process of :mod:`course_utils.tooling.grading`; the
submission's code runs in a sandbox (:class:`_Box`), each check in this process
(:func:`course_utils.tooling.grading_checks.score_check`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..provenance import ROOT
from ..status import MANUAL, NOT_ATTEMPTED, PASSED, WRONG
from . import grading_checks as gc
from .exercise_cells import grade_id, source
from .grading_reports import ExerciseResult, SubmissionResult, first_line

DEFAULT_TIMEOUT = 600          # s per notebook
DEFAULT_CELL_TIMEOUT = 300     # s per cell and per call of a student's function
DEFAULT_HELDOUT = 1            # held-out seeds per exercise
KILL_GRACE = 60                # s after the notebook time limit before a worker is killed
WRITTEN_BLANK = "YOUR ANSWER HERE"


def _all(entries, status, reason):
    return [ExerciseResult.of(e, status, reason) for e in entries]


def _written(entry, cells, by_id) -> ExerciseResult:
    i = by_id.get(entry["id"])
    if i is None:
        return ExerciseResult.of(entry, WRONG, "answer cell missing (deleted?)")
    text = source(cells[i]).strip()
    if not text or text == WRITTEN_BLANK:
        return ExerciseResult.of(entry, NOT_ATTEMPTED, "written answer left blank")
    return ExerciseResult.of(entry, MANUAL, "written answer: grade by hand")


def grade_notebook(path: Path, entries: list[dict], notebook: str, *, student: str,
                   display: str, root: Path = ROOT, timeout: float = DEFAULT_TIMEOUT,
                   cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                   seeds: list[int] | None = None, plan: gc.Plan | None = None,
                   hide=(), **_ignored) -> SubmissionResult:
    """Grade one submission in this process (its code runs in a sandbox process)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    res = SubmissionResult(display, student, notebook, heldout_seeds=list(seeds or []))
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = data.get("cells") if isinstance(data, dict) else None
        if not isinstance(cells, list):
            raise ValueError("no list of cells")
    except Exception as exc:
        res.problem = f"not a readable notebook: {first_line(str(exc)) or type(exc).__name__}"
        res.exercises = _all(entries, WRONG, res.problem)
        return res
    by_id = {}
    for i, c in enumerate(cells):
        gid = grade_id(c)
        if gid:
            by_id[gid] = i  # the last occurrence wins (a duplicated cell)
    code = [e for e in entries if e["kind"] == "code"]
    scored = _score_code(root, notebook, code, cells, deadline, cell_timeout, list(seeds or []),
                           res, plan, hide) if code else {}
    for e in entries:
        if e["kind"] != "code":
            res.exercises.append(_written(e, cells, by_id))
            continue
        res.exercises.append(scored.get(e["id"])
                             or ExerciseResult.of(e, WRONG, res.problem or "not checked"))
    res.seconds = round(time.monotonic() - t0, 1)
    return res


class _Box:
    """The submission's sandbox with its cells loaded; :meth:`start` (re)starts it and sets
    ``load`` (the cells' results, or ``{"problem": why}``)."""

    def __init__(self, plan, run, deadline, cell_timeout, hide):
        from .sandbox import CHILD, course_sources
        from .sandbox_view import without_references

        self.plan, self.run, self.deadline, self.cell_timeout = plan, run, deadline, cell_timeout
        sources, self.packages = course_sources(CHILD.parents[1])
        self.sources = without_references(sources, plan.forbidden)
        self.hide, self.box, self.load = tuple(hide), None, {}
        self.stopped: tuple[int, str] | None = None  # (cell, why): the cell that stopped the rest
        self.ran = {c["index"] for c in run if c.get("kind") != "bind"}

    def start(self, hidden=None):
        from .sandbox import Sandbox, SandboxError

        hidden = self.hide if hidden is None else hidden
        self.close()
        box = self.box = Sandbox(hide=list(hidden))
        left = self.deadline - time.monotonic()
        try:
            self.load = box.load(self.sources, self.packages, self.plan.forbidden, self.run,
                                 timeout=max(1.0, left), cell_limit=self.cell_timeout)
        except SandboxError as exc:
            if box.hidden and "(exit code 97)" in exc.why:  # a folder could not be hidden
                return self.start(())
            cell, pos = box.running_cell(), box.running_position()
            where_ = f" in cell {cell}" if cell is not None else ""
            why = exc.why
            if why.startswith("time limit: no answer"):
                why = f"time limit reached{where_} while running the notebook's cells (an infinite loop?)"
            elif not why.startswith("time limit"):
                why = f"{why}{where_}"
            if (self.stopped is None and pos is not None and 0 < pos < len(self.run)
                    and self.run[pos].get("kind") != "setup"
                    and self.run[pos].get("index") == cell):
                # Partial credit: run again the cells before the one that stopped the rest.
                self.stopped = (cell, why)
                self.run = [c for j, c in enumerate(self.run) if j < pos or c.get("index") == -1]
                self.ran = {c["index"] for c in self.run if c.get("kind") != "bind"}
                return self.start(hidden)
            self.load = {"problem": why}

    def close(self):
        if self.box is not None:
            self.box.close()


def _score_code(root, notebook, entries, cells, deadline, cell_timeout, seeds, res, plan=None,
                hide=()):
    plan = plan or gc.make_plan(str(Path(root) / "solutions" / notebook))
    student_nb = Path(root) / "notebooks" / notebook
    student_sources: set[str] = set()
    if student_nb.exists():
        student_sources = {source(c).strip() for c in json.loads(student_nb.read_text())["cells"]}
    run, where = gc.sandbox_cells(plan, cells, student_sources)
    sb = _Box(plan, run, deadline, cell_timeout, hide)
    try:
        sb.start()
        if sb.stopped and "problem" not in sb.load:
            res.problem = (f"{sb.stopped[1]}: the cells after it did not run; the exercises "
                           "before it were graded")
        tamper = gc.tampering(sb.load.get("events", [])) if "problem" not in sb.load else []
        if tamper:
            res.problem = ("tampering with the course's checking code ("
                           + ", ".join(f"`{t}` changed" for t in tamper) + "): 0 points")
            return {e["id"]: ExerciseResult.of(e, WRONG, res.problem) for e in entries}
        errors = {c["index"]: c for c in sb.load.get("cells", []) if c.get("status") == "error"}
        return {e["id"]: _score_one(sb, e, cells, where, errors, seeds, res) for e in entries}
    finally:
        sb.close()


def _score_one(sb: _Box, entry, cells, where, errors, seeds, res) -> ExerciseResult:
    """Check one exercise of a loaded submission (restarting a sandbox that died)."""
    from .sandbox import SandboxError

    plan = sb.plan
    chk = plan.checks.get(entry["id"])
    if chk is None:
        return ExerciseResult.of(entry, WRONG, "this check cell cannot be graded automatically")
    if sb.box.dead and "problem" not in sb.load:
        sb.start()
    if "problem" in sb.load:
        res.problem = res.problem or sb.load["problem"]
        return ExerciseResult.of(entry, WRONG, sb.load["problem"])
    i = where.get(chk.id)
    if sb.stopped and i is not None and i not in sb.ran:
        cell, why = sb.stopped
        return ExerciseResult.of(entry, WRONG, f"not checked: cell {cell} stopped the notebook before this "
                          f"exercise's cell {i} ran ({why})")
    left = sb.deadline - time.monotonic()
    if left <= 1:
        return ExerciseResult.of(entry, WRONG, "not checked: the notebook time limit was reached")
    try:
        info = sb.box.describe([chk.arg], timeout=min(30, left))[chk.arg]
        o = gc.score_check(sb.box, entry, chk, info, seeds=seeds,
                           timeout=max(1.0, min(sb.cell_timeout, left)))
    except SandboxError as exc:
        o = ExerciseResult.of(entry, WRONG, f"{exc.why} (while checking `{chk.arg}`)")
    if o.status != PASSED and i in errors:
        err = errors[i]
        o.reason += (f"\nThe answer cell (cell {i}) raised {err.get('ename')}: "
                     f"{first_line(err.get('evalue', ''))}")
    o.review = [*o.review, *gc.review_flags(plan, chk, cells, where,
                                          added=[c["index"] for c in sb.run
                                                 if c.get("kind") == "added"])]
    return o
