"""What a class got wrong: the numbers behind ``grades/report.html`` (``course grade``).

:func:`class_summary` reads the graded submissions' structured results (never the wording
of a verdict): per notebook, per exercise, the pass rate, the points earned, and the
diagnosed mistakes ranked by how many students made them, counted by the verdict's
``mistake`` id (``<exercise id>/<short name>``), so two students with the same mistake
count together whatever their cases, shapes or factors. Failures with no diagnosed
mistake are grouped by what happened: the verdict's ``kind`` (a shape, an exception …),
or, where no check ran, the cause the grader gave its reason (a time limit, a crash, not the
student's work: :data:`course_utils.status.CAUSES`), never the wording of the reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ... import status
from ...status import MANUAL, STATUSES, WRONG
from .grading_reports import SubmissionResult, first_line

# What happened when no check gave a verdict: the labels of the grader's causes.
TIMEOUT, CRASH, REUSE, TAMPERING, UNREADABLE, OTHER = (
    "time limit", "crash", "not the student's work", "tampering", "unreadable", "other")
CAUSE_LABELS = {status.TIME_LIMIT: TIMEOUT, status.CRASH: CRASH, status.REUSE: REUSE,
                status.TAMPERING: TAMPERING, status.UNREADABLE: UNREADABLE, status.OTHER: OTHER}
KIND_LABELS = {
    "values": "wrong values, no classic mistake recognised",
    "shape": "wrong shape", "dtype": "wrong dtype", "type": "wrong type",
    "structure": "wrong number or kind of values returned", "returned-none": "returned None",
    "non-finite": "NaN or inf in the output", "mutated": "modified its inputs in place",
    "raised": "raised an exception", "renamed-parameters": "parameters that do not fit",
    "not-callable": "not a function", "checker-error": "the checker could not evaluate it",
}


def grader_failure(cause: str) -> str:
    """The label of a failure that no check decided, from the cause the grader set."""
    return CAUSE_LABELS.get(cause, OTHER)


@dataclass
class Group:
    """Students who failed an exercise the same way: a diagnosed mistake (``key`` is its
    id) or another kind of failure (``key`` is ``kind:<kind>`` or ``grader:<class>``)."""

    key: str
    label: str                  # the mistake's short name, or what happened
    hints: list[str] = field(default_factory=list)  # the hints shown, each once
    students: list[str] = field(default_factory=list)

    @property
    def hint(self) -> str:
        """The first student's hint ("" if none)."""
        return self.hints[0] if self.hints else ""

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class ExerciseSummary:
    id: str
    title: str
    max_points: float
    kind: str
    counts: Counter = field(default_factory=Counter)   # status -> submissions
    points: Counter = field(default_factory=Counter)   # points earned -> submissions
    mistakes: list[Group] = field(default_factory=list)  # most frequent first
    other: list[Group] = field(default_factory=list)     # failures with no mistake, ditto
    _groups: dict = field(default_factory=dict, repr=False)

    @property
    def graded(self) -> int:
        return sum(self.counts.values())

    def add(self, key: str, label: str, student: str, hint: str = "") -> None:
        g = self._groups.setdefault(key, Group(key, label))
        if student not in g.students:
            g.students.append(student)
        if hint and hint not in g.hints:
            g.hints.append(hint)

    def finish(self) -> None:
        ranked = sorted(self._groups.values(), key=lambda g: (-g.count, g.label))
        self.mistakes = [g for g in ranked if "/" in g.key]
        self.other = [g for g in ranked if "/" not in g.key]


# A flag: (student, exercise id or "" for the whole notebook, what the grader said)
Flag = tuple[str, str, str]


@dataclass
class NotebookSummary:
    name: str
    max_total: float = 0.0
    students: list[str] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    exercises: list[ExerciseSummary] = field(default_factory=list)
    heldout_only: list[Flag] = field(default_factory=list)
    reuse: list[Flag] = field(default_factory=list)
    review: list[Flag] = field(default_factory=list)
    tampering: list[Flag] = field(default_factory=list)
    timeouts: list[Flag] = field(default_factory=list)
    crashes: list[Flag] = field(default_factory=list)
    unreadable: list[Flag] = field(default_factory=list)
    rows: list[SubmissionResult] = field(default_factory=list)

    def flags(self) -> list[tuple[str, str, list[Flag]]]:
        """``(key, title, flags)`` of every kind of flag, in the report's order."""
        return [("heldout", "Failed only on the held-out cases (answers fitted to the visible "
                 "cases?)", self.heldout_only),
                ("reuse", "Not their own work (a course reference used): 0 points", self.reuse),
                ("review", "Flagged for review by hand (no points taken)", self.review),
                ("tampering", "Changed the checking code: 0 points", self.tampering),
                ("timeouts", "Time limits", self.timeouts),
                ("crashes", "Crashes", self.crashes),
                ("unreadable", "Unreadable notebooks", self.unreadable)]


