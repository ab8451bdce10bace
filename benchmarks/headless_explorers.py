"""Headless runs of the notebooks with explorers: how many hang, with which executor.

A run *hangs* when one of its cells waits out the per-cell time-out (nbclient either raises
``CellTimeoutError`` or, after the wait, carries on as if nothing happened). Two executors:

- ``course``: the course's (``course_utils.tooling.headless.notebook_client`` on an
  ``AsyncKernelManager``, as ``build.execute_notebook`` uses it): nbclient's stand-in for the
  Output widget without its echo on the shell channel;
- ``nbclient``: nbclient's own ``NotebookClient`` as nbconvert, papermill and nbgrader use it;
- ``nbconvert``: the tool itself, ``jupyter nbconvert --execute --to notebook`` (nbclient's
  own stand-in: only the explorers' own code keeps it from echoing);
- ``nbgrader``: ``nbgrader autograde`` of an honest submission (the solution) in a course
  folder with the guide's ``nbgrader_config.py`` (``nbgrader_hidden.configure``: the
  course's stand-in), one course folder per parallel job.

Several clients, comma-separated (``--client nbconvert,nbgrader``), are interleaved run by
run; each keeps its own entry.

Two workloads:

- ``notebooks`` (default): every solution notebook with an ``explorer`` cell, executed whole,
  ``--runs`` times each;
- ``output-widget``: the smallest notebook that shows the race: one cell prints ``--lines``
  lines into an ``ipywidgets.Output``, executed ``--runs`` times.

``--load K`` keeps K busy-loop processes running meanwhile (the hangs seen before came on a
busy machine). Results go to ``benchmarks/results/headless_explorers.json``, one entry per
(workload, executor, load), kept across invocations.

    .venv-dev/bin/python benchmarks/headless_explorers.py --client course --runs 20 --jobs 2
    .venv-dev/bin/python benchmarks/headless_explorers.py --workload output-widget --client nbclient --runs 40
    nice -n 10 .venv-dev/bin/python benchmarks/headless_explorers.py --client nbconvert,nbgrader \
        --runs 10 --timeout 300
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_WIDGET_CELL = """import ipywidgets as w
out = w.Output()
display(out)
for i in range({lines}):
    with out:
        print(i)
"""


def explorer_notebooks() -> list[Path]:
    """The solution notebooks with at least one cell tagged ``explorer``."""
    found = []
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if any("explorer" in c.get("metadata", {}).get("tags", []) for c in cells):
            found.append(path)
    return found


def run_once(job: tuple[str, str, int, int]) -> dict:
    """Execute one notebook (a path, or the output-widget cell) once; per-cell seconds."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    from course_utils.tooling import headless

    target, client_name, timeout, lines = job
    if target == "output-widget":
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            OUTPUT_WIDGET_CELL.format(lines=lines))])
        cwd = ROOT
    else:
        nb, cwd = nbformat.read(target, as_version=4), Path(target).parent
    seconds: dict[int, float] = {}
    started: dict[int, float] = {}

    def start(cell, cell_index, **_):
        started[cell_index] = time.monotonic()

    def done(cell, cell_index, **_):
        seconds[cell_index] = time.monotonic() - started[cell_index]

    t0, error = time.monotonic(), None
    if client_name == "course":
        client = headless.notebook_client(nb, timeout=timeout, kernel_name="python3",
                                          resources={"metadata": {"path": str(cwd)}})
        note = client.on_cell_execute

        def start_and_note(cell, cell_index, **kw):
            note(cell=cell, cell_index=cell_index, **kw)
            start(cell, cell_index)

        client.on_cell_execute = start_and_note
    else:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd)}})

        def start_and_note(cell, cell_index, **kw):
            client.running_cell = cell_index
            start(cell, cell_index)

        client.on_cell_execute = start_and_note
    client.on_cell_executed = done
    try:
        client.execute()
    except CellTimeoutError:
        error = f"CellTimeoutError in cell {client.running_cell}"
    except Exception as exc:  # noqa: BLE001 - recorded, not hidden
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    slowest = max(seconds.items(), key=lambda kv: kv[1], default=(None, 0.0))
    hung = (error or "").startswith("CellTimeoutError") or slowest[1] >= timeout - 0.5
    return {"notebook": Path(target).name if target != "output-widget" else target,
            "seconds": round(time.monotonic() - t0, 1), "hung": hung, "error": error,
            "slowest_cell": slowest[0], "slowest_cell_seconds": round(slowest[1], 1)}


