"""Grading results and reports: a table per notebook, ``grades.csv``, ``grades.json``."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...status import (  # noqa: F401  (the causes, re-exported for the grading modules)
    CAUSES,
    CRASH,
    MANUAL,
    NOT_ATTEMPTED,
    OTHER,
    PASSED,
    REUSE,
    TAMPERING,
    TIME_LIMIT,
    UNREADABLE,
    WRONG,
)


@dataclass
class ExerciseResult:
    """One exercise's result, from the check that scored it to the reports."""

    id: str
    title: str
    max_points: float
    status: str
    points: float = 0
    reason: str = ""    # the whole verdict (several lines)
    kind: str = "code"  # "written": a markdown answer, graded by hand, not in max_total
    review: list[str] = field(default_factory=list)  # why to look at it by hand
    # the check's verdict, machine-readable (status, kind, output, case, shapes, hint,
    # message, seed: the held-out seed it failed on); None when no check ran
    verdict: dict | None = None
    cause: str = ""  # one of CAUSES when no check decided (a wrong result), else ""

    @classmethod
    def of(cls, entry: dict, status: str, reason: str = "", review=(), *,
           verdict: dict | None = None, cause: str = "") -> ExerciseResult:
        """The result of the job's ``entry`` (id, title, points, kind): its points if it
        passed (a code exercise), else 0."""
        points = entry["points"] if status == PASSED and entry["kind"] == "code" else 0
        return cls(entry["id"], entry["title"], entry["points"], status, points, reason,
                   kind=entry["kind"], review=list(review), verdict=verdict, cause=cause)


@dataclass
class SubmissionResult:
    file: str
    student: str
    notebook: str | None
    exercises: list[ExerciseResult] = field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""  # whole-submission problem (unreadable, killed, unknown notebook…)
    heldout_seeds: list[int] = field(default_factory=list)
    problem_cause: str = ""  # one of CAUSES when there is a problem
    # the student's other copies of this notebook, which did not count ({file, why}: see
    # course_utils.tooling.student.copies), when it was submitted and how that is known
    # (gradebook.submission_time), and when and with which commit it was graded
    others: list[dict] = field(default_factory=list)
    submitted: str = ""
    submitted_from: str = ""
    graded_at: str = ""
    commit: str = ""

    @property
    def total(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_total(self) -> float:
        """The points the automatic grading can give (written answers are graded by hand)."""
        return sum(e.max_points for e in self.exercises if e.kind != "written")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total"] = self.total
        d["max_total"] = self.max_total
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SubmissionResult:
        ex = [ExerciseResult(**e) for e in d.get("exercises", [])]
        return cls(d["file"], d["student"], d.get("notebook"), ex, d.get("seconds", 0.0),
                   d.get("problem", ""), list(d.get("heldout_seeds", [])),
                   d.get("problem_cause", ""), list(d.get("others", [])),
                   d.get("submitted", ""), d.get("submitted_from", ""),
                   d.get("graded_at", ""), d.get("commit", ""))


def first_line(text: str, limit: int = 200) -> str:
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def verdict_line(verdict: dict) -> str:
    """One line from a verdict's fields: its message, after the held-out seed it failed on."""
    seed = verdict.get("seed")
    prefix = (f"passed its own cases but not the held-out ones (seed {seed}): "
              if seed is not None else "")
    return first_line(prefix + verdict.get("message", ""))


def reason_summary(r: SubmissionResult) -> str:
    """One line: the problem, then ``id: reason`` for each exercise that did not pass (the
    CSV's ``reason`` column; the JSON keeps every verdict whole): the check's message, read
    from the verdict's fields, or the grader's own first line (time limit, not your work …)."""
    parts = [r.problem] if r.problem else []
    for e in r.exercises:
        if e.status not in (WRONG, NOT_ATTEMPTED) or not e.reason or e.reason == r.problem:
            continue
        parts.append(f"{e.id}: {verdict_line(e.verdict) if e.verdict else first_line(e.reason)}")
    return " | ".join(parts)


_SHORT = {PASSED: "pass", WRONG: "FAIL", NOT_ATTEMPTED: "-", MANUAL: "manual"}


def _fmt_pts(x: float) -> str:
    return f"{x:g}"


def _columns(results: list[SubmissionResult]) -> list[str]:
    cols: list[str] = []
    for r in results:
        for e in r.exercises:
            if e.id not in cols:
                cols.append(e.id)
    return cols


def _one_table(results: list[SubmissionResult]) -> list[str]:
    cols = _columns(results)
    header = ["student/file", *cols, "total"]
    rows = []
    for r in results:
        by_id = {e.id: e for e in r.exercises}
        cells = [r.file]
        for c in cols:
            e = by_id.get(c)
            cells.append("" if e is None else
                         f"{_SHORT[e.status]} {_fmt_pts(e.points)}/{_fmt_pts(e.max_points)}"
                         if e.status != MANUAL else f"manual ?/{_fmt_pts(e.max_points)}")
        cells.append(f"{_fmt_pts(r.total)}/{_fmt_pts(r.max_total)}" if r.exercises else "error")
        rows.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    return ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip()
            for line in [header, ["-" * w for w in widths], *rows]]


