"""The course's time budgets, measured and recorded with the machine's load (tests assert
work done, never seconds: a busy machine must not fail the test command).

Three budgets (CONTRIBUTING.md, "Budget"):

- ``notebooks``: every solution notebook executes in under 90 s on a 2-core CPU. Recorded per
  notebook: wall seconds and the CPU seconds of its kernel (user + sys of the kernel process,
  which a loaded machine inflates much less than the wall time);
- ``explorers``: an explorer redraws "well under a second": CPU seconds of
  ``plot_explorer()`` + one canvas draw, best of ``--repeats``;
- ``progress``: ``course progress`` reads the student's notebooks in well under a second:
  CPU seconds of ``progress.collect(notebooks/)``, best of ``--repeats``.

Results go to ``benchmarks/results/time_budgets.json``; a part not measured in this run is
kept from the previous file. tests/test_project.py checks that the recorded numbers are
within the budgets.

    nice -n 10 .venv-dev/bin/python benchmarks/time_budgets.py                  # all
    nice -n 10 .venv-dev/bin/python benchmarks/time_budgets.py --only explorers progress
    nice -n 10 .venv-dev/bin/python benchmarks/time_budgets.py --notebooks 05 07
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_BUDGET_S = 90
EXPLORER_BUDGET_S = 1.0
PROGRESS_BUDGET_S = 1.0
PARTS = ("notebooks", "explorers", "progress")


CPU_CELL = "import os as _os\n_t = _os.times()\nprint('kernel-cpu', _t.user + _t.system)"


def notebooks(names: list[str]) -> dict:
    """Execute each solution notebook once; its kernel's CPU seconds (asked of the kernel
    in one more cell at the end) and the wall seconds."""
    import nbformat

    from course_utils.tooling.publish import build

    out = {}
    for path in build.solution_paths(ROOT, names or None):
        nb = nbformat.read(str(path), as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(CPU_CELL))
        load, t0 = os.getloadavg()[0], time.perf_counter()
        build.execute_notebook(nb, path.parent)
        wall = time.perf_counter() - t0
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        out[path.stem] = {"wall_s": round(wall, 1),
                          "kernel_cpu_s": round(float(text.split()[-1]), 1),
                          "load_average_before": round(load, 2)}
        print(path.stem, out[path.stem], flush=True)
    return {"budget_s": NOTEBOOK_BUDGET_S, "entries": out}


def explorers(repeats: int) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from course_utils.lessons import cliff, memory, truncation, unrolling, vanishing

    modules = {"01": unrolling, "04": vanishing, "05": truncation, "06": cliff, "07": memory}
    out = {}
    for lesson, module in modules.items():
        module.plot_explorer()  # warm up: imports, fonts
        plt.close("all")
        best = float("inf")
        for _ in range(repeats):
            c0 = time.process_time()
            axes = np.atleast_1d(module.plot_explorer())
            axes[0].figure.canvas.draw()
            best = min(best, time.process_time() - c0)
            plt.close("all")
        out[lesson] = {"cpu_s": round(best, 3), "load_average": round(os.getloadavg()[0], 2)}
        print(lesson, out[lesson], flush=True)
    return {"budget_s": EXPLORER_BUDGET_S, "repeats": repeats, "entries": out}


def progress(repeats: int) -> dict:
    from course_utils.tooling.student import progress as prog

    best = float("inf")
    for _ in range(repeats):
        c0 = time.process_time()
        prog.collect(ROOT / "notebooks")
        best = min(best, time.process_time() - c0)
    out = {"cpu_s": round(best, 3), "load_average": round(os.getloadavg()[0], 2)}
    print("progress", out, flush=True)
    return {"budget_s": PROGRESS_BUDGET_S, "repeats": repeats, "entries": {"notebooks": out}}


def main() -> None:
    from course_utils import provenance

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--notebooks", nargs="*", default=[], help="e.g. 05 07 (default: all)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    try:
        results = provenance.load_results("time_budgets")["results"]
    except FileNotFoundError:
        results = {}
    if "notebooks" in args.only:
        new = notebooks(args.notebooks)
        old = results.get("notebooks", {}).get("entries", {})
        results["notebooks"] = {**new, "entries": {**old, **new["entries"]}}
    if "explorers" in args.only:
        results["explorers"] = explorers(args.repeats)
    if "progress" in args.only:
        results["progress"] = progress(args.repeats)
    print(provenance.save_results("time_budgets", results))


if __name__ == "__main__":
    main()
