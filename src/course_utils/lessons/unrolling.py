"""Lesson 01's explorer: how long the hidden state remembers the first input.

The RNN is the one of notebook 01, section 6 (any nonlinearity of :mod:`jacobians`)::

    h_t = f(x_t @ Wxh.T + h_{t-1} @ Whh.T + b),   Whh = s · G / √H,   h_0 = 0, b = 0

and the memory of ``x_1`` at step ``t`` is the spectral norm of the exact derivative
``∂h_t/∂x_1 = J_t J_{t−1} ⋯ J_2 · diag(f'(a_1)) Wxh`` (an (H, D) matrix), built from the
step Jacobians of :func:`jacobians.step_jacobian` and the forward pass of
:func:`jacobians.forward`. ``tests/test_explorers.py`` checks it against torch autograd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..maths import jacobians

EXPLORER_DEFAULTS = dict(scale=1.0, nonlinearity="tanh", T=60, input_scale=0.5)


def memory_problem(scale: float, *, T: int = 60, N: int = 8, D: int = 3, H: int = 32,
                   seed: int = 0, input_scale: float = 0.5):
    """Notebook 01's memory experiment: inputs and weights of a random RNN.

    ``Wxh = G/√D``, ``Whh = scale · G'/√H`` (spectral radius ≈ scale for large H), inputs
    ``x = input_scale · N(0, 1)``, ``h_0 = 0``, ``b = 0``.

    Returns:
        x (N, T, D), h0 (N, H), Wxh (H, D), Whh (H, H), b (H,).
    """
    rng = np.random.default_rng(seed)
    Wxh = rng.normal(size=(H, D)) / np.sqrt(D)
    Whh = scale * rng.normal(size=(H, H)) / np.sqrt(H)
    x = rng.normal(size=(N, T, D)) * input_scale
    return x, np.zeros((N, H)), Wxh, Whh, np.zeros(H)


def first_input_log_norms(x, h0, Wxh, Whh, b, *, nonlinearity: str = "tanh"):
    """``log10 ‖∂h_t/∂x_1‖₂`` for every step t = 1 … T, exactly (no finite differences).

    The product ``P_t = J_t P_{t−1}``, ``P_1 = diag(f'(a_1)) Wxh``, is renormalised after
    every step (:func:`jacobians.renormalise`), so neither 1e-400 nor 1e+400 under- or
    overflows.

    Args:
        x: (N, T, D) inputs; h0: (N, H); Wxh: (H, D); Whh: (H, H); b: (H,).
        nonlinearity: one of :data:`jacobians.NONLINEARITIES`.

    Returns:
        (N, T): entry ``[n, t − 1]`` is log10 of the largest singular value of the (H, D)
        Jacobian ``∂h_t/∂x_1`` for sequence n (−inf where it is exactly zero).
    """
    h = jacobians.forward(x, h0, Wxh, Whh, b, nonlinearity)  # (N, T, H)
    N, T, _ = h.shape
    J = jacobians.step_jacobian(h, Whh, nonlinearity)  # (N, T, H, H): J[:, t-1] = ∂h_t/∂h_{t-1}
    P = jacobians.derivative_from_output(h[:, 0], nonlinearity)[:, :, None] * Wxh  # (N, H, D)
    log_scale = np.zeros(N)
    logs = np.empty((N, T))
    for t in range(T):
        if t > 0:
            P = J[:, t] @ P
        P, log_scale = jacobians.renormalise(P, log_scale)
        with np.errstate(divide="ignore"):
            logs[:, t] = log_scale + np.log10(np.linalg.norm(P, 2, axis=(1, 2)))
    return logs


@dataclass
class MemoryExperiment:
    """Result of :func:`explorer_experiment`."""

    Whh: np.ndarray  # (H, H)
    log_norms: np.ndarray  # (N, T): log10 ‖∂h_t/∂x_1‖ per sequence

    @property
    def steps(self):
        return np.arange(1, self.log_norms.shape[1] + 1)

    @property
    def mean_log_norms(self):
        """(T,) log10 of the batch mean of ‖∂h_t/∂x_1‖."""
        return jacobians.batch_mean_log10(self.log_norms)

    @property
    def spectral_radius(self) -> float:
        return jacobians.spectrum(self.Whh).spectral_radius

    def memory_steps(self, drop: float = 3.0) -> int | None:
        """The first step t at which the mean norm is ``10^drop`` times below its value at
        t = 1 (None if it never falls that far within T steps)."""
        curve = self.mean_log_norms
        below = np.nonzero(curve <= curve[0] - drop)[0]
        return int(below[0]) + 1 if below.size else None


def explorer_experiment(scale=1.0, nonlinearity="tanh", T=60, input_scale=0.5, *, N=8, D=3,
                        H=32, seed=0) -> MemoryExperiment:
    """The explorer's experiment: :func:`memory_problem` with the given settings, and the
    exact ``log10 ‖∂h_t/∂x_1‖`` of every sequence (see :func:`first_input_log_norms`)."""
    x, h0, Wxh, Whh, b = memory_problem(scale, T=int(T), N=N, D=D, H=H, seed=seed,
                                        input_scale=input_scale)
    return MemoryExperiment(Whh, first_input_log_norms(x, h0, Wxh, Whh, b, nonlinearity=nonlinearity))


def plot_explorer(ax=None, **settings):
    """Draw the explorer's figure for ``settings`` (see :data:`EXPLORER_DEFAULTS`): the
    batch mean of ‖∂h_t/∂x_1‖ over t, each sequence's curve (thin), and the line
    ``ρ^{t−1}`` of a linear RNN (ρ the spectral radius of Whh). Returns the Axes."""
    import matplotlib.pyplot as plt

    s = {**EXPLORER_DEFAULTS, **settings}
    ex = explorer_experiment(**s)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.2))
    t = ex.steps.astype(float)
    mean = ex.mean_log_norms
    rho = ex.spectral_radius
    mem = ex.memory_steps()
    told = (f"1000x smaller by t = {mem}" if mem is not None
            else f"not 1000x smaller within {int(s['T'])} steps")
    ax.plot(t, mean, color="C0", lw=2.5, label=f"mean over {ex.log_norms.shape[0]} sequences: {told}")
    for n, row in enumerate(ex.log_norms):
        ax.plot(t, row, color="C0", lw=0.6, alpha=0.35, label="each sequence" if n == 0 else None)
    ax.plot(t, mean[0] + (t - 1) * np.log10(rho), color="C3", ls="--",
            label=rf"$\rho^{{t-1}}$ from $t = 1$ (linear RNN), $\rho$ = {rho:.2f}")
    finite = mean[np.isfinite(mean)]
    lo = min(-4.0, float(finite.min()) - 1 if finite.size else -4.0)
    hi = max(2.0, float(finite.max()) + 1 if finite.size else 2.0)
    ax.set_ylim(max(lo, -60), min(hi, 60))
    ax.set_xlim(1, t[-1])
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$\log_{10}\|\partial h_t/\partial x_1\|_2$")
    ax.set_title(rf"Memory of $x_1$: $W_{{hh}} = s\,G/\sqrt{{H}}$, s = {s['scale']:g}, "
                 f"{s['nonlinearity']}, input scale {s['input_scale']:g}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="lower left")
    return ax


def memory_explorer():
    """An ``ipywidgets.interactive`` explorer of the memory of the first input.

    Controls: the scale s of Whh (``FloatSlider``), the nonlinearity (``Dropdown``), the
    sequence length T (``IntSlider``) and the input scale (``FloatSlider``). Every change
    redraws :func:`plot_explorer`. Display the returned widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .. import plots

    def show(scale, nonlinearity, T, input_scale):
        _, ax = plt.subplots(figsize=(7.5, 4.2))
        plot_explorer(ax, scale=scale, nonlinearity=nonlinearity, T=T, input_scale=input_scale)
        plt.show()

    d = EXPLORER_DEFAULTS
    style = {"description_width": "140px"}
    return plots.explorer(
        show,
        scale=widgets.FloatSlider(value=d["scale"], min=0.1, max=3.0, step=0.05,
                                  description="scale s of W_hh", continuous_update=False,
                                  style=style),
        nonlinearity=widgets.Dropdown(options=list(jacobians.NONLINEARITIES),
                                      value=d["nonlinearity"], description="nonlinearity",
                                      style=style),
        T=widgets.IntSlider(value=d["T"], min=10, max=200, step=10, description="length T",
                            continuous_update=False, style=style),
        input_scale=widgets.FloatSlider(value=d["input_scale"], min=0.0, max=3.0, step=0.25,
                                        description="input scale", continuous_update=False,
                                        style=style),
    )


# ---------------------------------------------------------------------------------------
# The backward flow of BPTT, drawn (notebook 02, section 7)
# ---------------------------------------------------------------------------------------
FORWARD, BACKWARD = "forward", "backward"


def _flow_arrow(ax, start, end, kind, color, *, label=None, label_xy=None, ls="-"):
    """One arrow of :func:`draw_bptt_flow`; its ``gid`` says which pass it belongs to."""
    ann = ax.annotate("", xy=end, xytext=start,
                      arrowprops=dict(arrowstyle="-|>", color=color, lw=1.8, ls=ls,
                                      shrinkA=0, shrinkB=0))
    ann.set_gid(kind)
    if label:
        ax.text(*label_xy, label, color=color, fontsize=10, ha="center", va="center",
                bbox=dict(fc="white", ec="none", pad=0.4))
    return ann


def draw_bptt_flow(T: int = 3, ax=None):
    """Draw the dependencies BPTT follows: the forward pass, and the backward flow of g_t.

    Forward (solid): ``x_t → h_t``, ``h_{t-1} → h_t`` and ``h_t → L_t`` for t = 1 … T.
    Backward (dashed, orange): ``L_t → h_t`` (the local gradient ∂L_t/∂h_t), ``h_t → h_{t-1}``
    (``W_hhᵀ δ_t`` carried back through the step, ending at h_0) and, from every step, ``h_t`` → the one
    box of shared weights (the term ``δ_t h_{t-1}ᵀ`` that step t adds to dL/dW_hh). So there
    are 3T forward and 3T backward arrows; each arrow's ``gid`` is ``"forward"`` or
    ``"backward"``. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    from ..plots import _box

    if ax is None:
        _, ax = plt.subplots(figsize=(2.4 * (T + 1) + 0.6, 6.0))
    black, orange = "#333333", "#e66100"
    dx, y_x, y_h, y_L, y_W = 2.4, 0.0, 1.7, 3.4, -1.7
    _box(ax, (0, y_h), "$h_0$", "#eeeeee")
    for t in range(1, T + 1):
        x = t * dx
        _box(ax, (x, y_x), f"$x_{t}$", "#dbe9f6")
        _box(ax, (x, y_h), f"$h_{t}$", "#fde0dd")
        _box(ax, (x, y_L), f"$L_{t}$", "#e5f5e0", w=0.7, h=0.45)
        # forward: solid
        _flow_arrow(ax, (x, y_x + 0.3), (x, y_h - 0.3), FORWARD, black)
        _flow_arrow(ax, (x - dx + 0.45, y_h + 0.12), (x - 0.45, y_h + 0.12), FORWARD, black)
        _flow_arrow(ax, (x - 0.15, y_h + 0.3), (x - 0.15, y_L - 0.27), FORWARD, black)
        # backward: dashed
        _flow_arrow(ax, (x + 0.15, y_L - 0.27), (x + 0.15, y_h + 0.3), BACKWARD, orange, ls="--",
                    label=rf"$\partial L_{t}/\partial h_{t}$", label_xy=(x + 0.72, (y_h + y_L) / 2))
        _flow_arrow(ax, (x - 0.45, y_h - 0.14), (x - dx + 0.45, y_h - 0.14), BACKWARD, orange,
                    ls="--", label=rf"$W_{{hh}}^\top\delta_{t}$", label_xy=(x - dx / 2, y_h - 0.45))
        ax.text(x - 0.55, y_h + 0.55, f"$g_{t}$", color=orange, fontsize=12, ha="center",
                va="center", fontweight="bold")
        _flow_arrow(ax, (x + 0.42, y_h - 0.25), (x + 0.62, y_W + 0.35), BACKWARD, orange, ls="--",
                    label=rf"$\delta_{t}\,h_{{{t - 1}}}^\top$", label_xy=(x + 0.95, y_x - 0.75))
    left, right = -0.5, T * dx + 1.3
    _box(ax, ((left + right) / 2, y_W), "the shared $W_{xh}, W_{hh}, b$: every step adds one term,  "
         r"$dL/dW_{hh} = \sum_t \delta_t\, h_{t-1}^\top$", "#fff2cc", w=right - left, h=0.6)
    ax.text(-0.6, y_L + 0.95, "solid: the forward pass.   dashed orange: the backward pass (BPTT),",
            fontsize=10.5, ha="left", va="center")
    ax.text(-0.6, y_L + 0.55, r"$g_t = dL/dh_t = \partial L_t/\partial h_t + W_{hh}^\top\delta_{t+1}$,"
            r"   $\delta_t = (1 - h_t^2) \odot g_t$", fontsize=10.5, ha="left", va="center",
            color=orange)
    ax.set_xlim(-0.8, T * dx + 1.5)
    ax.set_ylim(y_W - 0.6, y_L + 1.25)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"BPTT over T = {T} steps: the gradient flows back through every step "
                 "into the same weights")
    return ax
