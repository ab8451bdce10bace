"""Chrono initialisation: does an LSTM solve the adding problem at T = 100 without a tuned bias?

Chrono initialisation (Tallec & Ollivier, "Can recurrent neural networks warp time?",
ICLR 2018) sets the forget-gate biases to ``b_f = log(u)``, ``u ~ U(1, T_max - 1)``, and the
input-gate biases to ``-b_f`` (``course_utils.maths.lstm.chrono_init``). Its one parameter is
``T_max``, the longest timescale the network should cover; we set it to the sequence
length T, the task's known horizon, so no value is tuned on the results.

For each seed the script trains an LSTM (hidden size 32, Adam lr 3e-3, batch 64,
gradient-norm clipping at 1, fresh batches, the course's ``longrange.train_adding``)
and evaluates it every 100 steps on a fixed set of 1000 sequences. A run stops at the
first evaluation with MSE below 0.01 ("solved"), or after ``--max-steps`` steps. It
records per seed: the steps trained, wall and CPU seconds (``time.process_time``, one torch
thread), the final evaluation MSE, and success (final MSE below 0.01 within 60 s of CPU).
The same runs with the forget bias at 1 (the usual untuned default, Jozefowicz et al. 2015)
are the control: same seeds, same data, same budget. A second part ("fixed") trains the
chrono LSTM for a fixed 3000 steps with no early stop, the protocol of
``lstm_vs_rnn_long_range.py``, so its final MSE compares with that script's table (and
shows that the solution is kept, not touched once).

    python benchmarks/lstm_chrono_adding.py            # about 4 CPU-minutes; writes
                                                       # benchmarks/results/lstm_chrono_adding.json
    python benchmarks/lstm_chrono_adding.py --jobs 2   # the same, two runs at a time
    python benchmarks/lstm_chrono_adding.py --T 200    # another length (not saved)

Only the default run (``--jobs`` aside) writes the results file that notebook 07 quotes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import torch

from course_utils import provenance
from course_utils.lessons import longrange

SOLVED = 0.01
CPU_BUDGET_S = 60.0
T_DEFAULT, HIDDEN, LR, BATCH, CLIP, EVAL_EVERY, MAX_STEPS = 100, 32, 3e-3, 64, 1.0, 100, 6000
SEEDS = [0, 1, 2]
MODELS = [("LSTM, chrono init (T_max = T)", "chrono"), ("LSTM, forget bias 1", "bias1")]
FIXED_STEPS = 3000


def train_one(task):
    """One run; ``task`` = (part, label, init, T, seed, max_steps). Part "stop" stops at the
    first evaluation below ``SOLVED``, part "fixed" trains all ``max_steps``. Returns its
    record."""
    part, label, init, T, seed, max_steps = task
    torch.set_flush_denormal(True)
    kw = dict(chrono_T_max=T) if init == "chrono" else dict(forget_bias=1.0)
    h = longrange.train_adding("lstm", T=T, hidden=HIDDEN, steps=max_steps, lr=LR, batch=BATCH,
                               clip=CLIP, seed=seed, eval_every=EVAL_EVERY,
                               stop_below=SOLVED if part == "stop" else None, threads=1, **kw)
    below = h.final_mse < SOLVED
    first = [s for s, m in zip(h.steps, h.eval_mse) if m < SOLVED]
    return dict(part=part, model=label, init=init, T=T, seed=seed, steps=h.steps[-1],
                first_below=first[0] if first else None,
                wall_s=round(h.seconds, 2), cpu_s=round(h.cpu_seconds, 2),
                final_mse=round(h.final_mse, 6), below_threshold=bool(below),
                success=bool(below and h.cpu_seconds <= CPU_BUDGET_S),
                curve=dict(steps=h.steps, eval_mse=[round(m, 5) for m in h.eval_mse]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=T_DEFAULT)
    ap.add_argument("--max-steps", type=int, default=MAX_STEPS)
    ap.add_argument("--chrono-only", action="store_true", help="skip the control")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (processes)")
    args = ap.parse_args()
    default = args.T == T_DEFAULT and args.max_steps == MAX_STEPS and not args.chrono_only
    models = MODELS[:1] if args.chrono_only else MODELS
    tasks = [("stop", label, init, args.T, seed, args.max_steps) for label, init in models
             for seed in SEEDS]
    tasks += [("fixed", MODELS[0][0], "chrono", args.T, seed, FIXED_STEPS) for seed in SEEDS]
    print(f"# adding problem, T = {args.T}, hidden {HIDDEN}, Adam lr {LR}, batch {BATCH}, "
          f"clip {CLIP}; stop at eval MSE < {SOLVED} or {args.max_steps} steps; "
          f"torch {torch.__version__}\n")
    print("| part | model | seed | steps | first step below | final eval MSE | solved | CPU s | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    t_all = time.perf_counter()
    if args.jobs > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=ctx) as ex:
            runs = list(ex.map(train_one, tasks))
    else:
        runs = [train_one(t) for t in tasks]
    for r in runs:
        print(f"| {r['part']} | {r['model']} | {r['seed']} | {r['steps']} | "
              f"{r['first_below'] or 'never'} | {r['final_mse']:.4f} | "
              f"{'yes' if r['success'] else 'no'} | {r['cpu_s']:.1f} | {r['wall_s']:.1f} |")
    wall = time.perf_counter() - t_all
    for part, label in [("stop", m[0]) for m in models] + [("fixed", MODELS[0][0])]:
        rs = [r for r in runs if r["model"] == label and r["part"] == part]
        print(f"{part}, {label}: solved {sum(r['success'] for r in rs)}/{len(rs)} "
              f"(eval MSE < {SOLVED} within {CPU_BUDGET_S:g} s CPU); "
              f"max CPU {max(r['cpu_s'] for r in rs):.1f} s")
    print(f"total wall time {wall:.0f} s")
    if default:
        results = dict(settings=dict(T=args.T, hidden=HIDDEN, lr=LR, batch=BATCH, clip=CLIP,
                                      eval_every=EVAL_EVERY, n_eval=1000, max_steps=args.max_steps,
                                      fixed_steps=FIXED_STEPS,
                                      solved_below=SOLVED, cpu_budget_s=CPU_BUDGET_S,
                                      seeds=SEEDS, chrono_T_max="T", optimizer="Adam",
                                      dtype="float32", torch_threads_per_run=1, jobs=args.jobs),
                       runs=runs, wall_s=round(wall, 1))
        print("wrote", provenance.save_results("lstm_chrono_adding", results))


if __name__ == "__main__":
    main()
