"""LSTM vs plain RNN on the adding problem, longer and over several seeds.

Notebook 07 trains one seed at T = 50 within its time budget; this script checks that the
result is not a lucky seed and that it holds at T = 100, and it measures the effect of
the forget-gate bias on learning. For every (T, model, seed) it trains with the same
budget (Adam, lr 3e-3, batch 64, gradient-norm clipping at 1, hidden size 32) and
reports the final evaluation MSE and the first step at which the MSE fell below 0.01
(the trivial baseline, always predicting 1, is 1/6 ≈ 0.167).

    python benchmarks/lstm_vs_rnn_long_range.py            # about 5 CPU-minutes
    python benchmarks/lstm_vs_rnn_long_range.py --quick    # one seed, T = 50
    python benchmarks/lstm_vs_rnn_long_range.py --T 100 --lstm-only --forget-biases 3 5 --steps 6000
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from course_utils import longrange

MODELS = [("RNN", "rnn", 0.0), ("LSTM, forget bias 0", "lstm", 0.0),
          ("LSTM, forget bias 1", "lstm", 1.0), ("LSTM, forget bias 3", "lstm", 3.0)]
# --chrono: the forget bias from the time scale, b_f = log(T) (Tallec & Ollivier 2018)
SOLVED = 0.01


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--T", type=int, nargs="*", help="sequence lengths (default 50 100)")
    ap.add_argument("--lstm-only", action="store_true", help="skip the RNN")
    ap.add_argument("--forget-biases", type=float, nargs="*",
                    help="LSTM forget biases (default 0 1 3)")
    args = ap.parse_args()
    Ts = args.T or ([50] if args.quick else [50, 100])
    models = [m for m in MODELS if not (args.lstm_only and m[1] == "rnn")]
    if args.forget_biases is not None:
        models = [m for m in models if m[1] == "rnn"] + [
            (f"LSTM, forget bias {fb:g}", "lstm", fb) for fb in args.forget_biases]
    seeds = [0] if args.quick else [0, 1, 2]
    torch.set_flush_denormal(True)
    print(f"# adding problem, {args.steps} steps, hidden {args.hidden}, seeds {seeds}; "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print(f"baseline MSE (always predict 1): {longrange.BASELINE_MSE:.4f}; "
          f"'solved' = eval MSE < {SOLVED}\n")
    print("| T | model | final MSE per seed | solved | first step below 0.01 | CPU s / run |")
    print("|---|---|---|---|---|---|")
    t_all = time.perf_counter()
    for T in Ts:
        for label, cell, fb in models:
            finals, firsts, cpu = [], [], []
            for seed in seeds:
                h = longrange.train_adding(cell, T=T, hidden=args.hidden, steps=args.steps,
                                           lr=3e-3, seed=seed, forget_bias=fb, eval_every=100)
                finals.append(h.final_mse)
                below = [s for s, m in zip(h.steps, h.eval_mse) if m < SOLVED]
                firsts.append(str(below[0]) if below else "never")
                cpu.append(h.cpu_seconds)
            solved = sum(f < SOLVED for f in finals)
            print(f"| {T} | {label} | {', '.join(f'{f:.4f}' for f in finals)} | "
                  f"{solved}/{len(seeds)} | {', '.join(firsts)} | {np.mean(cpu):.1f} |",
                  flush=True)
    print(f"\ntotal wall time {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
