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

import numpy as np

from ..history import History
from ..reference import nb07 as _nb07
from ..training import Adam, Evaluation, Progress, Schedule, TorchUpdate, fit

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


def train_adding(cell: str, *, T: int = 50, hidden: int = 32, forget_bias: float = 1.0,
                 chrono_T_max: float | None = None, batch: int = 64, n_eval: int = 1000,
                 adam: Adam = Adam(lr=1e-2), schedule: Schedule = Schedule(steps=600, eval_every=25),
                 seed: int = 0) -> History:
    """Train ``make_model(cell, hidden)`` on fresh adding-problem batches with Adam.

    Same data stream, evaluation set and initial seed for every ``cell``, so an LSTM and
    an RNN trained with the same arguments see exactly the same sequences. Returns the
    evaluation MSE before training and every ``schedule.eval_every`` steps.

    Args:
        cell: 'rnn', 'lstm' or 'irnn' (:func:`make_model`); hidden: H.
        T: the sequence length; batch: sequences per step; n_eval: sequences in the fixed
            evaluation set (:func:`eval_data`).
        forget_bias: the LSTM's forget-gate bias; ``chrono_T_max``: chrono initialisation
            of its gate biases instead (see :func:`make_model`).
        adam: the optimiser (:class:`~course_utils.training.Adam`: learning rate,
            gradients clipped to norm ``clip``).
        schedule: ``steps`` and ``eval_every`` (:class:`~course_utils.training.Schedule`);
            with ``stop_below``, the run stops after the first evaluation whose MSE is
            below it (then ``History.steps[-1]`` is the step it stopped at).
        seed: seeds the model, the training stream and the evaluation set.

    Trains with one torch thread (fastest for these tiny models; the previous setting is
    restored afterwards); evaluation time counts as training time.
    """
    import torch

    from ..runtime import torch_threads

    with torch_threads(1):
        model = make_model(cell, hidden, forget_bias=forget_bias, seed=seed,
                           chrono_T_max=chrono_T_max)
        opt = adam.optimizer(model.parameters())
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

        update = TorchUpdate(model, opt, lambda xy, _: (mse(*xy), None), clip=adam.clip or None,
                             measure_norm=False)
        return fit(update, fresh_batches(),
                   history=History(name=cell, clock=schedule.clock, result=model),
                   schedule=schedule, evaluation=Evaluation(evaluate, first=True, last=True,
                                                            counted=True),
                   progress=Progress(desc=f"{cell.upper()} T={T}", total=schedule.steps),
                   before_update=adam.lr_decay(opt, schedule))


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


def marked_positions(x):
    """x: (N, T, 2) adding-problem inputs -> (N, 2) the two marked steps, in order."""
    marks = np.asarray(x)[:, :, 1] == 1
    return np.array([np.flatnonzero(m)[:2] for m in marks])


