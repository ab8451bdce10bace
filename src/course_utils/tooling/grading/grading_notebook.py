"""Grading one submission (``course grade``): its written answers and its code.

:func:`grade_notebook` runs in a worker process of :mod:`course_utils.tooling.grading.grading`. It
runs these stages in order, each a function of the submission's :class:`Grading`; an
exercise a stage has scored is left alone by the later ones (so a problem found early,
such as tampering, stands):

===================  ====================================================================
stage                what it does
===================  ====================================================================
``read_cells``       reads the notebook's cells; an unreadable file stops here, all 0
``plan_cells``       the cells to run (:func:`~course_utils.tooling.grading.grading_checks.sandbox_cells`):
                     the solution's setup, the student's answers and added cells
``load_sandbox``     runs them in a sandbox (:class:`LoadedSandbox`), again without the cell that
                     stopped the rest (partial credit)
``refuse_tampering`` a change to the checking code: every code exercise 0
``check_code``       each check, in this process, on the sandboxed functions
                     (:func:`~course_utils.tooling.grading.grading_checks.score_check`)
``close_sandbox``    ends the sandbox
``read_written``     each written answer: blank, or to grade by hand
``collect``          the results in the job's order (an exercise no stage scored: 0), and
                     the time taken
===================  ====================================================================
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ...status import MANUAL, NOT_ATTEMPTED, PASSED, WRONG
from ..course_files import is_blank_answer
from ..exercise_cells import grade_id, source
from . import grading_checks as gc
from .grading_reports import (
    OTHER,
    TAMPERING,
    TIME_LIMIT,
    UNREADABLE,
    ExerciseResult,
    SubmissionResult,
    first_line,
)

DEFAULT_TIMEOUT = 600          # s per notebook
DEFAULT_CELL_TIMEOUT = 300     # s per cell and per call of a student's function
DEFAULT_HELDOUT = 1            # held-out seeds per exercise
KILL_GRACE = 60                # s after the notebook time limit before a worker is killed
# How the grader's messages number cells (the position in the file, as nbformat reads it).
CELL_NUMBERS = "cells are numbered from 0 at the top of the notebook, text cells included"


def _all(entries, status, reason, cause=""):
    return [ExerciseResult.of(e, status, reason, cause=cause) for e in entries]


@dataclass
class Grading:
    """One submission being graded: the job (``entries``: id, title, points, kind of each
    exercise, in order), what the stages found, and ``scored``: ``{id: ExerciseResult}``."""

    path: Path
    entries: list[dict]
    result: SubmissionResult
    root: Path
    t0: float
    deadline: float
    cell_timeout: float
    seeds: list[int]
    hide: tuple
    plan: gc.Plan | None = None
    cells: list = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=dict)  # grade_id -> its (last) cell
    run: list[dict] = field(default_factory=list)        # the cells the sandbox runs
    where: dict[str, int] = field(default_factory=dict)  # id -> its answer cell
    loaded: LoadedSandbox | None = None
    scored: dict[str, ExerciseResult] = field(default_factory=dict)
    stop: bool = False  # no later stage runs (the result is complete)

    @property
    def code(self) -> list[dict]:
        return [e for e in self.entries if e["kind"] == "code" and e["id"] not in self.scored]


def read_cells(g: Grading) -> None:
    try:
        data = json.loads(Path(g.path).read_text(encoding="utf-8"))
        cells = data.get("cells") if isinstance(data, dict) else None
        if not isinstance(cells, list):
            raise ValueError("no list of cells")
    except Exception as exc:
        g.result.problem = f"not a readable notebook: {first_line(str(exc)) or type(exc).__name__}"
        g.result.problem_cause = UNREADABLE
        g.result.exercises, g.stop = _all(g.entries, WRONG, g.result.problem, UNREADABLE), True
        return
    g.cells = cells
    for i, c in enumerate(cells):
        gid = grade_id(c)
        if gid:
            g.by_id[gid] = i  # the last occurrence wins (a duplicated cell)


def plan_cells(g: Grading) -> None:
    if not g.code:
        return
    g.plan = g.plan or gc.make_plan(str(Path(g.root) / "solutions" / g.result.notebook))
    student_nb = Path(g.root) / "notebooks" / g.result.notebook
    student_sources: set[str] = set()
    if student_nb.exists():
        student_sources = {source(c).strip() for c in json.loads(student_nb.read_text())["cells"]}
    g.run, g.where = gc.sandbox_cells(g.plan, g.cells, student_sources)


def load_sandbox(g: Grading) -> None:
    if not g.code:
        return
    g.loaded = LoadedSandbox(g.plan, g.run, g.deadline, g.cell_timeout, g.hide)
    g.loaded.start()
    if g.loaded.stopped and "problem" not in g.loaded.load:
        g.result.problem = (f"{g.loaded.stopped[1]}: the cells after it did not run; the "
                            "exercises before it were graded")
        g.result.problem_cause = g.loaded.stopped_cause


def refuse_tampering(g: Grading) -> None:
    if g.loaded is None or "problem" in g.loaded.load:
        return
    tamper = gc.tampering(g.loaded.load.get("events", []))
    if tamper:
        g.result.problem = ("tampering with the course's checking code ("
                            + ", ".join(f"`{t}` changed" for t in tamper) + "): 0 points")
        g.result.problem_cause = TAMPERING
        g.scored.update({e["id"]: ExerciseResult.of(e, WRONG, g.result.problem, cause=TAMPERING)
                         for e in g.code})


def check_code(g: Grading) -> None:
    if g.loaded is None:
        return
    errors = {c["index"]: c for c in g.loaded.load.get("cells", []) if c.get("status") == "error"}
    for e in g.code:
        g.scored[e["id"]] = _score_one(g, e, errors)


def close_sandbox(g: Grading) -> None:
    if g.loaded is not None:
        g.loaded.close()


def read_written(g: Grading) -> None:
    for e in g.entries:
        if e["kind"] == "code" or e["id"] in g.scored:
            continue
        i = g.by_id.get(e["id"])
        text = source(g.cells[i]).strip() if i is not None else None
        g.scored[e["id"]] = (
            ExerciseResult.of(e, WRONG, "answer cell missing (deleted?)", cause=OTHER)
            if text is None else
            ExerciseResult.of(e, NOT_ATTEMPTED, "written answer left blank")
            if is_blank_answer(text) else
            ExerciseResult.of(e, MANUAL, "written answer: grade by hand"))


def collect(g: Grading) -> None:
    g.result.exercises = [g.scored.get(e["id"]) or
                          ExerciseResult.of(e, WRONG, g.result.problem or "not checked",
                                            cause=g.result.problem_cause or OTHER)
                          for e in g.entries]
    g.result.seconds = round(time.monotonic() - g.t0, 1)


STAGES = (read_cells, plan_cells, load_sandbox, refuse_tampering, check_code, close_sandbox,
          read_written, collect)


@dataclass
class Job:
    """One submission to grade: what the worker process gets (as JSON on its standard
    input, :meth:`to_dict` / :meth:`from_dict`), and what its result is held to."""

    path: str                # the submission, resolved
    notebook: str            # the course notebook it is (file name in solutions/)
    student: str
    display: str             # its name in the reports (relative to the folder given)
    entries: list[dict]      # the selected exercises: id, title, points, kind, notebook
    root: str                # the course folder
    timeout: float           # for the whole notebook, seconds
    cell_timeout: float      # for one cell, seconds
    seeds: list[int]         # the held-out seeds
    digest: str              # the course's files when grading started (course_digest)
    hide: list[str]          # folders the sandbox hides
    plan: dict | None = None  # grading_checks.Plan.to_dict() of the notebook

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Job:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


def grade_notebook(job: Job) -> SubmissionResult:
    """Grade one submission in this process (its code runs in a sandbox process): the
    :data:`STAGES` in order."""
    t0 = time.monotonic()
    seeds = list(job.seeds or [])
    g = Grading(Path(job.path), job.entries,
                SubmissionResult(job.display, job.student, job.notebook, heldout_seeds=seeds),
                Path(job.root), t0, t0 + job.timeout, job.cell_timeout, seeds, tuple(job.hide),
                gc.plan_from_dict(job.plan) if job.plan else None)
    try:
        for stage in STAGES:
            stage(g)
            if g.stop:
                break
    finally:
        close_sandbox(g)
    return g.result


class LoadedSandbox:
    """The submission's sandbox with its cells loaded; :meth:`start` (re)starts it and sets
    ``load`` (the cells' results, or ``{"problem": why}``)."""

    def __init__(self, plan, run, deadline, cell_timeout, hide):
        from .sandbox import CHILD, course_sources
        from .sandbox_view import without_references

        self.plan, self.run, self.deadline, self.cell_timeout = plan, run, deadline, cell_timeout
        sources, self.packages = course_sources(CHILD.parents[2])
        self.sources = without_references(sources, plan.forbidden)
        self.hide, self.sandbox, self.load = tuple(hide), None, {}
        self.stopped: tuple[int, str] | None = None  # (cell, why): the cell that stopped the rest
        self.stopped_cause = ""  # what stopped it (TIME_LIMIT, CRASH)
        self.ran = {c["index"] for c in run if c.get("kind") != "bind"}

    def start(self, hidden=None):
        from .sandbox import Sandbox, SandboxError

        hidden = self.hide if hidden is None else hidden
        self.close()
        sandbox = self.sandbox = Sandbox(hide=list(hidden))
        left = self.deadline - time.monotonic()
        try:
            self.load = sandbox.load(self.sources, self.packages, self.plan.forbidden, self.run,
                                     timeout=max(1.0, left), cell_limit=self.cell_timeout)
        except SandboxError as exc:
            if sandbox.hidden and "(exit code 97)" in exc.why:  # a folder could not be hidden
                return self.start(())
            cell, pos = sandbox.running_cell(), sandbox.running_position()
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
                self.stopped, self.stopped_cause = (cell, why), exc.cause
                self.run = [c for j, c in enumerate(self.run) if j < pos or c.get("index") == -1]
                self.ran = {c["index"] for c in self.run if c.get("kind") != "bind"}
                return self.start(hidden)
            self.load = {"problem": why, "cause": exc.cause}

    def close(self):
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


def _score_one(g: Grading, entry: dict, errors: dict) -> ExerciseResult:
    """Check one exercise of a loaded submission (restarting a sandbox that died);
    ``errors``: the answer cells that raised, by index."""
    from .sandbox import SandboxError

    loaded, cells, where, res = g.loaded, g.cells, g.where, g.result
    plan = loaded.plan
    chk = plan.checks.get(entry["id"])
    if chk is None:
        return ExerciseResult.of(entry, WRONG, "this check cell cannot be graded automatically",
                                 cause=OTHER)
    if loaded.sandbox.dead and "problem" not in loaded.load:
        loaded.start()
    if "problem" in loaded.load:
        if not res.problem:
            res.problem, res.problem_cause = loaded.load["problem"], loaded.load["cause"]
        return ExerciseResult.of(entry, WRONG, loaded.load["problem"], cause=loaded.load["cause"])
    i = where.get(chk.id)
    if loaded.stopped and i is not None and i not in loaded.ran:
        cell, why = loaded.stopped
        return ExerciseResult.of(entry, WRONG, f"not checked: cell {cell} stopped the notebook "
                                 f"before this exercise's cell {i} ran ({why}; "
                                 f"{CELL_NUMBERS})",
                                 cause=loaded.stopped_cause)
    left = loaded.deadline - time.monotonic()
    if left <= 1:
        return ExerciseResult.of(entry, WRONG, "not checked: the notebook time limit was reached",
                                 cause=TIME_LIMIT)
    try:
        info = loaded.sandbox.describe([chk.function], timeout=min(30, left))[chk.function]
        r = gc.score_check(loaded.sandbox, entry, chk, info, seeds=g.seeds,
                           timeout=max(1.0, min(loaded.cell_timeout, left)))
    except SandboxError as exc:
        r = ExerciseResult.of(entry, WRONG, f"{exc.why} (while checking `{chk.function}`)",
                              cause=exc.cause)
    if r.status != PASSED and i in errors:
        err = errors[i]
        r.reason += (f"\nThe answer cell (cell {i}) raised {err.get('ename')}: "
                     f"{first_line(err.get('evalue', ''))}")
    added = [c["index"] for c in loaded.run if c.get("kind") == "added"]
    r.review = [*r.review, *gc.review_flags(plan, chk, cells, where, added=added)]
    return r
