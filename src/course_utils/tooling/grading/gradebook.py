"""The class's gradebook (``course grade … --roster students.csv``): one row per student.

``grades.csv`` has a row per graded file; the gradebook has a row per **student**,
whatever they submitted: per notebook of the assignment one of

====================  ===============================================================
``graded``            one copy of the notebook, graded
``several candidates`` several copies: the one that counts was graded
                      (:mod:`course_utils.tooling.student.copies`), the others are listed
``unreadable``        the copy that counts does not open as a notebook: 0 points
``missing``           no copy of it (a zip or other files are listed)
====================  ===============================================================

and the assignment's total across its notebooks (of the automatically graded points),
the late penalty and the final score. The students are the roster's (:func:`read_roster`:
a plain CSV or the student list a Canvas or Moodle gradebook exports), plus any student
folder found that is not on it; without a roster, every student folder found is a row.

Deadlines: ``--deadline`` (and a student's ``extension`` in the roster: days, or their
own deadline) with ``--late-penalty P``: P percent of a notebook's points per day late,
or part of a day, at most all of them. A submission's time is nbgrader's
``timestamp.txt`` (``nbgrader collect`` writes it next to the notebooks) where there is
one, else the file's modification time; the gradebook says which.

Exports (:func:`canvas_csv`, :func:`moodle_csv`): the gradebook as the CSV that Canvas's
gradebook import ("Import" in the Grades page: columns ``Student, ID, SIS User ID,
SIS Login ID, Section`` then one column per assignment, a ``Points Possible`` row under
the header) and Moodle's CSV grade import (Grades → Import → CSV file: a user column,
``Email address`` or ``ID number``, mapped to the user, and a grade column mapped to a
grade item) read. Standard library only.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...status import UNREADABLE

GRADED, SEVERAL, UNREADABLE_NB, MISSING = "graded", "several candidates", "unreadable", "missing"
NOTEBOOK_STATUSES = (GRADED, SEVERAL, UNREADABLE_NB, MISSING)
NBGRADER_TIMESTAMP = "timestamp.txt"
FROM_NBGRADER, FROM_MTIME = "nbgrader timestamp", "file modification time"


class RosterError(ValueError):
    """A roster file that cannot be read as one (no header, no id column …)."""


# ---------------------------------------------------------------------------------------
# The roster
# ---------------------------------------------------------------------------------------
@dataclass
class Student:
    """One student of the roster: ``id`` (what the gradebook and exports name them by),
    ``name``, the identifiers a submission folder may carry (``keys``, lower case), the
    ``extension`` (days, or their own deadline as text; "" when none) and the roster's
    own columns (``fields``), which the exports copy."""

    id: str
    name: str = ""
    keys: set[str] = field(default_factory=set)
    extension: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "keys": sorted(self.keys),
                "extension": self.extension, "fields": self.fields}

    @classmethod
    def from_dict(cls, d: dict) -> Student:
        return cls(d["id"], d.get("name", ""), set(d.get("keys", [])), d.get("extension", ""),
                   dict(d.get("fields", {})))


def _col(header: list[str], *names: str) -> str | None:
    low = {h.strip().lower(): h for h in header}
    return next((low[n] for n in names if n in low), None)


def layout_of(header: list[str]) -> str:
    """``canvas`` (a Canvas gradebook export), ``moodle`` (a Moodle grades or participants
    export) or ``plain`` (``id`` [, ``name``, ``email``, ``extension`` …])."""
    low = {h.strip().lower() for h in header}
    if {"student", "id", "sis login id"} <= low:
        return "canvas"
    if "email address" in low and "first name" in low:
        return "moodle"
    return "plain"


def read_roster(path: Path) -> list[Student]:
    """The students of a roster CSV (UTF-8, a BOM allowed; ``,`` or ``;`` or tabs), in its
    order. Layouts (:func:`layout_of`):

    * plain: a header with ``id`` (or ``student``, ``username``, ``login``), optional
      ``name``, ``email``, ``extension``; any other columns are kept;
    * Canvas: the gradebook export (``Student``, ``ID``, ``SIS User ID``, ``SIS Login
      ID``, ``Section`` …; the ``Points Possible`` row and the test student are skipped);
      the id is the SIS Login ID, else Canvas's ID;
    * Moodle: the grades export (``First name``, ``Last name`` or ``Surname``, ``ID
      number``, ``Email address`` …); the id is the ID number, else the e-mail's user part.

    A submission folder belongs to a student when its name is any of their identifiers
    (id, login, SIS ids, e-mail, e-mail's user part, username), ignoring case."""
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    rows = [r for r in rows if any(x.strip() for x in r)]
    if not rows:
        raise RosterError(f"{path}: empty roster")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    layout = layout_of(header)
    out: list[Student] = []
    for n, r in enumerate(body, start=2):
        f = {h: (r[i].strip() if i < len(r) else "") for i, h in enumerate(header)}
        s = _student(f, header, layout)
        if s is None:
            continue
        if not s.id:
            raise RosterError(f"{path}, line {n}: no student id")
        out.append(s)
    seen: dict[str, str] = {}
    for s in out:
        for k in s.keys:
            if seen.get(k, s.id) != s.id:
                raise RosterError(f"{path}: {k!r} names two students ({seen[k]} and {s.id})")
            seen[k] = s.id
    return out


def _student(f: dict[str, str], header: list[str], layout: str) -> Student | None:
    ext = f.get(_col(header, "extension", "extension (days)") or "", "")
    if layout == "canvas":
        name = f[_col(header, "student")]
        if name.lower().strip() in ("points possible", "student, test", "test student"):
            return None
        cid, sis, login = (f.get(_col(header, c) or "", "") for c in
                           ("id", "sis user id", "sis login id"))
        keys = {cid, sis, login}
        return Student(login or cid, name, {k.lower() for k in keys if k}, ext, f)
    if layout == "moodle":
        first = f.get(_col(header, "first name") or "", "")
        last = f.get(_col(header, "last name", "surname") or "", "")
        email = f.get(_col(header, "email address") or "", "")
        idn = f.get(_col(header, "id number") or "", "")
        user = f.get(_col(header, "username") or "", "")
        keys = {idn, email, email.split("@")[0], user}
        return Student(idn or user or email.split("@")[0], f"{first} {last}".strip(),
                       {k.lower() for k in keys if k}, ext, f)
    idc = _col(header, "id", "student", "username", "login", "student id") or header[0]
    email = f.get(_col(header, "email", "email address") or "", "")
    sid = f[idc]
    keys = {sid, email, email.split("@")[0] if email else ""}
    return Student(sid, f.get(_col(header, "name", "full name") or "", ""),
                   {k.lower() for k in keys if k}, ext, f)


# ---------------------------------------------------------------------------------------
# What was submitted: student folders, their files, submission times
# ---------------------------------------------------------------------------------------
def one_students(folder: Path) -> bool:
    """A folder given on the command line that is one student's: it holds no folder but
    nbgrader's assignment folders (each with its ``timestamp.txt``), and its notebooks'
    names carry no student's name (``03_coding_bptt.ipynb``, not ``alice_03_….ipynb``)."""
    from ..course_files import is_notebook
    from ..student.copies import base_stem

    folder = Path(folder)
    if not folder.is_dir():
        return False
    subs = [d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if any(not (d / NBGRADER_TIMESTAMP).is_file() for d in subs):
        return False
    return all(is_notebook(base_stem(f.name) + ".ipynb") for f in folder.glob("*.ipynb"))


def student_folders(paths) -> dict[str, list[str]]:
    """``{student: [their files that are no notebook]}`` for the folders given: each
    folder below a folder given is a student's, or the folder given is itself one
    student's (:func:`one_students`). ``.ipynb_checkpoints``, hidden files and nbgrader's
    ``timestamp.txt`` are left out; notebooks are graded, so not listed here."""
    out: dict[str, list[str]] = {}
    for p in map(Path, paths):
        if not p.is_dir():
            continue
        if one_students(p):
            folders = [p]
        else:
            folders = [d for d in sorted(p.iterdir()) if d.is_dir() and not d.name.startswith(".")]
        for d in folders:
            name = d.resolve().name
            files = out.setdefault(name, [])
            for f in sorted(d.rglob("*")):
                rel = f.relative_to(d)
                if (f.is_file() and f.suffix != ".ipynb" and f.name != NBGRADER_TIMESTAMP
                        and not any(x.startswith(".") for x in rel.parts)):
                    files.append(f"{name}/{rel.as_posix()}")
    return out


def _parse_time(text: str) -> _dt.datetime | None:
    """An aware date-time from ISO 8601 or nbgrader's ``2026-12-05 14:03:11.123456 UTC``;
    a time without a zone is the local one."""
    t = text.strip()
    m = re.fullmatch(r"(.+?)\s*(UTC|GMT|Z)", t)
    try:
        when = _dt.datetime.fromisoformat(m.group(1) if m else t)
    except ValueError:
        return None
    if m:
        return when.replace(tzinfo=_dt.UTC)
    return when if when.tzinfo else when.astimezone()


def parse_deadline(text: str) -> _dt.datetime:
    when = _parse_time(text)
    if when is None:
        raise ValueError(f"not a date and time: {text!r} (write 2026-12-08T23:59, "
                         "optionally with +01:00 or UTC)")
    return when


def submission_time(path: Path, base: Path | None) -> dict:
    """``{"submitted": ISO time (UTC), "submitted_from": where it came from}`` for a file:
    nbgrader's ``timestamp.txt`` in its folder or a folder above it up to ``base`` (the
    folder given), else the file's modification time."""
    path = Path(path)
    stop = Path(base).resolve() if base is not None else path.parent.resolve()
    folder = path.parent.resolve()
    while True:
        ts = folder / NBGRADER_TIMESTAMP
        if ts.is_file():
            try:
                when = _parse_time(ts.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                when = None
            if when is not None:
                return {"submitted": when.astimezone(_dt.UTC).isoformat(timespec="seconds"),
                        "submitted_from": FROM_NBGRADER}
        if folder == stop or folder.parent == folder or stop not in folder.parents:
            break
        folder = folder.parent
    when = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.UTC)
    return {"submitted": when.isoformat(timespec="seconds"), "submitted_from": FROM_MTIME}


def days_late(submitted: str, deadline: _dt.datetime | None, extension: str = "") -> int:
    """Whole days late, a part of a day counting as one (0 when on time or no deadline).
    ``extension``: a number of days added to the deadline, or the student's own deadline."""
    if deadline is None or not submitted:
        return 0
    due = deadline
    if extension.strip():
        try:
            due = deadline + _dt.timedelta(days=float(extension))
        except ValueError:
            due = parse_deadline(extension)
    late = (_parse_time(submitted) - due).total_seconds()
    return max(0, math.ceil(late / 86400))


# ---------------------------------------------------------------------------------------
# The gradebook
# ---------------------------------------------------------------------------------------
@dataclass
class Settings:
    """What the gradebook is computed with (stored in grades.json, reused by a later run
    into the same ``--out`` that does not give them again)."""

    assignment: str = "course grade"
    deadline: str = ""            # ISO, "" for none
    late_penalty: float = 0.0     # percent of a notebook's points per day late
    roster: list[Student] | None = None

    def to_dict(self) -> dict:
        return {"assignment": self.assignment, "deadline": self.deadline,
                "late_penalty": self.late_penalty,
                "roster": None if self.roster is None else [s.to_dict() for s in self.roster]}

    @classmethod
    def from_dict(cls, d: dict) -> Settings:
        roster = d.get("roster")
        return cls(d.get("assignment", "course grade"), d.get("deadline", ""),
                   float(d.get("late_penalty", 0.0)),
                   None if roster is None else [Student.from_dict(s) for s in roster])


def _points(catalogue_entries: list[dict]) -> float:
    return sum(e["points"] for e in catalogue_entries if e.get("kind", "code") != "written")


def build(results, catalogue: dict[str, list[dict]], settings: Settings,
          folders: dict[str, list[str]] | None = None) -> dict:
    """The gradebook: ``{"settings", "notebooks": {name: max points}, "max_total",
    "students": [row]}``, a row per student (roster order, then the students not on it);
    each row: id, name, on_roster, per notebook its status, points, file, the other copies
    (``others``), submission time and days late; the other files (``not_graded``); total,
    penalty, final, and when and with which commit its newest submission was graded."""
    deadline = parse_deadline(settings.deadline) if settings.deadline else None
    maxima = {nb: _points(entries) for nb, entries in catalogue.items()}
    roster = settings.roster
    owner: dict[str, str] = {}
    rows: dict[str, dict] = {}
    for s in roster or []:
        rows[s.id] = {"id": s.id, "name": s.name, "on_roster": True, "extension": s.extension,
                      "fields": s.fields}
        for k in s.keys | {s.id.lower()}:
            owner[k] = s.id

    def row_of(who: str) -> dict:
        sid = owner.get(who.lower(), who)
        if sid not in rows:
            rows[sid] = {"id": sid, "name": "", "on_roster": roster is None, "extension": "",
                         "fields": {}}
        return rows[sid]

    by_student: dict[str, list] = {}
    for r in results:
        by_student.setdefault(row_of(r.student)["id"], []).append(r)
    for who in (folders or {}):
        row_of(who)
    out_rows = []
    for sid, row in rows.items():
        mine = by_student.get(sid, [])
        notebooks, total, penalty = {}, 0.0, 0.0
        for nb, top in maxima.items():
            got = [r for r in mine if r.notebook == nb]
            if not got:
                notebooks[nb] = {"status": MISSING, "points": 0, "max": top}
                continue
            r = got[-1]
            status = (UNREADABLE_NB if r.problem_cause == UNREADABLE else
                      SEVERAL if r.others else GRADED)
            late = days_late(r.submitted, deadline, row.get("extension", ""))
            cut = min(1.0, late * settings.late_penalty / 100) * r.total
            notebooks[nb] = {"status": status, "points": r.total, "max": top, "file": r.file,
                             "others": list(r.others), "submitted": r.submitted,
                             "submitted_from": r.submitted_from, "days_late": late,
                             "penalty": round(cut, 4), "graded_at": r.graded_at,
                             "commit": r.commit}
            total += r.total
            penalty += cut
        not_graded = [{"file": o["file"], "why": o["why"]} for r in mine for o in r.others]
        not_graded += [{"file": r.file, "why": r.problem or "not graded"}
                       for r in mine if r.notebook is None]
        for who, files in (folders or {}).items():
            if owner.get(who.lower(), who) == sid:
                not_graded += [{"file": f, "why": "not a notebook (unpack an archive into the "
                                "student's folder and grade again)"} for f in files]
        stamps = [r for r in mine if r.graded_at]
        newest = max(stamps, key=lambda r: r.graded_at) if stamps else None
        out_rows.append({**row, "notebooks": notebooks, "total": round(total, 4),
                         "max_total": sum(maxima.values()), "penalty": round(penalty, 4),
                         "final": round(total - penalty, 4), "not_graded": not_graded,
                         "graded_at": newest.graded_at if newest else "",
                         "commit": newest.commit if newest else ""})
    return {"settings": settings.to_dict(), "notebooks": maxima,
            "max_total": sum(maxima.values()), "students": out_rows,
            "folders": dict(folders or {})}


def _g(x: float) -> str:
    return f"{x:g}"


def to_csv(book: dict) -> str:
    """``gradebook.csv``: a row per student: id, name, on the roster, per notebook status
    and points, total, max, the latest submission time (and whether nbgrader's timestamp or
    the file's modification time gave it), days late, penalty, final, the files not graded,
    when and with which commit."""
    nbs = list(book["notebooks"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "name", "on roster", *[x for nb in nbs for x in (nb, f"{nb} status")],
                "total", "max", "submitted", "days late", "penalty", "final", "not graded",
                "graded at", "commit"])
    for s in book["students"]:
        cells = [s["id"], s["name"], "yes" if s["on_roster"] else "no"]
        for nb in nbs:
            n = s["notebooks"][nb]
            cells += [_g(n["points"]), n["status"]]
        late = max([n.get("days_late", 0) for n in s["notebooks"].values()] or [0])
        times = sorted((n["submitted"], n["submitted_from"]) for n in s["notebooks"].values()
                       if n.get("submitted"))
        when = f"{times[-1][0]} ({times[-1][1]})" if times else ""
        cells += [_g(s["total"]), _g(s["max_total"]), when, late, _g(s["penalty"]),
                  _g(s["final"]),
                  " | ".join(f"{x['file']}: {x['why']}" for x in s["not_graded"]),
                  s["graded_at"], s["commit"]]
        w.writerow(cells)
    return buf.getvalue()


def format_table(book: dict) -> str:
    """The gradebook in the terminal: a line per student."""
    nbs = list(book["notebooks"])
    table = [["student", *(Path(nb).stem for nb in nbs), "total", "final"]]
    for s in book["students"]:
        table.append([s["id"] + ("" if s["on_roster"] else " (not on the roster)"),
                      *(s["notebooks"][nb]["status"] for nb in nbs),
                      f"{_g(s['total'])}/{_g(s['max_total'])}", _g(s["final"])])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["== gradebook: one row per student =="]
    lines += ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in table]
    skipped = [f"  {x['file']}: {x['why']}" for s in book["students"] for x in s["not_graded"]]
    if skipped:
        lines += ["", "Not graded:", *skipped]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# LMS exports
# ---------------------------------------------------------------------------------------
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address"]


def canvas_csv(book: dict) -> str:
    """The gradebook as Canvas's gradebook import reads it: ``Student, ID, SIS User ID,
    SIS Login ID, Section``, then the assignment (its final score), a ``Points Possible``
    row first. A roster exported from Canvas gives every column; otherwise the student's
    id goes to SIS Login ID (Canvas matches a row by ID, SIS User ID or SIS Login ID)."""
    name = book["settings"]["assignment"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*CANVAS_COLUMNS, name])
    w.writerow(["    Points Possible", "", "", "", "", _g(book["max_total"])])  # as Canvas writes it
    for s in book["students"]:
        f = s.get("fields") or {}
        cols = [f.get(c, "") for c in CANVAS_COLUMNS]
        if not any(cols[1:4]):
            cols = [s["name"] or s["id"], "", "", s["id"], ""]
        w.writerow([*cols, _g(s["final"])])
    return buf.getvalue()


