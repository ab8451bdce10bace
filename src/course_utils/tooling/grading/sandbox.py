"""The grader's side of the grading sandbox (see :mod:`course_utils.tooling.grading._sandbox_child`).

:class:`Sandbox` starts one child process per submission, in a scratch directory of its
own, with a stripped environment, memory / process / file-size limits and its own process
group. Where bubblewrap runs (:func:`can_bwrap`) the code sees an allow-list view of the
disk (:func:`bwrap_view`: ``/usr``, the Python installation, its scratch folder); else,
where Linux user namespaces allow it (:func:`can_hide`), namespaces of its own
(``HIDE_PREFIX``): the disk read-only but the scratch folder, some folders hidden. Either
way it sees no other process and cannot undo its mounts (:func:`view` says which). On POSIX its parent is a small reaper (:mod:`course_utils.tooling.grading._sandbox_reaper`) that
kills, at the end, every process the code started, even one that left the group. :meth:`Sandbox.load` runs the cells;
:meth:`Sandbox.proxy` returns a local function that calls the student's function in the
child on the arguments the check chooses and hands back plain values, so the checks in
:mod:`course_utils.checks` run unchanged in the grader's own process.
"""

from __future__ import annotations

import inspect
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import _sandbox_child as child
from .grading_reports import CRASH, TIME_LIMIT
from .sandbox_view import HIDE_PREFIX, bwrap_view, hideable, view

CHILD = Path(child.__file__).resolve()
REAPER = CHILD.with_name("_sandbox_reaper.py")
MEMORY_LIMIT = 4 * 2**30       # bytes of address space (torch needs about 1.5 GB)
PROCESS_LIMIT = 256            # threads + processes of the user, over what already runs
FILE_LIMIT = 64 * 2**20        # bytes per file the child may write
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "TZ")
TOKEN_ENV = "COURSE_SANDBOX"   # marks every process the sandbox starts (see Sandbox.kill)


class SandboxError(Exception):
    """The child died, timed out or answered nonsense; ``.why`` says which, ``.cause`` the
    kind (:data:`~.grading_reports.TIME_LIMIT` or :data:`~.grading_reports.CRASH`)."""

    def __init__(self, why: str, cause: str = CRASH):
        super().__init__(why)
        self.why, self.cause = why, cause


