"""Grading on a Dask cluster: ``course grade SUBMISSIONS… --cluster ADDRESS``.

``ADDRESS`` is a running Dask scheduler (``tcp://host:8786``; under Slurm or Kubernetes,
see INSTRUCTORS.md) or ``local:N``, which starts a ``LocalCluster`` of ``N`` worker
processes on this machine for the run. The optional extra installs Dask:
``pip install -e .[cluster]``.

Each submission is one task. The task carries the job (:class:`grading.Job`, as a dict)
and the submission's bytes, never a path: workers need not share the coordinator's disk.
A worker grades with its own checkout of the course, at the same commit (its
:func:`grading.course_digest` must be the job's, or the submission is refused with the
reason), writes the bytes to a private temporary folder and grades them exactly as
``--jobs`` does (:func:`grading._grade_isolated`: a worker process per submission, the
same sandbox). The result comes back as a dict and is held to the job by
:func:`grading._validated`, as on one machine.

- At most ``in_flight`` submissions are sent at a time (``as_completed``): the
  coordinator reads a submission's bytes when it sends it and keeps only the results
  (Dask's log of recent messages, which would keep the last thousand submissions, is off).
- A worker that dies mid-task: the scheduler runs its tasks on another worker (``retries``
  for a task that raises). The task's key names the submission, and the coordinator keeps
  one result per submission: nothing is lost, nothing is graded twice in the output.
- Progress: one line per graded submission, ``[done/total, N failed]`` first.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...status import CRASH, OTHER
from .grading_reports import first_line
from .grading_select import ROOT, GradingError

INSTALL_HINT = ("the --cluster route needs Dask: pip install -e .[cluster] "
                "(dask and distributed, pinned in constraints.txt)")
RETRIES = 2  # a task that raises is run again on a worker this many times


def _dask():
    try:
        import dask
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise GradingError(INSTALL_HINT) from exc
    return dask, Client, LocalCluster, as_completed


# Dask keeps the last messages (1000 by default) each connection sent, for debugging: every
# submission's bytes under 1 MB. Off, the coordinator holds only the tasks in flight.
NO_MESSAGE_LOG = {"distributed.admin.low-level-log-length": 0}


def parse_local(address: str) -> int | None:
    """``local:N`` → ``N`` (a LocalCluster of N worker processes); any other address → None."""
    if not address.startswith("local"):
        return None
    n = address.partition(":")[2] or "2"
    if not n.isdigit() or int(n) < 1:
        raise GradingError(f"--cluster {address}: write local:N with N ≥ 1 worker processes")
    return int(n)


@dataclass(frozen=True)
class Grader:
    """What the cluster route uses of :mod:`course_utils.tooling.grading.grading` (handed over by
    it, so that this module never imports it back): its ``Job`` class, ``course_digest``,
    ``_grade_isolated``, ``_validated`` and ``_failed``. Sent with each task (by reference:
    the worker imports them from its own checkout)."""

    job: type
    digest: Callable
    grade_isolated: Callable
    validated: Callable
    failed: Callable


def grade_on_worker(grading: Grader, job: dict, data: bytes) -> dict:
    """The task, run on a Dask worker: grade one submission in this worker's own checkout.

    Returns the result as a dict (:meth:`SubmissionResult.to_dict`), or
    ``{"refused": reason}`` when this worker's course is not the coordinator's."""
    root = ROOT
    digest = grading.digest(root)
    if digest != job["digest"]:
        return {"refused": f"refused by the worker: its course checkout ({root}, digest "
                f"{digest[:12]}) is not the coordinator's ({job['digest'][:12]}); check out "
                "the same commit on every worker"}
    with tempfile.TemporaryDirectory(prefix="course-cluster-") as tmp:
        os.chmod(tmp, 0o700)
        path = Path(tmp) / Path(job["path"]).name
        path.write_bytes(data)
        j = grading.job.from_dict(job)
        j.path, j.root = str(path), str(root)
        # the coordinator's folders (they exist when the worker runs on the same machine),
        # and this worker's course and private folder: hidden from the sandbox
        j.hide = [*job["hide"], str(root / "solutions"), str(root / "src"),
                  str(root / ".git"), tmp]
        return grading.grade_isolated(j, j.timeout).to_dict()


class Stats:
    """What a run did, for tests and the benchmark: the most tasks in flight at once, the
    results received per submission key (duplicates ignored), the run's wall time."""

    def __init__(self):
        self.max_in_flight = 0
        self.received: dict = {}
        self.duplicates = 0
        self.seconds = 0.0


