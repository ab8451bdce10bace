"""Benchmark: a character LSTM vs a plain RNN vs n-gram baselines, in a fixed time budget.

Trains each model for ``--seconds`` of wall-clock training time (default 120; evaluation
time excluded) on the CPU with stateful truncated BPTT and gradient-norm clipping, on the
course corpus (the file course_utils.data.text.CORPUS_FILE: 465,126 characters),
and prints the validation bits per character of the LSTM, the RNN and the n-gram models.

    python benchmarks/char_lm_120s.py                      # the 120 s benchmark (~5 min)
    python benchmarks/char_lm_120s.py --seq-len 100 --dropout 0   # the notebook's models
    python benchmarks/char_lm_120s.py --seconds 20 --models lstm
    python benchmarks/char_lm_120s.py --sweep-seq-len 10,25,50,100,200 --seconds 30 --models ""
    python benchmarks/char_lm_120s.py --threads 1 --clock cpu   # on a busy machine
    python benchmarks/char_lm_120s.py --threads 1 --clock cpu --models lstm,rnn,rnn:519

Defaults (the best configuration measured): one 256-unit layer, dropout 0.2, batch 64,
T = 10, Adam 3e-3 (RNN 1e-3) with a cosine decay over the budget, clip 1.0.

Wall-clock budgets make the numbers depend on the machine and its load: the script also
prints CPU seconds, steps and characters seen, so runs on different machines can be
compared. The results, with the command, machine and package versions, go to
``benchmarks/results/char_lm_120s.json`` (``course_utils.provenance``); notebook 08 quotes
that file, and ``tests/test_nb08_quotes.py`` checks the quotes.

A model is ``cell`` or ``cell:H`` (``rnn:519``: a plain RNN with 519 units, which has as
many parameters as the 256-unit LSTM). For each model the file records the validation
bpc, the steps, characters and seconds, the parameter count, the last training bpc (with
dropout active, as trained) and the bpc on the first ``len(validation)`` characters of the
training text measured like the validation text (dropout off), so the two are comparable.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from course_utils import provenance
from course_utils.data import text
from course_utils.lessons import charlm, ngram


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="training time per model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="lstm,rnn",
                    help="comma list of cell or cell:H (H overrides --hidden)")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=10, help="truncation length T")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--rnn-lr", type=float, default=1e-3, help="learning rate of the plain RNN")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--no-cosine", action="store_true", help="constant learning rate")
    ap.add_argument("--orders", default="2,3,4,5,6,7,8,10", help="n-gram orders ('' for none)")
    ap.add_argument("--sweep-seq-len", default="", help="comma list: LSTM runs, one per T")
    ap.add_argument("--corpus", default=None, help="a UTF-8 text file (default: the course corpus)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                    help="budget in wall seconds, or in process CPU seconds (use with "
                         "--threads 1 on a busy machine: CPU s ≈ wall s of an idle one)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    corpus = text.load_corpus(args.corpus)
    V = len(corpus.vocab)
    print(f"Python {platform.python_version()}, torch {torch.__version__}, "
          f"{args.threads} threads of {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"corpus: {corpus.summary()}")

    rows = []
    if args.orders:
        t0 = time.perf_counter()
        orders = [int(o) for o in args.orders.split(",")]
        rows = ngram.baseline_table(corpus.train, corpus.val, V, orders=orders)
        print(f"\nbaselines ({time.perf_counter() - t0:.1f} s):")
        for name, b in rows:
            print(f"  {name:24s} {b:.3f} bpc")

    train_slice = corpus.train[:len(corpus.val)]

    def run(cell, seq_len, lr, hidden):
        torch.manual_seed(args.seed)
        model = charlm.CharLM(V, hidden, num_layers=args.layers, cell=cell,
                              dropout=args.dropout).to(device)
        h = charlm.train(model, corpus.train, corpus.val, batch_size=args.batch,
                         seq_len=seq_len, lr=lr, clip=args.clip, time_budget_s=args.seconds,
                         eval_every=0, progress=False, cosine=not args.no_cosine,
                         seed=args.seed, name=f"{cell} H={hidden} T={seq_len}",
                         clock=args.clock)
        train_eval = charlm.evaluate_bpc(model, train_slice, device=device)
        last_train = h.train_bpc[-1] if h.train_bpc else float("nan")
        print(f"  {h.name:20s} val {h.final_val_bpc:.3f} bpc  |  {h.seconds:.0f} s {args.clock}, "
              f"{h.cpu_seconds:.0f} s CPU, {h.n_steps} steps, {h.chars_seen / 1e6:.2f} M chars, "
              f"last train bpc {last_train:.3f} (as trained), {train_eval:.3f} (dropout off)",
              flush=True)
        return {"cell": cell, "hidden": hidden, "params": charlm.n_params(model),
                "seq_len": seq_len, "dropout": args.dropout, "lr": lr,
                "steps": h.n_steps, "chars_seen": h.chars_seen,
                "seconds": round(h.seconds, 1), "cpu_seconds": round(h.cpu_seconds, 1),
                "clock": args.clock, "val_bpc": round(h.final_val_bpc, 4),
                "train_bpc_as_trained": round(last_train, 4),
                "train_bpc_dropout_off": round(train_eval, 4)}

    results = {}
    if args.models:
        print(f"\nmodels: {args.hidden} units x {args.layers} layer(s), dropout {args.dropout}, "
              f"batch {args.batch}, "
              f"T = {args.seq_len}, Adam lr {args.lr} (RNN {args.rnn_lr}), clip {args.clip}, "
              f"{'constant' if args.no_cosine else 'cosine-decayed'} lr, {args.seconds:.0f} s "
              f"({args.clock} clock) each")
        for spec in args.models.split(","):
            cell, _, hidden = spec.partition(":")
            hidden = int(hidden) if hidden else args.hidden
            key = cell if hidden == args.hidden else f"{cell} H={hidden}"
            results[key] = run(cell, args.seq_len, args.rnn_lr if cell == "rnn" else args.lr,
                               hidden)
    if args.sweep_seq_len:
        print(f"\ntruncation sweep (LSTM, {args.seconds:.0f} s each):")
        for T in (int(t) for t in args.sweep_seq_len.split(",")):
            results[f"lstm T={T}"] = run("lstm", T, args.lr, args.hidden)

    if rows and results:
        best_name, best = min(rows, key=lambda r: r[1])
        print(f"\nbest n-gram: {best_name} at {best:.3f} bpc")
        for k, r in results.items():
            d = r["val_bpc"] - best
            print(f"  {k:14s} {r['val_bpc']:.3f} bpc ({'+' if d >= 0 else ''}{d:.3f} vs best n-gram)")

    settings = {k: getattr(args, k) for k in ("seconds", "threads", "clock", "hidden", "layers",
                                              "dropout", "batch", "seq_len", "lr", "rnn_lr",
                                              "clip", "seed")}
    settings["cosine"] = not args.no_cosine
    path = provenance.save_results("char_lm_120s", {
        "settings": settings,
        "corpus": {"characters": len(corpus.train) + len(corpus.val), "vocab": V,
                   "train": len(corpus.train), "val": len(corpus.val),
                   "custom": args.corpus is not None},
        "ngram_bpc": {name: round(b, 4) for name, b in rows},
        "models": results,
    })
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