def course_sources(package_dir: Path | None = None) -> tuple[dict, list]:
    """``({module name: source}, [package names])`` of every course_utils module."""
    base = Path(package_dir or Path(__file__).resolve().parents[2])  # course_utils/
    sources, packages = {}, []
    for p in sorted(base.rglob("*.py")):
        rel = p.relative_to(base).with_suffix("")
        parts = ["course_utils", *rel.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
            packages.append(".".join(parts))
        if parts[-1].startswith("_sandbox") or parts[-1] == "__main__":
            continue
        sources[".".join(parts)] = p.read_text(encoding="utf-8")
    return sources, packages


class Sandbox:
    """One child process running one submission's code."""

    def __init__(self, *, memory: int = MEMORY_LIMIT, threads: int = 1, hide: list | None = None,
                 isolate: bool = True):
        """``hide``: folders to hide; ``isolate``: run the code in bubblewrap's allow-list
        view (:func:`bwrap_view`), or else in namespaces of its own (``HIDE_PREFIX``), where
        the machine allows it; ``self.view`` says which (:func:`view`)."""
        self.scratch = Path(tempfile.mkdtemp(prefix="course-sandbox-"))
        self.token = secrets.token_hex(16)
        env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
        home = self.scratch / "home"
        home.mkdir()
        env.update({"HOME": str(home), "TMPDIR": str(self.scratch), "MPLBACKEND": "Agg",
                    "MPLCONFIGDIR": str(home), "PYTHONDONTWRITEBYTECODE": "1",
                    "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                    "MKL_NUM_THREADS": str(threads), "PYTHONHASHSEED": "0",
                    TOKEN_ENV: self.token})
        r_to_child, w_to_child = os.pipe()
        r_from_child, w_from_child = os.pipe()
        work = self.scratch / "work"
        work.mkdir()
        script = self.scratch / "sandbox_child.py"  # run from here: src/ may be hidden
        shutil.copyfile(CHILD, script)
        cmd = [sys.executable, "-I", str(script), str(r_to_child), str(w_from_child),
               str(self.scratch / "progress")]
        self.view = view() if isolate else "none"
        self.isolated = self.view != "none"
        self.hidden = ([str(h) for h in hideable(hide or [], self.scratch)]
                       if self.view == "namespaces" else [])
        if self.view == "bwrap":  # nothing outside the allow-list: nothing to hide
            cmd = [*bwrap_view(self.scratch), *cmd]
        elif self.view == "namespaces":
            cmd = [*HIDE_PREFIX, str(self.scratch), *self.hidden, "--", *cmd]
        self.status_file = self.scratch / "status"
        stdin = subprocess.DEVNULL
        if os.name == "posix":  # the reaper starts cmd under the limits (see its docstring)
            reaper = self.scratch / "sandbox_reaper.py"
            shutil.copyfile(REAPER, reaper)
            cmd = [sys.executable, "-I", str(reaper), str(self.status_file), str(memory),
                   str(FILE_LIMIT), str(PROCESS_LIMIT), f"{r_to_child},{w_from_child}",
                   "--", *cmd]
            stdin = subprocess.PIPE  # its end-of-file tells the reaper to kill everything
        self.proc = subprocess.Popen(
            cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=work, env=env, pass_fds=(r_to_child, w_from_child),
            start_new_session=os.name == "posix")
        os.close(r_to_child)
        os.close(w_from_child)
        self._w, self._r = w_to_child, r_from_child
        self.dead: str | None = None
        self.cause = CRASH  # what ``dead`` is (a time limit or a crash)

    # -- messages ------------------------------------------------------------------------
    def request(self, header: dict, blobs: list | None = None, *, timeout: float,
                cell_limit: float | None = None):
        if self.dead:
            raise SandboxError(self.dead, self.cause)
        try:
            child.write_message(self._w, child.pack(header, blobs or []))
            data = self._read(timeout, cell_limit)
            return child.unpack(data)
        except SandboxError:
            raise
        except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, EOFError):  # let the wrapper (bwrap, unshare) report the end
                self.exit_code(wait=2.0)
            self.kill()
            self.dead = self._death(f"{type(exc).__name__}: {exc}")
            raise SandboxError(self.dead) from None

    def _read(self, timeout: float, cell_limit: float | None = None) -> bytes:
        """One answer; ``cell_limit``: also stop when one cell (progress file) runs longer."""
        deadline = time.monotonic() + timeout
        buf = b""
        need = 8
        size = None
        cell, since = None, time.monotonic()
        while len(buf) < need:
            if cell_limit is not None:
                now_cell = self.running_cell()
                if now_cell != cell:
                    cell, since = now_cell, time.monotonic()
                elif time.monotonic() - since > cell_limit:
                    self.kill()
                    self.dead = (f"time limit: cell {cell} ran longer than {cell_limit:g} s "
                                 "(an infinite loop?)")
                    self.cause = TIME_LIMIT
                    raise SandboxError(self.dead, TIME_LIMIT)
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                self.dead = f"time limit: no answer within {timeout:g} s (an infinite loop?)"
                self.cause = TIME_LIMIT
                raise SandboxError(self.dead, TIME_LIMIT)
            ready, _, _ = select.select([self._r], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(self._r, min(1 << 20, need - len(buf)))
            if not chunk:
                raise EOFError("the sandbox closed its pipe")
            buf += chunk
            if size is None and len(buf) >= 8:
                size = int.from_bytes(buf[:8], "little")
                if size > child.MAX_MESSAGE:
                    raise ValueError(f"answer of {size} bytes is too large")
                need = 8 + size
        return buf[8:]

    def exit_code(self, wait: float = 2.0) -> int | None:
        """How the code's process ended (negative: the signal), or None if it still runs."""
        if self.proc.stdin is None:  # no reaper: the process itself
            try:
                return self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                return None
        deadline = time.monotonic() + wait
        while True:
            try:
                kind, value = self.status_file.read_text().split()
                code = -int(value) if kind == "signal" else int(value)
                return 128 - code if self.isolated and code > 128 else code
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def _death(self, detail: str) -> str:
        code = self.exit_code()
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
            if -code == signal.SIGKILL:
                return f"the process running the code died ({name}: out of memory?)"
            return f"the process running the code died ({name})"
        if code is not None:
            return f"the process running the code exited (exit code {code})"
        return f"the process running the code stopped answering ({detail})"

    # -- operations ----------------------------------------------------------------------
    def load(self, sources: dict, packages: list, forbidden: dict, cells: list, *,
             timeout: float, cell_limit: float | None = None) -> dict:
        header, _ = self.request({"op": "load", "sources": sources, "packages": packages,
                                  "forbidden": forbidden, "cells": cells}, timeout=timeout,
                                 cell_limit=cell_limit)
        return header

    def _progress(self, which: int) -> int | None:
        try:
            return int((self.scratch / "progress").read_text().split()[which])
        except (OSError, ValueError, IndexError):
            return None

    def running_cell(self) -> int | None:
        """The index of the cell the child was running last (from its progress file)."""
        return self._progress(0)

    def running_position(self) -> int | None:
        """Where that cell is in the list of cells :meth:`load` was given."""
        return self._progress(1)

    def describe(self, names: list[str], *, timeout: float = 30) -> dict:
        header, _ = self.request({"op": "describe", "names": names}, timeout=timeout)
        return header["names"]

    def proxy(self, name: str, info: dict, *, timeout: float, harness=None, log=None):
        """A local function that runs ``name`` in the child (see the module docstring).

        ``info`` is :meth:`describe`'s entry (its parameters become the proxy's signature);
        ``log`` collects the course objects the call touched.
        """
        def call(*args, **kwargs):
            blobs: list = []
            head = {"op": "call", "fn": name, "harness": harness,
                    "args": child.encode(list(args), blobs),
                    "kwargs": child.encode(dict(kwargs), blobs)}
            reply, out = self.request(head, blobs, timeout=timeout)
            if log is not None:
                log.extend(reply.get("events", []))
                log.extend(reply.get("behaviour", []))
            for path, value in reply.get("mutated", []):
                target = args[path[1]] if path[0] == "a" else kwargs[path[1]]
                for i in path[2:-1]:
                    target = target[i]
                new = child.decode(value, out)
                try:
                    if len(path) > 2:
                        target[path[-1]] = new
                    else:
                        target[...] = new
                except Exception:
                    pass
            if "exc" in reply:
                raise remote_exception(reply["exc"])
            return child.decode(reply["ok"], out)

        call.__name__ = name
        call.__qualname__ = name
        params = info.get("params")
        if params:
            try:
                call.__signature__ = inspect.Signature([
                    inspect.Parameter(p, getattr(inspect.Parameter, kind),
                                      **({"default": None} if has_default else {}))
                    for p, kind, has_default in params])
            except (ValueError, AttributeError):
                pass
        return call

    def kill(self) -> None:
        """Kill every process the code started: the reaper kills its descendants when its
        input closes; then any process that still carries the environment marker."""
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:  # the reaper hung, or no reaper: its whole group
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError, AttributeError):
                pass
        for pid in marked_processes(self.token):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        self.kill()
        self.dead = self.dead or "closed"
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def marked_processes(token: str) -> list[int]:
    """Pids of this user's processes whose environment holds ``COURSE_SANDBOX=token``."""
    mark = f"{TOKEN_ENV}={token}".encode()
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for d in proc.iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                if mark in (d / "environ").read_bytes().split(b"\0"):
                    found.append(int(d.name))
            except OSError:
                continue
    return found


class RemoteError(Exception):
    """An exception raised by student code in the sandbox, of a non-builtin type."""


class ReferenceUsed(Exception):
    """The student's code called a reference of the course in the sandbox."""


def remote_exception(info: dict) -> BaseException:
    """Rebuild the child's exception locally (same builtin type, its traceback frames)."""
    ename, evalue = str(info.get("ename", "Error")), str(info.get("evalue", ""))
    if info.get("reference"):
        exc: BaseException = ReferenceUsed(evalue)
    else:
        cls = None
        if info.get("builtin"):
            import builtins

            cand = getattr(builtins, ename, None)
            if isinstance(cand, type) and issubclass(cand, Exception):
                cls = cand
        if cls is None:
            cls = type(ename, (RemoteError,), {})
        try:
            exc = cls(evalue)
        except Exception:
            exc = type(ename, (RemoteError,), {})(evalue)
    exc.remote_frames = [traceback.FrameSummary(f, int(n), fn, line=line)
                         for f, n, fn, line in info.get("frames", [])]
    return exc
