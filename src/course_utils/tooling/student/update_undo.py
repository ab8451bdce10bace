"""The undo journal of ``course.py update``: backup, "update in progress" marker, rollback.

Standard library only, like :mod:`course_utils.tooling.student.update`, which loads this file by path.

Before its first action an update writes, under ``.git/course-backup/DATE/``: a copy of
every file of the student's that an action touches, git's index, and ``.git/manifest.json``
saying what each touched path held (the student's copy, the old commit's version, or
nothing); then the marker ``.git/course-update-in-progress.json``. :func:`rollback` puts
the branch, every touched path and the index back from it; it runs when an action fails
or is interrupted, and, through :func:`recover`, at the start of the next run when the
update was killed before it could.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
from pathlib import Path

from . import update_io as _io
from . import update_plan as _plan

BACKUP_DIR = "course-backup"  # inside .git/, so never committed and never in `git status`
MARKER = "course-update-in-progress.json"  # inside .git/ while an update is being applied
UpdateError = _io.UpdateError


def new_backup_dir(gd: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for k in range(1, 1000):
        cand = gd / BACKUP_DIR / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            cand.mkdir(parents=True)
            return cand
        except FileExistsError:
            continue
    raise UpdateError(f"cannot create a backup folder in {gd / BACKUP_DIR}")


def write_backup(root, gd, backup, plan, *, old, new, t_old, t_new) -> None:
    """Copy the student's files, git's index and a manifest; then write the marker."""
    algo = _io.git(root, "rev-parse", "--show-object-format", check=False).stdout.strip() or "sha1"
    paths, known = {}, set()
    for rel in plan.touched:
        f = root / rel
        if rel in plan.backup:
            data = f.read_bytes()
            _io.write(backup / rel, data)
            known.add(_plan.blob_id(data, algo))
            paths[rel] = {"state": "file", "mode": f.stat().st_mode & 0o7777}
        elif rel in t_old and (f.is_file() or f.is_symlink()):  # as in the old commit
            paths[rel] = {"state": "old", "oid": t_old[rel][1], "mode": t_old[rel][0]}
        else:
            paths[rel] = {"state": "absent"}
        known |= {t[rel][1] for t in (t_old, t_new) if rel in t}
    meta = backup / ".git"
    index = gd / "index"
    if index.exists():
        _io.write(meta / "index", index.read_bytes())
    manifest = {"started": _dt.datetime.now().isoformat(timespec="seconds"), "pid": os.getpid(),
                "old": old, "new": new, "algo": algo, "index": index.exists(),
                "ref": _io.git(root, "symbolic-ref", "-q", "HEAD").stdout.strip(),
                "paths": paths, "known": sorted(known),
                "dirs": sorted({p.as_posix() for rel in plan.touched for p in Path(rel).parents
                                if p.parts and (root / p).is_dir()})}
    _io.write(meta / "manifest.json", json.dumps(manifest, indent=1).encode())
    _io.write(gd / MARKER, json.dumps({"backup": backup.relative_to(gd).as_posix()}).encode())


def recover(root: Path, gd: Path, log, force: bool = False) -> bool:
    """If an update was interrupted (the marker exists), put everything back; True if so.

    Refuses while the process that wrote the marker still runs, unless ``force``."""
    if not (gd / MARKER).exists():
        return False
    try:
        backup = gd / json.loads((gd / MARKER).read_text())["backup"]
        manifest = json.loads((backup / ".git" / "manifest.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UpdateError(f"an earlier update was interrupted, but its backup cannot be read "
                          f"({exc}). Your files may be in {gd / BACKUP_DIR}; once you have "
                          f"checked, delete {gd / MARKER} and run again.") from None
    pid = manifest.get("pid")
    if pid != os.getpid() and _io.pid_alive(pid) and not force:
        raise UpdateError(f"another update (process {pid}, started {manifest['started']}) "
                          "seems to be running; wait for it to finish. If none is running "
                          "(say, after a restart), run `python3 course.py update --force`.")
    log(f"An earlier update (started {manifest['started']}) was interrupted; putting your "
        f"files back from {backup} …")
    rollback(root, gd, backup, log)
    log("Your files are back as they were before that update.")
    return True


def _restore_path(root: Path, backup: Path, manifest: dict, known: set, rel: str, *, entry: dict,
                  log) -> None:
    """Put path ``rel`` back as the ``manifest`` records it (``entry``: its state, mode
    and blob id before the update); bytes found there whose blob id is not in ``known``
    are first kept as ``stem.found.suffix``."""
    f = root / rel
    target, mode, current = None, None, _io.read(f)
    if entry["state"] == "file":
        target, mode = (backup / rel).read_bytes(), entry["mode"]
    elif entry["state"] == "old":
        same = current is not None and _plan.blob_id(current, manifest["algo"]) == entry["oid"]
        target = current if same else _io.blob(root, entry["oid"])
        mode = 0o755 if entry["mode"] == "100755" else None
    if current and current != target and _plan.blob_id(current, manifest["algo"]) not in known:
        existing = {p.name: p.read_bytes() for p in f.parent.glob(f"{f.stem}.found*")
                    if p.is_file()}
        name, _ = _plan.pick_side(f.name, "found", current, existing, reuse_run_only=False)
        _io.write(f.with_name(name), current)
        log(f"  {rel} had changed during or after the update; that version is kept "
            f"as {f.with_name(name).relative_to(root).as_posix()}")
    if target is None:
        _io.remove(f)
    elif current != target or mode is not None:
        _io.write(f, target, mode)
    _io.remove(f.with_name(f".{f.name}.course-update-tmp"))


def _remove_created_dirs(root: Path, manifest: dict) -> None:
    """Remove the folders the update created (not in the manifest's ``dirs``) and left
    empty, deepest first."""
    for d in sorted({p for rel in manifest["paths"] for p in Path(rel).parents if p.parts},
                    key=lambda p: -len(p.parts)):
        if d.as_posix() not in manifest["dirs"] and (root / d).is_dir() \
                and not any((root / d).iterdir()):
            (root / d).rmdir()


def rollback(root: Path, gd: Path, backup: Path, log) -> None:
    """Restore the branch, every touched path and the index from ``backup``; idempotent.

    Ctrl-C, SIGTERM and SIGHUP are ignored meanwhile (git runs in its own process group,
    out of the terminal's reach). A file found holding bytes that are neither the
    student's backed-up ones nor a version of the course (work done after a killed update,
    or saved by an editor during the update) is first copied next to it as
    ``stem.found.suffix``.
    """
    sigs = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)]
    saved = {s: signal.signal(s, signal.SIG_IGN) for s in sigs} if _io.in_main_thread() else {}
    try:
        manifest = json.loads((backup / ".git" / "manifest.json").read_text())
        lock = gd / "index.lock"  # left by a git process killed during the update
        if lock.exists() and (gd / MARKER).exists() \
                and lock.stat().st_mtime >= (gd / MARKER).stat().st_mtime:
            lock.unlink()
        ref, old = manifest["ref"], manifest["old"]
        if ref and _io.git(root, "rev-parse", "-q", "--verify", ref, check=False,
                           shielded=True).stdout.strip() != old:
            _io.git(root, "update-ref", "-m", "course update: undone", ref, old, shielded=True)
        known = set(manifest["known"])
        for rel, entry in sorted(manifest["paths"].items()):
            _restore_path(root, backup, manifest, known, rel, entry=entry, log=log)
        _remove_created_dirs(root, manifest)
        if manifest["index"]:
            _io.write(gd / "index", (backup / ".git" / "index").read_bytes())
        (gd / MARKER).unlink(missing_ok=True)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
