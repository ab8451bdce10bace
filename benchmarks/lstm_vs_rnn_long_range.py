"""LSTM vs plain RNN on the adding problem, longer and over several seeds.

Notebook 07 trains one seed at T = 50 within its time budget; this script checks that the
result is not a lucky seed and that it holds at T = 100, and it measures the effect of
the forget-gate bias on learning. For every (T, model, seed) it trains with the same
budget (Adam, lr 3e-3, batch 64, gradient-norm clipping at 1, hidden size 32) and
reports the final evaluation MSE and the first step at which the MSE fell below 0.01
(the trivial baseline, always predicting 1, is 1/6 ≈ 0.167). The models: a tanh RNN with
PyTorch's default initialisation, an IRNN (ReLU RNN, identity recurrent matrix, zero
biases; Le, Jaitly & Hinton 2015) and LSTMs with forget-gate bias 0, 1 and 3. ``--long``
instead gives the LSTM twice the budget at T = 100, with forget bias 3 and 5 (≈ ln 100).
Runs are independent (each seeds its own model and data) and use one torch thread each;
``--jobs`` runs that many at a time, with the same results as one at a time.

    python benchmarks/lstm_vs_rnn_long_range.py            # about 11 CPU-minutes; writes
                                                           # benchmarks/results/lstm_vs_rnn_long_range.json
    python benchmarks/lstm_vs_rnn_long_range.py --jobs 4   # the same, four runs at a time
    python benchmarks/lstm_vs_rnn_long_range.py --quick    # one seed, T = 50, 600 steps (not saved)
    python benchmarks/lstm_vs_rnn_long_range.py --long     # not saved

Only the default run (no options) writes the results file that notebook 07 quotes
(``--save`` writes it for other options too). Chrono initialisation of the gate biases,
instead of one constant forget bias, is measured by ``lstm_chrono_adding.py``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from course_utils import provenance
from course_utils.lessons import longrange

MODELS = [("RNN", "rnn", 0.0), ("IRNN", "irnn", 0.0), ("LSTM, forget bias 0", "lstm", 0.0),
          ("LSTM, forget bias 1", "lstm", 1.0), ("LSTM, forget bias 3", "lstm", 3.0)]
LONG_BUDGET = dict(T=100, steps=6000, forget_biases=(3.0, 5.0))
SOLVED = 0.01
LR, BATCH, CLIP, EVAL_EVERY = 3e-3, 64, 1.0, 100


def train_one(task):
    """One training run; ``task`` = (part, T, label, cell, forget_bias, steps, seed, hidden)."""
    part, T, label, cell, fb, steps, seed, hidden = task
    torch.set_flush_denormal(True)
    h = longrange.train_adding(cell, T=T, hidden=hidden, batch=BATCH, seed=seed, forget_bias=fb,
                               adam=longrange.Adam(lr=LR, clip=CLIP),
                               schedule=longrange.Schedule(steps=steps, eval_every=EVAL_EVERY))
    below = [s for s, m in zip(h.steps, h.eval_mse) if m < SOLVED]
    return dict(part=part, T=T, model=label, cell=cell, forget_bias=fb, steps=steps,
                seed=seed, final_mse=round(h.final_mse, 6),
                first_below=below[0] if below else None, solved=h.final_mse < SOLVED,
                cpu_s=round(h.cpu_seconds, 2))


def run_grid(Ts, models, seeds, steps, hidden, part, jobs):
    """Train every (T, model, seed); print one table row per (T, model); return the runs."""
    tasks = [(part, T, label, cell, fb, steps, seed, hidden)
             for T in Ts for label, cell, fb in models for seed in seeds]
    if jobs > 1:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
            runs = list(ex.map(train_one, tasks))
    else:
        runs = [train_one(t) for t in tasks]
    for k in range(0, len(runs), len(seeds)):
        rows = runs[k:k + len(seeds)]
        finals = ", ".join(f"{r['final_mse']:.4f}" for r in rows)
        firsts = ", ".join(str(r["first_below"] or "never") for r in rows)
        solved = sum(r["solved"] for r in rows)
        cpu = np.mean([r["cpu_s"] for r in rows])
        print(f"| {rows[0]['T']} | {rows[0]['steps']} | {rows[0]['model']} | {finals} | "
              f"{solved}/{len(rows)} | {firsts} | {cpu:.1f} |", flush=True)
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=None, help="default 3000 (600 with --quick)")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--T", type=int, nargs="*", help="sequence lengths (default 50 100)")
    ap.add_argument("--lstm-only", action="store_true", help="skip the RNNs")
    ap.add_argument("--forget-biases", type=float, nargs="*",
                    help="LSTM forget biases (default 0 1 3)")
    ap.add_argument("--long", action="store_true",
                    help="T = 100, LSTM with forget bias 3 and 5, 6000 steps")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (processes)")
    ap.add_argument("--save", action="store_true", help="write the results file anyway")
    args = ap.parse_args()
    default = not (args.quick or args.steps or args.T or args.lstm_only or args.long
                   or args.forget_biases is not None or args.hidden != 32)
    if args.long:
        args.T, args.steps = [LONG_BUDGET["T"]], args.steps or LONG_BUDGET["steps"]
        args.lstm_only, args.forget_biases = True, list(LONG_BUDGET["forget_biases"])
    steps = args.steps or (600 if args.quick else 3000)
    Ts = args.T or ([50] if args.quick else [50, 100])
    models = [m for m in MODELS if not (args.lstm_only and m[1] != "lstm")]
    if args.forget_biases is not None:
        models = [m for m in models if m[1] != "lstm"] + [
            (f"LSTM, forget bias {fb:g}", "lstm", fb) for fb in args.forget_biases]
    seeds = [0] if args.quick else [0, 1, 2]
    torch.set_flush_denormal(True)
    print(f"# adding problem, hidden {args.hidden}, seeds {seeds}, Adam lr {LR}, batch {BATCH}, "
          f"clip {CLIP}; torch {torch.__version__}")
    print(f"baseline MSE (always predict 1): {longrange.BASELINE_MSE:.4f}; "
          f"'solved' = eval MSE < {SOLVED}\n")
    print("| T | steps | model | final MSE per seed | solved | first step below 0.01 | CPU s / run |")
    print("|---|---|---|---|---|---|---|")
    t_all = time.perf_counter()
    runs = run_grid(Ts, models, seeds, steps, args.hidden, "long" if args.long else "main",
                    args.jobs)
    wall = time.perf_counter() - t_all
    print(f"\ntotal wall time {wall:.0f} s")
    if default or args.save:
        results = dict(settings=dict(hidden=args.hidden, lr=LR, batch=BATCH, clip=CLIP,
                                      eval_every=EVAL_EVERY, seeds=seeds, solved_below=SOLVED,
                                      optimizer="Adam", dtype="float32", jobs=args.jobs,
                                      torch_threads_per_run=1),
                       runs=runs, wall_s=round(wall, 1))
        print("wrote", provenance.save_results("lstm_vs_rnn_long_range", results))


if __name__ == "__main__":
    main()