def moodle_csv(book: dict) -> str:
    """The gradebook as Moodle's CSV grade import reads it: ``First name, Last name, ID
    number, Email address`` and the assignment (its final score). Map ``ID number`` (or
    ``Email address``) to the user and the assignment's column to a grade item. A roster
    exported from Moodle gives every column; otherwise the id goes to ID number."""
    name = book["settings"]["assignment"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*MOODLE_COLUMNS, name])
    for s in book["students"]:
        f = s.get("fields") or {}
        last = f.get("Last name", f.get("Surname", ""))
        cols = [f.get("First name", ""), last, f.get("ID number", ""), f.get("Email address", "")]
        if not any(cols):
            first, _, rest = (s["name"] or "").partition(" ")
            email = next((v for k, v in f.items() if k.strip().lower() in ("email", "e-mail")), "")
            cols = [first, rest, s["id"], email]
        w.writerow([*cols, _g(s["final"])])
    return buf.getvalue()


def write(book: dict, out_dir: Path) -> list[Path]:
    """``gradebook.csv``, ``gradebook-canvas.csv`` and ``gradebook-moodle.csv`` in ``out_dir``."""
    out = []
    for name, text in (("gradebook.csv", to_csv(book)), ("gradebook-canvas.csv", canvas_csv(book)),
                       ("gradebook-moodle.csv", moodle_csv(book))):
        path = Path(out_dir) / name
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out


# ---------------------------------------------------------------------------------------
# Incremental grading into an existing --out
# ---------------------------------------------------------------------------------------
def load_previous(out_dir: Path):
    """``(submissions, settings dict or None, student folders)`` from
    ``out_dir/grades.json`` (empty when there is none)."""
    from .grading_reports import SubmissionResult

    path = Path(out_dir) / "grades.json"
    if not path.is_file():
        return [], None, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    subs = [SubmissionResult.from_dict(d) for d in data.get("submissions", [])]
    book = data.get("gradebook") or {}
    return subs, book.get("settings"), book.get("folders", {})


def merge(previous: list, results: list, regraded: set[str]) -> list:
    """The previous rows of every student not graded now, and this run's rows, sorted by
    student and file (``regraded``: the students this run looked at, submitted or not)."""
    keep = [r for r in previous if r.student not in regraded]
    return sorted(keep + list(results), key=lambda r: (r.student.lower(), r.file))