def run_jobs(jobs_list, grading: Grader, *, address: str, log=None,
             in_flight: int | None = None, retries: int = RETRIES,
             stats: Stats | None = None) -> dict:
    """``{k: result}`` for ``[(k, Job)]``, graded on the Dask cluster at ``address``."""
    dask, Client, LocalCluster, as_completed = _dask()
    n_local = parse_local(address)
    with dask.config.set(NO_MESSAGE_LOG):
        return _run((Client, LocalCluster, as_completed), list(jobs_list), grading,
                    address=address, n_local=n_local, log=log, in_flight=in_flight,
                    retries=retries, stats=stats if stats is not None else Stats())


def _run(api, jobs_list, grading, *, address, n_local, log, in_flight, retries,
         stats) -> dict:
    """``api``: Dask's ``(Client, LocalCluster, as_completed)``."""
    Client, LocalCluster, as_completed = api
    t0 = time.monotonic()
    cluster = None
    try:
        if n_local is not None:
            cluster = LocalCluster(n_workers=n_local, threads_per_worker=1, processes=True,
                                   dashboard_address=":0")
            client = Client(cluster)
        else:
            client = Client(address, timeout="30s")
    except GradingError:
        raise
    except Exception as exc:
        if cluster is not None:
            cluster.close()
        raise GradingError(f"--cluster {address}: cannot reach the scheduler "
                           f"({type(exc).__name__}: {first_line(str(exc))})") from exc
    try:
        _check_sandboxes(client, log)
        threads = sum(client.nthreads().values()) or 1
        limit = max(1, in_flight or 2 * threads)
        return _drain(client, as_completed, jobs_list, limit=limit, retries=retries, log=log,
                      stats=stats, grading=grading)
    finally:
        stats.seconds = time.monotonic() - t0
        client.close()
        if cluster is not None:
            cluster.close()


def _check_sandboxes(client, log) -> None:
    """One line for the workers that would grade without bubblewrap's allow-list view."""
    from . import sandbox_view

    try:
        views = client.run(sandbox_view.view)
    except Exception as exc:
        views = {"?": f"unknown ({type(exc).__name__})"}
    weak = sorted(f"{w} ({v})" for w, v in views.items() if v != "bwrap")
    if weak and log:
        log(f"warning: {len(weak)} of {len(views)} Dask workers cannot run bubblewrap "
            f"({', '.join(weak[:3])}{', …' if len(weak) > 3 else ''}): their sandbox sees "
            "the whole disk but the hidden folders (install bubblewrap on them)")


def _drain(client, as_completed, todo, *, limit, retries, log, stats, grading) -> dict:
    todo.reverse()  # popped from the end: sent in order, and dropped once sent
    total, run = len(todo), uuid.uuid4().hex[:8]
    jobs: dict = {}       # key → (k, job), only while in flight
    results: dict = {}
    failed = 0

    def send():
        k, job = todo.pop()
        key = f"course-grade-{run}-{k}"
        jobs[key] = (k, job)
        data = Path(job.path).read_bytes()
        return client.submit(grade_on_worker, grading, job.to_dict(), data, key=key,
                             pure=False, retries=retries)

    if not todo:
        return {}
    pending = as_completed([send() for _ in range(min(limit, len(todo)))])
    stats.max_in_flight = max(stats.max_in_flight, len(jobs))
    for fut in pending:
        key = fut.key
        if key not in jobs:  # a second answer for a submission already graded
            stats.duplicates += 1
            continue
        k, job = jobs.pop(key)
        r = _result(fut, job, grading)
        fut.release()
        results[k] = r
        stats.received[k] = stats.received.get(k, 0) + 1
        failed += bool(r.problem)
        if log:
            log(f"[{len(results)}/{total}, {failed} failed] graded {r.file}: "
                f"{r.total:g}/{r.max_total:g} in {r.seconds:.0f} s")
        if todo:
            pending.add(send())
            stats.max_in_flight = max(stats.max_in_flight, len(jobs))
    return results


def _result(fut, job, grading):
    """The task's answer held to the job, or a row saying why there is none."""
    try:
        data = fut.result()
    except Exception as exc:  # e.g. KilledWorker: the task killed every worker it ran on
        return grading.failed(job, f"the cluster could not grade this submission: "
                               f"{type(exc).__name__}: {first_line(str(exc))}", cause=CRASH)
    if isinstance(data, dict) and "refused" in data:
        return grading.failed(job, str(data["refused"]), cause=OTHER)
    try:
        return grading.validated(job, data)
    except Exception as exc:
        return grading.failed(job, "the cluster's worker sent an unreadable result "
                               f"({type(exc).__name__})")
