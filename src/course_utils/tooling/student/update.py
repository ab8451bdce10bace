"""Update a student's copy of the course without losing their work; get fresh notebooks.

Standard library only: ``course.py`` runs it before any environment exists (through
``cli._sibling``, which imports it without the package's ``__init__``), so it must not
import numpy or anything else from ``course_utils``; its siblings are ``update_plan.py``
(the pure plan), ``update_io.py`` (git, files, the Jupyter check), ``update_undo.py``
(backup, marker, rollback) and ``course_files.py`` (what the course's files are called).

``python3 course.py update [--force]``
    Fetches the course's upstream branch and fast-forwards to it, as one transaction:

    1. plan every action (:func:`update_plan.make_plan`), before changing anything;
    2. print where the backup goes, then copy there every file of the student's that an
       action touches (side files whose names are reused included) and git's index,
       and write an "update in progress" marker;
    3. apply the actions; on any failure, Ctrl-C (or SIGTERM, SIGHUP) included, put every
       touched path, the branch and the index back exactly as they were, and say so (a
       file that changed meanwhile is kept next to it as ``name.found.ext``);
    4. remove the marker and report.

    A run that finds the marker (the previous one was killed) first puts the student's
    files back the same way and says so. What the student keeps:

    * a notebook in ``notebooks/`` that the student edited and the course changed stays
      where it is, untouched; the course's new version is written next to it as
      ``NN_name.updated.ipynb``; a notebook that was only run is replaced;
    * another file the student changed that the course also changed (git-ignored ones
      included) is replaced by the course's version; the student's copy is kept next to
      it as ``name.mine.ext``;
    * files the course did not change are left exactly as they are.

    It stops, changing nothing, if the student made commits of their own (the message
    says how to update keeping every file in place), if a merge or rebase is in progress,
    or, unless ``--force``, if a Jupyter server or kernel is running on the course folder
    (a notebook open with unsaved edits would otherwise be lost on reload).

``python3 course.py fresh NN``
    Writes a pristine copy of notebook NN next to the student's as
    ``NN_name.fresh.ipynb`` (``…fresh2…`` if that name holds edits), from the course's
    committed version; the student's file is not touched.

Side files carry an extra dot (``.updated.ipynb``, ``.fresh.ipynb``), so the course's
build and tests, which only look at ``NN_snake_case.ipynb``, ignore them.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..course_files import NB_NAME, notebooks_in  # noqa: F401 (NB_NAME: update's name of old)
from . import copies as _copies
from . import update_io as _io
from . import update_plan as _plan
from . import update_undo as _undo

sources_hash, content_status = _plan.sources_hash, _plan.content_status
BACKUP_DIR, MARKER = _undo.BACKUP_DIR, _undo.MARKER
_rollback = _undo.rollback
UpdateError = _io.UpdateError


def side_path(path: Path, tag: str, content: bytes) -> Path:
    """A name next to ``path`` (``stem.TAG.suffix``, ``stem.TAG2.suffix`` …) that is free or
    already holds ``content``: nothing there is overwritten (see ``update_plan.pick_side``)."""
    path = Path(path)
    existing = {p.name: p.read_bytes() for p in path.parent.glob(f"{path.stem}.{tag}*")
                if p.is_file()}
    name, _ = _plan.pick_side(path.name, tag, content, existing, reuse_run_only=False)
    return path.with_name(name)


# ---------------------------------------------------------------------------------------
# update
# ---------------------------------------------------------------------------------------
@dataclass
class UpdateReport:
    old: str = ""
    new: str = ""
    up_to_date: bool = False
    recovered: bool = False  # an interrupted earlier update was undone first
    kept: list[tuple[str, str]] = field(default_factory=list)       # (student's file, new version)
    mine: list[tuple[str, str]] = field(default_factory=list)       # (course's file, student's copy)
    replaced: list[str] = field(default_factory=list)               # run-only notebooks replaced
    orphaned: list[str] = field(default_factory=list)               # removed upstream, kept locally
    restored: list[str] = field(default_factory=list)               # deleted locally, back again
    backup: str = ""


def _preflight(root: Path, gd: Path, force: bool, log) -> tuple[str, str]:
    """Refuse (UpdateError) unless a fast-forward is possible; return (upstream, remote)."""
    for marker in ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD"):
        if (gd / marker).exists():
            raise UpdateError("a git merge or rebase is in progress; finish or abort it first "
                              "(`git merge --abort` / `git rebase --abort`). Nothing was changed.")
    servers = _io.jupyter_on(root)
    if servers and not force:
        raise UpdateError(_io.jupyter_message(servers))
    for s in servers:
        log(f"warning (--force): {s}")
    up = _io.git(root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}", check=False)
    if up.returncode != 0:
        raise UpdateError("this branch has no upstream to update from (`git branch "
                          "--set-upstream-to origin/main`). Nothing was changed.")
    upstream = up.stdout.strip()
    branch = _io.git(root, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
    remote = _io.git(root, "config", "--get", f"branch.{branch}.remote",
                     check=False).stdout.strip() or upstream.split("/")[0]
    return upstream, remote


def _gather(root: Path, old: str, new: str):
    """(plan, old tree, new tree) for the fast-forward ``old`` → ``new``."""
    changed = {}
    diff = _io.lines(root, "diff", "--name-status", "-z", "--no-renames", old, new)
    for status, path in zip(diff[::2], diff[1::2]):
        changed[path] = (status != "A", status != "D")
    t_old, t_new = _io.tree(root, old), _io.tree(root, new)
    status = _io.lines(root, "status", "--porcelain=v1", "-z", "--untracked-files=all",
                       "--no-renames")
    dirty = {e[3:] for e in status if len(e) > 3}
    local, theirs, siblings, blocked = {}, {}, {}, []
    for rel, (in_old, in_new) in changed.items():
        f = root / rel
        if in_new and (f.is_dir() or any((root / p).is_file() and p.as_posix() not in t_old
                                         for p in Path(rel).parents if p.parts)):
            blocked.append(rel)
        # A path the old commit lacks is the student's if it exists, even if git ignores it.
        if rel in dirty or (not in_old and (f.is_file() or f.is_symlink())):
            local[rel] = _io.read(f)
            theirs[rel] = _io.blob(root, t_new[rel][1]) if in_new else None
            for tag in ("updated", "mine"):
                for p in f.parent.glob(f"{f.stem}.{tag}*{f.suffix}"):
                    if p.is_file():
                        siblings[p.relative_to(root).as_posix()] = p.read_bytes()
    if blocked:
        raise UpdateError("the course now has a file where you have a folder or file of your "
                          f"own: {', '.join(blocked)}. Rename yours and run again. "
                          "Nothing was changed.")
    plan = _plan.make_plan(changed, local, theirs, siblings, set(t_old) | set(t_new))
    return plan, t_old, t_new, local, theirs


def update(root: Path, *, log=print, force: bool = False, on_step=None) -> UpdateReport:
    """Fetch and fast-forward the course checkout at ``root`` (see the module docstring).

    ``on_step(i, action)`` is called before each action (and with ``None`` after the last);
    tests use it to interrupt the update at every step.
    """
    root = Path(root).resolve()
    if not _io.is_checkout(root):
        raise UpdateError(
            f"{root} is not a git checkout of the course, so it cannot update itself. "
            "Download the new version into a new folder and copy your notebooks across "
            "(or clone it with git: see the README).")
    gd = _io.git_dir(root).resolve()
    rep = UpdateReport(recovered=_undo.recover(root, gd, log, force))
    upstream, remote = _preflight(root, gd, force, log)
    log(f"fetching {upstream} …")
    if remote != ".":
        _io.git(root, "fetch", "--quiet", remote)
    rep.old, rep.new = _io.git(root, "rev-parse", "HEAD", "@{u}").stdout.split()
    ancestor = lambda a, b: _io.git(root, "merge-base", "--is-ancestor", a, b,
                                    check=False).returncode == 0
    if ancestor(rep.new, rep.old):
        rep.up_to_date = True
        log("Already up to date.")
        return rep
    if not ancestor(rep.old, rep.new):
        raise UpdateError(_io.commits_advice(root, rep.old, rep.new, upstream))

    plan, t_old, t_new, local, theirs = _gather(root, rep.old, rep.new)
    backup = _undo.new_backup_dir(gd)
    rep.backup = str(backup)
    log(f"Backup of your files before anything changes: {backup}")
    _undo.write_backup(root, gd, backup, plan, old=rep.old, new=rep.new, t_old=t_old, t_new=t_new)
    try:
        for i, act in enumerate(plan.actions):
            if on_step:
                on_step(i, act)
            _apply(root, act, rep, t_old, local=local, theirs=theirs)
        if on_step:
            on_step(len(plan.actions), None)
    except BaseException as exc:
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        log(f"The update {why}; putting everything back as it was …")
        _rollback(root, gd, backup, log)
        log("Everything is back as it was before the update: nothing was changed.")
        raise
    (gd / MARKER).unlink()
    for name in ("kept", "mine", "replaced", "orphaned", "restored"):
        setattr(rep, name, getattr(plan, name))
    _log_report(rep, log)
    return rep


def _apply(root: Path, act, rep: UpdateReport, t_old, *, local, theirs) -> None:
    f = root / act.path
    if act.kind == "revert":
        if _io.read(f) != local[act.path]:  # saved meanwhile: the backup may be older
            raise UpdateError(f"{act.path} changed during the update (is it open in an "
                              "editor?). Save and close it, then run again.")
        if act.path in t_old:
            _io.git(root, "checkout", "-q", rep.old, "--", act.path)
        else:
            _io.git(root, "rm", "-q", "--cached", "--ignore-unmatch", "--", act.path)
            _io.remove(f)
    elif act.kind == "fast_forward":
        _io.git(root, "merge", "--ff-only", "-q", rep.new)
    elif act.kind == "write_new":
        _io.write(root / act.dest, theirs[act.path])
    elif act.kind == "write_mine":
        dest = root / act.dest
        _io.write(dest, local[act.path], dest.stat().st_mode & 0o7777 if dest.exists() else None)
    else:
        raise ValueError(act.kind)


def recover(root: Path, *, log=print) -> bool:
    """If an update was interrupted (the marker exists), put everything back; True if so."""
    root = Path(root).resolve()
    return _undo.recover(root, _io.git_dir(root).resolve(), log)


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
    for rel in rep.restored:
        log(f"  {rel}: you had deleted it; the course's new version is there again")
    if rep.kept:
        log("The notebooks you had edited were not changed. Open the .updated.ipynb next to "
            "one to see what changed; copy your answers into it when you like (or keep "
            "working in yours).")
        log(f"Which copy is graded: {_copies.RULE}. `python3 course.py progress` says which "
            "copy of each notebook that is.")
    log(f"The backup (your files as they were, and git's index) stays in {rep.backup}")


# ---------------------------------------------------------------------------------------
# fresh
# ---------------------------------------------------------------------------------------
def find_notebook(root: Path, name: str) -> Path:
    nb_dir = Path(root) / "notebooks"
    hits = [p for p in notebooks_in(nb_dir)
            if p.name.startswith(name) or p.stem == name or p.name == name]
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
    if _io.is_checkout(root):
        for rev in ("@{u}", "HEAD"):
            proc = _io.git(root, "show", f"{rev}:{rel}", check=False, text=False)
            candidates.append(proc.stdout if proc.returncode == 0 else None)
    candidates.append(target.read_bytes())
    data = next((c for c in candidates if c is not None and content_status(c) == "generated"),
                None)
    if data is None:
        raise UpdateError(f"no unedited copy of {rel} found; run `python3 course.py update` or "
                          "download the notebook again from the course page.")
    side = side_path(target, "fresh", data)
    _io.write(side, data)
    log(f"wrote a fresh copy of {rel} to {side.relative_to(root).as_posix()} "
        f"(your {target.name} is untouched)")
    return side


# ---------------------------------------------------------------------------------------
# Command line (course.py update [--force] / course.py fresh NN)
# ---------------------------------------------------------------------------------------
def _stop(signum, frame):
    raise KeyboardInterrupt  # so that a closed terminal or a kill undoes the update too


def run(root: Path, *, force: bool = False, fresh_names: list[str] | None = None) -> int:
    """``course update [--force]`` (``fresh_names`` None) or ``course fresh NN …``, their
    arguments parsed by the command line (:mod:`.cli`)."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)
    try:
        if fresh_names is None:
            update(root, force=force)
        for name in fresh_names or ():
            fresh(root, name)
        return 0
    except UpdateError as exc:
        print(f"course update: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("course update: interrupted.", file=sys.stderr)
        return 130
