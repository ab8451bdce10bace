"""Forward + backward of one tanh RNN layer in float64: naive numpy, fast numpy, torch.nn.RNN.

Usage: python benchmarks/rnn_bptt_speed.py [--repeats R] [--threads K [K ...]]

"naive" runs the step function at every time step (forward and backward); "fast" hoists
the input projection (forward) and the weight gradients (backward) out of the time loop
(course_utils.maths.rnn.rnn_forward_fast / rnn_backward_fast). torch is nn.RNN forward plus
autograd backward. Times are the best of R runs (wall clock, milliseconds), with the CPU
time of that run (the three take turns, so load from other processes hits all alike);
ratios are relative to torch (below 1 = faster than torch). The target is
fast/torch ≤ 1.2 at N=32, T=64, D=H=128 on a 2-core CPU.

Each thread count K (default: 1, then 2) runs in a fresh process with numpy's BLAS and
torch both limited to K threads (``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` must be set
before numpy starts). The tables are printed and written to
``benchmarks/results/rnn_bptt_speed.json`` (``course_utils.provenance``), which notebook 03
quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

SIZES = [  # (N, T, D, H)
    (32, 64, 128, 128),
    (8, 64, 128, 128),
    (32, 256, 128, 128),
    (32, 64, 64, 256),
    (64, 32, 32, 64),
]


def measure(threads: int, repeats: int, min_time: float) -> list[dict]:
    """One row per size: best wall and its CPU time (ms) of naive, fast and torch."""
    import torch

    from course_utils.lessons.bptt_timing import time_bptt

    torch.set_num_threads(threads)
    rows = []
    for N, T, D, H in SIZES:
        r = time_bptt(N, T, D, H, repeats=repeats, min_time_s=min_time)
        row = {"N": N, "T": T, "D": D, "H": H}
        for name, (wall, cpu) in r.items():
            row[f"{name}_ms"] = 1e3 * wall
            row[f"{name}_cpu_ms"] = 1e3 * cpu
        rows.append(row)
    return rows


def print_table(threads: int, rows: list[dict]) -> None:
    print(f"== numpy BLAS and torch on {threads} thread(s)")
    head = (f"{'N':>4} {'T':>4} {'D':>4} {'H':>4} | {'naive ms':>9} {'fast ms':>8} {'torch ms':>9} | "
            f"{'naive/torch':>11} {'fast/torch':>10} {'naive/fast':>10} | {'fast cpu/torch cpu':>18}")
    print(head)
    print("-" * len(head))
    for r in rows:
        nw, fw, tw = r["naive_ms"], r["fast_ms"], r["torch_ms"]
        print(f"{r['N']:>4} {r['T']:>4} {r['D']:>4} {r['H']:>4} | {nw:>9.2f} {fw:>8.2f} {tw:>9.2f} | "
              f"{nw / tw:>11.2f} {fw / tw:>10.2f} {nw / fw:>10.2f} | "
              f"{r['fast_cpu_ms'] / r['torch_cpu_ms']:>18.2f}")
    print()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="at least this many runs of each")
    ap.add_argument("--min-time", type=float, default=3.0,
                    help="keep taking turns for at least this many seconds per size")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                    help="thread counts to measure, each in a fresh process")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:  # measure one thread count and hand the rows to the parent as JSON
        print(json.dumps(measure(args.threads[0], args.repeats, args.min_time)))
        return
    import numpy as np
    import torch

    from course_utils import provenance

    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, float64, best of >= {args.repeats} runs and "
          f">= {args.min_time:g} s per size\n")
    results = {"setup": {"sizes": [list(s) for s in SIZES], "repeats": args.repeats,
                         "min_time_s": args.min_time, "dtype": "float64",
                         "timing": "best wall-clock time of the runs, and the CPU time of that run",
                         "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else os.cpu_count(),
                         "load_average_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg")
                         else None},
               "by_threads": {}}
    for k in args.threads:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(k), OMP_NUM_THREADS=str(k),
                   MKL_NUM_THREADS=str(k))
        out = subprocess.run([sys.executable, __file__, "--child", "--threads", str(k),
                              "--repeats", str(args.repeats), "--min-time", str(args.min_time)],
                             env=env, capture_output=True, text=True, check=True)
        rows = json.loads(out.stdout.strip().splitlines()[-1])
        results["by_threads"][str(k)] = rows
        print_table(k, rows)
    print("wrote", provenance.save_results("rnn_bptt_speed", results))


if __name__ == "__main__":
    main()