def single_trace_mse(x, y, f: float) -> float:
    """Best MSE of a read-out ``a + b·z`` (a, b by least squares) of a single cell that
    stores both marked values and then only decays: ``z = X₁ f^{n₁} + X₂ f^{n₂}``, with
    ``n`` the steps from a marked step to the end. x: (N, T, 2), y: (N,)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    pos = marked_positions(x)
    rows = np.arange(len(y))[:, None]
    n = x.shape[1] - 1 - pos
    z = (x[rows, pos, 0] * float(f) ** n).sum(axis=1)
    A = np.column_stack([np.ones_like(z), z])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    return float(np.mean((A @ coef - y) ** 2))


def storage_analysis(model, x, y) -> dict:
    """How a trained :func:`make_model` LSTM holds the sum, measured on x: (N, T, 2), y: (N,).

    Returns a dict of arrays (H units, float64):

    * ``mse``: the model's MSE; ``n``: (N, 2) steps from each marked step to the end;
    * ``dy_dx``: (N, 2) ``∂ŷ/∂X`` for the two marked values (1 for a perfect adder);
    * ``dc_dx``: (N, 2, H) ``∂c_T/∂X`` per unit (torch autograd, float64, every path);
    * ``corr``: (H,) correlation of ``c_T`` with the target;
    * ``f_after``: (H,) mean forget gate after the second marked step;
    * ``direct_kept``: (H,) mean of ``∏ f`` from the second marked step to the end: what the
      direct path alone keeps of a value written there;
    * ``eff_decay``: (H,) the per-step factor r of a least-squares fit
      ``|∂c_T/∂X| ∝ r^n`` over both markers and all sequences: how a stored value fades
      through every path (a unit whose memory were its forget gate alone would give
      r ≈ its f);
    * ``mse_without``: (H,) the model's MSE with that unit's ``h_T`` replaced by its mean
      (the read-out no longer sees it);
    * ``mse_alone``: (H,) MSE of a least-squares read-out ``a + b·h_T`` of that unit alone.

    Runs torch on one thread (these are small; about 1 s of CPU for 1000 sequences of 50).
    """
    from ..runtime import torch_threads

    with torch_threads(1):
        return _storage(model, x, y)


def _storage(model, x, y) -> dict:
    import copy

    import torch

    x64 = np.asarray(x, dtype=np.float64)
    y64 = np.asarray(y, dtype=np.float64)
    N, T, _ = x64.shape
    m = copy.deepcopy(model).double()
    pos = marked_positions(x64)
    rows = np.arange(N)[:, None]
    xt = torch.tensor(x64, requires_grad=True)
    out, (_, c_n) = m.rec(xt)
    y_hat = m.out(out[:, -1]).squeeze(-1)
    H = c_n.shape[-1]

    def sensitivity(scalar):
        g, = torch.autograd.grad(scalar, xt, retain_graph=True)
        return g.numpy()[:, :, 0][rows, pos]                          # (N, 2)

    dy_dx = sensitivity(y_hat.sum())
    dc_dx = np.stack([sensitivity(c_n[0, :, j].sum()) for j in range(H)], axis=2)
    trace = lstm_gate_trace(model, x64)
    cT, hT, f = trace["c"][:, -1], trace["h"][:, -1], trace["f"]
    after = np.arange(T)[None, :] > pos[:, 1:2]                       # (N, T)
    f_after = (f * after[..., None]).sum(axis=(0, 1)) / after.sum()
    kept = np.exp((np.log(f) * after[..., None]).sum(axis=1)).mean(axis=0)
    n = T - 1 - pos
    eff = np.empty(H)
    for j in range(H):
        s = np.abs(dc_dx[:, :, j]).ravel()
        ok = s > 0
        A = np.column_stack([np.ones(ok.sum()), n.ravel()[ok]])
        eff[j] = np.exp(np.linalg.lstsq(A, np.log(s[ok]), rcond=None)[0][1])
    w = m.out.weight.detach().numpy()[0]
    b0 = float(m.out.bias.detach()[0])
    without, alone = np.empty(H), np.empty(H)
    for j in range(H):
        h_ab = hT.copy()
        h_ab[:, j] = hT[:, j].mean()
        without[j] = np.mean((h_ab @ w + b0 - y64) ** 2)
        A = np.column_stack([np.ones(N), hT[:, j]])
        alone[j] = np.mean((A @ np.linalg.lstsq(A, y64, rcond=None)[0] - y64) ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):   # a constant c_T gives nan
        corr = np.array([np.corrcoef(cT[:, j], y64)[0, 1] for j in range(H)])
    return dict(mse=float(np.mean((y_hat.detach().numpy() - y64) ** 2)), n=n, dy_dx=dy_dx,
                dc_dx=dc_dx, corr=corr, f_after=f_after, direct_kept=kept, eff_decay=eff,
                mse_without=without, mse_alone=alone)


def plot_storage(st: dict, units, *, f_ref: float):
    """Figure of :func:`storage_analysis`'s result ``st``. Left: the model's ``∂ŷ/∂X`` for
    each marked value against the steps n to the end, next to ``f_ref^n`` (what the direct
    path of a cell with forget gate ``f_ref`` keeps). Right: for the given ``units``, the
    mean forget gate after the second marker next to the effective decay per step through
    every path. Returns the two Axes."""
    import matplotlib.pyplot as plt

    fig, (ax_s, ax_u) = plt.subplots(1, 2, figsize=(12, 3.9))
    # marker shapes as well as colours, so the two are told apart without colour
    for k, (which, color, shape) in enumerate([("first", "C0", "o"), ("second", "C1", "^")]):
        ax_s.plot(st["n"][:, k], st["dy_dx"][:, k], shape, ms=2.5, alpha=0.35, color=color,
                  label=f"model's ∂ŷ/∂X, {which} marked value")
    n = np.arange(0, int(st["n"].max()) + 1)
    ax_s.plot(n, f_ref ** n, "k--", lw=1.5, label=f"direct path alone: {f_ref:.2f}ⁿ")
    ax_s.axhline(1.0, color="grey", lw=0.8)
    ax_s.set_xlabel("n: steps from the marked step to the read-out")
    ax_s.set_ylabel("sensitivity / fraction kept")
    ax_s.set_title("What reaches the read-out from a marked value", fontsize=10)
    ax_s.legend(fontsize=8, loc="lower left")
    ax_s.set_ylim(0, max(1.6, float(np.quantile(st["dy_dx"], 0.99)) + 0.1))
    units = list(units)
    pos = np.arange(len(units))
    ax_u.bar(pos - 0.2, st["f_after"][units], 0.4, color="C3", hatch="//", edgecolor="white",
             label="mean forget gate f after the 2nd marker (direct path, per step)")
    ax_u.bar(pos + 0.2, st["eff_decay"][units], 0.4, color="C0",
             label="effective decay per step, every path (fit of |∂c_T/∂X|)")
    ax_u.axhline(1.0, color="grey", lw=0.8)
    ax_u.set_xticks(pos, [str(u) for u in units])
    ax_u.set_xlabel("unit (those whose c_T follows the target)")
    ax_u.set_ylabel("factor per step")
    lo = min(st["f_after"][units].min(), st["eff_decay"][units].min())
    ax_u.set_ylim(max(0.0, lo - 0.03), max(1.1, st["eff_decay"][units].max() + 0.03))
    ax_u.set_title("How fast each storing unit's memory fades", fontsize=10)
    ax_u.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return ax_s, ax_u
