"""Update a student's copy of the course without losing their work; get fresh notebooks.

Standard library only: ``course.py`` loads this file directly (before any environment
exists), so it must not import numpy or anything from ``course_utils``.

``python3 course.py update``
    Fetches the course repository's upstream branch and fast-forwards to it. Nothing of
    the student's is committed, stashed or overwritten:

    * a notebook in ``notebooks/`` that the student edited (its cell sources no longer
      match the hash the generator stored in ``metadata.course.sources_sha256``) and that
      the course changed stays where it is, untouched; the course's new version is
      written next to it as ``NN_name.updated.ipynb``;
    * a notebook that was only run (outputs, no source edits) is replaced by the new
      version;
    * any other file the student changed that the course also changed is replaced by the
      course's version and the student's copy is kept next to it as ``name.mine.ext``;
    * files the course did not change are left exactly as they are;
    * every local file the update touches is first copied to ``.git/course-backup/``.

    If the student made commits of their own, or a merge/rebase is in progress, nothing
    is changed and the message explains what to do.

``python3 course.py fresh NN``
    Writes a pristine copy of notebook NN next to the student's as
    ``NN_name.fresh.ipynb`` (``…fresh2…`` if that name holds edits), from the course's
    committed version; the student's file is not touched.

Side files carry an extra dot (``.updated.ipynb``, ``.fresh.ipynb``), so the course's
build and tests, which only look at ``NN_snake_case.ipynb``, ignore them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

NB_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")  # the same as build.NB_NAME
BACKUP_DIR = "course-backup"  # inside .git/, so never committed and never in `git status`


# ---------------------------------------------------------------------------------------
# "Edited since generated?" without nbformat
# ---------------------------------------------------------------------------------------
def _text(src) -> str:
    return "".join(src) if isinstance(src, list) else (src or "")


def sources_hash(nb: dict) -> str:
    """The same SHA-256 as :func:`course_utils.build.sources_hash`, from raw notebook JSON."""
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


def notebook_status(path: Path) -> str:
    """'missing', 'generated' or 'edited' (like :func:`course_utils.build.student_status`)."""
    path = Path(path)
    return content_status(path.read_bytes() if path.exists() else None)


def side_path(path: Path, tag: str, content: bytes | None = None) -> Path:
    """A free name next to ``path``: ``stem.TAG.suffix``, else ``stem.TAG2.suffix`` …

    An existing side file is reused only if it holds nothing of the student's: the same
    bytes as ``content``, or (for notebooks) a notebook whose sources are as generated.
    """
    path = Path(path)
    for k in range(1, 1000):
        cand = path.with_name(f"{path.stem}.{tag}{k if k > 1 else ''}{path.suffix}")
        if not cand.exists():
            return cand
        old = cand.read_bytes()
        if content is not None and old == content:
            return cand
        if tag != "mine" and path.suffix == ".ipynb" and content_status(old) == "generated":
            return cand
    raise RuntimeError(f"no free name next to {path}")


# ---------------------------------------------------------------------------------------
# git
# ---------------------------------------------------------------------------------------
class UpdateError(Exception):
    """The update cannot proceed; nothing was changed. The message says what to do."""


def _git(root: Path, *args: str, check: bool = True, text: bool = True):
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=text,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UpdateError("git is not installed; see the README (For students: updating the "
                          "course) for the download route.") from None
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        raise UpdateError(f"`git {' '.join(args)}` failed: {err.strip()}")
    return proc


def _show(root: Path, rev: str, path: str) -> bytes | None:
    proc = _git(root, "show", f"{rev}:{path}", check=False, text=False)
    return proc.stdout if proc.returncode == 0 else None


def _git_dir(root: Path) -> Path:
    return Path(root) / _git(root, "rev-parse", "--git-dir").stdout.strip()


def _is_checkout(root: Path) -> bool:
    try:
        proc = _git(root, "rev-parse", "--show-toplevel", check=False)
    except UpdateError:
        return False
    return proc.returncode == 0 and Path(proc.stdout.strip()).resolve() == Path(root).resolve()


def _dirty_paths(root: Path) -> set[str]:
    """Paths with uncommitted changes: modified, staged, deleted or untracked."""
    out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all",
               "--no-renames").stdout
    return {entry[3:] for entry in out.split("\0") if len(entry) > 3}


# ---------------------------------------------------------------------------------------
# update
# ---------------------------------------------------------------------------------------
@dataclass
class UpdateReport:
    old: str = ""
    new: str = ""
    up_to_date: bool = False
    kept: list[tuple[str, str]] = field(default_factory=list)       # (student's file, new version)
    mine: list[tuple[str, str]] = field(default_factory=list)       # (course's file, student's copy)
    replaced: list[str] = field(default_factory=list)               # run-only notebooks replaced
    orphaned: list[str] = field(default_factory=list)               # removed upstream, kept locally
    backup: str = ""


def _is_student_notebook(rel: str) -> bool:
    p = Path(rel)
    return p.parent.as_posix() == "notebooks" and bool(NB_NAME.match(p.name))


def update(root: Path, *, log=print) -> UpdateReport:
    """Fetch and fast-forward the course checkout at ``root`` (see the module docstring)."""
    root = Path(root).resolve()
    if not _is_checkout(root):
        raise UpdateError(
            f"{root} is not a git checkout of the course, so it cannot update itself. "
            "Download the new version into a new folder and copy your notebooks across "
            "(or clone it with git: see the README).")
    gd = _git_dir(root)
    for marker in ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD"):
        if (gd / marker).exists():
            raise UpdateError("a git merge or rebase is in progress; finish or abort it first "
                              "(`git merge --abort` / `git rebase --abort`). Nothing was changed.")
    up = _git(root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}", check=False)
    if up.returncode != 0:
        raise UpdateError("this branch has no upstream to update from (`git branch "
                          "--set-upstream-to origin/main`). Nothing was changed.")
    upstream = up.stdout.strip()
    remote = _git(root, "config", "--get",
                  f"branch.{_git(root, 'rev-parse', '--abbrev-ref', 'HEAD').stdout.strip()}.remote",
                  check=False).stdout.strip() or upstream.split("/")[0]
    log(f"fetching {upstream} …")
    if remote != ".":
        _git(root, "fetch", "--quiet", remote)
    rep = UpdateReport()
    rep.old = _git(root, "rev-parse", "HEAD").stdout.strip()
    rep.new = _git(root, "rev-parse", "@{u}").stdout.strip()
    if _git(root, "merge-base", "--is-ancestor", rep.new, rep.old, check=False).returncode == 0:
        rep.up_to_date = True
        log("Already up to date.")
        return rep
    if _git(root, "merge-base", "--is-ancestor", rep.old, rep.new, check=False).returncode != 0:
        n = _git(root, "rev-list", "--count", f"{rep.new}..{rep.old}").stdout.strip()
        raise UpdateError(
            f"you have {n} commit(s) of your own that the course does not have, so a safe "
            "fast-forward is impossible. Nothing was changed. Merge yourself "
            f"(`git merge {upstream}`), or move your commits aside: "
            f"`git branch my-work` then `git reset --keep {upstream}` "
            "(your commits stay on the branch my-work).")

    changed = set(_git(root, "diff", "--name-only", "-z", "--no-renames", rep.old,
                       rep.new).stdout.split("\0")) - {""}
    affected = sorted(changed & _dirty_paths(root))
    # Save what the student has for every path the update will touch.
    saved: dict[str, bytes | None] = {}
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = gd / BACKUP_DIR / stamp
    for rel in affected:
        f = root / rel
        saved[rel] = f.read_bytes() if f.is_file() else None
        if saved[rel] is not None:
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            (backup / rel).write_bytes(saved[rel])
    if saved:
        rep.backup = str(backup)

    # Make those paths clean so that the fast-forward can proceed, then fast-forward.
    in_head = set(_git(root, "ls-tree", "-r", "-z", "--name-only", rep.old).stdout.split("\0"))
    try:
        for rel in affected:
            if rel in in_head:
                _git(root, "checkout", "-q", rep.old, "--", rel)
            else:
                _git(root, "rm", "-q", "--cached", "--ignore-unmatch", "--", rel)
                (root / rel).unlink(missing_ok=True)
        _git(root, "merge", "--ff-only", "-q", rep.new)
    except UpdateError:
        for rel, data in saved.items():  # put everything back as it was
            if data is not None:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(data)
        raise

    # Put the student's work back.
    for rel, data in saved.items():
        if data is None:
            continue  # the student had deleted it: the course's version is back
        f = root / rel
        new = f.read_bytes() if f.is_file() else None
        if new == data:
            continue
        if new is None:  # the course removed it; keep the student's copy where it was
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(data)
            rep.orphaned.append(rel)
        elif _is_student_notebook(rel) or rel.endswith(".ipynb"):
            if rel.endswith(".ipynb") and content_status(data) == "generated":
                rep.replaced.append(rel)  # only run, not edited: the new version replaces it
                continue
            side = side_path(f, "updated", new)
            side.write_bytes(new)
            f.write_bytes(data)
            rep.kept.append((rel, side.relative_to(root).as_posix()))
        else:
            side = side_path(f, "mine", data)
            side.write_bytes(data)
            rep.mine.append((rel, side.relative_to(root).as_posix()))
    _log_report(rep, log)
    return rep


def _log_report(rep: UpdateReport, log) -> None:
    log(f"Updated the course: {rep.old[:8]} → {rep.new[:8]}.")
    for mine, side in rep.kept:
        log(f"  kept your {mine}; the course's new version is {side}")
    for rel in rep.replaced:
        log(f"  {rel}: you had only run it (no edits), so it was replaced by the new version")
    for rel, side in rep.mine:
        log(f"  {rel}: replaced by the course's version; your copy is {side}")
    for rel in rep.orphaned:
        log(f"  {rel}: removed from the course; your copy was kept")
    if rep.kept:
        log("Your notebooks were not changed. Open the .updated.ipynb next to one to see what "
            "changed; copy your answers into it when you like (or keep working in yours).")
    if rep.backup:
        log(f"A copy of every file of yours that the update touched is in {rep.backup}")


# ---------------------------------------------------------------------------------------
# fresh
# ---------------------------------------------------------------------------------------
def find_notebook(root: Path, name: str) -> Path:
    nb_dir = Path(root) / "notebooks"
    hits = sorted(p for p in nb_dir.glob("*.ipynb") if NB_NAME.match(p.name)
                  and (p.name.startswith(name) or p.stem == name or p.name == name))
    if not hits:
        raise UpdateError(f"no notebook in {nb_dir} matches {name!r} (try a number like 03)")
    if len(hits) > 1:
        raise UpdateError(f"{name!r} matches several notebooks: {', '.join(p.name for p in hits)}")
    return hits[0]


def fresh(root: Path, name: str, *, log=print) -> Path:
    """Write a pristine copy of notebook ``name`` (e.g. '03') next to the student's.

    The copy comes from the course as last fetched (the upstream branch), else the
    current commit; a copy whose sources are not as generated is never used.
    """
    root = Path(root).resolve()
    target = find_notebook(root, name)
    rel = target.relative_to(root).as_posix()
    candidates: list[bytes | None] = []
    if _is_checkout(root):
        for rev in ("@{u}", "HEAD"):
            candidates.append(_show(root, rev, rel))
    candidates.append(target.read_bytes())
    data = next((c for c in candidates if c is not None and content_status(c) == "generated"),
                None)
    if data is None:
        raise UpdateError(f"no unedited copy of {rel} found; run `python3 course.py update` or "
                          "download the notebook again from the course page.")
    side = side_path(target, "fresh", data)
    side.write_bytes(data)
    log(f"wrote a fresh copy of {rel} to {side.relative_to(root).as_posix()} "
        f"(your {target.name} is untouched)")
    return side


# ---------------------------------------------------------------------------------------
# Command line (course.py update / course.py fresh NN)
# ---------------------------------------------------------------------------------------
def main(argv: list[str], root: Path) -> int:
    cmd, rest = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if cmd == "update" and not rest:
            update(root)
            return 0
        if cmd == "fresh" and rest and not any(a.startswith("-") for a in rest):
            for name in rest:
                fresh(root, name)
            return 0
    except UpdateError as exc:
        print(f"course update: {exc}", file=sys.stderr)
        return 1
    print("usage: python3 course.py update\n       python3 course.py fresh NN [NN …]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], Path(os.getcwd())))
