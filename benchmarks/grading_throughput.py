"""Benchmark: how many submissions ``course grade`` grades per minute.

For each notebook (default 01, 03, 08) it writes ``--copies`` honest submissions (the
solution notebook) and as many empty ones (the student notebook), grades them with
``python -m course_utils grade --jobs J`` in a subprocess, checks the scores (honest:
full marks, empty: 0), and records the wall time, the CPU time of the grading processes
(user + system, children included) and submissions per minute. For notebook 01 it also
grades the class of sample submissions from ``tests/grading_students.py`` (issue 14's
twelve students and variants of their cheats) and records each student's score, and
grades the same class in the same run with nbgrader's ``autograde`` (the instructors'
guide's route: ``build --nbgrader-source``, ``generate_assignment``, the submissions in
``submitted/<student>/week01/``; the same time limit per cell), and prints and records
the ratio of the two throughputs (``ratio_to_nbgrader``: course grade's submissions per
minute over nbgrader's; above 1, course grade is faster).

    python benchmarks/grading_throughput.py                  # ~5 min on 2 busy cores
    python benchmarks/grading_throughput.py --notebooks 01 --copies 2 --jobs 2
    python benchmarks/grading_throughput.py --notebooks --jobs 2    # the class only

Wall times depend on the machine's load; CPU seconds per submission compare across runs.
Writes benchmarks/results/grading_throughput.json (see course_utils.provenance).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from course_utils import provenance  # noqa: E402
from course_utils.tooling.publish import build  # noqa: E402


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def grade(folder: Path, out: Path, jobs: int, cell_timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "course_utils", "grade", str(folder),
                           "--jobs", str(jobs), "--out", str(out), "--seed", "4242",
                           "--cell-timeout", str(cell_timeout)],
                          env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    subs = json.loads((out / "grades.json").read_text())["submissions"]
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "submissions": len(subs),
            "per_minute": round(60 * len(subs) / wall, 1),
            "cpu_s_per_submission": round(cpu / len(subs), 2),
            "scores": {s["student"]: [s["total"], s["max_total"]] for s in subs}}


NBGRADER_CONFIG = """c = get_config()
c.CourseDirectory.course_id = "bptt"
c.Execute.timeout = {timeout}
from course_utils.tooling.publish.nbgrader_hidden import configure
configure(c)
"""


def nbgrader_grade(class_dir: Path, work: Path, cell_timeout: float) -> dict:
    """Autograde the submissions of ``class_dir`` (``<student>/01_….ipynb``) with nbgrader,
    as INSTRUCTORS.md's route does; only ``autograde`` is timed."""
    import csv

    course = work / "nbgrader_course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(timeout=int(cell_timeout)))
    sol = build.solution_paths(ROOT, ["01"])[0]
    src = build.write_nbgrader_source(work / "nbsource", ROOT, names=["01"], log=lambda m: None)
    (course / "source" / "week01").mkdir(parents=True)
    shutil.copy(src[0], course / "source" / "week01" / sol.name)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("COURSE_GRADING", None)

    def nbgrader(*args, may_fail=False):
        proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0 and not may_fail:
            raise SystemExit(f"nbgrader {args[0]}: {proc.stderr[-2000:]}")
        return proc

    nbgrader("generate_assignment", "week01", "--force")
    students = sorted(d.name for d in class_dir.iterdir() if (d / sol.name).is_file())
    for s in students:
        d = course / "submitted" / s / "week01"
        d.mkdir(parents=True)
        shutil.copy(class_dir / s / sol.name, d / sol.name)
    cpu0, t0 = _children_cpu(), time.perf_counter()
    # autograde exits 1 when it cannot process a submission (the class has unreadable ones);
    # it grades the others, and says which it could not
    proc = nbgrader("autograde", "week01", "--force", may_fail=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    failed = sorted(set(re.findall(r"error processing assignment 'week01' for student '([^']+)'",
                                   proc.stderr)))
    nbgrader("export")
    scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(
        (course / "grades.csv").open()) if r["assignment"] == "week01"}
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "submissions": len(students),
            "per_minute": round(60 * len(students) / wall, 1),
            "cpu_s_per_submission": round(cpu / len(students), 2), "scores": scores,
            "not_processed": failed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", nargs="*", default=["01", "03", "08"])
    ap.add_argument("--copies", type=int, default=3, help="honest and empty copies each")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cell-timeout", type=float, default=20,
                    help="per call (the class has an infinite loop; default 20 s)")
    ap.add_argument("--no-class", action="store_true", help="skip the sample class of 01")
    ap.add_argument("--no-nbgrader", action="store_true",
                    help="do not grade the class with nbgrader too")
    args = ap.parse_args()
    results: dict = {"jobs": args.jobs, "copies": args.copies,
                     "cell_timeout": args.cell_timeout, "notebooks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for nb in args.notebooks:
            sol = build.solution_paths(ROOT, [nb])[0]
            folder = tmp / f"sub{nb}"
            for k in range(args.copies):
                for kind, src in (("honest", sol), ("empty", ROOT / "notebooks" / sol.name)):
                    d = folder / f"{kind}{k}"
                    d.mkdir(parents=True)
                    shutil.copy(src, d / sol.name)
            r = grade(folder, tmp / f"grades{nb}", args.jobs, args.cell_timeout)
            full = {s: t for s, (t, m) in r["scores"].items() if t == m and m > 0}
            assert set(full) == {f"honest{k}" for k in range(args.copies)}, r["scores"]
            results["notebooks"][nb] = r
            print(nb, {k: v for k, v in r.items() if k != "scores"}, flush=True)
        if not args.no_class:
            from grading_students import make_class

            expected = make_class(tmp / "class")
            r = grade(tmp / "class", tmp / "grades_class", args.jobs, args.cell_timeout)
            r["what"] = {s: what for s, (_, what) in expected.items()}
            results["class_01"] = r
            print("class", r, flush=True)
            if not args.no_nbgrader:
                nb = nbgrader_grade(tmp / "class", tmp, args.cell_timeout)
                results["nbgrader_class_01"] = nb
                print("nbgrader class", {k: v for k, v in nb.items() if k != "scores"},
                      flush=True)
                ratio = r["per_minute"] / nb["per_minute"]
                results["ratio_to_nbgrader"] = round(ratio, 2)
                print(f"course grade vs nbgrader autograde on the same class of "
                      f"{r['submissions']}: {r['per_minute']:.1f} vs {nb['per_minute']:.1f} "
                      f"submissions per minute, ratio {ratio:.2f} (--jobs {args.jobs}; "
                      f"nbgrader grades one at a time)", flush=True)
    path = provenance.save_results("grading_throughput", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
