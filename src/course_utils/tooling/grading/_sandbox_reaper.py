"""The grading sandbox's reaper: the parent of the child that runs a submission (POSIX).

Run as a script by :mod:`course_utils.tooling.grading.sandbox` (stdlib only, ``python -I``)::

    python -I _sandbox_reaper.py STATUS_FILE MEMORY FILE_LIMIT PROCESS_LIMIT FDS -- CMD...

It marks itself a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``), so every process the
submission starts, even one that leaves its session (``start_new_session=True``, a
double fork), becomes its child when its own parent dies, instead of a child of ``init``.
It forks and runs ``CMD`` in a new session under the limits (address space, file size,
processes, no core files), with the inherited pipe descriptors ``FDS`` (comma separated),
and with a parent-death signal: should the code kill the reaper, the code dies too.

When its standard input, a pipe from the grader, reaches end-of-file (the grader closed it
or died), or on SIGTERM, it kills every process below it, until none is left, then exits.
It writes ``exit N`` or ``signal N`` to ``STATUS_FILE`` when ``CMD`` ends, so the grader can
say how the code died. Finding the processes to kill through parenthood works where
reading other processes' environments is not allowed (some containers refuse it).
"""

from __future__ import annotations

import os
import select
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
STOP = []


def prctl(option: int, value: int) -> bool:
    """Linux ``prctl(option, value)``; False where it does not exist or fails."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def set_limits(memory: int, file_limit: int, process_limit: int) -> None:
    """In the forked child, before exec: a session of its own and the resource limits."""
    import resource

    os.setsid()
    for res, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, file_limit),
                       (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        used = len(os.listdir("/proc")) if os.path.isdir("/proc") else 0
        cap = used + process_limit
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (cap, hard))
    except (ValueError, OSError):
        pass


def children(me: int) -> list[int]:
    """Pids of the live processes whose parent is ``me`` (read from /proc)."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == me and fields[0] != b"Z":
            found.append(int(name))
    return found


def reap(child: int, status_file: str) -> int:
    """Collect every exited child without waiting; returns how many were collected."""
    n = 0
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        except InterruptedError:
            continue
        if pid == 0:
            return n
        n += 1
        if pid == child:
            if os.WIFSIGNALED(status):
                text = f"signal {os.WTERMSIG(status)}"
            else:
                text = f"exit {os.WEXITSTATUS(status)}"
            try:
                with open(status_file, "w") as f:
                    f.write(text)
            except OSError:
                pass


def kill_all(child: int, status_file: str) -> None:
    """SIGKILL every process below this one (and its process group) until none is left."""
    me, own_group = os.getpid(), os.getpgrp()
    for _ in range(1000):
        kids = children(me)
        if not kids:
            reap(child, status_file)
            if not children(me):
                return
        for pid in kids:
            try:
                group = os.getpgid(pid)
                if group != own_group:
                    os.killpg(group, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        select.select([], [], [], 0.01)
        reap(child, status_file)


def main(argv: list[str]) -> int:
    status_file, memory, file_limit, process_limit, fds = argv[:5]
    cmd = argv[argv.index("--") + 1:]
    keep = [int(fd) for fd in fds.split(",") if fd]
    prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans below become this process's children
    signal.signal(signal.SIGTERM, lambda *_: STOP.append(1))
    reaper = os.getpid()
    child = os.fork()
    if child == 0:  # the child: limits, then the sandbox's own program
        try:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            for fd in keep:
                os.set_inheritable(fd, True)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # killing the reaper kills the code
            if os.getppid() != reaper:
                os._exit(127)
            set_limits(int(memory), int(file_limit), int(process_limit))
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    for fd in keep:
        os.close(fd)
    try:
        while not STOP:
            try:
                ready, _, _ = select.select([0], [], [], 0.2)
            except InterruptedError:
                continue
            reap(child, status_file)
            if ready and not os.read(0, 4096):
                break
    finally:
        kill_all(child, status_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
