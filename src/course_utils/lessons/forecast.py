"""Notebook 05's real series: one-step-ahead forecasts of monthly CO2 by a small tanh RNN
trained with stateful truncated BPTT, against seasonal-naive baselines.

The model sees the series' month-to-month *changes* ``d_t = y_t - y_{t-1}``, standardised
with the training months' mean and standard deviation, and predicts the next change; the
forecast of month ``t + 1`` is ``y_t`` plus that change. The training changes are one
long sequence: they are cut into ``n_streams`` contiguous rows
(:func:`course_utils.data.tasks.batchify_stream`) and trained with TBPTT(k, k), the state
carried from chunk to chunk and detached (:func:`course_utils.training.train_tbptt`).
Forecasts run the model over the whole series with the true past values (one step
ahead), so a test month's forecast uses every month before it and nothing after.

Baselines (``y``: ``(M,)``, forecasts for months ``start … M-1``):
:func:`seasonal_naive` (the value 12 months earlier), :func:`seasonal_naive_drift`
(plus the mean yearly rise of the training months, :func:`mean_yearly_rise`) and
:func:`seasonal_naive_changes` (last month's value plus the change of the same month a
year earlier: it knows last month, as the model does).

The defaults of :func:`train_forecaster` (a tanh RNN of 32 units, TBPTT(24, 24) on one
stream, 60 passes, Adam at 3e-3) were chosen on a validation stretch, 1992-1995, with the
model trained on 1958-1991 and the test years (1996-2001) not used: 32 units, k = 24 and 60
passes were chosen there for an LSTM first; for the RNN the learning rate was chosen
between 1e-2 and 3e-3 on the same stretch (seeds 0 and 1; 1e-2 gave one seed an RMSE of
0.62, 3e-3 gave 0.26 and 0.27).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import training
from ..data import tasks
from ..runtime import torch_threads

SEASON = 12


def seasonal_naive(y, start: int, season: int = SEASON) -> np.ndarray:
    """Forecast month ``t`` by month ``t - season``, for ``t = start … M-1``.

    Args:
        y: ``(M,)`` series; start: first forecast month (``start >= season``).

    Returns:
        ``(M - start,)`` forecasts.
    """
    y = np.asarray(y, dtype=np.float64)
    if not season <= start <= len(y):
        raise ValueError(f"need {season} <= start <= {len(y)}, got start={start}")
    return y[start - season:len(y) - season].copy()


def mean_yearly_rise(y_train, season: int = SEASON) -> float:
    """The mean of ``y[t] - y[t - season]`` over a training stretch ``(n,)``, ``n > season``."""
    y_train = np.asarray(y_train, dtype=np.float64)
    if len(y_train) <= season:
        raise ValueError(f"need more than {season} values, got {len(y_train)}")
    return float(np.mean(y_train[season:] - y_train[:-season]))


def seasonal_naive_drift(y, start: int, season: int = SEASON, *, rise: float | None = None
                         ) -> np.ndarray:
    """Seasonal-naive plus a yearly rise: ``y[t - season] + rise`` for ``t = start … M-1``.

    ``rise`` defaults to :func:`mean_yearly_rise` of ``y[:start]`` (the months before the
    first forecast). Returns ``(M - start,)`` forecasts.
    """
    if rise is None:
        rise = mean_yearly_rise(np.asarray(y)[:start], season)
    return seasonal_naive(y, start, season) + rise


def seasonal_naive_changes(y, start: int, season: int = SEASON) -> np.ndarray:
    """Last month's value plus the change of the same month a season earlier:
    ``y[t-1] + (y[t-season] - y[t-season-1])`` for ``t = start … M-1``.

    It knows last month (as the LSTM does) and repeats last year's seasonal step.
    ``start >= season + 1``. Returns ``(M - start,)`` forecasts.
    """
    y = np.asarray(y, dtype=np.float64)
    if not season + 1 <= start <= len(y):
        raise ValueError(f"need {season + 1} <= start <= {len(y)}, got start={start}")
    return y[start - 1:-1] + seasonal_naive(np.diff(y), start - 1, season)


def errors(forecast, truth) -> dict:
    """``{"rmse": …, "mae": …}`` of ``forecast`` against ``truth`` (both ``(n,)``)."""
    e = np.asarray(forecast, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"need two equal, non-empty 1-d arrays, got shape {e.shape}")
    return {"rmse": float(np.sqrt(np.mean(e ** 2))), "mae": float(np.mean(np.abs(e)))}


@dataclass
class Forecaster:
    """A trained change-predicting recurrent network and the scaling of its inputs.

    ``model``: :class:`course_utils.training.SequenceModel` (tanh RNN or LSTM, float64, 1 input,
    1 output); ``mean``, ``std``: of the training changes; ``history``: the training run
    (:class:`course_utils.history.History`, one loss per chunk, in standardised units).
    """

    model: object
    mean: float
    std: float
    history: object

    def forecast(self, y, start: int) -> np.ndarray:
        """One-step-ahead forecasts of ``y[start:]`` from ``y: (M,)`` (``start >= 2``).

        The model runs once over the changes ``d_1 … d_{M-2}`` from a zero state; the
        forecast of month ``t`` is ``y[t-1]`` plus its prediction of ``d_t``. Returns
        ``(M - start,)``.
        """
        import torch

        y = np.asarray(y, dtype=np.float64)
        if not 2 <= start <= len(y):
            raise ValueError(f"need 2 <= start <= {len(y)}, got start={start}")
        z = (np.diff(y)[:-1] - self.mean) / self.std  # d_1 … d_{M-2}, standardised
        x = torch.from_numpy(z)[None, :, None]
        self.model.eval()
        with torch.no_grad(), torch_threads(1):
            out, _ = self.model(x)
        self.model.train()
        d_next = out[0, :, 0].numpy() * self.std + self.mean  # prediction of d_2 … d_{M-1}
        return y[start - 1:-1] + d_next[start - 2:]


def train_forecaster(y_train, *, hidden: int = 32, k: int = 24, n_streams: int = 1,
                     epochs: int = 60, lr: float = 3e-3, clip: float = 1.0, seed: int = 0,
                     cell: str = "rnn", progress: bool = False) -> Forecaster:
    """Train a recurrent network (``cell``: ``"rnn"``, tanh, by default; ``"lstm"``) to predict the next month-to-month change of ``y_train: (n,)``.

    The standardised changes are a stream; inputs are ``d_1 … d_{n-2}``, targets
    ``d_2 … d_{n-1}``, cut into ``n_streams`` contiguous rows and trained with stateful
    TBPTT(k, k) (state carried across the chunks of a pass, detached; every pass starts
    from a zero state), Adam with learning rate ``lr``, the gradient norm clipped at
    ``clip``; float64, one torch thread (the same numbers on every run). ``epochs``
    passes of ``ceil(rows' length / k)`` updates each.
    """
    import torch

    y_train = np.asarray(y_train, dtype=np.float64)
    d = np.diff(y_train)
    mean, std = float(d.mean()), float(d.std())
    z = (d - mean) / std
    pairs = np.stack([z[:-1], z[1:]], axis=-1)  # (n - 2, 2): input, target
    rows = tasks.batchify_stream(pairs, n_streams)  # (n_streams, L, 2)
    x = torch.from_numpy(np.ascontiguousarray(rows[..., :1]))
    t = torch.from_numpy(np.ascontiguousarray(rows[..., 1:]))
    with torch_threads(1):
        torch.manual_seed(seed)
        model = training.SequenceModel(1, hidden, 1, cell=cell).double()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        hist = training.train_tbptt(model, [(x, t)], loss_fn=torch.nn.functional.mse_loss,
                                    optimizer=opt, k=k, clip=clip, epochs=epochs,
                                    progress=progress, desc=f"{cell.upper()} on CO2 changes")
    hist.result = model
    return Forecaster(model, mean, std, hist)


def baseline_forecasts(y, start: int) -> dict:
    """The three baselines' forecasts of ``y[start:]``, by name (each ``(M - start,)``)."""
    return {"seasonal naive": seasonal_naive(y, start),
            "seasonal naive + drift": seasonal_naive_drift(y, start),
            "last value + last year's change": seasonal_naive_changes(y, start)}


def format_errors(forecasts: dict, truth, *, digits: int = 2) -> str:
    """A text table of each forecast's RMSE and MAE against ``truth: (n,)``, in ppm,
    rounded to ``digits`` (one line per entry of ``forecasts``, in its order)."""
    width = max(len(name) for name in forecasts)
    lines = [f"{'method':<{width}}  RMSE (ppm)  MAE (ppm)"]
    for name, f in forecasts.items():
        e = errors(f, truth)
        lines.append(f"{name:<{width}}  {e['rmse']:10.{digits}f}  {e['mae']:9.{digits}f}")
    return "\n".join(lines)


def plot_series(series, test_start: int, ax=None):
    """The monthly series (``series``: :class:`course_utils.data.series.MonthlySeries`)
    against the year, its interpolated months marked and the test stretch (from month
    index ``test_start``) shaded. Returns the ``Axes``."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots(figsize=(9, 3.6))[1]
    yrs, v = series.years, series.values
    ax.plot(yrs, v, lw=1, label="monthly mean")
    if series.filled.any():
        ax.plot(yrs[series.filled], v[series.filled], "o", ls="none", ms=4, mfc="none",
                label=f"interpolated ({int(series.filled.sum())} months)")
    ax.axvspan(yrs[test_start] - 1 / 24, yrs[-1] + 1 / 24, color="0.85", zorder=0,
               label=f"test ({len(v) - test_start} months, never trained on)")
    ax.set_xlabel("year")
    ax.set_ylabel("CO$_2$ (ppm)")
    ax.set_title("Mauna Loa atmospheric CO$_2$, monthly means of weekly values")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return ax


def plot_forecasts(years, truth, forecasts: dict, axes=None):
    """Two panels over the test months (``years``, ``truth``: ``(n,)``): the forecasts
    against the truth (left) and each forecast's error (right), in ppm. Markers tell the
    forecasts apart without colour. Returns the two ``Axes``."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    ax, bx = axes
    ax.plot(years, truth, color="k", lw=2, ls="-", label="measured")
    markers = "sD^ov"
    for (name, f), mk in zip(forecasts.items(), markers):
        ax.plot(years, f, marker=mk, ms=3, lw=1, label=name)
        bx.plot(years, np.asarray(f) - truth, marker=mk, ms=3, lw=1, label=name)
    bx.axhline(0, color="k", lw=1)
    ax.set_xlabel("year")
    ax.set_ylabel("CO$_2$ (ppm)")
    ax.set_title("One-step-ahead forecasts on the test years")
    bx.set_xlabel("year")
    bx.set_ylabel("forecast − measured (ppm)")
    bx.set_title("Forecast errors")
    for a in axes:
        a.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return axes


def month_index(months, month: str) -> int:
    """Position of ``month`` (``"YYYY-MM"``) in ``months: (M,) datetime64[M]``."""
    hits = np.flatnonzero(np.asarray(months) == np.datetime64(month, "M"))
    if hits.size != 1:
        raise ValueError(f"month {month} is not in the series")
    return int(hits[0])


def format_seed_sweep(results: dict) -> str:
    """``benchmarks/co2_forecast_seeds.py``'s results as text: for the validation and the
    test stretch, the model's RMSE per seed and its range, and the baselines' RMSE."""
    lines = []
    name = {"rnn": "RNN", "lstm": "LSTM"}[results["setup"].get("cell", "lstm")]
    for part in ("validation", "test"):
        r = results[part]
        rmse = r["model_rmse"]
        base = ", ".join(f"{n} {v:.2f}" for n, v in r["baseline_rmse"].items())
        lines.append(f"{part} ({r['months']}): {name} RMSE over seeds "
                     + " ".join(f"{v:.2f}" for v in rmse)
                     + f" (range {min(rmse):.2f}-{max(rmse):.2f}); baselines: {base}")
    return "\n".join(lines)
