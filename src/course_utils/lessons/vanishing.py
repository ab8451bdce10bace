"""Notebook 04's lesson: vanishing and exploding gradients measured, drawn and explored.

The maths (step Jacobians, their products and norms, spectra, the Pascanu bound and the
initialisers of ``Whh``) is in :mod:`course_utils.maths.jacobians`; this module runs it:

* :func:`measure`: random inputs through an RNN with a given ``Whh``, and the norm of
  ``∂h_T/∂h_{T−ℓ}`` for every lag ℓ (a :class:`LagExperiment`);
* :func:`plot_lag_curves` and the explorer (:data:`EXPLORER_DEFAULTS`,
  :func:`explorer_experiment`, :func:`plot_explorer`, :func:`gradient_explorer`);
* what vanishing gradients do to training: :func:`first_symbol_task` and
  :func:`train_first_symbol_recall`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..maths.jacobians import (
    GAMMA,
    NONLINEARITIES,
    batch_mean_log10,
    derivative_from_output,
    forward,
    gaussian_init,
    jacobian_log_norms,
    orthogonal_init,
    pascanu_bound,
    rate_from_log_norms,
    regime,
    spectrum,
    with_spectral_radius,
)


# ---------------------------------------------------------------------------------------
# The standard experiment: random inputs through an RNN with a given Whh
# ---------------------------------------------------------------------------------------
@dataclass
class LagExperiment:
    """Result of :func:`measure`: the states and the log10 Jacobian norms per lag."""

    Whh: np.ndarray
    nonlinearity: str
    h: np.ndarray  # (N, T, H)
    log_norms: np.ndarray  # (N, T), lag 1 … T

    @property
    def lags(self):
        return np.arange(1, self.log_norms.shape[1] + 1)

    @property
    def mean_log_norms(self):
        """(T,) log10 of the batch mean of ‖∂h_T/∂h_{T−ℓ}‖ (see :func:`batch_mean_log10`)."""
        return batch_mean_log10(self.log_norms)

    def rate(self, lag: int | None = None) -> float:
        return rate_from_log_norms(self.log_norms, lag)

    @property
    def bound(self) -> float:
        return pascanu_bound(self.Whh, self.nonlinearity)

    @property
    def mean_derivative(self) -> float:
        """Mean of f'(a) over every unit, step and sequence."""
        return float(derivative_from_output(self.h, self.nonlinearity).mean())


def measure(Whh, nonlinearity: str = "tanh", *, T: int = 100, N: int = 8, D: int = 4,
            input_scale: float = 0.5, seed: int = 0, ord=2) -> LagExperiment:
    """Drive an RNN with Gaussian inputs and measure ``‖∂h_T/∂h_{T−ℓ}‖`` for ℓ = 1 … T.

    Inputs are ``x ~ N(0, 1)``, ``Wxh = input_scale · G/√D`` (so each unit's input drive has
    standard deviation ≈ input_scale; 0 means no input at all), b = 0, h_0 = 0.

    Args:
        Whh: (H, H). T: sequence length. N: batch size. D: input size.
    """
    rng = np.random.default_rng(seed)
    H = Whh.shape[0]
    x = rng.normal(size=(N, T, D))
    Wxh = input_scale * rng.normal(size=(H, D)) / np.sqrt(D)
    h = forward(x, np.zeros((N, H)), Wxh, Whh, np.zeros(H), nonlinearity)
    return LagExperiment(Whh, nonlinearity, h, jacobian_log_norms(h, Whh, nonlinearity, ord))


