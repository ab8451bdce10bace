"""Which submissions, which notebook, which student, which exercises (``course grade``).

Which notebook a submission is: ``metadata.course.generated_from`` (set by the
generator), else a solution notebook's name contained in the file name
(``alice_01_unrolling_an_rnn.ipynb``), else the leading ``NN_`` of the file name.
Which student: for a file inside a folder given on the command line, the first folder
below it (``submitted/alice/01_….ipynb`` → ``alice``, nbgrader's layout
``submitted/alice/ps1/01_….ipynb`` too); otherwise the file name without the notebook name.

Selecting a subset (an assignment): a selector is an exercise id (``ex01_rnn_forward``),
a glob (``ex03_*``) or a notebook number (``03``: all of its exercises). An assignment
file has one selector per line, optionally followed by the points to give it
(overriding the notebook's); ``#`` starts a comment.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from ...provenance import ROOT
from ..student.copies import base_stem


class GradingError(Exception):
    """A problem with the grading request itself (bad selector, no submissions)."""


def load_catalogue(root: Path = ROOT) -> dict[str, list[dict]]:
    """``{notebook file name: [entry]}`` for the notebooks in ``root/solutions``, from the
    exercise registry; each entry: id, title, points, kind, notebook."""
    from .. import exercise_cells

    return exercise_cells.catalogue(root)


def parse_assignment(text: str) -> dict[str, float | None]:
    """Parse an assignment file: ``{selector: points or None}`` in file order."""
    out: dict[str, float | None] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        if len(parts) > 2:
            raise GradingError(f"assignment line {n}: expected 'SELECTOR [POINTS]', got {line!r}")
        points = None
        if len(parts) == 2:
            try:
                points = float(parts[1])
            except ValueError:
                raise GradingError(f"assignment line {n}: points must be a number: {line!r}") from None
        out[parts[0]] = points
    return out


def selectors(assignment: Path | None, only: str = "") -> dict[str, float | None]:
    """The selectors of ``--assignment FILE`` (with their points) and of ``--only a,b``
    (without), in that order: what ``course grade`` and ``course exercises`` select."""
    out = parse_assignment(Path(assignment).read_text()) if assignment else {}
    for s in filter(None, (x.strip() for x in only.split(","))):
        out.setdefault(s, None)
    return out


def select(catalogue: dict[str, list[dict]], selectors: dict[str, float | None] | None):
    """Restrict the catalogue to the selected exercises (all when ``selectors`` is empty).

    A selector matching nothing is an error (a typo must not silently drop an exercise).
    Points given with a selector override the notebook's.
    """
    if not selectors:
        return catalogue
    chosen: dict[str, dict[str, float | None]] = {}
    for sel, pts in selectors.items():
        hit = False
        for nb_name, entries in catalogue.items():
            for e in entries:
                if (fnmatch.fnmatchcase(e["id"], sel) or
                        (re.fullmatch(r"\d\d", sel) and nb_name.startswith(sel + "_")) or
                        nb_name == sel or Path(nb_name).stem == sel):
                    chosen.setdefault(nb_name, {})[e["id"]] = pts
                    hit = True
        if not hit:
            raise GradingError(f"{sel!r} matches no exercise (see `course exercises`)")
    out = {}
    for nb_name, entries in catalogue.items():
        if nb_name in chosen:
            picked = []
            for e in entries:
                if e["id"] in chosen[nb_name]:
                    e = dict(e)
                    if chosen[nb_name][e["id"]] is not None:
                        e["points"] = chosen[nb_name][e["id"]]
                    picked.append(e)
            out[nb_name] = picked
    return out


def discover(paths: list[Path]) -> list[tuple[Path, Path | None]]:
    """``[(notebook file, folder it was found under or None)]``, sorted, no duplicates.

    Folders are searched recursively, skipping ``.ipynb_checkpoints``. Side files and
    duplicates are found too: which copy of a student's notebook counts is decided later
    (:mod:`course_utils.tooling.student.copies`)."""
    found: dict[Path, Path | None] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*.ipynb")):
                if ".ipynb_checkpoints" in f.parts:
                    continue
                found.setdefault(f, p)
        elif p.exists():
            found.setdefault(p, None)
        else:
            raise GradingError(f"{p}: no such file or folder")
    return sorted(found.items(), key=lambda kv: str(kv[0]))


def identify(path: Path, nb_metadata: dict | None, names: list[str]) -> str | None:
    """Which solution notebook (file name in ``names``) a submission is, or None."""
    meta = nb_metadata if isinstance(nb_metadata, dict) else {}
    course = meta.get("course")
    gen = course.get("generated_from") if isinstance(course, dict) else None
    if isinstance(gen, str) and Path(gen).name in names:
        return Path(gen).name
    for name in sorted(names, key=len, reverse=True):
        if Path(name).stem in path.name:
            return name
    m = re.match(r"^(\d\d)[_\-. ]", path.name) or re.search(r"(?:^|[_\-. ])(\d\d)[_\-. ]", path.name)
    if m:
        hits = [n for n in names if n.startswith(m.group(1) + "_")]
        if len(hits) == 1:
            return hits[0]
    return None


def student_of(path: Path, base: Path | None, notebook: str | None) -> str:
    """The folder given when it is one student's (``grade submitted/frank``: ``frank``,
    see :func:`gradebook.one_students`); else the first folder below ``base``; for a file
    directly in ``base`` (or given alone), the rest of its name once the notebook's name
    and a copy's mark (``.updated``, ``-Copy1`` …) are taken out, else the file's stem."""
    from .gradebook import one_students

    if base is not None:
        if one_students(base):
            return Path(base).resolve().name
        rel = path.relative_to(base)
        if len(rel.parts) > 1:
            return rel.parts[0]
    stem = base_stem(path.name)
    if notebook:
        stem = stem.replace(Path(notebook).stem, "")
    stem = stem.strip("_-. ")
    return stem or path.stem
