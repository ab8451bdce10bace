"""git, files and the checks ``course.py update`` makes before it changes anything.

Standard library only, like :mod:`course_utils.tooling.student.update`, which loads this file by path.

* :func:`git`, :func:`write` (atomic) and friends: what the update does to the outside world;
* :func:`jupyter_on`: is a Jupyter server or kernel running on the course folder? A
  notebook open in JupyterLab with unsaved edits would be lost when the file under it is
  replaced (and JupyterLab's autosave could write the old version back over the new one).
* :func:`commits_advice`: what a student with commits of their own should run so that
  every file of theirs stays in the working tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path


class UpdateError(Exception):
    """The update cannot proceed; nothing was changed. The message says what to do."""


# ---------------------------------------------------------------------------------------
# git
# ---------------------------------------------------------------------------------------
def git(root: Path, *args: str, check: bool = True, text: bool = True, shielded=False):
    """Run git. ``shielded``: in its own process group, so that Ctrl-C does not reach it."""
    kw = {}
    if shielded:
        kw = ({"process_group": 0} if os.name == "posix"
              else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP})
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=text,
                              stdin=subprocess.DEVNULL, **kw)
    except FileNotFoundError:
        raise UpdateError("git is not installed; see the README (Updating the "
                          "course) for the download route.") from None
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        raise UpdateError(f"`git {' '.join(args)}` failed: {err.strip()}")
    return proc


def lines(root: Path, *args: str) -> list[str]:
    return [s for s in git(root, *args).stdout.split("\0") if s]


def git_dir(root: Path) -> Path:
    return Path(root) / git(root, "rev-parse", "--git-dir").stdout.strip()


def is_checkout(root: Path) -> bool:
    try:
        proc = git(root, "rev-parse", "--show-toplevel", check=False)
    except UpdateError:
        return False
    return proc.returncode == 0 and Path(proc.stdout.strip()).resolve() == Path(root).resolve()


def tree(root: Path, rev: str) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob id) of every file in ``rev``."""
    out = {}
    for entry in lines(root, "ls-tree", "-r", "-z", "--full-tree", rev):
        meta, path = entry.split("\t", 1)
        mode, _, oid = meta.split()
        out[path] = (mode, oid)
    return out


def blob(root: Path, oid: str) -> bytes:
    return git(root, "cat-file", "blob", oid, text=False, shielded=True).stdout


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------
def read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write atomically: a killed process leaves the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.course-update-tmp")
    tmp.write_bytes(data)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def remove(path: Path) -> None:
    if path.is_file() or path.is_symlink():
        path.unlink()


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def pid_alive(pid) -> bool:
    """Whether process ``pid`` exists (on Windows, where probing could kill it: assume so)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------
# Jupyter
# ---------------------------------------------------------------------------------------
def runtime_dirs() -> list[Path]:
    """Where Jupyter servers write ``jpserver-PID.json`` (as ``jupyter --runtime-dir``)."""
    env = os.environ
    if env.get("JUPYTER_RUNTIME_DIR"):
        return [Path(env["JUPYTER_RUNTIME_DIR"])]
    home = Path.home()
    if env.get("JUPYTER_DATA_DIR"):
        data = Path(env["JUPYTER_DATA_DIR"])
    elif sys.platform == "darwin":
        data = home / "Library" / "Jupyter"
    elif sys.platform == "win32":
        data = Path(env.get("APPDATA") or home / ".jupyter" / "data") / "jupyter"
    else:
        data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "jupyter"
    dirs = [data / "runtime"]
    if env.get("XDG_RUNTIME_DIR"):  # used by jupyter_core before version 5
        dirs.append(Path(env["XDG_RUNTIME_DIR"]) / "jupyter")
    return dirs


def _overlaps(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


def jupyter_on(root: Path) -> list[str]:
    """One line per running Jupyter server (from its runtime file) whose root folder
    contains or lies inside ``root``, and (Linux) per Jupyter or kernel process working
    inside ``root``."""
    root = Path(root).resolve()
    hits = []
    for d in runtime_dirs():
        for f in sorted(d.glob("*server-*.json")) if d.is_dir() else []:  # jpserver-, nbserver-
            try:
                info = json.loads(f.read_text())
                top = Path(info.get("root_dir") or info["notebook_dir"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if pid_alive(info.get("pid")) and _overlaps(top, root):
                hits.append(f"a Jupyter server (process {info['pid']}, {f.name}) serves {top}")
    proc = Path("/proc")
    for d in sorted(proc.iterdir()) if sys.platform.startswith("linux") else []:
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            args = (d / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if not any("jupyter" in a or "ipykernel" in a for a in args[:4]):
                continue
            cwd = Path(os.readlink(d / "cwd"))
        except OSError:
            continue
        if cwd == root or root in cwd.parents:
            hits.append(f"process {d.name} ({' '.join(args[:3]).strip()}) runs in {cwd}")
    return hits


def jupyter_message(hits: list[str]) -> str:
    return ("Jupyter is running on the course folder:\n  " + "\n  ".join(hits) + "\n"
            "A notebook open there with unsaved edits would lose them when the new version "
            "is loaded. Save your notebooks and close them (File > Shut Down, or Ctrl-C in "
            "Jupyter's terminal), then run `python3 course.py update` again; or, if nothing "
            "open has unsaved edits, run `python3 course.py update --force`. "
            "Nothing was changed.")


# ---------------------------------------------------------------------------------------
# Commits of the student's own
# ---------------------------------------------------------------------------------------
def commits_advice(root: Path, old: str, new: str, upstream: str) -> str:
    """The message for a student whose branch has commits the course does not have.

    ``git merge`` writes conflict markers into a notebook where both sides changed the
    same lines, leaving invalid JSON; ``git reset --keep/--hard``
    would put the course's notebooks in place of theirs. A mixed reset to the commit
    they started from moves only git's record: their files stay exactly as they are,
    their commits stay on a branch, and the update then keeps their edits as usual.
    """
    n = git(root, "rev-list", "--count", f"{new}..{old}").stdout.strip()
    base = git(root, "merge-base", old, new).stdout.strip()
    name = next(b for b in ["my-work"] + [f"my-work-{k}" for k in range(2, 1000)]
                if git(root, "rev-parse", "-q", "--verify", f"refs/heads/{b}",
                       check=False).returncode != 0)
    return (f"you have {n} commit(s) of your own that the course ({upstream}) does not have, "
            "so the update cannot simply fast-forward. Nothing was changed. To update and "
            "keep every file of yours where it is, run these three commands:\n"
            f"    git branch {name}\n"
            f"    git reset --mixed {base[:12]}\n"
            "    python3 course.py update\n"
            f"The first keeps your commits on the branch {name}; the second moves git back "
            "to the course version you started from without touching any file (your "
            "committed work becomes uncommitted edits); the third updates as usual. "
            "Do not use `git merge` (where you and the course changed the same part of a "
            "notebook, git writes conflict markers into it and it is no longer valid JSON) "
            "or `git reset --keep`/`--hard` (they put the course's notebooks in place of "
            "yours).")