# ---------------------------------------------------------------------------------------
# Plots and the interactive explorer
# ---------------------------------------------------------------------------------------
def plot_lag_curves(experiments: dict, ax=None, *, title="Gradient norm vs lag",
                    show_bounds: bool = False, linestyles: dict | None = None):
    """Plot ``‖∂h_T/∂h_{T−ℓ}‖`` (batch mean) against ℓ for each labelled
    :class:`LagExperiment`; optionally dashed bound lines ``(γσ_max)^ℓ`` in the same colour.
    ``linestyles`` maps labels to matplotlib line styles (default: the course's cycle,
    :data:`course_utils.plots.LINESTYLES`, so curves differ by more than colour). Returns
    the Axes."""
    import matplotlib.pyplot as plt

    from ..plots import LINESTYLES

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (label, ex) in enumerate(experiments.items()):
        color = f"C{i}"
        ls = (linestyles or {}).get(label, LINESTYLES[i % len(LINESTYLES)])
        ax.semilogy(ex.lags, 10.0 ** ex.mean_log_norms, color=color, ls=ls, label=label)
        if show_bounds:
            ax.semilogy(ex.lags, ex.bound ** ex.lags.astype(float), color=color, ls="--", lw=1,
                        label=r"dashed: its bound $(\gamma\sigma_{max})^\ell$" if i == 0 else None)
    ax.set_xlabel(r"lag $\ell = T - k$ (steps back in time)")
    ax.set_ylabel(r"$\|\partial h_T / \partial h_{T-\ell}\|_2$ (log scale)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    return ax


EXPLORER_DEFAULTS = dict(spectral_radius=1.0, nonlinearity="tanh", T=100, matrix="gaussian",
                         input_scale=0.5)


def explorer_experiment(spectral_radius=1.0, nonlinearity="tanh", T=100, matrix="gaussian",
                        input_scale=0.5, *, H=32, N=4, seed=0) -> LagExperiment:
    """The explorer's experiment: a fixed random Whh (Gaussian or orthogonal) rescaled to
    the given spectral radius, driven by random inputs for T steps."""
    rng = np.random.default_rng(seed)
    W = gaussian_init(H, 1.0, rng) if matrix == "gaussian" else orthogonal_init(H, rng)
    return measure(with_spectral_radius(W, spectral_radius), nonlinearity, T=int(T), N=N,
                   input_scale=input_scale, seed=seed + 1)


def plot_explorer(ax=None, **settings):
    """Draw the explorer's figure for ``settings`` (see :data:`EXPLORER_DEFAULTS`):
    the measured norm per lag, the bound ``(γσ_max)^ℓ`` and the line 1. Returns the Axes."""
    import matplotlib.pyplot as plt

    s = {**EXPLORER_DEFAULTS, **settings}
    ex = explorer_experiment(**s)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.2))
    lags = ex.lags.astype(float)
    sp = spectrum(ex.Whh)
    gamma = GAMMA[s["nonlinearity"]]
    measured = ex.mean_log_norms
    bound = lags * np.log10(gamma * sp.sigma_max)
    ax.plot(lags, measured, color="C0", lw=2,
            label=f"measured (rate {ex.rate():.3f} per step)")
    ax.plot(lags, bound, color="C3", ls="--",
            label=rf"bound $(\gamma\sigma_{{max}})^\ell$, $\gamma\sigma_{{max}}$ = {gamma * sp.sigma_max:.2f}")
    ax.plot(lags, lags * np.log10(sp.spectral_radius), color="C2", ls=":",
            label=rf"$\rho^\ell$, spectral radius $\rho$ = {sp.spectral_radius:.2f}")
    ax.axhline(0.0, color="grey", lw=0.8)
    finite = measured[np.isfinite(measured)]
    lo = min(-3.0, float(finite.min()) - 1 if finite.size else -3.0)
    hi = max(3.0, float(finite.max()) + 1 if finite.size else 3.0)
    ax.set_ylim(max(lo, -60), min(hi, 60))
    ax.set_xlim(1, lags[-1])
    ax.set_xlabel(r"lag $\ell = T - k$ (steps back in time)")
    ax.set_ylabel(r"$\log_{10}\|\partial h_T/\partial h_{T-\ell}\|_2$")
    ax.set_title(f"{s['matrix'].capitalize()} $W_{{hh}}$, {s['nonlinearity']}, T = {int(s['T'])}, "
                 f"input scale {s['input_scale']:g}: {regime(ex.Whh, s['nonlinearity'])}",
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="lower left")
    return ax


