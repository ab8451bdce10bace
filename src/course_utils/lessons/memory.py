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
(:func:`course_utils.lessons.cell_flow.lstm_state_gradients` with ``dcT`` the rows of an identity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import runtime
from ..maths import lstm
from ..reference import nb07 as _nb07
from . import cell_flow, longrange

EXPLORER_DEFAULTS = dict(forget_bias=3.0, init="constant", T_max=100, T=100)
INITS = ("constant", "chrono")
N_UNITS_SHOWN = 8


def cell_state_jacobians(x, h0, c0, params):
    """Exact Jacobians of the final cell state with respect to every cell state.

    Args:
        x: (N, T, D) inputs; h0, c0: (N, H) initial states; params: the LSTM weights,
            ``Wx: (4H, D), Wh: (4H, H), b: (4H,)`` (gate order i, f, g, o), as an
            :class:`~course_utils.maths.lstm.LSTMParams` or a tuple ``(Wx, Wh, b)``.

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
    _, dc = cell_flow.lstm_state_gradients(*rep, params, np.zeros((N * H, H)), dcT=eye)
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
        return _experiment(forget_bias, init, T_max, T, H, N=N, seed=seed)


def _experiment(forget_bias, init, T_max, T, H, *, N, seed) -> MemoryExperiment:
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
    J = cell_state_jacobians(x, zeros, zeros, p)
    jac_norms = np.linalg.norm(J, ord=2, axis=(2, 3))
    h, _ = _nb07.lstm_forward(x, zeros, zeros, *p.as_tuple())
    h_prev = np.concatenate([zeros[:, None], h[:, :-1]], axis=1)
    gates = dict(zip(lstm.GATE_ORDER, _nb07.lstm_gates(
        x.reshape(N * T, 2), h_prev.reshape(N * T, H), *p.as_tuple())))
    gates = {k: v.reshape(N, T, H) for k, v in gates.items()}
    # direct path from c_k to c_T: diag(f_{k+1} ⊙ ... ⊙ f_T); its 2-norm is the largest entry
    direct = lstm.forget_products(gates["f"]).max(axis=2)
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
        every, direct = np.log10(ex.jac_norms.mean(axis=0)), np.log10(ex.direct_norms.mean(axis=0))
    ax_j.plot(lags, every, color="C0", lw=2, label="‖∂c_T/∂c_k‖₂, every path (direct + mixed)")
    ax_j.plot(lags, direct, color="C3", ls="--", label="direct path only, max over units of ∏ fₜ")
    ax_j.axhline(0.0, color="grey", lw=0.8)
    ax_j.set_ylim(*log_limits(every, direct))
    ax_j.set_xlim(0, ex.T)
    ax_j.set_xlabel("lag T − k (steps back)")
    ax_j.set_ylabel("log10 of the mean ‖∂c_T/∂c_k‖₂")
    ax_j.set_title(f"Cell-state gradient flow, T = {ex.T}", fontsize=10)
    ax_j.legend(fontsize=8, loc="best")
    ax_j.grid(True, which="major", alpha=0.3)
    return axes


def log_limits(*curves, floor=-30.0, margin=0.5):
    """y-limits for curves of log10 values: from just below the lowest finite value (but
    not below ``floor``) to just above the highest (and above 0), so the data fill the
    height. Returns (low, high)."""
    vals = np.concatenate([np.asarray(c, dtype=float).ravel() for c in curves])
    vals = vals[np.isfinite(vals)]
    lo = max(np.floor(vals.min() - margin), floor) if vals.size else floor
    hi = max(np.ceil(vals.max() + margin), margin) if vals.size else 1.0
    return float(lo), float(hi)


def memory_explorer():
    """An ``ipywidgets.interactive`` explorer of the forget-gate bias.

    Controls, in this order: forget-gate bias ``b_f`` (``FloatSlider``, used when the init is
    'constant'), the init ('constant' or 'chrono'), chrono's ``T_max`` (``IntSlider``,
    used when the init is 'chrono') and the sequence length T. Every change redraws
    :func:`plot_explorer`'s figure (about 0.3 s of CPU). Display the returned widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .. import plots

    def show(forget_bias, init, T_max, T):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        plot_explorer(axes, forget_bias=forget_bias, init=init, T_max=T_max, T=T)
        plt.tight_layout()
        plt.show()

    d = EXPLORER_DEFAULTS
    kw = dict(style={"description_width": "110px"}, layout=widgets.Layout(width="420px"))
    return plots.explorer(
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


# ---------------------------------------------------------------------------------------
# Section 2's diagram and section 9's figure: the paths of the cell state's gradient
# ---------------------------------------------------------------------------------------
DIRECT_COLOR, MIXED_COLOR, O_PATH_COLOR = "C3", "C0", "0.35"


def draw_cell_paths(ax=None):
    """Draw two LSTM steps, k → k+1 → k+2, with the kinds of path from ``c_k`` onward:
    the **direct** path ``c_k → c_{k+1} → c_{k+2}`` (red, solid; each arrow multiplies by
    ``f``), a **mixed** path ``c_k → h_k → (i, f, g)_{k+1} → c_{k+1}`` (blue, dashed; it meets
    ``W_h`` and the gates' derivatives), and the path through the output gate
    ``h_k → o_{k+1} → h_{k+1}`` (grey, dotted), which goes round the next cell state: ``o``
    feeds ``h``, not ``c``. The legend draws each line as its arrows are drawn. Drawn with
    matplotlib only. Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 4.0))
    box = dict(boxstyle="round,pad=0.35", fc="white", ec="k", lw=1.2)
    gate_box = dict(boxstyle="round,pad=0.35", fc="#f3f3f3", ec="0.4", lw=1)
    cols = {"k": 0.0, "k+1": 3.2, "k+2": 6.4}
    y_c, y_g, y_h = 2.3, 1.15, 0.0
    mixed_ls, o_ls = (0, (4, 2)), (0, (1, 1.5))

    def arrow(xy_from, xy_to, color, *, lw=2.0, ls="-", rad=0.0):
        ax.annotate("", xy=xy_to, xytext=xy_from,
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, ls=ls,
                                    shrinkA=18, shrinkB=20, mutation_scale=14,
                                    connectionstyle=f"arc3,rad={rad}"))

    for step, x in cols.items():
        ax.text(x, y_c, f"$c_{{{step}}}$", ha="center", va="center", fontsize=13, bbox=box)
        ax.text(x, y_h, f"$h_{{{step}}}$", ha="center", va="center", fontsize=13, bbox=box)
    for prev, step in (("k", "k+1"), ("k+1", "k+2")):
        xg = cols[prev] + 1.6
        ax.text(xg, y_g, f"gates $i, f, g$\nof step ${step}$", ha="center", va="center",
                fontsize=9, bbox=gate_box)
        xo = cols[step] - 0.75
        ax.text(xo, y_h - 0.05, f"$o_{{{step}}}$", ha="center", va="center", fontsize=9,
                bbox=gate_box)
        ax.text(xg, y_h - 0.32, f"$x_{{{step}}}$", ha="center", va="center", fontsize=10,
                color="0.45")
        arrow((xg, y_h - 0.2), (xg, y_g - 0.1), "0.6", lw=1.0)                  # x → gates
        # direct path: c → c, multiplied by f
        arrow((cols[prev], y_c), (cols[step], y_c), DIRECT_COLOR, lw=3.0)
        ax.text((cols[prev] + cols[step]) / 2, y_c + 0.28, f"$\\times f_{{{step}}}$",
                ha="center", fontsize=11, color=DIRECT_COLOR)
        # mixed path: c → h (same step) → gates i, f, g of the next step → c
        arrow((cols[prev], y_c), (cols[prev], y_h), MIXED_COLOR, ls=mixed_ls)
        arrow((cols[prev], y_h), (xg, y_g), MIXED_COLOR, ls=mixed_ls)
        arrow((xg, y_g), (cols[step], y_c), MIXED_COLOR, ls=mixed_ls)
        # the output gate: h → o of the next step → h, around the next cell state
        arrow((cols[prev], y_h), (xo, y_h), O_PATH_COLOR, lw=1.5, ls=o_ls)
        arrow((xo, y_h), (cols[step], y_h), O_PATH_COLOR, lw=1.5, ls=o_ls)
    ax.text(cols["k"] - 0.15, (y_c + y_h) / 2, "$o \\odot \\tanh$", ha="right", va="center",
            fontsize=10, color=MIXED_COLOR)
    ax.text(cols["k"] + 0.75, 0.42, "$W_h$", fontsize=10, color=MIXED_COLOR)
    ax.text(cols["k+2"] + 1.0, y_c, "$\\cdots \\to c_T$", ha="left", va="center", fontsize=13,
            color=DIRECT_COLOR)
    ax.plot([], [], color=DIRECT_COLOR, lw=3, ls="-",
            label="direct path c → c (solid): Jacobian diag(f) per step, no weights")
    ax.plot([], [], color=MIXED_COLOR, lw=2, ls=mixed_ls,
            label="mixed path c → h → gates i, f, g → c (dashed): meets W_h and the gates' derivatives")
    ax.plot([], [], color=O_PATH_COLOR, lw=1.5, ls=o_ls,
            label="through the output gate, h → o → h (dotted): o feeds h, not c")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=1, fontsize=9, frameon=False)
    ax.set_xlim(-1.0, 8.4)
    ax.set_ylim(-0.6, 2.8)
    ax.set_axis_off()
    ax.set_title("Two LSTM steps and the paths from $c_k$ towards $c_T$", fontsize=11)
    return ax


def plot_gradient_paths(lags, h_norms: dict, cell_paths: dict, *, title=""):
    """Section 9's figure. Left: mean ``‖∂L/∂h_k‖`` against the lag for each model
    (``h_norms``: name → (T + 1,)). Right: for each LSTM (``cell_paths``: name →
    ``(total, direct)``, each (T + 1,)), the mean ``‖∂L/∂c_k‖`` through every path (solid)
    and through the direct path alone (dashed, same colour). ``lags``: (T + 1,), the lag
    of each entry. Returns the two Axes."""
    import matplotlib.pyplot as plt

    fig, (ax_h, ax_c) = plt.subplots(1, 2, figsize=(12, 4.2))
    styles = ["k-", "C0--", "C1-.", "C2:"]  # a line style each, not only a colour
    for (name, norms), style in zip(h_norms.items(), styles):
        ax_h.semilogy(lags, norms, style, label=name)
    ax_h.set_xlabel("lag T − k (steps back from the loss)")
    ax_h.set_ylabel(r"mean $\|\partial L_T / \partial h_k\|$ (log scale)")
    ax_h.set_title("Hidden state: RNN vs LSTM", fontsize=10)
    ax_h.legend(fontsize=8)
    # b_f by colour and marker shape; every path solid, the direct path dotted
    for (name, (total, direct)), color, shape in zip(cell_paths.items(), ["C0", "C1", "C2"],
                                                     ["o", "s", "^"]):
        every = max(1, len(lags) // 8)
        ax_c.semilogy(lags, total, "-", color=color, lw=2, marker=shape, markevery=every,
                      ms=5, label=f"{name}: every path")
        ax_c.semilogy(lags, direct, ":", color=color, lw=2, marker=shape, markevery=every,
                      ms=5, mfc="white", label=f"{name}: direct path only")
    ax_c.set_xlabel("lag T − k (steps back from the loss)")
    ax_c.set_ylabel(r"mean $\|\partial L_T / \partial c_k\|$ (log scale)")
    ax_c.set_title("LSTM cell state: every path vs the direct path", fontsize=10)
    ax_c.legend(fontsize=7, ncol=1)
    for ax in (ax_h, ax_c):
        ax.set_xlim(0, lags.max())
        ax.grid(True, which="major", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return ax_h, ax_c
