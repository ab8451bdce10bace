"""Benchmark: grading on a Dask cluster (``course grade … --cluster``) against ``--jobs``.

Three parts, each recorded under its own key (``--parts`` runs some of them; the others
are kept from the results file):

``scale``    a generated class of ``--size`` submissions (mixed notebooks: most of them
             notebook 01's sample students, honest, empty, wrong and cheats, see
             tests/grading_students.py; every tenth notebook 03 and every tenth 08, honest
             or empty) graded with ``--jobs W`` and then on a ``LocalCluster`` of ``W``
             worker processes, one worker killed (SIGKILL) once half the class is graded.
             Records wall and CPU seconds (user + system of this process and its children,
             the cluster's included), submissions per minute of each route and their
             ratio, that every submission has exactly one result, and that the grades are
             identical but for timings.
``memory``   the coordinating process's memory against class size (``--memory-sizes``):
             Python's peak allocations (tracemalloc) while the cluster route runs, the job
             list ``grade`` builds before it, and the results kept after it. Each task is
             graded by a stand-in that returns a passing result at once, so the run is
             Dask's real path (the submission's bytes sent, futures, results) without the
             cost of grading; the class is real notebooks.
``same``     the sample class (tests/grading_students.py, with its classic mistakes) and
             red-team submissions (tests/test_red_team.py: a shipped function, torch's RNN,
             lesson code reached through the setup cell or an added helper) graded with
             ``--jobs W`` and on the cluster: identical but for timings.

The cluster runs in a separate process (``LocalCluster``, one thread per worker), so
the coordinator's memory is the grader's alone. CPU seconds count the processes the grader
waits for (its worker processes, the cluster's); the sandboxes that bubblewrap runs in a
PID namespace of their own are not waited for by them and are not counted: compare the
routes by wall time, measured in the same run.

    nice -n 10 python benchmarks/grading_cluster.py                    # 500 submissions
    nice -n 10 python benchmarks/grading_cluster.py --size 40 --parts scale same

Writes benchmarks/results/grading_cluster.json (see course_utils.provenance).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import nbformat  # noqa: E402

from course_utils import provenance  # noqa: E402
from course_utils.tooling.grading import grading, grading_cluster  # noqa: E402
from course_utils.tooling.publish import build  # noqa: E402

SEED = 4242
SLOW = {"dave", "peggy", "frank", "laura"}  # loops to the time limit, 50 MB, a 6 s sleep


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class Cluster:
    """A LocalCluster of ``n`` worker processes in a child process (until :meth:`close`)."""

    CODE = ("import sys\nfrom dask.distributed import LocalCluster\n"
            "c = LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=1, "
            "processes=True, dashboard_address=':0')\n"
            "print(c.scheduler_address, flush=True)\nsys.stdin.read()\nc.close()\n")

    def __init__(self, n: int):
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE, str(n)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise SystemExit("the LocalCluster did not start")

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _comparable(results) -> list:
    rows = [r.to_dict() for r in results]
    for r in rows:
        r.pop("seconds")
    return rows


def _grade(folder, **kw):
    return grading.grade([folder], seeds=[SEED], timeout=120, cell_timeout=20, **kw)


# ---------------------------------------------------------------------------------------
# Classes
# ---------------------------------------------------------------------------------------
def _templates(tmp: Path) -> list[Path]:
    from grading_students import make_class

    make_class(tmp / "sample", mistakes=True)
    return [p for s in sorted((tmp / "sample").iterdir()) if s.name not in SLOW
            for p in s.glob("*.ipynb")]


def make_scale_class(folder: Path, size: int, tmp: Path) -> dict:
    t01 = _templates(tmp)
    other = {nb: (build.solution_paths(ROOT, [nb])[0],
                  ROOT / "notebooks" / build.solution_paths(ROOT, [nb])[0].name)
             for nb in ("03", "08")}
    kinds: dict[str, int] = {}
    for i in range(size):
        if i % 10 in (8, 9):
            nb = "03" if i % 10 == 8 else "08"
            honest = (i // 10) % 2 == 0
            src = other[nb][0 if honest else 1]
            kind = f"{nb} {'honest' if honest else 'empty'}"
        else:
            src = t01[i % len(t01)]
            kind = f"01 {src.parent.name}"
        d = folder / f"s{i:04d}"
        d.mkdir(parents=True)
        shutil.copy(src, d / src.name)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def make_red_team(folder: Path) -> list[str]:
    from grading_students import FWD, STEP, TORCH_RNN, _cell, load
    from test_red_team import (
        _ADDED_HELPER,
        _CALLS_HELPER,
        _IMPORTED_SEQ,
        _SETUP_FORWARD,
        _SETUP_SEQ,
        _SHIPPED_STEP,
        _answered,
    )

    sol, stu = load()
    right = {g: _cell(sol, g + "_code").source for g in (STEP, FWD)}

    def answered(step=None, fwd=None, added=None):
        return _answered(stu, step, fwd, added)

    cases = {"yan": answered(_SHIPPED_STEP.format(name="rnn_step_forward")),
             "zed": answered(fwd=TORCH_RNN.format(name="rnn_forward")),
             "sam": answered(_SETUP_FORWARD, _SETUP_SEQ),
             "ida": answered(right[STEP], _IMPORTED_SEQ),
             "ada": answered(right[STEP], _CALLS_HELPER, added=_ADDED_HELPER),
             "hal": answered(right[STEP], right[FWD])}
    for name, nb in cases.items():
        (folder / name).mkdir(parents=True)
        nbformat.write(nb, str(folder / name / "01_unrolling_an_rnn.ipynb"))
    return sorted(cases)


# ---------------------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------------------
class Killer:
    """Kills (SIGKILL) one worker that is grading, once ``at`` submissions are done."""

    def __init__(self, address: str, at: int):
        from dask.distributed import Client

        self.client = Client(address, timeout="30s", set_as_default=False)
        self.pids, self.at, self.killed = self.client.run(os.getpid), at, None
        self.lines: list[str] = []

    def log(self, line: str) -> None:
        self.lines.append(line)
        done = int(line[1:].split("/", 1)[0])
        if self.killed is None and done >= self.at:
            busy = [(w, k) for w, k in self.client.processing().items() if k and w in self.pids]
            if busy:
                w, keys = busy[0]
                os.kill(self.pids[w], signal.SIGKILL)
                self.killed = {"worker": w, "after_done": done, "tasks_on_it": len(keys)}
                print(f"killed worker {w} after {done} done ({len(keys)} task(s) on it)",
                      flush=True)

    def close(self):
        self.client.close()


def _route(name, fn) -> tuple[list, dict]:
    cpu0, t0 = _cpu(), time.perf_counter()
    res = fn()
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    n = len(res)
    return res, {"route": name, "submissions": n, "wall_s": round(wall, 1),
                 "cpu_s": round(cpu, 1), "per_minute": round(60 * n / wall, 2),
                 "cpu_s_per_submission": round(cpu / n, 2)}


def part_scale(tmp: Path, size: int, workers: int) -> dict:
    folder = tmp / "scale"
    kinds = make_scale_class(folder, size, tmp)
    print(f"scale: {size} submissions {kinds}", flush=True)
    local, rl = _route(f"--jobs {workers}", lambda: _grade(folder, jobs=workers))
    print("jobs", rl, flush=True)
    stats = grading_cluster.Stats()
    run_jobs = grading_cluster.run_jobs
    cluster = Cluster(workers)
    killer = Killer(cluster.address, size // 2)

    def with_stats(jobs_list, route, **kw):
        return run_jobs(jobs_list, route, stats=stats, **kw)

    grading_cluster.run_jobs = with_stats
    try:
        cpu0, t0 = _cpu(), time.perf_counter()
        remote = _grade(folder, cluster=cluster.address, log=killer.log)
        wall = time.perf_counter() - t0
        killer.close()
        cluster.close()  # its CPU (workers and their grading processes) counts once it exits
        cpu = _cpu() - cpu0
    finally:
        grading_cluster.run_jobs = run_jobs
    n = len(remote)
    rc = {"route": f"--cluster (LocalCluster of {workers}, one worker killed)",
          "submissions": n, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
          "per_minute": round(60 * n / wall, 2), "cpu_s_per_submission": round(cpu / n, 2)}
    print("cluster", rc, flush=True)
    same = _comparable(remote) == _comparable(local)
    files = [r.file for r in remote]
    return {"size": size, "workers": workers, "class": kinds, "jobs": rl, "cluster": rc,
            "ratio_cluster_to_jobs": round(rc["per_minute"] / rl["per_minute"], 3),
            "killed": killer.killed, "results_per_submission": sorted(set(
                stats.received.values())), "duplicates_ignored": stats.duplicates,
            "every_submission_once": len(files) == len(set(files)) == size,
            "max_in_flight": stats.max_in_flight,
            "cluster_failures": sum("the cluster could not grade" in r.problem for r in remote),
            "same_grades_as_jobs": same,
            "differing": [x["file"] for x, y in zip(_comparable(local), _comparable(remote))
                          if x != y][:20],
            "problems": sorted({r.problem.split(":")[0] for r in remote if r.problem}),
            "progress_last_line": killer.lines[-1] if killer.lines else ""}


def _stand_in(job, timeout):
    from course_utils.tooling.grading.grading_reports import ExerciseResult, SubmissionResult

    Path(job.path).read_bytes()
    return SubmissionResult(job.display, job.student, job.notebook,
                            [ExerciseResult.of(e, "passed") for e in job.entries], 0.01)


def part_memory(tmp: Path, sizes: list[int], workers: int) -> dict:
    sol = build.solution_paths(ROOT, ["01"])[0]
    stu = ROOT / "notebooks" / sol.name
    out = {}
    cluster = Cluster(workers)
    real_isolated, run_jobs = grading._grade_isolated, grading_cluster.run_jobs
    seen: dict = {}

    def measured(jobs_list, route, **kw):
        seen["entry"] = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        res = run_jobs(jobs_list, route, **kw)
        seen["peak"] = tracemalloc.get_traced_memory()[1]
        seen["exit"] = tracemalloc.get_traced_memory()[0]
        return res

    grading._grade_isolated, grading_cluster.run_jobs = _stand_in, measured
    try:
        for n in [4, *sizes]:  # the first, not recorded, imports what a run needs
            folder = tmp / f"mem{n}"
            for i in range(n):
                d = folder / f"m{i:05d}"
                d.mkdir(parents=True, exist_ok=True)
                shutil.copy(sol if i % 2 else stu, d / sol.name)
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            t0 = time.perf_counter()
            res = _grade(folder, cluster=cluster.address)
            wall = time.perf_counter() - t0
            kept = tracemalloc.get_traced_memory()[0]
            results_bytes = len(json.dumps([r.to_dict() for r in res]))
            del res
            tracemalloc.stop()
            row = {"submissions": n, "wall_s": round(wall, 1),
                   "job_list_bytes": seen["entry"] - before,
                   "peak_during_cluster_run_over_entry_bytes": seen["peak"] - seen["entry"],
                   "results_kept_bytes": seen["exit"] - seen["entry"],
                   "results_json_bytes": results_bytes,
                   "after_grade_bytes": kept - before,
                   "submission_bytes_total": sum(p.stat().st_size
                                                 for p in folder.rglob("*.ipynb"))}
            row["peak_beyond_results_bytes"] = (row["peak_during_cluster_run_over_entry_bytes"]
                                                - row["results_kept_bytes"])
            if n != 4 or 4 in sizes:
                out[str(n)] = row
            print("memory", row, flush=True)
            shutil.rmtree(folder)
    finally:
        grading._grade_isolated, grading_cluster.run_jobs = real_isolated, run_jobs
        cluster.close()
    return {"workers": workers, "grader": "stand-in (a passing result at once)",
            "sizes": out}


def part_same(tmp: Path, workers: int) -> dict:
    from grading_students import make_class

    out = {}
    make_class(tmp / "same_class", mistakes=True)
    students = make_red_team(tmp / "same_red")
    for name, folder in (("sample_class", tmp / "same_class"), ("red_team", tmp / "same_red")):
        local, rl = _route(f"--jobs {workers}", lambda f=folder: _grade(f, jobs=workers))
        def on_cluster(f=folder):
            cluster = Cluster(workers)  # started and stopped inside: its CPU counts
            try:
                return _grade(f, cluster=cluster.address)
            finally:
                cluster.close()

        remote, rc = _route(f"--cluster (LocalCluster of {workers}, started for the run)",
                            on_cluster)
        a, b = _comparable(local), _comparable(remote)
        out[name] = {"submissions": len(remote), "identical_but_for_timings": a == b,
                     "differing": [x["file"] for x, y in zip(a, b) if x != y],
                     "scores": {r.student: [r.total, r.max_total] for r in remote},
                     "jobs": rl, "cluster": rc}
        print(name, out[name], flush=True)
    out["red_team"]["students"] = students
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=["scale", "memory", "same"],
                    choices=["scale", "memory", "same"])
    ap.add_argument("--size", type=int, default=500, help="submissions in the scale class")
    ap.add_argument("--memory-sizes", type=int, nargs="+", default=[100, 500, 1000])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for part in args.parts:
            t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            if part == "scale":
                r = part_scale(tmp, args.size, args.workers)
            elif part == "memory":
                r = part_memory(tmp, args.memory_sizes, args.workers)
            else:
                r = part_same(tmp, args.workers)
            r["started"] = t0
            r["load_average_at_end"] = round(os.getloadavg()[0], 1)
            try:  # the other parts as the file has them now
                results = provenance.load_results("grading_cluster")["results"]
            except (FileNotFoundError, ValueError):
                results = {}
            results[part] = r
            path = provenance.save_results("grading_cluster", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
