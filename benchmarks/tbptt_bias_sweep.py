"""Truncation bias on delayed recall: accuracy vs k for several lags and seeds.

Notebook 05 (§8) runs one lag (L = 5) and one seed. This sweep repeats it for
L in {3, 5, 8} and 3 seeds, TBPTT(k, k), 300 Adam updates per run, a tanh RNN with 32
hidden units, 4 symbols (chance 0.25), and also with the state reset at every chunk
(``carry_state=False``). It prints mean (min-max) held-out accuracy per k and writes every
accuracy to ``benchmarks/results/tbptt_bias_sweep.json`` (``course_utils.provenance``),
which notebook 05 quotes.

Usage: ``.venv-dev/bin/python benchmarks/tbptt_bias_sweep.py`` (a few minutes on 1 core).
"""

from __future__ import annotations

import argparse

import numpy as np

from course_utils.lessons import truncation_experiments


def main(argv=None):
    from course_utils import provenance

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lags", type=int, nargs="+", default=[3, 5, 8])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--updates", type=int, default=300)
    args = ap.parse_args(argv)
    results = {"setup": {"lags": args.lags, "seeds": list(range(args.seeds)),
                         "updates": args.updates, "hidden": 32, "n_symbols": 4,
                         "chance": 0.25, "truncation": "TBPTT(k, k)"}}
    for carry in (True, False):
        table = results["carried" if carry else "reset"] = {}
        print(f"== hidden state {'carried across chunks' if carry else 'reset every chunk'}")
        for lag in args.lags:
            ks = sorted({max(1, lag - 2), lag - 1, lag, lag + 1, lag + 3, 2 * lag + 2} - {0})
            accs = np.array([truncation_experiments.delayed_recall_vs_k(ks, lag=lag, n_updates=args.updates,
                                                       seed=s, carry_state=carry)["accuracy"]
                             for s in range(args.seeds)])
            cells = ", ".join(f"k={k}: {m:.2f} ({lo:.2f}-{hi:.2f})" for k, m, lo, hi in
                              zip(ks, accs.mean(0), accs.min(0), accs.max(0)))
            print(f"L = {lag}: {cells}")
            # accuracy[k][seed], rounded to the precision the notebook quotes and beyond
            table[str(lag)] = {str(k): [round(float(a), 4) for a in accs[:, i]]
                               for i, k in enumerate(ks)}
        print()
    print("wrote", provenance.save_results("tbptt_bias_sweep", results))


if __name__ == "__main__":
    main()
