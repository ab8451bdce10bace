"""Located verdicts (issue 28 item 3): how many wrong implementations get a verdict that
says where the bug is when the catalogue of classic mistakes is switched off.

The wrong implementations: every declared mistake of the exercises with a time dimension
and their step functions (notebooks 01, 03, 05, 07, 08; each mistake is tested to be
named by its check) and the student-written ones of ``tests/located_students.py``. Each
is checked by its exercise's entry with no declared mistakes
(:func:`course_utils.checks.probes.without_catalogue`) and its verdict classed as

* ``located``: the probes placed the bug (the verdict's ``located`` note);
* ``named``: still named without the catalogue (a step function blamed, or the generic
  sign / all-zeros / constant-factor diagnosis);
* ``generic``: wrong values and nothing more than which output is wrong;
* ``other``: not a verdict on values (a shape error, an exception), where probes do not
  apply.

Writes ``benchmarks/results/located_verdicts.json`` (``course_utils.provenance``) with the
counts, every verdict's class and note, and the CPU seconds of the slowest check (torch
on one thread).

Usage: ``.venv-dev/bin/python benchmarks/located_verdicts.py`` (about a minute on 1 core).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

EXERCISES = ("ex01_rnn_step_forward", "ex01_rnn_forward", "ex03_rnn_step_backward",
             "ex03_rnn_backward", "ex05_truncated_bptt", "ex07_lstm_step_forward",
             "ex07_lstm_forward", "ex07_lstm_step_backward", "ex07_lstm_backward",
             "ex08_tbptt_train_step")


def wrong_implementations(exercises=EXERCISES):
    """``(exercise id, source, label, function)`` for every wrong implementation measured."""
    from located_students import STUDENTS

    from course_utils.checks import discovery

    out = []
    for eid in exercises:
        entry = discovery.find(eid)
        for m in entry.mistakes:
            # ex08's mistakes are wrapped in its runner: measure the step function itself
            fn = m.fn.__closure__[0].cell_contents if entry.runner else m.fn
            out.append((eid, "catalogue", m.name, fn))
    out += [(eid, "student", label, fn) for eid, label, fn in STUDENTS if eid in exercises]
    return out


def classify(verdict) -> str:
    if verdict.passed:
        return "passed"
    if verdict.kind != "values":
        return "other"
    if verdict.located:
        return "located"
    if verdict.hint:
        return "named"
    return "generic"


def measure(exercises=EXERCISES) -> dict:
    import torch

    from course_utils.checks import discovery, probes

    torch.set_num_threads(1)  # CPU seconds without the thread pool's spinning (ex08 trains)
    rows, slowest = [], 0.0
    for eid in exercises:  # warm up (torch's first use, imports): not part of a check's cost
        discovery.find(eid).run_check(discovery.find(eid).reference)
    for eid, source, label, fn in wrong_implementations(exercises):
        entry = probes.without_catalogue(discovery.find(eid))
        t0 = time.process_time()
        v = entry.run_check(fn)
        dt = time.process_time() - t0
        slowest = max(slowest, dt)
        rows.append({"exercise": eid, "source": source, "label": label, "class": classify(v),
                     "message": v.message, "located": v.located, "hint": v.hint,
                     "cpu_s": round(dt, 3)})
    counts = {}
    for r in rows:
        counts[r["class"]] = counts.get(r["class"], 0) + 1
    values = sum(counts.get(k, 0) for k in ("located", "named", "generic"))
    return {"setup": {"exercises": list(exercises), "catalogue": "switched off",
                      "implementations": len(rows)},
            "counts": counts, "value_verdicts": values,
            "slowest_check_cpu_s": round(slowest, 3), "verdicts": rows}


def main(argv=None):
    from course_utils import provenance

    results = measure()
    for r in results["verdicts"]:
        print(f"{r['class']:8} {r['exercise']:24} {r['label'][:40]:40} "
              f"{(r['located'] or r['hint'] or '')[:110]}")
    print(results["counts"], "of", results["setup"]["implementations"])
    print("wrote", provenance.save_results("located_verdicts", results))


if __name__ == "__main__":
    main()
