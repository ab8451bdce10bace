"""The 1997 record: sequences and CPU seconds a chrono LSTM needs on the adding problem at
T = 100, 200, 500 and 1000, next to Hochreiter & Schmidhuber (1997, Table 7).

The runs, the "solved" criterion and the caps are those of ``lstm_chrono_adding.py
--record`` (see that module's docstring); this entry point writes
``benchmarks/results/lstm_chrono_adding_1997.json``, which notebook 07 quotes.

    nice -n 10 python benchmarks/lstm_chrono_adding_1997.py --jobs 2   # <= 30 CPU-minutes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lstm_chrono_adding import record  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (processes)")
    ap.add_argument("--deadline-min", type=float, default=None,
                    help="wall-clock deadline in minutes (a loaded, shared machine)")
    args = ap.parse_args()
    record(args.jobs, args.deadline_min)