def gradient_explorer():
    """An ``ipywidgets.interactive`` explorer of gradient norm vs lag.

    Controls: spectral radius of Whh (``FloatSlider``), nonlinearity, sequence length T,
    the matrix family (Gaussian or orthogonal) and the input scale. Every change redraws
    the figure of :func:`plot_explorer` (about 0.1–0.3 s). Display the returned widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .. import plots

    def show(spectral_radius, nonlinearity, T, matrix, input_scale):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        plot_explorer(ax, spectral_radius=spectral_radius, nonlinearity=nonlinearity, T=T,
                      matrix=matrix, input_scale=input_scale)
        plt.show()

    d = EXPLORER_DEFAULTS
    style = {"description_width": "initial"}
    return plots.explorer(
        show,
        spectral_radius=widgets.FloatSlider(value=d["spectral_radius"], min=0.1, max=3.0,
                                            step=0.05, description="spectral radius ρ",
                                            continuous_update=False, style=style),
        nonlinearity=widgets.Dropdown(options=list(NONLINEARITIES), value=d["nonlinearity"],
                                      description="nonlinearity", style=style),
        T=widgets.IntSlider(value=d["T"], min=10, max=300, step=10, description="length T",
                            continuous_update=False, style=style),
        matrix=widgets.Dropdown(options=["gaussian", "orthogonal"], value=d["matrix"],
                                description="W_hh", style=style),
        input_scale=widgets.FloatSlider(value=d["input_scale"], min=0.0, max=5.0, step=0.25,
                                        description="input scale", continuous_update=False,
                                        style=style),
    )


# ---------------------------------------------------------------------------------------
# What vanishing gradients do to training: remember the first symbol over a growing lag
# ---------------------------------------------------------------------------------------
def first_symbol_task(n: int, lag: int, rng: np.random.Generator, n_symbols: int = 4):
    """Recall the first symbol of a sequence after ``lag`` random distractor symbols.

    Every step shows one of ``n_symbols`` symbols (one-hot), drawn uniformly; the target,
    read at the last step, is the symbol shown at step 1. The sequence has ``lag + 1`` steps,
    so the answer depends on an input ``lag`` steps back. Chance accuracy: 1/n_symbols.

    Returns:
        x: (n, lag + 1, n_symbols) float64 one-hot inputs; y: (n,) int64 targets, y = the
        symbol of x[:, 0].
    """
    if lag < 1:
        raise ValueError(f"lag must be at least 1, got {lag}")
    symbols = rng.integers(0, n_symbols, size=(n, lag + 1))
    x = np.zeros((n, lag + 1, n_symbols))
    np.put_along_axis(x, symbols[..., None], 1.0, axis=-1)
    return x, symbols[:, 0].astype(np.int64)


@dataclass
class RecallRun:
    """Result of :func:`train_first_symbol_recall` for one lag."""

    lag: int
    steps: int
    accuracy: float  # on held-out sequences, after training
    loss: float  # held-out cross-entropy after training (nats)
    chance: float  # 1 / n_symbols
    grad_ratio_at_init: float  # mean ‖∂L/∂x_1‖ / mean ‖∂L/∂x_T‖ before training
    seconds: float
    cpu_seconds: float


def _gradient_ratio(logits, x, y) -> float:
    """``mean_n ‖∂L/∂x_1‖ / mean_n ‖∂L/∂x_T‖`` for the cross-entropy ``L`` of ``logits(x)``
    against ``y``, by autograd. x: (N, T, K) tensor; y: (N,). Leaves gradients in the
    parameters ``logits`` uses (the caller zeroes them)."""
    import torch

    xg = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(logits(xg), y).backward()
    g = xg.grad.norm(dim=2).mean(dim=0)  # (T,) mean ‖∂L/∂x_t‖ over sequences
    return float(g[0] / g[-1])


def train_first_symbol_recall(lag: int, *, steps: int = 300, hidden: int = 32, lr: float = 1e-2,
                              batch: int = 64, n_symbols: int = 4, n_eval: int = 500,
                              seed: int = 0, clip: float = 1.0, threads: int | None = 1) -> RecallRun:
    """Train a tanh ``torch.nn.RNN`` (float64) + linear read-out on :func:`first_symbol_task`.

    Adam with learning rate ``lr``, ``steps`` updates on fresh batches of ``batch`` sequences,
    gradient norm clipped to ``clip``. Same seed, same initial weights (up to the input
    size) and the same data stream for every ``lag``. Before training, it also measures
    how strongly the loss at the last step depends on the first input versus the last:
    the ratio of the batch-mean gradient norms ``‖∂L/∂x_1‖ / ‖∂L/∂x_T‖`` on the held-out
    set, by autograd. ``threads``: torch threads while training (restored afterwards).
    """
    import time

    import torch

    from ..runtime import torch_threads
    from ..training import TorchUpdate, fit

    with torch_threads(threads):
        w0, c0 = time.perf_counter(), time.process_time()
        torch.manual_seed(seed)
        rnn_layer = torch.nn.RNN(n_symbols, hidden, batch_first=True, dtype=torch.float64)
        readout = torch.nn.Linear(hidden, n_symbols, dtype=torch.float64)

        def logits(x):  # (N, T, K) -> (N, K), read at the last step
            h, _ = rnn_layer(x)
            return readout(h[:, -1])

        params = list(rnn_layer.parameters()) + list(readout.parameters())
        opt = torch.optim.Adam(params, lr=lr)
        x_eval, y_eval = (torch.from_numpy(a) for a in
                          first_symbol_task(n_eval, lag, np.random.default_rng(seed + 10_000), n_symbols))
        ratio = _gradient_ratio(logits, x_eval, y_eval)
        opt.zero_grad(set_to_none=True)

        rng = np.random.default_rng(seed)
        batches = (tuple(torch.from_numpy(a) for a in first_symbol_task(batch, lag, rng, n_symbols))
                   for _ in range(steps))
        model = torch.nn.ModuleList([rnn_layer, readout])  # its parameters are ``params``
        fit(TorchUpdate(model, opt, lambda xy, _: (torch.nn.functional.cross_entropy(logits(xy[0]), xy[1]), None),
                        clip=clip, measure_norm=False), batches)
        with torch.no_grad():
            out = logits(x_eval)
            acc = float((out.argmax(dim=1) == y_eval).double().mean())
            eval_loss = float(torch.nn.functional.cross_entropy(out, y_eval))
    return RecallRun(lag, steps, acc, eval_loss, 1.0 / n_symbols, ratio,
                     time.perf_counter() - w0, time.process_time() - c0)
