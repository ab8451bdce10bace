"""A long-range synthetic task, the adding problem, and a small PyTorch trainer for it.

**The adding problem** (Hochreiter & Schmidhuber 1997, experiment 4; the uniform-[0, 1]
version of Le et al. 2015 and Arjovsky et al. 2016). Each input sequence has T steps and
two channels:

* channel 0: a value drawn uniformly from [0, 1] at every step;
* channel 1: a marker, 1 at exactly two steps and 0 elsewhere.

The target is the sum of the two marked values. As in the 1997 paper, the first marker
lies in the first 10 steps and the second in the first half of the sequence (never at the
same step), so after the second marker the network must carry the sum for at least T/2
steps of irrelevant input before it is read out at the last step.

**The trivial baseline.** The target is a sum of two independent U(0, 1) values: its mean
is 1 and its variance 2/12 = 1/6. Always predicting 1 gives MSE 1/6 ≈ 0.167, and no
prediction that ignores the values can do better. A network that remembers only one of
the two values reaches 1/12 ≈ 0.083.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..reference import nb07 as _nb07

if TYPE_CHECKING:
    from ..history import History

BASELINE_MSE = 1.0 / 6.0  # always predict the mean, 1
ONE_VALUE_MSE = 1.0 / 12.0  # remember one marked value exactly, guess the other's mean
FIRST_MARKER_WINDOW = 10


def adding_problem(n: int, T: int, rng: np.random.Generator, *, dtype=np.float32):
    """Draw ``n`` sequences of the adding problem.

    Args:
        n: number of sequences; T: sequence length (T ≥ 4); rng: numpy Generator.

    Returns:
        x: (n, T, 2) with values in channel 0 and the two markers in channel 1;
        y: (n,) the sum of the two marked values.
    """
    if T < 4:
        raise ValueError("the adding problem needs T >= 4")
    values = rng.uniform(0.0, 1.0, size=(n, T))
    first = rng.integers(0, min(FIRST_MARKER_WINDOW, T // 2), size=n)
    # second marker: uniform over the first half, excluding `first`
    second = rng.integers(0, T // 2 - 1, size=n)
    second = second + (second >= first)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2).astype(dtype)
    y = (values[rows, first] + values[rows, second]).astype(dtype)
    return x, y


def eval_data(T: int, *, seed: int = 0, n: int = 1000):
    """The fixed evaluation set :func:`train_adding` uses: x (n, T, 2), y (n,)."""
    return adding_problem(n, T, np.random.default_rng(seed + 10_000))


def make_model(cell: str, hidden: int, *, forget_bias: float = 1.0, seed: int = 0,
               chrono_T_max: float | None = None):
    """A recurrent layer (batch-first) followed by a linear read-out of the last hidden state.

    ``cell``: 'lstm', 'rnn' (tanh, PyTorch's default initialisation) or 'irnn' (a ReLU
    RNN whose recurrent matrix starts as the identity and whose biases start at 0, as in
    Le, Jaitly & Hinton 2015; input weights keep PyTorch's default). For the LSTM, both
    forget-gate bias blocks are set so that they add up to ``forget_bias``; or, if
    ``chrono_T_max`` is given, ``forget_bias`` is ignored and the input- and forget-gate
    biases get chrono initialisation (:func:`course_utils.maths.lstm.chrono_init`, drawn with
    ``np.random.default_rng(seed)``). The model maps x: (N, T, 2) to (N,).
    """
    import torch

    torch.manual_seed(seed)
    if cell not in ("lstm", "rnn", "irnn"):
        raise ValueError(f"unknown cell {cell!r}: use 'lstm', 'rnn' or 'irnn'")

    def recurrent_layer():
        if cell == "lstm":
            return torch.nn.LSTM(2, hidden, batch_first=True)
        return torch.nn.RNN(2, hidden, batch_first=True,
                            nonlinearity="relu" if cell == "irnn" else "tanh")

    class SeqRegressor(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rec = recurrent_layer()
            self.out = torch.nn.Linear(hidden, 1)

        def forward(self, x):  # x: (N, T, 2) -> (N,)
            h, _ = self.rec(x)
            return self.out(h[:, -1]).squeeze(-1)

    model = SeqRegressor()
    if cell == "lstm" and chrono_T_max is not None:
        from ..maths import lstm

        lstm.chrono_init(model.rec, chrono_T_max, np.random.default_rng(seed))
    elif cell == "lstm":
        H = hidden
        with torch.no_grad():
            model.rec.bias_ih_l0[H:2 * H] = forget_bias / 2
            model.rec.bias_hh_l0[H:2 * H] = forget_bias / 2
    elif cell == "irnn":
        with torch.no_grad():
            model.rec.weight_hh_l0.copy_(torch.eye(hidden))
            model.rec.bias_ih_l0.zero_()
            model.rec.bias_hh_l0.zero_()
    return model


def train_adding(cell: str, *, T: int = 50, hidden: int = 32, steps: int = 600,
                 batch: int = 64, lr: float = 1e-2, seed: int = 0, forget_bias: float = 1.0,
                 eval_every: int = 25, n_eval: int = 1000, clip: float = 1.0,
                 progress: bool = False, threads: int | None = 1,
                 chrono_T_max: float | None = None,
                 stop_below: float | None = None) -> History:
    """Train ``make_model(cell)`` on fresh adding-problem batches with Adam.

    Same data stream, evaluation set and initial seed for every ``cell``, so an LSTM and
    an RNN trained with the same arguments see exactly the same sequences. Gradients are
    clipped to norm ``clip``. Returns the evaluation MSE every ``eval_every`` steps.
    ``chrono_T_max``: chrono initialisation of the LSTM's gate biases instead of
    ``forget_bias`` (see :func:`make_model`). ``stop_below``: stop after the first
    evaluation whose MSE is below it (then ``History.steps[-1]`` is the step it stopped at).
    ``threads``: torch threads during training (1 is fastest for these tiny models; the
    previous setting is restored afterwards).
    """
    from ..runtime import torch_threads

    with torch_threads(threads):
        return _train(cell, T, hidden, steps, batch, lr, seed, forget_bias, eval_every,
                      n_eval, clip, progress, chrono_T_max, stop_below)


def _train(cell, T, hidden, steps, batch, lr, seed, forget_bias, eval_every, n_eval, clip,
           progress, chrono_T_max=None, stop_below=None):
    import torch

    from ..history import History
    from ..training import TorchUpdate, fit

    model = make_model(cell, hidden, forget_bias=forget_bias, seed=seed,
                       chrono_T_max=chrono_T_max)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    x_ev, y_ev = (torch.from_numpy(a) for a in eval_data(T, seed=seed, n=n_eval))

    def mse(x, y):
        return torch.mean((model(x) - y) ** 2)

    @torch.no_grad()
    def evaluate():
        return float(mse(x_ev, y_ev))

    def fresh_batches():
        while True:
            yield tuple(torch.from_numpy(a) for a in adding_problem(batch, T, rng))

    solved = None if stop_below is None else (
        lambda h: f"evaluation MSE below {stop_below}" if h.evals[-1] < stop_below else None)
    update = TorchUpdate(model, opt, lambda xy, _: (mse(*xy), None), clip=clip or None,
                         measure_norm=False)
    return fit(update, fresh_batches(), history=History(name=cell, result=model),
               max_steps=steps, evaluate=evaluate, eval_every=eval_every, eval_first=True,
               eval_last=True, solved=solved, count_eval_time=True, progress=progress,
               desc=f"{cell.upper()} T={T}", total=steps)


def lstm_gate_trace(model, x) -> dict:
    """Run a trained LSTM model of :func:`make_model` on ``x: (N, T, 2)`` with the course's
    numpy LSTM (float64) and return what its gates did.

    Returns:
        dict of arrays, each (N, T, H): ``i``, ``f``, ``g``, ``o`` (the gates at every step)
        and ``c``, ``h`` (the cell and hidden states c_1 ... c_T, h_1 ... h_T), from zero
        initial states as in ``torch.nn.LSTM``.
    """
    import torch

    from ..maths import lstm

    if not isinstance(model.rec, torch.nn.LSTM):
        raise ValueError(f"lstm_gate_trace needs an LSTM model, not {type(model.rec).__name__}")
    p = lstm.params_from_torch(model.rec)
    Wx, Wh, b = (a.astype(np.float64) for a in p.as_tuple())
    x = np.asarray(x, dtype=np.float64)
    N, T, _ = x.shape
    H = Wh.shape[1]
    h_t, c_t = np.zeros((N, H)), np.zeros((N, H))
    out = {k: np.zeros((N, T, H)) for k in ("i", "f", "g", "o", "c", "h")}
    for t in range(T):
        i, f, g, o = _nb07.lstm_gates(x[:, t], h_t, Wx, Wh, b)
        c_t = f * c_t + i * g
        h_t = o * np.tanh(c_t)
        for k, v in zip(("i", "f", "g", "o", "c", "h"), (i, f, g, o, c_t, h_t)):
            out[k][:, t] = v
    return out


def summarise_runs(runs: list) -> list:
    """Group the runs of ``benchmarks/lstm_vs_rnn_long_range.py`` (its results file's
    ``runs``) by (part, T, steps, model), in the order they first appear.

    Returns:
        a list of dicts, one per group: ``part, T, steps, model`` and, over the seeds in
        order, ``seeds``, ``final_mse`` and ``first_below`` (a step, or None for never);
        ``solved`` (how many runs ended below the threshold), ``runs`` (how many runs)
        and ``cpu_s`` (mean CPU seconds per run).
    """
    groups: dict = {}
    for r in runs:
        key = (r.get("part", "main"), r["T"], r["steps"], r["model"])
        groups.setdefault(key, []).append(r)
    out = []
    for (part, T, steps, model), rs in groups.items():
        out.append(dict(part=part, T=T, steps=steps, model=model,
                        seeds=[r["seed"] for r in rs], final_mse=[r["final_mse"] for r in rs],
                        first_below=[r["first_below"] for r in rs],
                        solved=sum(bool(r["solved"]) for r in rs), runs=len(rs),
                        cpu_s=float(np.mean([r["cpu_s"] for r in rs]))))
    return out
