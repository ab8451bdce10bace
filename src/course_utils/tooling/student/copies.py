"""Which copy of a notebook counts: the one home of the rule that ``course grade`` and
``course progress`` apply (and that INSTRUCTORS.md and ``course update`` state).

A student can hold several copies of one course notebook: ``03_coding_bptt.ipynb`` and the
side files the course's commands write next to it (``.updated``, ``.fresh``, ``.bak``,
``.mine``, numbered: ``.fresh2``), Jupyter's duplicates (``03_coding_bptt-Copy1.ipynb``),
a browser's (``03_coding_bptt (1).ipynb``) or Google Drive's (``Copy of …``). The rule:

    **The copy you saved last that holds your work counts.** A copy that cannot be opened
    as a notebook, or that holds no work (its cells are exactly as the course wrote them:
    a fresh copy, an ``.updated`` copy nobody typed into), counts only when no copy does.
    Every other copy is listed, with why it did not count.

"Saved last" is the file's modification time (what a file manager shows). Standard
library only (``course progress`` loads it before the course's environment exists).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..course_files import SIDE_TAGS, is_notebook
from .update_plan import content_status

RULE = ("the copy saved last that holds your work counts (a copy that does not open, or "
        "that is exactly as the course wrote it, counts only if no other copy does)")

# What a copy adds to the notebook's name, at the end of the stem or at its start.
_SUFFIX = re.compile(r"(?:\.(?:" + "|".join(SIDE_TAGS) + r")\d*|-Copy\d+| \(\d+\))$")
_PREFIX = re.compile(r"^Copy of ", re.IGNORECASE)


def base_stem(name: str) -> str:
    """The notebook a copy's file name is a copy of, without ``.ipynb``:
    ``03_coding_bptt.updated.ipynb``, ``03_coding_bptt-Copy1.ipynb``, ``Copy of
    03_coding_bptt.ipynb`` → ``03_coding_bptt`` (any other name: its stem, unchanged)."""
    stem = name[:-len(".ipynb")] if name.endswith(".ipynb") else name
    stem = _PREFIX.sub("", stem)
    while True:
        shorter = _SUFFIX.sub("", stem)
        if shorter == stem:
            return stem
        stem = shorter


def is_copy_name(name: str) -> bool:
    """A file name that marks a copy (side file, duplicate), not the notebook itself."""
    return base_stem(name) != (name[:-len(".ipynb")] if name.endswith(".ipynb") else name)


@dataclass
class Copy:
    path: Path
    saved: float      # modification time, seconds since the epoch
    readable: bool    # opens as notebook JSON with a list of cells
    work: bool        # holds something of the student's (not exactly as the course wrote it)

    @property
    def saved_text(self) -> str:
        return _dt.datetime.fromtimestamp(self.saved, _dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def inspect(path: Path) -> Copy:
    """What the rule needs to know of one file (never raises for a bad file)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        saved = path.stat().st_mtime
    except OSError:
        return Copy(path, 0.0, False, False)
    try:
        nb = json.loads(data.decode("utf-8"))
        readable = isinstance(nb, dict) and isinstance(nb.get("cells"), list)
    except (ValueError, UnicodeDecodeError):
        readable = False
    return Copy(path, saved, readable, readable and content_status(data) != "generated")


@dataclass
class Choice:
    """The copy that counts, and every other one with why it does not."""

    counts: Path
    others: list[tuple[Path, str]] = field(default_factory=list)


def _why_not(c: Copy, best: Copy) -> str:
    if not c.readable:
        return "does not open as a notebook"
    if not c.work and best.work:
        return "holds no work (its cells are as the course wrote them)"
    return f"saved earlier ({c.saved_text}) than {best.path.name} ({best.saved_text})"


def choose(paths) -> Choice:
    """Apply the rule (:data:`RULE`) to the copies of one notebook (at least one path).
    Ties in time go to the notebook's own name, then to the name that sorts first."""
    copies = [inspect(p) for p in paths]
    if not copies:
        raise ValueError("no copies to choose from")
    best = max(copies, key=lambda c: (c.readable, c.work, c.saved, not is_copy_name(c.path.name),
                                      [-ord(ch) for ch in c.path.name]))
    return Choice(best.path, [(c.path, _why_not(c, best)) for c in
                              sorted(copies, key=lambda c: c.path.name) if c is not best])


def notebooks_in(folder: Path) -> dict[str, Choice]:
    """``{NN_name: Choice}`` for each course notebook of ``folder`` that has at least one
    copy there (the notebook itself, a side file or a duplicate), in name order: what
    ``course progress`` reads."""
    groups: dict[str, list[Path]] = {}
    for p in sorted(Path(folder).glob("*.ipynb")):
        stem = base_stem(p.name)
        if is_notebook(stem + ".ipynb"):
            groups.setdefault(stem, []).append(p)
    return {stem: choose(paths) for stem, paths in sorted(groups.items())}


def describe(stem: str, choice: Choice) -> str:
    """One line for a student: which copy a grader reads, and why the others are not."""
    others = "; ".join(f"{p.name}: {why}" for p, why in choice.others)
    return (f"{stem}: your answers in {choice.counts.name} are the ones a grader will read "
            f"({RULE}); not read: {others}")
