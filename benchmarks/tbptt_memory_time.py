"""Memory and time of one forward+backward pass: full BPTT vs TBPTT vs checkpointing.

Quoted by notebook 05 (§7). Two measurements of memory:

1. in-process (as in the notebook): numpy ``tracemalloc`` peak (float64) and torch's
   peak bytes of tensors saved for backward (``profiling.SavedTensorTracker``, float32);
2. the peak resident memory of a fresh subprocess that runs one torch pass (Linux: the
   peak ``VmHWM`` is reset through ``/proc/self/clear_refs`` just before the pass, and the
   resident size ``VmRSS`` before it is subtracted): what the operating system sees,
   allocator overheads included.

Usage::

    .venv-dev/bin/python benchmarks/tbptt_memory_time.py            # T up to 6400
    .venv-dev/bin/python benchmarks/tbptt_memory_time.py --quick    # smaller, ~1 min
    .venv-dev/bin/python benchmarks/tbptt_memory_time.py --quick --backends torch  # what NB05 quotes

Times are CPU seconds (process time), one torch thread, minimum over ``--repeat`` runs.
Every number is also written to ``benchmarks/results/tbptt_memory_time.json``
(``course_utils.provenance``), which notebook 05 quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys
import numpy as np, torch
from course_utils.lessons import truncation_experiments
torch.set_num_threads(1)
method, T, N, D, H, k = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:7])
arrays = truncation_experiments._problem(T, N, D, H, 0, np.float32)
x, h0, Wxh, Whh, b, dh = (torch.from_numpy(a) for a in arrays)
params = [w.clone().requires_grad_(True) for w in (Wxh, Whh, b)]
truncation_experiments.torch_pass(method, x[:, :64], h0, params, dh[:, :64], k)  # warm-up, small
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS:")
truncation_experiments.torch_pass(method, x, h0, params, dh, k)
after = status("VmHWM:")
print(json.dumps({"rss_kb": after - before}))
"""


def rss_delta_mb(method, T, N, D, H, k):
    out = subprocess.run([sys.executable, "-c", CHILD, method, str(T), str(N), str(D), str(H),
                          str(k)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["rss_kb"] / 1024


def main(argv=None):
    from course_utils import provenance
    from course_utils.lessons import truncation_experiments
    from course_utils.maths import tbptt

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rss-only", action="store_true", help="only the subprocess RSS table")
    ap.add_argument("--backends", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"],
                    help="which in-process tables to measure (notebook 05 quotes torch's)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--N", type=int, default=32)
    ap.add_argument("--D", type=int, default=16)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--k", type=int, default=50)
    args = ap.parse_args(argv)
    Ts = [100, 400, 1600] if args.quick else [100, 400, 1600, 6400]
    kw = dict(N=args.N, D=args.D, H=args.H, k=args.k, repeat=args.repeat)
    print(f"N={args.N}, D={args.D}, H={args.H}, truncation k={args.k}, checkpoint segments √T\n")
    results = {"setup": {"N": args.N, "D": args.D, "H": args.H, "k": args.k, "Ts": Ts,
                         "repeat": args.repeat, "torch_threads": 1,
                         "load_average_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg")
                         else None}}
    for backend in () if args.rss_only else args.backends:
        rows = truncation_experiments.compare_memory_time(Ts, backend=backend, **kw)
        results[backend] = rows  # {"T", "method", "peak_bytes", "wall_s", "cpu_s"} each
        label = ("numpy float64, tracemalloc peak" if backend == "numpy"
                 else "torch float32, peak bytes saved for backward")
        print(f"== {label}")
        print(truncation_experiments.format_table(rows))
        by = {(r["T"], r["method"]): r for r in rows}
        for T in Ts:
            f, c = by[(T, "full BPTT")], by[(T, "checkpointed")]
            print(f"   T={T:5d}: checkpointed / full: memory {c['peak_bytes'] / f['peak_bytes']:.2f}, "
                  f"CPU time {c['cpu_s'] / f['cpu_s']:.2f}")
        print()
    print("== torch float32, peak RSS increase of a fresh process (MB)")
    print(f"{'T':>6} | " + " | ".join(f"{m:>12}" for m in tbptt.METHODS))
    results["rss_mb"] = []
    for T in Ts:
        mbs = [rss_delta_mb(m, T, args.N, args.D, args.H, args.k) for m in tbptt.METHODS]
        results["rss_mb"] += [{"T": T, "method": m, "rss_mb": mb} for m, mb in zip(tbptt.METHODS, mbs)]
        print(f"{T:>6} | " + " | ".join(f"{mb:12.1f}" for mb in mbs))
    print("wrote", provenance.save_results("tbptt_memory_time", results))


if __name__ == "__main__":
    main()