def run_in_subprocess(job: tuple[str, str, int, int]) -> dict:
    """:func:`run_once` in a fresh Python process (one bad run cannot take the others down)."""
    target, client_name, timeout, lines = job
    proc = subprocess.run([sys.executable, __file__, "--one", target, client_name, str(timeout),
                           str(lines)], capture_output=True, text=True)
    out = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and out:
        return json.loads(out[-1])
    return {"notebook": Path(target).name, "seconds": None, "hung": False,
            "error": f"the run's process exited with {proc.returncode}: "
                     f"{(proc.stderr.strip().splitlines() or [''])[-1][:200]}",
            "slowest_cell": None, "slowest_cell_seconds": None}


# What the tools say when a cell waits out its time-out (nbclient's exception, its message,
# and the error output nbgrader's Execute records in the cell); a kernel that does not start
# in time is an other error, not a cell's time-out.
TIMED_OUT = ("CellTimeoutError", "A cell timed out while it was being executed",
             "No reply from kernel before timeout")
NBGRADER_CONFIG = """c = get_config()
c.CourseDirectory.course_id = "bptt"
c.Execute.timeout = {timeout}
from course_utils.tooling.publish.nbgrader_hidden import configure
configure(c)
"""
COURSES: queue.Queue = queue.Queue()  # prepared nbgrader course folders, one per job


def _tool_env() -> dict:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("COURSE_GRADING", None)
    return env


def prepare_nbgrader(targets: list[str], timeout: int, jobs: int) -> None:
    """One course folder per job: the guide's config, one assignment per notebook."""
    from course_utils.tooling.publish import build

    first = Path(tempfile.mkdtemp(prefix="headless-nbgrader-"))
    (first / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(timeout=timeout))
    names = [Path(t).stem for t in targets]
    build.write_nbgrader_source(first / "nbsource", ROOT, names=names, log=lambda m: None)
    for t in targets:
        name = Path(t).name
        week = first / "source" / f"week{name[:2]}"
        week.mkdir(parents=True)
        shutil.copy(first / "nbsource" / name, week / name)
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment",
                        f"week{name[:2]}", "--force"], cwd=first, env=_tool_env(),
                       capture_output=True, check=True)
    COURSES.put(first)
    for j in range(1, jobs):
        other = Path(f"{first}-{j}")
        shutil.copytree(first, other)
        COURSES.put(other)


def run_tool(job: tuple[str, str, int, int]) -> dict:
    """One run through the tool itself (``nbconvert`` or ``nbgrader``), in its own process;
    a time-out is what the tool reports (nbconvert fails with ``CellTimeoutError``,
    nbgrader records that error in the autograded notebook and goes on)."""
    target, client_name, timeout, _ = job
    name = Path(target).name
    load = round(os.getloadavg()[0], 1)
    t0 = time.monotonic()
    if client_name == "nbconvert":
        with tempfile.TemporaryDirectory() as out:
            proc = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute",
                                   "--to", "notebook", "--output-dir", out,
                                   f"--ExecutePreprocessor.timeout={timeout}", target],
                                  capture_output=True, text=True, env=_tool_env())
            text = proc.stderr
    else:
        course = COURSES.get()
        try:
            student = f"s{time.monotonic_ns()}"
            week = f"week{name[:2]}"
            sub = course / "submitted" / student / week
            sub.mkdir(parents=True)
            shutil.copy(course / "nbsource" / name, sub / name)
            proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", week,
                                   "--student", student, "--force"], cwd=course,
                                  capture_output=True, text=True, env=_tool_env())
            graded = course / "autograded" / student / week / name
            text = proc.stderr + (graded.read_text() if graded.exists() else "")
        finally:
            COURSES.put(course)
    seconds = time.monotonic() - t0
    hits = [ln.strip()[:300] for ln in text.splitlines() if any(m in ln for m in TIMED_OUT)]
    hung = bool(hits)
    failed = proc.returncode != 0 and not hung
    tail = [ln.strip()[:300] for ln in proc.stderr.splitlines() if ln.strip()][-6:]
    return {"notebook": name, "seconds": round(seconds, 1), "hung": hung,
            "error": (f"exit {proc.returncode}: " + (tail or [""])[-1][:200])
            if failed else ("time-out" if hung else None),
            "detail": (hits[:3] + tail) if hung or failed else None,
            "slowest_cell": None, "slowest_cell_seconds": None, "load_average_1min": load}