def format_table(results: list[SubmissionResult]) -> str:
    """One plain-text table per notebook (a row per submission, a column per exercise),
    then the reasons for every failure (the JSON report has all reasons)."""
    groups: dict[str, list[SubmissionResult]] = {}
    for r in results:
        groups.setdefault(r.notebook or "(not a course notebook)", []).append(r)
    out = []
    for name, group in groups.items():
        out += [f"== {name} ==", *_one_table(group), ""]
    notes = []
    for r in results:
        if r.problem:
            notes.append(f"{r.file}: {r.problem}")
        for e in r.exercises:
            if e.status == WRONG and e.reason and e.reason != r.problem:
                lines = [ln for ln in e.reason.splitlines() if ln.strip()]
                notes.append(f"{r.file}: {e.id}: {lines[0] if lines else ''}")
                notes += [f"    {ln.strip()}" for ln in lines[1:]]
    review = [f"{r.file}: {e.id}: {f}" for r in results for e in r.exercises for f in e.review]
    out.append("pass / FAIL / - (not attempted) / manual (written answer, grade by hand); "
               "points earned/max; totals count the automatically graded exercises")
    if notes:
        out += ["", "Reasons for FAIL:", *("  " + n for n in notes)]
    if review:
        out += ["", "To review by hand (no points were taken for these):",
                *("  " + n for n in review)]
    return "\n".join(out) + "\n"


def to_csv(results: list[SubmissionResult]) -> str:
    """One row per submission: student, file, notebook, points and status per exercise,
    total, max, seconds, problem, reason (see :func:`reason_summary`), review."""
    cols = _columns(results)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "file", "notebook", *[x for c in cols for x in (c, f"{c} status")],
                "total", "max", "seconds", "problem", "reason", "review"])
    for r in results:
        by_id = {e.id: e for e in r.exercises}
        row = [r.student, r.file, r.notebook or ""]
        for c in cols:
            e = by_id.get(c)
            row += ["", ""] if e is None else [_fmt_pts(e.points) if e.status != MANUAL else "",
                                               e.status]
        row += [_fmt_pts(r.total), _fmt_pts(r.max_total), r.seconds, r.problem,
                reason_summary(r), " | ".join(f"{e.id}: {f}" for e in r.exercises for f in e.review)]
        w.writerow(row)
    return buf.getvalue()


def to_json(results: list[SubmissionResult], extra: dict | None = None) -> str:
    """``{"submissions": [...]}``, and ``extra``'s keys (the gradebook, the similarity
    report)."""
    return json.dumps({"submissions": [r.to_dict() for r in results], **(extra or {})},
                      indent=2, ensure_ascii=False)


def write_reports(results: list[SubmissionResult], out_dir: Path,
                  extra: dict | None = None) -> tuple[Path, Path]:
    """``grades.csv`` and ``grades.json`` (with ``extra``'s keys: the gradebook, the
    similarity report)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / "grades.csv", out_dir / "grades.json"
    csv_path.write_text(to_csv(results), encoding="utf-8")
    json_path.write_text(to_json(results, extra) + "\n", encoding="utf-8")
    return csv_path, json_path
