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


def memory_problem(scale: float, T: int = 60, N: int = 8, D: int = 3, H: int = 32,
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


def first_input_log_norms(x, h0, Wxh, Whh, b, nonlinearity: str = "tanh"):
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
    return MemoryExperiment(Whh, first_input_log_norms(x, h0, Wxh, Whh, b, nonlinearity))


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

    def show(scale, nonlinearity, T, input_scale):
        _, ax = plt.subplots(figsize=(7.5, 4.2))
        plot_explorer(ax, scale=scale, nonlinearity=nonlinearity, T=T, input_scale=input_scale)
        plt.show()

    d = EXPLORER_DEFAULTS
    style = {"description_width": "140px"}
    return widgets.interactive(
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