def _busy() -> None:
    while True:
        pass


def _save(key: str, args, runs: list[dict], wall: float, client: str | None = None) -> None:
    """Write (or update) this invocation's entry in the results file."""
    from course_utils import provenance

    path = provenance.RESULTS_DIR / "headless_explorers.json"
    entries = json.loads(path.read_text())["results"]["entries"] if path.exists() else {}
    loads = [r["load_average_1min"] for r in runs if r.get("load_average_1min") is not None]
    entries[key] = {"workload": args.workload, "client": client or args.client, "load": args.load,
                    "runs": len(runs), "planned_runs": args.runs * args.n_targets,
                    "runs_with_load_average_over_2": sum(x > 2 for x in loads),
                    "nice": os.nice(0),
                    "hangs": sum(r["hung"] for r in runs),
                    "other_errors": sum(bool(r["error"]) and not r["hung"] for r in runs),
                    "per_cell_timeout_s": args.timeout, "jobs": args.jobs,
                    "lines": args.lines if args.workload == "output-widget" else None,
                    "notebooks": sorted({r["notebook"] for r in runs}),
                    "wall_seconds": round(wall),
                    "load_average_1min": round(os.getloadavg()[0], 1),
                    "median_run_seconds": sorted(r["seconds"] or 0 for r in runs)[len(runs) // 2],
                    "hung_runs": [r for r in runs if r["hung"]],
                    "failed_runs": [r for r in runs if r["error"] and not r["hung"]]}
    provenance.save_results("headless_explorers", {"entries": entries})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--client", default="course",
                    help="course, nbclient, nbconvert or nbgrader (comma-separated: interleaved)")
    ap.add_argument("--workload", choices=["notebooks", "output-widget"], default="notebooks")
    ap.add_argument("--runs", type=int, default=20, help="runs of each notebook")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    ap.add_argument("--lines", type=int, default=300, help="output-widget: lines printed")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed at once")
    ap.add_argument("--load", type=int, default=0, help="busy-loop processes meanwhile")
    ap.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 07")
    ap.add_argument("--tag", default="", help="appended to the results' keys (a second part)")
    args = ap.parse_args(argv)

    if args.workload == "notebooks":
        targets = [str(p) for p in explorer_notebooks()
                   if not args.only or p.name[:2] in args.only]
    else:
        targets = ["output-widget"]
    args.n_targets = len(targets)
    clients = args.client.split(",")
    jobs = [(t, c, args.timeout, args.lines) for _ in range(args.runs) for t in targets
            for c in clients]
    if "nbgrader" in clients:
        prepare_nbgrader(targets, args.timeout, args.jobs)
    ctx = mp.get_context("spawn")
    hogs = [ctx.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for h in hogs:
        h.start()
    t0, runs = time.monotonic(), []
    def key(client):
        k = f"{args.workload}/{client}/load{args.load}"
        k = k + "/only" + "-".join(args.only) if args.only else k
        return k + (f"/{args.tag}" if args.tag else "")

    def one(job):
        r = (run_tool if job[1] in ("nbconvert", "nbgrader") else run_in_subprocess)(job)
        return dict(r, client=job[1])

    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for r in pool.map(one, jobs):
                runs.append(r)
                flag = "HUNG" if r["hung"] else ("error" if r["error"] else "ok")
                print(f"{len(runs):4d}/{len(jobs)} {r['client']:9} {r['notebook']:36} "
                      f"{r['seconds'] or 0:6.1f} s {flag} {r['error'] or ''}", flush=True)
                mine = [x for x in runs if x["client"] == r["client"]]
                _save(key(r["client"]), args, mine, time.monotonic() - t0, r["client"])
    finally:
        for h in hogs:
            h.terminate()
    hangs = sum(r["hung"] for r in runs)
    errors = sum(bool(r["error"]) and not r["hung"] for r in runs)
    print(f"{args.client} / {args.workload} / load {args.load}: {hangs} hangs and {errors} "
          f"other errors in {len(runs)} runs ({time.monotonic() - t0:.0f} s)")
    return 1 if hangs else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:  # one run, in its own process (run_in_subprocess)
        target, client_name, timeout, lines = sys.argv[2:6]
        print(json.dumps(run_once((target, client_name, int(timeout), int(lines)))))
        raise SystemExit(0)
    raise SystemExit(main())
