"""Lesson 07's memory explorer: how the forget-gate bias sets how long an LSTM remembers.

An LSTM at initialisation (weights drawn like ``torch.nn.LSTM``'s, H = 32 units) reads
adding-problem sequences (:func:`course_utils.lessons.longrange.adding_problem`). Its forget-gate
biases are either one constant ``b_f`` or drawn by chrono initialisation with horizon
``T_max`` (:func:`course_utils.maths.lstm.chrono_init`). The explorer shows

* the gate values over time: the forget gates ``f_t`` of a few units and the mean input
  gate, on one sequence;
* the exact Jacobian norms ``‖∂c_T/∂c_k‖₂`` against the lag ``T − k`` (every path: the
  direct carousel path and the paths through ``h`` into the gates), next to the norm of
  the direct path alone, ``max_j ∏_{t=k+1}^{T} f_{t,j}`` (the Jacobian ``diag(∏ f_t)``).

The Jacobians come from the course's LSTM backward pass
(:func:`course_utils.maths.lstm.lstm_state_gradients` with ``dcT`` the rows of an identity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import runtime
from ..maths import lstm
from ..reference import nb07 as _nb07
from . import longrange

EXPLORER_DEFAULTS = dict(forget_bias=3.0, init="constant", T_max=100, T=100)
INITS = ("constant", "chrono")
N_UNITS_SHOWN = 8


def cell_state_jacobians(x, h0, c0, Wx, Wh, b):
    """Exact Jacobians of the final cell state with respect to every cell state.

    Args:
        x: (N, T, D) inputs; h0, c0: (N, H) initial states; Wx: (4H, D), Wh: (4H, H),
        b: (4H,) LSTM weights (gate order i, f, g, o).

    Returns:
        J: (N, T + 1, H, H) with ``J[n, k] = ∂c_T/∂c_k`` for sequence n (``c_0 = c0``;
        ``J[:, T]`` is the identity), through every path, including ``c_k → h_k → gates``.
    """
    x, h0, c0 = (np.asarray(a, dtype=np.float64) for a in (x, h0, c0))
    N, T, _ = x.shape
    H = h0.shape[1]
    # Row (n, j) of the replicated batch carries e_j^T ∂c_T/∂(.) for sequence n.
    rep = (np.repeat(a, H, axis=0) for a in (x, h0, c0))
    eye = np.tile(np.eye(H), (N, 1))
    _, dc = lstm.lstm_state_gradients(*rep, Wx, Wh, b, np.zeros((N * H, H)), dcT=eye)
    return dc.reshape(N, H, T + 1, H).transpose(0, 2, 1, 3)


@dataclass
class MemoryExperiment:
    """What :func:`explorer_experiment` measured.

    b_f: (H,) forget-gate biases; gates: dict of ``i, f, g, o``, each (N, T, H);
    jac_norms: (N, T + 1) ``‖∂c_T/∂c_k‖₂``; direct_norms: (N, T + 1) ``max_j ∏ f`` from
    k + 1 to T (1 at k = T).
    """

    settings: dict
    b_f: np.ndarray
    gates: dict
    jac_norms: np.ndarray
    direct_norms: np.ndarray

    @property
    def T(self) -> int:
        return self.jac_norms.shape[1] - 1

    @property
    def lags(self) -> np.ndarray:
        """(T + 1,) lag ``T − k`` of entry k."""
        return self.T - np.arange(self.T + 1)

    @property
    def timescales(self) -> np.ndarray:
        """(H,) ``1/(1 − σ(b_f))`` per unit: the memory time a constant gate ``σ(b_f)`` gives."""
        return 1.0 / (1.0 - lstm.sigmoid(self.b_f))


def explorer_experiment(forget_bias=3.0, init="constant", T_max=100, T=100, *, H=32, N=4,
                        seed=0) -> MemoryExperiment:
    """Gates and ``‖∂c_T/∂c_k‖`` of an LSTM at initialisation on N adding-problem sequences.

    ``init='constant'`` sets every forget-gate bias to ``forget_bias``; ``init='chrono'``
    draws them (and the input-gate biases, ``b_i = −b_f``) with chrono initialisation of
    horizon ``T_max``. Weights: :func:`course_utils.maths.lstm.init_lstm_params` (torch's law),
    seeded by ``seed``, so only the biases change with the settings. Runs numpy's BLAS on
    one thread: these matrices are small, and a second thread waiting for a busy core
    made it several times slower on a shared machine.
    """
    with runtime.blas_threads(1):
        return _experiment(forget_bias, init, T_max, T, H, N, seed)


def _experiment(forget_bias, init, T_max, T, H, N, seed) -> MemoryExperiment:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}: use one of {INITS}")
    T = int(T)
    rng = np.random.default_rng(seed)
    p = lstm.init_lstm_params(2, H, rng)
    f_rows = lstm.gate_slice("f", H)
    if init == "chrono":
        lstm.chrono_init(p, float(T_max), np.random.default_rng(seed + 1))
    else:
        p.b[f_rows] = forget_bias
    x, _ = longrange.adding_problem(N, T, np.random.default_rng(seed + 2), dtype=np.float64)
    zeros = np.zeros((N, H))
    J = cell_state_jacobians(x, zeros, zeros, *p.as_tuple())
    jac_norms = np.linalg.norm(J, ord=2, axis=(2, 3))
    h, _ = _nb07.lstm_forward(x, zeros, zeros, *p.as_tuple())
    h_prev = np.concatenate([zeros[:, None], h[:, :-1]], axis=1)
    gates = dict(zip(lstm.GATE_ORDER, _nb07.lstm_gates(
        x.reshape(N * T, 2), h_prev.reshape(N * T, H), *p.as_tuple())))
    gates = {k: v.reshape(N, T, H) for k, v in gates.items()}
    # direct path from c_k to c_T: diag(f_{k+1} ⊙ ... ⊙ f_T); its 2-norm is the largest entry
    log_f = np.log(gates["f"])
    suffix = np.concatenate([np.cumsum(log_f[:, ::-1], axis=1)[:, ::-1], np.zeros((N, 1, H))],
                            axis=1)                                      # (N, T + 1, H)
    direct = np.exp(suffix.max(axis=2))
    settings = dict(forget_bias=float(forget_bias), init=init, T_max=float(T_max), T=T)
    return MemoryExperiment(settings, p.b[f_rows].copy(), gates, jac_norms, direct)


def _describe(s) -> str:
    if s["init"] == "chrono":
        return f"chrono init, T_max = {s['T_max']:g}"
    return f"every forget bias = {s['forget_bias']:g}"


def plot_explorer(axes=None, **settings):
    """Draw the explorer's figure for ``settings`` (see :data:`EXPLORER_DEFAULTS`): left, the
    forget gates of a few units and the mean input gate on one sequence; right, the mean
    over sequences of ``‖∂c_T/∂c_k‖₂`` and of the direct path's norm against the lag, as
    ``log10``. Labels are plain Unicode text, not mathtext: parsing mathtext took most of a
    redraw's time. Returns the two Axes."""
    import matplotlib.pyplot as plt

    s = {**EXPLORER_DEFAULTS, **settings}
    ex = explorer_experiment(**s)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax_g, ax_j = axes
    t = np.arange(1, ex.T + 1)
    f0 = ex.gates["f"][0]
    for j in range(N_UNITS_SHOWN):
        ax_g.plot(t, f0[:, j], lw=1, alpha=0.8,
                  label=f"forget gates fₜ of {N_UNITS_SHOWN} units" if j == 0 else None)
    ax_g.plot(t, ex.gates["i"][0].mean(axis=1), "k--", lw=1.5, label="input gate iₜ, mean")
    ax_g.set_ylim(0, 1.02)
    ax_g.set_xlabel("time step t")
    ax_g.set_ylabel("gate value")
    ax_g.set_title(f"Gates at initialisation, one sequence ({_describe(s)})", fontsize=10)
    ax_g.legend(fontsize=8, loc="lower right")
    ax_g.grid(True, alpha=0.3)

    lags = ex.lags
    with np.errstate(divide="ignore"):  # an underflow to 0 is drawn off the axes
        ax_j.plot(lags, np.log10(ex.jac_norms.mean(axis=0)), color="C0", lw=2,
                  label="‖∂c_T/∂c_k‖₂, every path")
        ax_j.plot(lags, np.log10(ex.direct_norms.mean(axis=0)), color="C3", ls="--",
                  label="direct path only, max over units of ∏ fₜ")
    ax_j.axhline(0.0, color="grey", lw=0.8)
    ax_j.set_ylim(-20, 2)
    ax_j.set_xlim(0, ex.T)
    ax_j.set_xlabel("lag T − k (steps back)")
    ax_j.set_ylabel("log10 of the mean ‖∂c_T/∂c_k‖₂")
    ax_j.set_title(f"Cell-state gradient flow, T = {ex.T}", fontsize=10)
    ax_j.legend(fontsize=8, loc="lower left")
    ax_j.grid(True, which="major", alpha=0.3)
    return axes


def memory_explorer():
    """An ``ipywidgets.interactive`` explorer of the forget-gate bias.

    Controls, in this order: forget-gate bias ``b_f`` (``FloatSlider``, used when the init is
    'constant'), the init ('constant' or 'chrono'), chrono's ``T_max`` (``IntSlider``,
    used when the init is 'chrono') and the sequence length T. Every change redraws
    :func:`plot_explorer`'s figure (about 0.3 s of CPU). Display the returned widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def show(forget_bias, init, T_max, T):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        plot_explorer(axes, forget_bias=forget_bias, init=init, T_max=T_max, T=T)
        plt.tight_layout()
        plt.show()

    d = EXPLORER_DEFAULTS
    kw = dict(style={"description_width": "110px"}, layout=widgets.Layout(width="420px"))
    return widgets.interactive(
        show,
        forget_bias=widgets.FloatSlider(value=d["forget_bias"], min=-2.0, max=8.0, step=0.5,
                                        description="forget bias b_f", continuous_update=False,
                                        **kw),
        init=widgets.Dropdown(options=list(INITS), value=d["init"], description="init", **kw),
        T_max=widgets.IntSlider(value=d["T_max"], min=3, max=1000, step=1,
                                description="chrono T_max", continuous_update=False, **kw),
        T=widgets.IntSlider(value=d["T"], min=10, max=300, step=10, description="length T",
                            continuous_update=False, **kw),
    )
