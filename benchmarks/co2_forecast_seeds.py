"""The CO2 forecaster of notebook 05 (§10) over several seeds, on validation and test.

Notebook 05 trains one tanh RNN (seed 0) on Mauna Loa CO2 up to 1995 and forecasts 1996-2001
one month ahead. This script repeats that for seeds 0-4, and also the run on which the
settings were chosen: trained up to 1991, forecasting 1992-1995 (validation). It writes
each run's RMSE and MAE (ppm), and the baselines', to
``benchmarks/results/co2_forecast_seeds.json`` (``course_utils.provenance``), which
notebook 05 quotes.

Usage: ``nice -n 10 .venv-dev/bin/python benchmarks/co2_forecast_seeds.py`` (about a minute of CPU time).
"""

from __future__ import annotations

import argparse

from course_utils.data import series
from course_utils.lessons import forecast

SPLITS = {"validation": ("1992-01", "1996-01"), "test": ("1996-01", None)}


def main(argv=None):
    from course_utils import provenance

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    co2 = series.load_co2_monthly()
    settings = dict(cell="rnn", hidden=32, k=24, n_streams=1, epochs=60, lr=3e-3, clip=1.0)
    results = {"setup": {"seeds": list(range(args.seeds)), **settings,
                         "data_sha256": series.file_sha256()}}
    for part, (first, end) in SPLITS.items():
        start = forecast.month_index(co2.months, first)
        stop = forecast.month_index(co2.months, end) if end else len(co2)
        y = co2.values[:stop]  # nothing after the stretch is seen
        truth = y[start:]
        runs = [forecast.errors(forecast.train_forecaster(y[:start], seed=s, **settings)
                                .forecast(y, start), truth) for s in range(args.seeds)]
        base = {name: forecast.errors(f, truth)
                for name, f in forecast.baseline_forecasts(y, start).items()}
        results[part] = {
            "months": f"{co2.months[start]} to {co2.months[stop - 1]}",
            "model_rmse": [round(r["rmse"], 4) for r in runs],
            "model_mae": [round(r["mae"], 4) for r in runs],
            "baseline_rmse": {n: round(e["rmse"], 4) for n, e in base.items()},
            "baseline_mae": {n: round(e["mae"], 4) for n, e in base.items()},
        }
    print(forecast.format_seed_sweep(results))
    print("wrote", provenance.save_results("co2_forecast_seeds", results))


if __name__ == "__main__":
    main()
