"""What the grading sandbox's code sees of the machine (see :mod:`course_utils.tooling.grading.sandbox`).

:func:`view` names it: ``"bwrap"``, bubblewrap's allow-list view of the disk
(:func:`bwrap_view`); else ``"namespaces"``, Linux namespaces of its own (``HIDE_PREFIX``:
the disk read-only but the scratch folder, some folders hidden, the mounts locked); else
``"none"``, a process with limits only. :func:`without_references` takes the references'
code out of the course sources the sandbox's import finder gets.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def without_references(sources: dict, forbidden: dict) -> dict:
    """``sources`` with the body of every forbidden function of the ``reference``
    modules replaced by ``raise NotImplementedError``: the sandbox's import finder holds
    no reference's code (the sandbox puts a stand-in in its place anyway)."""
    import ast

    out = dict(sources)
    for name, names in forbidden.items():
        if not name.startswith("course_utils.reference.") or name not in out:
            continue
        tree = ast.parse(out[name])
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
                node.body = [ast.Raise(ast.Call(ast.Name("NotImplementedError", ast.Load()),
                                                [ast.Constant("a reference of the course")],
                                                []), None)]
        out[name] = ast.unparse(ast.fix_missing_locations(tree))
    return out


# The sandbox's namespaces (Linux user namespaces, util-linux `unshare` and `mount`): a PID
# namespace of its own (it sees no other process, not the grader nor its worker), a private
# /dev/shm, every mount read-only except its scratch folder (``$1``), the given folders
# (``$2 …``) hidden under empty read-only tmpfs; then a further user and mount namespace, in
# which every mount above is *locked*: the code, root there, can neither unmount nor remount
# any of them (the kernel refuses: mounts inherited from a more privileged namespace).
# The shell stays the namespace's first process (PID 1 ignores signals sent from inside):
# the code's death by signal N comes back as exit code 128 + N (see Sandbox.exit_code).
_NS_SCRIPT = r"""
scratch=$1; shift
mount --bind "$scratch" "$scratch" || exit 97
mount -t tmpfs -o size=64m,nosuid,nodev none /dev/shm 2>/dev/null
for mp in $(awk '{print $5}' /proc/self/mountinfo); do
  case "$mp" in
    /proc|/proc/*|/sys|/sys/*|/dev|/dev/pts|/dev/pts/*|/dev/shm|"$scratch") continue ;;
    *\\*) continue ;;
  esac
  mount -o remount,bind,ro "$mp" 2>/dev/null
done
while [ "$1" != "--" ]; do mount -t tmpfs -o ro,size=4k none "$1" || exit 97; shift; done
shift
unshare --user --map-root-user --mount "$@"
exit $?
"""
HIDE_PREFIX = ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork",
               "--kill-child", "--mount-proc", "sh", "-c", _NS_SCRIPT, "sh"]


def bwrap_view(scratch: Path) -> list[str]:
    """The bubblewrap command that gives the code an allow-list view of the disk: the
    system's ``/usr`` and this Python installation, read-only (but an installed copy of
    ``course_utils`` in them, hidden: the sandbox gets the course from the grader, without
    the references' code); its scratch folder; fresh
    /tmp, /proc and /dev; nothing else (not the course tree, not the home folder, not
    another clone: the course package comes from the grader over the pipe). New user, PID,
    network, IPC and UTS namespaces and no capabilities, so no mount can be undone."""
    # A fresh /tmp first: every bind below (Python, a virtual environment, the scratch
    # folder) may itself live under /tmp, and a later tmpfs there would cover it.
    cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user",
           "--die-with-parent", "--cap-drop", "ALL", "--tmpfs", "/tmp",
           "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/lib", "/lib64", "/sbin"):
        p = Path(top)
        if p.is_symlink():
            cmd += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            cmd += ["--ro-bind", top, top]
    done = set()
    package = Path(__file__).resolve().parents[2]  # course_utils/, installed or not
    hide = []
    for where in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix):
        if where in done or Path(where) == Path("/usr") or Path("/usr") in Path(where).parents:
            continue
        done.add(where)
        real = Path(os.path.realpath(where))
        cmd += ["--ro-bind", str(real), where]
        if real in package.parents:  # a copy installed into Python: not its references
            hide.append(str(Path(where) / package.relative_to(real)))
    if Path("/usr") in package.parents:
        hide.append(str(package))
    for h in hide:
        cmd += ["--tmpfs", h, "--remount-ro", h]
    for extra in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/sys/devices/system/cpu"):
        cmd += ["--ro-bind-try", extra, extra]
    return cmd + ["--proc", "/proc", "--dev", "/dev",
                  "--bind", str(scratch), str(scratch), "--chdir", str(scratch / "work")]


def can_bwrap() -> bool:
    """Whether bubblewrap can run Python in :func:`bwrap_view` here (probed once);
    ``COURSE_NO_BWRAP=1`` in the environment says no (to try the fallback)."""
    return bwrap_problem() is None


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot give the sandbox its view here, in one line (what bwrap
    said, when it ran and failed), or None when it can (probed once)."""
    if os.name != "posix":
        return "bubblewrap needs Linux"
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    if os.environ.get("COURSE_NO_BWRAP"):
        return "COURSE_NO_BWRAP is set"
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "work").mkdir()
        try:
            r = subprocess.run([*bwrap_view(Path(d)), sys.executable, "-I", "-c",
                                "import numpy"], capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            return "bwrap did not run Python within 60 s"
        except OSError as exc:
            return f"bwrap could not be started ({exc})"
    if r.returncode == 0:
        return None
    said = [ln.strip() for ln in r.stderr.decode(errors="replace").splitlines() if ln.strip()]
    return (f"bwrap could not run Python here: {said[-1][:200]}" if said
            else f"bwrap could not run Python here (exit code {r.returncode})")


def bwrap_warning() -> str:
    """The one-line warning ``course grade`` prints when the sandbox runs without
    bubblewrap's allow-list view, with the reason (:func:`bwrap_problem`)."""
    why = bwrap_problem() or "not used"
    fix = " (install bubblewrap)" if "not installed" in why else ""
    return (f"warning: no bubblewrap sandbox: {why}; the sandbox sees the whole disk but "
            f"the hidden folders{fix}")


def view() -> str:
    """What the sandbox sees on this machine: ``"bwrap"`` (an allow-list),
    ``"namespaces"`` (the disk read-only, some folders hidden) or ``"none"``."""
    return "bwrap" if can_bwrap() else "namespaces" if can_hide() else "none"


@functools.cache
def can_hide() -> bool:
    """Whether folders can be hidden from the sandbox on this machine (probed once)."""
    if os.name != "posix" or not shutil.which("unshare"):
        return False
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "scratch").mkdir()
        (Path(d) / "hidden").mkdir()
        try:
            r = subprocess.run([*HIDE_PREFIX, f"{d}/scratch", f"{d}/hidden", "--", "true"],
                               capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return r.returncode == 0


def hideable(paths, scratch: Path) -> list[Path]:
    """The existing folders among ``paths`` that can be hidden without hiding Python
    itself or the sandbox's scratch folder."""
    keep = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), scratch.resolve(),
            Path(sys.executable).resolve().parent]
    out = []
    for p in paths:
        p = Path(p).resolve()
        if p.is_dir() and not any(k == p or p in k.parents for k in keep) and p not in out:
            out.append(p)
    return out
