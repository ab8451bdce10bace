"""Grading on a Dask cluster (``course grade … --cluster ADDRESS``, issue 29 item 5).

A handful of the sample class (tests/grading_students.py) is graded with ``--jobs 2`` and on
a ``LocalCluster`` of two worker processes, one of them killed while it grades: the same
grades but for timings, every submission exactly once. The rest runs without a cluster:
the bounded number in flight, one result per submission, a worker whose course differs.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from grading_students import load, make_class

from course_utils.tooling.grading import grading, grading_cluster
from course_utils.tooling.grading.grading_reports import ExerciseResult, SubmissionResult
from course_utils.tooling.grading.grading_select import GradingError

pytestmark = pytest.mark.tooling
SEED = 4242
# honest, empty, wrong (a classic mistake), a reference reused, invalid JSON
FEW = ("alice", "bob", "carol", "mallory", "judy")


def _comparable(results) -> list:
    rows = [r.to_dict() for r in results]
    for r in rows:
        r.pop("seconds")
    return rows


def _kill_one_busy_worker(address: str, done: threading.Event, killed: list) -> None:
    """Kill (SIGKILL) the first worker process seen grading a task; its nanny restarts it."""
    from dask.distributed import Client

    with Client(address, timeout="30s") as client:
        pids = client.run(os.getpid)
        while not done.is_set():
            busy = [(w, keys) for w, keys in client.processing().items() if keys]
            if busy:
                time.sleep(1.0)  # well inside the task: its worker process is grading
                w, keys = busy[0]
                if w in pids and client.processing().get(w):
                    os.kill(pids[w], signal.SIGKILL)
                    killed.append((w, list(keys)))
                    return
            time.sleep(0.2)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    from dask.distributed import LocalCluster

    tmp = tmp_path_factory.mktemp("cluster")
    make_class(tmp / "all", load())
    for s in FEW:
        shutil.copytree(tmp / "all" / s, tmp / "few" / s)
    kw = {"seeds": [SEED], "timeout": 90, "cell_timeout": 20}
    local = grading.grade([tmp / "few"], jobs=2, **kw)
    lines: list[str] = []
    done, killed = threading.Event(), []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        killer = threading.Thread(target=_kill_one_busy_worker,
                                  args=(cluster.scheduler_address, done, killed))
        killer.start()
        try:
            remote = grading.grade([tmp / "few"], cluster=cluster.scheduler_address,
                                   log=lines.append, **kw)
        finally:
            done.set()
            killer.join()
    return {"local": local, "remote": remote, "lines": lines, "killed": killed}


def test_a_worker_was_killed_while_grading(both):
    assert both["killed"], "the test's killer found no worker grading a task"


def test_same_grades_as_jobs_2_each_submission_once(both):
    remote = both["remote"]
    assert [r.file for r in remote] == sorted(f"{s}/01_unrolling_an_rnn.ipynb" for s in FEW)
    assert _comparable(remote) == _comparable(both["local"])
    by = {r.student: r for r in remote}
    assert (by["alice"].total, by["bob"].total, by["carol"].total) == (5, 0, 2), by
    assert not by["alice"].problem, "the killed worker's submission was graded elsewhere"


def test_progress_counts_done_total_and_failures(both):
    lines = [ln for ln in both["lines"] if ln.startswith("[")]  # not the bubblewrap line
    assert len(lines) == len(FEW), lines
    assert lines[0].startswith("[1/5, ") and " graded " in lines[0]
    # judy's notebook is not readable: the one submission the grader could not grade
    assert lines[-1].startswith("[5/5, 1 failed] graded "), lines


# ---------------------------------------------------------------------------------------
# Without a cluster
# ---------------------------------------------------------------------------------------
ROUTE = grading_cluster.Grader(grading.Job, grading.course_digest, grading._grade_isolated,
                               grading._validated, grading._failed)
ENTRIES = [{"id": "ex01_a", "title": "A", "points": 2, "kind": "code", "notebook": "01"}]


def _job(tmp_path: Path, i: int) -> grading.Job:
    path = tmp_path / f"s{i}.ipynb"
    path.write_bytes(b"{}")
    return grading.Job(str(path), "01_x.ipynb", f"s{i}", f"s{i}/01_x.ipynb", ENTRIES,
                       str(tmp_path), 60, 20, [SEED], grading.course_digest(), [])


class _Future:
    def __init__(self, key, value):
        self.key, self.value = key, value

    def result(self):
        if isinstance(self.value, Exception):
            raise self.value
        return self.value

    def release(self):
        pass


class _AsCompleted:
    """Dask's ``as_completed``, first in first out, and a future's answer given twice."""

    def __init__(self, futures, twice=()):
        self.queue, self.twice = list(futures), set(twice)

    def add(self, fut):
        self.queue.append(fut)

    def __iter__(self):
        while self.queue:
            fut = self.queue.pop(0)
            yield fut
            if fut.key in self.twice:
                self.twice.discard(fut.key)
                yield fut


class _Client:
    def __init__(self, fail=()):
        self.sent, self.fail = [], set(fail)

    def submit(self, fn, route, job, data, *, key, pure, retries):
        assert fn is grading_cluster.grade_on_worker and data == b"{}" and retries >= 1
        self.sent.append(key)
        if job["student"] in self.fail:
            return _Future(key, RuntimeError("KilledWorker: the task killed 3 workers"))
        res = SubmissionResult(job["display"], job["student"], job["notebook"],
                               [ExerciseResult.of(ENTRIES[0], "passed")], 1.0)
        return _Future(key, res.to_dict())


def test_at_most_in_flight_tasks_and_one_result_per_submission(tmp_path):
    jobs = [(k, _job(tmp_path, k)) for k in range(10)]
    stats, client = grading_cluster.Stats(), _Client(fail={"s7"})
    first = []

    def as_completed(futs):
        first.extend(futs)
        return _AsCompleted(futs, twice={f.key for f in futs[:1]})

    out = grading_cluster._drain(client, as_completed, list(jobs), limit=3, retries=2, log=None,
                                  stats=stats, grading=ROUTE)
    assert len(first) == 3 and stats.max_in_flight == 3
    assert sorted(out) == list(range(10)) and len(set(client.sent)) == 10
    assert stats.duplicates == 1 and set(stats.received.values()) == {1}
    assert out[0].total == 2 and out[0].heldout_seeds == [SEED]
    assert out[7].total == 0 and "could not grade" in out[7].problem


def test_a_worker_with_another_course_refuses(tmp_path):
    job = _job(tmp_path, 0).to_dict()
    job["digest"] = "0" * 64
    data = grading_cluster.grade_on_worker(ROUTE, job, b"{}")
    assert "refused by the worker" in data["refused"] and "same commit" in data["refused"]
    res = grading_cluster._result(_Future("k", data), grading.Job.from_dict(job), ROUTE)
    assert res.total == 0 and res.problem.startswith("refused by the worker")


def test_addresses_and_the_missing_extra(monkeypatch):
    assert grading_cluster.parse_local("local:3") == 3
    assert grading_cluster.parse_local("local") == 2
    assert grading_cluster.parse_local("tcp://10.0.0.1:8786") is None
    with pytest.raises(GradingError, match="local:N"):
        grading_cluster.parse_local("local:x")
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(GradingError, match=r"pip install -e \.\[cluster\]"):
        grading_cluster.run_jobs([], ROUTE, address="local:1")


def test_the_coordinator_keeps_no_log_of_sent_submissions(monkeypatch):
    """Dask logs the last 1000 messages of each connection (each submission's bytes):
    off while the cluster route runs, so the coordinator's memory does not grow with the
    class (benchmarks/grading_cluster.py measures it)."""
    import dask

    seen = []
    monkeypatch.setattr(grading_cluster, "_run", lambda *a, **kw: seen.append(
        dask.config.get("distributed.admin.low-level-log-length")) or {})
    assert grading_cluster.run_jobs([], ROUTE, address="tcp://127.0.0.1:1") == {}
    assert seen == [0]
    assert dask.config.get("distributed.admin.low-level-log-length") == 1000
