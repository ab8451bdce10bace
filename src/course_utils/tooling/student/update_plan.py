"""What ``course.py update`` will do, decided by pure functions (no git, no disk writes).

Standard library only, like :mod:`course_utils.tooling.student.update`, which loads this file by path.

:func:`make_plan` turns what git reports (the paths the course changed, the student's
bytes at those paths, the course's new bytes) into a :class:`Plan`: an ordered list of
actions, the files to back up before the first action, and every path an action may
write, so that an interrupted update can be undone exactly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath


# ---------------------------------------------------------------------------------------
# "Edited since generated?" without nbformat
# ---------------------------------------------------------------------------------------
def _text(src) -> str:
    return "".join(src) if isinstance(src, list) else (src or "")


def sources_hash(nb: dict) -> str:
    """The same SHA-256 as :func:`course_utils.tooling.publish.editions.sources_hash`, from raw notebook JSON."""
    h = hashlib.sha256()
    for cell in nb.get("cells", []):
        h.update(cell.get("cell_type", "").encode() + b"\0" + _text(cell.get("source")).encode()
                 + b"\0")
    return h.hexdigest()


def content_status(data: bytes | None) -> str:
    """'missing', 'generated' (cell sources as generated) or 'edited' for notebook bytes."""
    if data is None:
        return "missing"
    try:
        nb = json.loads(data.decode("utf-8"))
        stored = nb.get("metadata", {}).get("course", {}).get("sources_sha256")
    except (ValueError, AttributeError):
        return "edited"
    return "generated" if stored and stored == sources_hash(nb) else "edited"


def blob_id(data: bytes, algo: str = "sha1") -> str:
    """git's object id of a blob holding ``data`` (what ``git hash-object`` prints)."""
    return hashlib.new(algo, b"blob %d\0" % len(data) + data).hexdigest()


# ---------------------------------------------------------------------------------------
# Side files: NN_name.updated.ipynb, name.mine.py, NN_name.fresh.ipynb
# ---------------------------------------------------------------------------------------
def side_candidates(rel: str, tag: str, n: int = 999):
    """``stem.TAG.suffix``, ``stem.TAG2.suffix`` … next to ``rel`` (a POSIX path)."""
    p = PurePosixPath(rel)
    for k in range(1, n + 1):
        yield p.with_name(f"{p.stem}.{tag}{k if k > 1 else ''}{p.suffix}").as_posix()


def pick_side(rel: str, tag: str, content: bytes, existing: dict[str, bytes],
              taken: set[str] = frozenset(), *, reuse_run_only: bool = True) -> tuple[str, bool]:
    """(name, reused): the first side name that is free or holds nothing of the student's.

    ``existing`` maps the side names that exist on disk to their bytes; ``taken`` are names
    that must not be used (the course's own files). An existing file is reused only if it
    holds the same bytes as ``content`` or, for a notebook side file other than ``mine``,
    a notebook whose sources are as generated (only run; if ``reuse_run_only``). The update
    backs a reused file up first.
    """
    for cand in side_candidates(rel, tag):
        if cand in taken:
            continue
        if cand not in existing:
            return cand, False
        old = existing[cand]
        if old == content or (reuse_run_only and tag != "mine" and cand.endswith(".ipynb")
                              and content_status(old) == "generated"):
            return cand, True
    raise RuntimeError(f"no free name next to {rel}")


# ---------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    """One step. kind: 'revert' (make ``path`` as in the old commit), 'fast_forward',
    'write_new' (the course's new bytes of ``path`` to ``dest``) or 'write_mine' (the
    student's bytes of ``path`` to ``dest``)."""
    kind: str
    path: str = ""
    dest: str = ""


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    backup: list[str] = field(default_factory=list)    # existing files to copy first
    touched: list[str] = field(default_factory=list)   # every path an action may write
    kept: list[tuple[str, str]] = field(default_factory=list)    # (student's file, new version)
    mine: list[tuple[str, str]] = field(default_factory=list)    # (course's file, student's copy)
    replaced: list[str] = field(default_factory=list)  # run-only notebooks replaced
    orphaned: list[str] = field(default_factory=list)  # removed upstream, kept locally
    restored: list[str] = field(default_factory=list)  # deleted by the student, back again


def make_plan(changed: dict[str, tuple[bool, bool]], local: dict[str, bytes | None],
              new: dict[str, bytes | None], siblings: dict[str, bytes],
              tracked: set[str] = frozenset()) -> Plan:
    """Plan an update. Pure: the same inputs give the same plan.

    changed:  path -> (in the old commit, in the new commit), for every path the course
              changed between the two commits.
    local:    path -> the student's bytes (None: deleted or absent), for the paths of
              ``changed`` whose working-tree state differs from the old commit
              (modified, staged, deleted, untracked or git-ignored).
    new:      path -> the course's new bytes (None: removed upstream), for ``local``'s paths.
    siblings: side-file name -> bytes, for existing files that could be a side file of a
              ``local`` path (``stem.updated*.suffix``, ``stem.mine*.suffix``).
    tracked:  the course's files in either commit; never used as side files.

    Every ``local`` path is first reverted (so that git can fast-forward), then the branch
    is fast-forwarded, then the student's work is written back:

    * a notebook the student edited stays in place, the new version goes to
      ``stem.updated.ipynb``; one that was only run is replaced by the new version;
    * another file: the course's version in place, the student's in ``stem.mine.suffix``;
    * a file the course removed: the student's copy stays where it was.
    """
    plan = Plan()
    taken = set(changed) | set(tracked)
    later: list[Action] = []
    for rel in sorted(local):
        mine, theirs = local[rel], new.get(rel)
        plan.actions.append(Action("revert", rel))
        if mine is None:
            if theirs is not None:
                plan.restored.append(rel)
            continue
        plan.backup.append(rel)
        if theirs is None:
            later.append(Action("write_mine", rel, rel))
            plan.orphaned.append(rel)
        elif theirs == mine:
            continue
        elif rel.endswith(".ipynb") and content_status(mine) == "generated":
            plan.replaced.append(rel)  # only run, not edited: the new version replaces it
        else:
            notebook = rel.endswith(".ipynb")
            tag, content = ("updated", theirs) if notebook else ("mine", mine)
            side, reused = pick_side(rel, tag, content, siblings, taken)
            taken.add(side)
            if reused:
                plan.backup.append(side)
            if notebook:
                later += [Action("write_new", rel, side), Action("write_mine", rel, rel)]
                plan.kept.append((rel, side))
            else:
                later.append(Action("write_mine", rel, side))
                plan.mine.append((rel, side))
    plan.actions.append(Action("fast_forward"))
    plan.actions += later
    plan.touched = sorted(set(changed) | {a.dest for a in later})
    plan.backup = sorted(set(plan.backup))
    return plan

