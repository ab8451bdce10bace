"""Benchmark: a term's week for a class of 60 with ``course grade --roster``.

Writes a class of 60 students on a roster (one notebook each, notebook 01 by default): a
quarter honest (the solution notebook), a quarter empty (the student notebook), a
quarter with a wrong step (``np.sin`` for ``np.tanh``), a quarter who moved their answers
into ``01_….updated.ipynb`` next to a stale copy; 3 more on the roster submit nothing.
Then, as INSTRUCTORS.md's instructor path does, it grades the class with ``--roster
--deadline --late-penalty --jobs J`` in a subprocess, then regrades two students into the
same ``--out``, and records for each step the wall time and the CPU time of the grading
processes (user + system, children included), and checks the gradebook (63 rows, the
expected totals) and that the regrade changed only those two students' rows.

    nice -n 10 python benchmarks/grading_class_60.py            # ~4 min on 2 busy cores
    nice -n 10 python benchmarks/grading_class_60.py --students 8

Wall times depend on the machine's load; CPU seconds per submission compare across runs.
Writes benchmarks/results/grading_class_60.json (see course_utils.provenance).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from course_utils import provenance  # noqa: E402

KINDS = ("honest", "empty", "wrong", "moved")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def make_class(folder: Path, n: int, notebook: str) -> dict[str, str]:
    """``{student: kind}``; writes ``folder/<student>/<notebook>`` (and copies)."""
    sol = (ROOT / "solutions" / notebook).read_text()
    stu = (ROOT / "notebooks" / notebook).read_text()
    wrong = sol.replace("np.tanh", "np.sin")
    assert wrong != sol
    kinds = {}
    for i in range(n):
        who, kind = f"s{i:03d}", KINDS[i % len(KINDS)]
        d = folder / who
        d.mkdir(parents=True)
        if kind == "moved":
            (d / notebook).write_text(stu)
            old = time.time() - 3600
            os.utime(d / notebook, (old, old))
            (d / notebook.replace(".ipynb", ".updated.ipynb")).write_text(sol)
        else:
            (d / notebook).write_text({"honest": sol, "empty": stu, "wrong": wrong}[kind])
        kinds[who] = kind
    return kinds


def grade(args: list[str]) -> tuple[dict, float, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "course_utils", "grade", *args], env=env,
                          capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return proc, round(wall, 1), round(cpu, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=60)
    ap.add_argument("--notebook", default="01_unrolling_an_rnn.ipynb")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cell-timeout", type=float, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kinds = make_class(tmp / "submitted", args.students, args.notebook)
        roster = ["id,name,extension"] + [f"{s},Student {s}," for s in kinds]
        roster += [f"absent{k},Absent {k}," for k in range(3)]
        (tmp / "students.csv").write_text("\n".join(roster) + "\n")
        (tmp / "week1.txt").write_text(args.notebook[:2] + "\n")
        common = ["--assignment", str(tmp / "week1.txt"), "--jobs", str(args.jobs),
                  "--seed", "4242", "--cell-timeout", str(args.cell_timeout),
                  "--out", str(tmp / "grades")]
        _, wall, cpu = grade([str(tmp / "submitted"), "--roster", str(tmp / "students.csv"),
                              "--deadline", "2099-01-01T23:59", "--late-penalty", "10",
                              *common])
        data = json.loads((tmp / "grades" / "grades.json").read_text())
        rows = {r["id"]: r for r in data["gradebook"]["students"]}
        top = data["gradebook"]["max_total"]
        want = {"honest": top, "moved": top, "empty": 0, "wrong": None}
        assert len(rows) == args.students + 3, len(rows)
        for s, kind in kinds.items():
            if want[kind] is not None:
                assert rows[s]["total"] == want[kind], (s, kind, rows[s])
            else:
                assert rows[s]["total"] < top, (s, kind, rows[s])
        assert all(rows[f"absent{k}"]["notebooks"][args.notebook]["status"] == "missing"
                   for k in range(3))
        moved = [s for s, k in kinds.items() if k == "moved"]
        assert all(rows[s]["notebooks"][args.notebook]["status"] == "several candidates"
                   for s in moved)
        graded = len(data["submissions"])
        first = {"wall_s": wall, "cpu_s": cpu, "submissions": graded,
                 "gradebook_rows": len(rows), "per_minute": round(60 * graded / wall, 1),
                 "cpu_s_per_submission": round(cpu / graded, 2)}
        print("class", first, flush=True)
        before = {s["student"]: s for s in data["submissions"]}
        two = sorted(kinds)[:2]
        _, wall2, cpu2 = grade([*(str(tmp / "submitted" / s) for s in two), *common])
        after = {s["student"]: s for s in json.loads(
            (tmp / "grades" / "grades.json").read_text())["submissions"]}
        assert set(after) == set(before)
        changed = sorted(s for s in before if after[s] != before[s])
        assert changed == two, changed
        regrade = {"wall_s": wall2, "cpu_s": cpu2, "students": two,
                   "rows_changed": changed, "rows_kept": len(before) - len(changed)}
        print("regrade", regrade, flush=True)
    results = {"notebook": args.notebook, "students": args.students, "on_roster_absent": 3,
               "kinds": {k: sum(v == k for v in kinds.values()) for k in KINDS},
               "jobs": args.jobs, "cell_timeout": args.cell_timeout, "nice": os.nice(0),
               "class": first, "regrade_two": regrade}
    path = provenance.save_results("grading_class_60", results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
