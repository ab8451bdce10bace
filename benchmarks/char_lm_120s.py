"""Benchmark: a character LSTM vs a plain RNN vs Kneser–Ney n-grams, 120 s of training each.

The corpus (the course's character corpus; 465,126 characters, 103 distinct) is split
three ways, contiguously (``text.train_val_test_split``): the first 90% is the training
text (the same as notebook 08's), the next 5% the **validation** text, the last 5% the
**test** text. Settings are chosen on the validation text only; the test text is read once,
by the ``test`` stage, for the configuration the selection chose.

Every model trains for ``--seconds`` (default 120) of training time on the CPU with
stateful truncated BPTT, clipping and Adam with a cosine-decayed learning rate
(evaluations excluded). The time is counted on ``--clock``: ``wall`` (``time.perf_counter``)
or ``cpu`` (``time.process_time``, the process's CPU seconds; use it with ``--threads 1``
on a shared machine, so that each model is charged for its own work only; a loaded core
still does less per CPU second than an idle one). The default is ``cpu``; the runs
recorded here used ``--threads 1 --clock cpu``.

Stages (each writes one part, ``benchmarks/results/char_lm_120s_parts/<part>/char_lm_120s.json``,
with its command, date, machine and load; run at most two at once on a 2-core machine).
The record notebook 08 quotes was made with these (two stages at a time on a 2-core
machine; ``--keep`` puts the selection's weights outside the repository)::

    python benchmarks/char_lm_120s.py ngram --orders 7,8,10,12 --part ngram
    python benchmarks/char_lm_120s.py select --configs base,tied,T25 --part screen-a --keep /work/scratch/models
    python benchmarks/char_lm_120s.py select --configs drop0.4,out0.4,2layer --part screen-b --keep /work/scratch/models
    python benchmarks/char_lm_120s.py test --config out0.4 --models lstm --seeds 0,1,2 --reuse --part test-lstm --keep /work/scratch/models
    python benchmarks/char_lm_120s.py test --config out0.4 --models rnn --seeds 0,1,2 --part test-rnn --keep /work/scratch/models
    python benchmarks/char_lm_120s.py test --config out0.4 --models rnn:same --seeds 0,1 --part test-rnn-same-a --keep /work/scratch/models
    python benchmarks/char_lm_120s.py test --config out0.4 --models rnn:same --seeds 2 --part test-rnn-same-b --keep /work/scratch/models
    python benchmarks/char_lm_120s.py summarise

* ``select``: the LSTM (seed 0) in each named configuration (``CONFIGS``: the remedies
  tried: dropout rate and placement, weight tying, truncation length T, a second layer),
  scored on the validation text (and on training text, measured the same way, for the
  overfitting gap).
* ``ngram``: Kneser–Ney n-grams of several orders on the validation text; the best order
  there is then scored on the test text. (Orders 7, 8 and 10 are also scored on
  validation + test together, notebook 08's held-out 10%, for the notebook's own table;
  no choice uses those numbers.)
* ``test``: one configuration, several seeds, several cells (``rnn:same`` is a plain RNN
  with as many parameters as the LSTM of that configuration), scored on validation *and*
  test text.
* ``summarise``: reads the parts and writes ``benchmarks/results/char_lm_120s.json``
  (what notebook 08 quotes, checked by ``tests/test_nb08_quotes.py``): the selection table
  and the configuration it chose (lowest validation bpc), the n-gram table, and per model
  the test bpc of each seed with their mean and spread (sample standard deviation, min, max).

Budgets on a clock make the numbers depend on the machine and its load: each run also
records its updates and characters read, and each part the load average when it started
and ended.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from course_utils import provenance
from course_utils.data import text
from course_utils.lessons import charlm, ngram

STEM = "char_lm_120s"
PARTS = provenance.RESULTS_DIR / f"{STEM}_parts"
VAL_FRAC = TEST_FRAC = 0.05

# The LSTM configurations the selection compares (the remedies for the overfitting gap).
# Every one: batch 64, Adam 3e-3 (the RNN: 1e-3) with cosine decay, clip 1.0, 256 units.
BASE = dict(hidden=256, num_layers=1, dropout=0.2, dropout_where="io", layer_dropout=0.0,
            tie_weights=False, seq_len=10)
CONFIGS = {
    "base": {},                                    # the configuration recorded before
    "drop0.4": dict(dropout=0.4),                  # more dropout, same places
    "out0.4": dict(dropout=0.4, dropout_where="output"),  # dropout before the read-out only
    "tied": dict(tie_weights=True),                # embedding = read-out matrix (E = H)
    "T25": dict(seq_len=25),                       # a longer truncation length
    "2layer": dict(num_layers=2, layer_dropout=0.2),  # a second layer, dropout between
    "tied-drop0.4": dict(tie_weights=True, dropout=0.4),
    "tied-out0.4": dict(tie_weights=True, dropout=0.4, dropout_where="output"),
    "drop0.3": dict(dropout=0.3),
    "tied-drop0.3": dict(tie_weights=True, dropout=0.3),
}


def config(name: str) -> dict:
    return {**BASE, **CONFIGS[name]}


def load_splits(path=None):
    corpus = text.load_corpus(path)
    ids = corpus.vocab.encode(corpus.text)
    train, val, test = text.train_val_test_split(ids, VAL_FRAC, TEST_FRAC)
    assert np.array_equal(train, corpus.train)  # notebook 08's training text
    return corpus, train, val, test


def _load():
    return round(os.getloadavg()[0], 2)


def build(cell, cfg, V, hidden):
    return charlm.CharLM(V, hidden, num_layers=cfg["num_layers"], cell=cell,
                         dropout=cfg["dropout"], dropout_where=cfg["dropout_where"],
                         layer_dropout=cfg["layer_dropout"], tie_weights=cfg["tie_weights"])


def run_model(cell, cfg, seed, args, train, val, test=None, hidden=None, save=None):
    """Train one model for the budget; score it on validation (and test) text.

    ``save``: a path to keep the trained weights at (outside the repository), so that the
    ``test`` stage can score the selection's own run on the test text (``--reuse``)
    instead of training it again."""
    V = args.V
    hidden = hidden or cfg["hidden"]
    torch.manual_seed(seed)
    model = build(cell, cfg, V, hidden)
    lr = args.rnn_lr if cell == "rnn" else args.lr
    torch.manual_seed(seed)  # after the model is built: the seed of training's dropout masks
    h = charlm.train(model, train, val, batch_size=args.batch, seq_len=cfg["seq_len"],
                     adam=charlm.Adam(lr=lr, clip=args.clip, cosine=True),
                     schedule=charlm.Schedule(seconds=args.seconds, clock=args.clock),
                     progress=False, name=f"{cell} H={hidden} seed {seed}")
    r = {"cell": cell, "hidden": hidden, "params": charlm.n_params(model), "seed": seed,
         "lr": lr, "steps": h.n_steps, "chars_seen": h.chars_seen,
         "epochs": round(h.chars_seen / len(train), 2),
         "seconds": round(h.seconds, 1), "cpu_seconds": round(h.cpu_seconds, 1),
         "val_bpc": round(h.final_val_bpc, 4),
         "train_bpc_as_trained": round(h.train_bpc[-1], 4),
         "train_bpc_dropout_off": round(charlm.evaluate_bpc(model, train[:len(val)]), 4)}
    if test is not None:
        r["test_bpc"] = round(charlm.evaluate_bpc(model, test, np.concatenate([train, val])), 4)
    if save:
        save.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), save)
    print(f"  {h.name:24s} val {r['val_bpc']:.3f}"
          + (f"  test {r['test_bpc']:.3f}" if test is not None else "")
          + f"  train {r['train_bpc_dropout_off']:.3f}  |  {r['steps']} steps, "
          f"{r['epochs']} passes, {r['cpu_seconds']:.0f} CPU s, load {_load()}", flush=True)
    return r


def score_selection_run(args, cfg, kept, train, val, test):
    """The selection's seed-0 LSTM of this configuration, read back and scored on the test
    text (its training record is the selection part's; its validation bpc is recomputed
    and must agree)."""
    sel = [json.loads(p.read_text())["results"] for p in PARTS.glob(f"*/{STEM}.json")]
    rec = [r["runs"][args.config] for r in sel if r["stage"] == "select" and args.config in r["runs"]]
    assert len(rec) == 1, f"{len(rec)} selection runs of {args.config}"
    assert rec[0]["seconds"] == args.seconds or rec[0]["cpu_seconds"] >= args.seconds, \
        "the selection's run had another budget: train seed 0 again (no --reuse)"
    r = {k: v for k, v in rec[0].items() if k not in BASE or k == "hidden"}
    model = build("lstm", cfg, args.V, cfg["hidden"])
    model.load_state_dict(torch.load(kept))
    val_bpc = charlm.evaluate_bpc(model, val, train)
    assert abs(val_bpc - r["val_bpc"]) < 1e-3, (val_bpc, r["val_bpc"])
    r["test_bpc"] = round(charlm.evaluate_bpc(model, test, np.concatenate([train, val])), 4)
    r["reused_selection_run"] = True
    print(f"  lstm seed 0 (the selection's run): val {r['val_bpc']:.3f}  test {r['test_bpc']:.3f}",
          flush=True)
    return r


def save_part(part: str, stage: str, results: dict, load_start: float):
    results = {"stage": stage, "load_average_start": load_start, "load_average_end": _load(),
               **results}
    path = provenance.save_results(STEM, results, directory=PARTS / part)
    print(f"wrote {path}")


def summarise():
    parts = {p.parent.name: json.loads(p.read_text()) for p in sorted(PARTS.glob(f"*/{STEM}.json"))}
    sel, sel_settings, ng, tests = {}, set(), None, {}
    for rec in parts.values():
        res = rec["results"]
        if res["stage"] == "select":
            sel.update(res["runs"])
            sel_settings.add(json.dumps(res["settings"], sort_keys=True))
        elif res["stage"] == "ngram":
            ng = res
        elif res["stage"] == "test":
            for key, runs in res["runs"].items():
                tests.setdefault(key, {"config": res["config"], "settings": res["settings"],
                                       "runs": []})["runs"].extend(runs)
    assert len(sel_settings) == 1, "the selection's runs used different settings"
    chosen = min(sel, key=lambda k: sel[k]["val_bpc"])
    for key, t in tests.items():
        assert t["config"] == chosen, f"test runs of {key} used {t['config']}, not {chosen}"
        t["runs"].sort(key=lambda r: r["seed"])
        for m in ("val_bpc", "test_bpc", "train_bpc_dropout_off", "steps", "epochs"):
            xs = [r[m] for r in t["runs"]]
            t[m] = {"mean": round(statistics.mean(xs), 4),
                    "sd": round(statistics.stdev(xs), 4) if len(xs) > 1 else None,
                    "min": min(xs), "max": max(xs)}
    summary = {
        "split": ng["split"] if ng else None,
        "selection": {"rule": "lowest validation bpc of the LSTM, seed 0", "chosen": chosen,
                      "settings": json.loads(sel_settings.pop()), "runs": sel},
        "ngram": ng and {k: ng[k] for k in ("val_bpc", "best", "best_test_bpc", "heldout_bpc")},
        "test": tests,
        "parts": {name: {"stage": rec["results"]["stage"], "command": rec["command"],
                         "date": rec["date"], "cpu": rec["machine"]["cpu"],
                         "torch_threads": rec["machine"]["torch_threads"],
                         "load_average_start": rec["results"]["load_average_start"],
                         "load_average_end": rec["results"]["load_average_end"]}
                  for name, rec in parts.items()},
    }
    path = provenance.save_results(STEM, summary)
    print(json.dumps({k: summary[k] for k in ("selection", "ngram")}, indent=1))
    for key, t in tests.items():
        print(f"{key}: test {t['test_bpc']}")
    print(f"wrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["select", "ngram", "test", "summarise"])
    ap.add_argument("--part", help="name of this part's results folder")
    ap.add_argument("--configs", default="base", help="select: comma list of CONFIGS names")
    ap.add_argument("--config", default="base", help="test: the configuration to test")
    ap.add_argument("--models", default="lstm,rnn",
                    help="test: comma list of lstm, rnn, gru, rnn:same (as many parameters "
                         "as the LSTM), or cell:H")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--orders", default="5,6,7,8,10,12", help="ngram: the orders")
    ap.add_argument("--seconds", type=float, default=120.0, help="training time per model")
    ap.add_argument("--clock", default="cpu", choices=["wall", "cpu"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--rnn-lr", type=float, default=1e-3, help="learning rate of the plain RNN")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--keep", default="/tmp/char_lm_120s_models",
                    help="select: where to keep the trained LSTMs (outside the repository)")
    ap.add_argument("--reuse", action="store_true",
                    help="test: score the selection's seed-0 LSTM of --config (kept in "
                         "--keep) instead of training seed 0 again")
    args = ap.parse_args(argv)
    if args.stage == "summarise":
        torch.set_num_threads(args.threads)  # the record's machine line: as the parts ran
        return summarise()
    if not args.part:
        ap.error("give --part")

    torch.set_num_threads(args.threads)
    load_start = _load()
    corpus, train, val, test = load_splits()
    args.V = V = len(corpus.vocab)
    print(f"Python {platform.python_version()}, torch {torch.__version__}, {args.threads} "
          f"threads of {os.cpu_count()} CPUs, load average {load_start}")
    print(f"train {len(train):,}, validation {len(val):,}, test {len(test):,} characters")
    split = {"train": len(train), "val": len(val), "test": len(test), "vocab": V}
    settings = {k: getattr(args, k) for k in ("seconds", "clock", "threads", "batch", "lr",
                                              "rnn_lr", "clip")}

    if args.stage == "ngram":
        t0 = time.perf_counter()
        orders = [int(o) for o in args.orders.split(",")]
        val_bpc, heldout_bpc = {}, {}
        heldout = np.concatenate([val, test])  # notebook 08's validation text (the last 10%)
        for n in orders:
            model = ngram.KneserNey(n, V).fit(train)
            val_bpc[n] = round(model.bpc(val, history=train), 4)
            print(f"  {n}-gram (Kneser–Ney): validation {val_bpc[n]:.3f} bpc", flush=True)
            if n in (7, 8, 10):  # quoted by notebook 08 next to its own table; no choice
                heldout_bpc[n] = round(model.bpc(heldout, history=train), 4)
            del model
        best = min(val_bpc, key=val_bpc.get)
        history = np.concatenate([train, val])
        best_test = round(ngram.KneserNey(best, V).fit(train).bpc(test, history=history), 4)
        print(f"best on validation: {best}-gram; test {best_test:.3f} bpc "
              f"({time.perf_counter() - t0:.0f} s)")
        save_part(args.part, "ngram", {"split": split, "val_bpc": {str(n): b for n, b in val_bpc.items()},
                                       "best": best, "best_test_bpc": best_test,
                                       "heldout_bpc": {str(n): b for n, b in heldout_bpc.items()}},
                  load_start)
        return

    if args.stage == "select":
        runs = {}
        for name in args.configs.split(","):
            cfg = config(name)
            print(f"{name}: {cfg}", flush=True)
            runs[name] = {**cfg, **run_model("lstm", cfg, 0, args, train, val,
                                             save=Path(args.keep) / f"{name}.pt")}
            # written after every run, so a stopped stage keeps what it measured
            save_part(args.part, "select", {"split": split, "settings": settings,
                                            "runs": runs}, load_start)
        return

    cfg = config(args.config)
    seeds = [int(s) for s in args.seeds.split(",")]
    n_lstm = charlm.param_count(V, cfg["hidden"], "lstm", cfg["num_layers"],
                                tie_weights=cfg["tie_weights"])
    runs = {}
    for spec in args.models.split(","):
        cell, _, h = spec.partition(":")
        hidden = (charlm.equal_param_hidden(V, n_lstm, cell, num_layers=cfg["num_layers"],
                                            tie_weights=cfg["tie_weights"])
                  if h == "same" else int(h) if h else cfg["hidden"])
        key = cell if h == "" else f"{cell} same size"
        print(f"{key} ({args.config}, {hidden} units): {cfg}", flush=True)
        runs[key] = []
        for seed in seeds:
            kept = Path(args.keep) / f"{args.config}.pt"
            if args.reuse and (cell, h, seed) == ("lstm", "", 0) and kept.exists():
                runs[key].append(score_selection_run(args, cfg, kept, train, val, test))
            else:
                runs[key].append(run_model(cell, cfg, seed, args, train, val, test, hidden))
    save_part(args.part, "test", {"split": split, "settings": settings, "config": args.config,
                                  "runs": runs}, load_start)


if __name__ == "__main__":
    main()