def students_in(flags: list[Flag]) -> list[str]:
    """The students named in ``flags``, each once, in order."""
    return list(dict.fromkeys(f[0] for f in flags))


def _names(results: list[SubmissionResult]) -> dict[int, str]:
    """A display name per submission: the student, or the file where a name repeats."""
    seen = Counter(r.student for r in results)
    return {id(r): r.student if seen[r.student] == 1 else r.file for r in results}


def class_summary(results: list[SubmissionResult]) -> tuple[list[NotebookSummary], list]:
    """``(notebooks, not graded)``: a :class:`NotebookSummary` per course notebook (in the
    order of the results) and the submissions that are no course notebook."""
    by_nb: dict[str, NotebookSummary] = {}
    names = _names(results)
    for r in results:
        if r.notebook is not None:
            nb = by_nb.setdefault(r.notebook, NotebookSummary(r.notebook))
            _add_submission(nb, r, names[id(r)])
    for nb in by_nb.values():
        for ex in nb.exercises:
            ex.finish()
    return list(by_nb.values()), [r for r in results if r.notebook is None]


_WHOLE = {TIMEOUT: "timeouts", CRASH: "crashes", TAMPERING: "tampering",
          UNREADABLE: "unreadable"}


def _add_submission(nb: NotebookSummary, r: SubmissionResult, who: str) -> None:
    nb.students.append(who)
    nb.rows.append(r)
    nb.totals.append(r.total)
    nb.max_total = max(nb.max_total, r.max_total)
    if r.problem and grader_failure(r.problem_cause) in _WHOLE:  # the whole notebook
        getattr(nb, _WHOLE[grader_failure(r.problem_cause)]).append((who, "", first_line(r.problem)))
    known = {ex.id: ex for ex in nb.exercises}
    for e in r.exercises:
        ex = known.get(e.id)
        if ex is None:
            ex = known[e.id] = ExerciseSummary(e.id, e.title, e.max_points, e.kind)
            nb.exercises.append(ex)
        ex.counts[e.status] += 1
        if e.status != MANUAL:
            ex.points[e.points] += 1
        nb.review += [(who, e.id, flag) for flag in e.review]
        if e.status != WRONG:
            continue
        v = e.verdict
        if v is not None:  # a check decided: its structured verdict
            if v.get("seed") is not None:
                nb.heldout_only.append((who, e.id, f"held-out seed {v['seed']}"))
            if v.get("mistake"):
                ex.add(v["mistake"], v.get("mistake_name") or v["mistake"], who,
                       v.get("hint") or "")
            else:
                kind = v.get("kind") or "values"
                ex.add(f"kind:{kind}", KIND_LABELS.get(kind, kind), who)
            continue
        what = grader_failure(e.cause)  # no check ran: the cause the grader set
        ex.add(f"grader:{what}", what, who)
        if r.problem and e.reason == r.problem:
            continue  # already listed for the whole notebook
        target = {TIMEOUT: nb.timeouts, CRASH: nb.crashes, REUSE: nb.reuse,
                  TAMPERING: nb.tampering}.get(what)
        if target is not None:
            target.append((who, e.id, first_line(e.reason)))


STEP_MISTAKES = ("step-", "own-step-function-wrong")  # a sequence failing by its step


def blamed_steps(mistake: str | None) -> list[str]:
    """The exercises whose function a diagnosed mistake blames, when a sequence function
    fails because of the student's own step function (``ex03_rnn_backward/step-…`` or
    ``…/own-step-function-wrong``): the ids of the step exercises it uses; else []."""
    eid, _, name = (mistake or "").partition("/")
    if not name.startswith(STEP_MISTAKES):
        return []
    from ...checks import discovery

    entry = discovery.find(eid)
    uses = list(getattr(getattr(entry, "probes", None), "uses", ()) or ())
    return [u for u in uses if "_step_" in u] or uses


def status_counts(ex: ExerciseSummary) -> dict[str, int]:
    """Submissions per status (pass, fail, not attempted, manual), zeros included."""
    return {s: ex.counts.get(s, 0) for s in STATUSES}
