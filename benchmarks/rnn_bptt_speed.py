"""Forward + backward of one tanh RNN layer in float64: naive numpy, fast numpy, torch.nn.RNN.

Usage: python benchmarks/rnn_bptt_speed.py [--repeats R] [--threads K]

"naive" runs the step function at every time step (forward and backward); "fast" hoists
the input projection (forward) and the weight gradients (backward) out of the time loop
(course_utils.rnn.rnn_forward_fast / rnn_backward_fast). torch is nn.RNN forward plus
autograd backward. Times are the best of R runs (wall clock, milliseconds), with the CPU
time of that run (the three take turns, so load from other processes hits all alike);
ratios are relative to torch (below 1 = faster than torch). Notebook 03
quotes this table. The target is fast/torch ≤ 1.2 at N=32, T=64, D=H=128
on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch

from course_utils.rnn import time_bptt

SIZES = [  # (N, T, D, H)
    (32, 64, 128, 128),
    (8, 64, 128, 128),
    (32, 256, 128, 128),
    (32, 64, 64, 256),
    (64, 32, 32, 64),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="at least this many runs of each")
    ap.add_argument("--min-time", type=float, default=3.0,
                    help="keep taking turns for at least this many seconds per size")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, float64, "
          f"best of >= {args.repeats} runs and >= {args.min_time:g} s per size")
    head = (f"{'N':>4} {'T':>4} {'D':>4} {'H':>4} | {'naive ms':>9} {'fast ms':>8} {'torch ms':>9} | "
            f"{'naive/torch':>11} {'fast/torch':>10} {'naive/fast':>10} | {'fast cpu/torch cpu':>18}")
    print(head)
    print("-" * len(head))
    for N, T, D, H in SIZES:
        r = time_bptt(N, T, D, H, repeats=args.repeats, min_time_s=args.min_time)
        (nw, _), (fw, fc), (tw, tc) = r["naive"], r["fast"], r["torch"]
        print(f"{N:>4} {T:>4} {D:>4} {H:>4} | {1e3 * nw:>9.2f} {1e3 * fw:>8.2f} {1e3 * tw:>9.2f} | "
              f"{nw / tw:>11.2f} {fw / tw:>10.2f} {nw / fw:>10.2f} | {fc / tc:>18.2f}")


if __name__ == "__main__":
    main()
