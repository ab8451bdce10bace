"""Lesson 05's explorer: which gradient paths survive truncation, and what is lost.

A small tanh RNN (the course's, :mod:`course_utils.maths.rnn`) reads random inputs and is asked,
through a linear read-out and a squared error, to output at step t the first input unit
of step ``t − lag`` (a dependency ``lag`` steps long; steps ``t ≤ lag`` have no loss)::

    L = Σ_{t > lag} ½ (⟨w_y, h_t⟩ − x_{t−lag, 1})²

The gradient of L with respect to all RNN weights θ = (Wxh, Whh, b) is a sum of one term
per *path*: the loss at step t reaching the use of θ at step k ≤ t, through the Jacobians
of steps k+1 … t. TBPTT(k1, k2) keeps a term iff step k lies inside the backward window of
the update that injects L_t (:func:`kept_mask`). The truncated gradient itself is computed
by :func:`tbptt_numpy.tbptt_k1k2_numpy`, the full one by :func:`reference.nb03.rnn_backward`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..maths import tbptt
from ..reference import nb01 as _nb01
from ..reference import nb03 as _nb03
from . import tbptt_numpy

EXPLORER_DEFAULTS = dict(k1=4, k2=8, lag=6)
EXPLORER_T = 24


def kept_mask(T: int, k1: int, k2: int) -> np.ndarray:
    """Which (loss step t, weight-use step k) paths TBPTT(k1, k2) backpropagates.

    Uses the update schedule of :func:`tbptt.update_times`: the update at time u injects
    the losses of steps prev+1 … u and backpropagates through steps
    max(1, prev − (k2 − k1) + 1) … u (1-based; prev is the previous update time).

    Returns:
        (T, T) bool; ``[t − 1, k − 1]`` is True iff the path from L_t to step k is kept
        (always False for k > t).
    """
    if not 1 <= k1 <= k2:
        raise ValueError(f"need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    kept = np.zeros((T, T), dtype=bool)
    for start, prev, u in tbptt.windows(T, k1, k2):  # 0-based first step of the window
        for t in range(prev, u):  # 0-based loss steps injected at this update
            kept[t, start:t + 1] = True
    return kept


def delayed_copy_problem(T: int = EXPLORER_T, lag: int = 6, *, N: int = 4, D: int = 3,
                         H: int = 16, scale: float = 1.0, seed: int = 0):
    """Inputs, weights and per-step loss gradients of the delayed-copy loss above.

    ``Wxh = G/√D``, ``Whh = scale · G'/√H``, ``b = 0``, ``h_0 = 0``, ``w_y = G''/√H``,
    ``x ~ N(0, 1)``.

    Returns:
        dict with x (N, T, D), h0 (N, H), Wxh (H, D), Whh (H, H), b (H,), wy (H,),
        h (N, T, H) the states, loss (float) and dh (N, T, H) = ∂L_t/∂h_t (zero for t ≤ lag).
    """
    if not 1 <= lag < T:
        raise ValueError(f"need 1 <= lag < T = {T}, got lag={lag}")
    rng = np.random.default_rng(seed)
    Wxh = rng.normal(size=(H, D)) / np.sqrt(D)
    Whh = scale * rng.normal(size=(H, H)) / np.sqrt(H)
    wy = rng.normal(size=H) / np.sqrt(H)
    x = rng.normal(size=(N, T, D))
    h0, b = np.zeros((N, H)), np.zeros(H)
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    err = np.zeros((N, T))
    err[:, lag:] = h[:, lag:] @ wy - x[:, :-lag, 0]  # step t (0-based t >= lag) copies x_{t-lag}
    dh = err[:, :, None] * wy
    return dict(x=x, h0=h0, Wxh=Wxh, Whh=Whh, b=b, wy=wy, h=h, loss=0.5 * float((err**2).sum()),
                dh=dh)


def path_contributions(x, h0, Wxh, Whh, b, *, dh):
    """The gradient of ``L = Σ_t ⟨dh_t, h_t⟩`` split into one term per (t, k) path.

    Term ``[t − 1, k − 1]`` is the part of ∂L_t/∂θ that comes from the use of θ at step k
    (k ≤ t): backpropagate ``dh_t`` alone from step t to step k with
    :func:`reference.nb03.rnn_step_backward` and keep that step's weight gradient.

    Args:
        x: (N, T, D), h0: (N, H), Wxh (H, D), Whh (H, H), b (H,), dh: (N, T, H).

    Returns:
        (T, T, P) with P = H·D + H·H + H: the terms, flattened as (dWxh, dWhh, db); zero
        for k > t. Summed over both axes they give the full BPTT gradient.
    """
    N, T, _ = x.shape
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    H, D = Wxh.shape
    C = np.zeros((T, T, H * D + H * H + H))
    for t in range(T):
        g = dh[:, t]
        if not np.any(g):
            continue
        for k in range(t, -1, -1):
            h_prev = h[:, k - 1] if k > 0 else h0
            _, g, dWxh, dWhh, db = _nb03.rnn_step_backward(g, x[:, k], h_prev, h[:, k], Wxh, Whh)
            C[t, k] = np.concatenate([dWxh.ravel(), dWhh.ravel(), db])
    return C


@dataclass
class TruncationExperiment:
    """Result of :func:`explorer_experiment`."""

    k1: int
    k2: int
    lag: int
    contributions: np.ndarray  # (T, T, P) per-path terms
    kept: np.ndarray  # (T, T) bool
    full: np.ndarray  # (P,) full BPTT gradient (reference.nb03.rnn_backward)
    truncated: np.ndarray  # (P,) TBPTT(k1, k2) gradient, summed over updates

    @property
    def T(self) -> int:
        return self.kept.shape[0]

    @property
    def norms(self) -> np.ndarray:
        """(T, T) norm of each path's term (0 for k > t)."""
        return np.linalg.norm(self.contributions, axis=-1)

    @property
    def norm_ratio(self) -> float:
        """‖truncated‖ / ‖full‖."""
        return float(np.linalg.norm(self.truncated) / np.linalg.norm(self.full))

    @property
    def missed(self) -> float:
        """‖full − truncated‖ / ‖full‖: the part of the gradient truncation leaves out."""
        return float(np.linalg.norm(self.full - self.truncated) / np.linalg.norm(self.full))

    def by_lag(self) -> tuple[np.ndarray, np.ndarray]:
        """(T,) norms of the full and the kept lag-ℓ term ``Σ_t C[t, t − ℓ]``, ℓ = 0 … T−1."""
        full, kept = np.zeros(self.T), np.zeros(self.T)
        for lag in range(self.T):
            t = np.arange(lag, self.T)
            terms = self.contributions[t, t - lag]
            full[lag] = np.linalg.norm(terms.sum(axis=0))
            kept[lag] = np.linalg.norm((terms * self.kept[t, t - lag][:, None]).sum(axis=0))
        return full, kept

    def dependency_kept(self) -> tuple[int, int]:
        """(kept, total): of the loss steps t > lag, how many keep their lag-long path."""
        t = np.arange(self.lag, self.T)
        return int(self.kept[t, t - self.lag].sum()), int(t.size)


def explorer_experiment(k1=4, k2=8, lag=6, *, T=EXPLORER_T, seed=0) -> TruncationExperiment:
    """The explorer's experiment: the delayed-copy loss with dependency ``lag`` on a random
    RNN, its per-path terms, and the full and TBPTT(k1, k2) gradients (k2 is raised to k1
    if smaller)."""
    k1, lag = int(k1), int(lag)
    k2 = max(int(k2), k1)
    p = delayed_copy_problem(T, lag, seed=seed)
    args = (p["x"], p["h0"], p["Wxh"], p["Whh"], p["b"])
    _, _, gx, gh, gb = _nb03.rnn_backward(p["dh"], p["x"], p["h0"], p["h"], p["Wxh"], p["Whh"])
    tx, th, tb, _ = tbptt_numpy.tbptt_k1k2_numpy(*args, dh=p["dh"], k1=k1, k2=k2)
    flat = lambda a, c, d: np.concatenate([a.ravel(), c.ravel(), d])  # noqa: E731
    return TruncationExperiment(k1, k2, lag, path_contributions(*args, dh=p["dh"]),
                                kept_mask(T, k1, k2), flat(gx, gh, gb),
                                flat(tx.sum(0), th.sum(0), tb.sum(0)))


def _draw_paths(ax, ex: TruncationExperiment, raised: str) -> None:
    """The explorer's left panel: the (loss step t, weight-use step k) grid of path terms,
    log10 of their norms; kept paths in colour, truncated ones in grey, the dependency's
    diagonal k = t − lag in red. ``raised``: a note for the title when k2 was raised."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    T = ex.T
    norms = ex.norms
    lower = np.tril(np.ones((T, T), dtype=bool)) & (norms > 0)
    with np.errstate(divide="ignore"):
        logn = np.log10(np.where(lower, norms, 1.0))
    vmax = float(logn[lower].max()) if lower.any() else 0.0
    vmin = vmax - 6
    extent = (0.5, T + 0.5, T + 0.5, 0.5)
    im = ax.imshow(np.ma.masked_where(~(lower & ex.kept), logn), cmap="viridis", vmin=vmin,
                   vmax=vmax, extent=extent, interpolation="nearest")
    ax.imshow(np.ma.masked_where(~(lower & ~ex.kept), np.ones((T, T))),
              cmap=ListedColormap(["#c8c8c8"]), extent=extent, interpolation="nearest")
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.03,
                 label=r"kept path: $\log_{10}$ norm of its term")
    t = np.arange(ex.lag + 1, T + 1)
    ax.plot(t - ex.lag, t, color="#d62728", lw=2,
            label=f"dependency: k = t − {ex.lag}")
    ax.set_xlabel("step k where the weights are used (path end)")
    ax.set_ylabel("loss step t (path start)")
    n_kept, n_dep = ex.dependency_kept()
    ax.set_title(f"TBPTT(k1={ex.k1}, k2={ex.k2}){raised}: grey paths are cut\n"
                 f"lag-{ex.lag} paths kept for {n_kept} of {n_dep} loss steps", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)


def _draw_by_lag(bx, ex: TruncationExperiment) -> None:
    """The explorer's right panel: the norm of the lag-ℓ terms, full and kept."""
    full, kept = ex.by_lag()
    lags = np.arange(ex.T)
    bx.bar(lags, full, color="#c8c8c8", label="full BPTT")
    bx.bar(lags, kept, width=0.5, color="C0", label=f"TBPTT(k1={ex.k1}, k2={ex.k2})")
    bx.axvline(ex.lag, color="#d62728", lw=2, ls="--", label=f"dependency lag {ex.lag}")
    bx.set_yscale("log")
    top = float(full.max()) if full.max() > 0 else 1.0
    bx.set_ylim(top * 1e-6, top * 3)
    bx.set_xlabel(r"path length $\ell = t - k$ (steps the gradient travels back)")
    bx.set_ylabel(r"norm of the lag-$\ell$ terms, summed over $t$")
    bx.set_title(f"Truncated gradient: norm {100 * ex.norm_ratio:.0f}% of the full one; "
                 f"the part it misses: {100 * ex.missed:.0f}% of its norm", fontsize=10)
    bx.legend(fontsize=8, loc="upper right")


def plot_explorer(axes=None, **settings):
    """Draw the explorer's figure for ``settings`` (see :data:`EXPLORER_DEFAULTS`).

    Left: the (loss step t, weight-use step k) grid of path terms, log10 of their norms;
    kept paths in colour, truncated ones in grey, the dependency's diagonal k = t − lag
    outlined in red. Right: the norm of the lag-ℓ term, full and kept. Returns the two Axes.
    """
    import matplotlib.pyplot as plt

    s = {**EXPLORER_DEFAULTS, **settings}
    ex = explorer_experiment(**s)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.25]})
    raised = " (k2 raised to k1)" if int(s["k2"]) < ex.k1 else ""
    _draw_paths(axes[0], ex, raised)
    _draw_by_lag(axes[1], ex)
    axes[0].figure.tight_layout()
    return axes


def truncation_explorer():
    """An ``ipywidgets.interactive`` explorer of TBPTT(k1, k2) on a dependency of a given lag.

    Controls: k1, k2 and the dependency lag (``IntSlider`` each; a k2 below k1 is raised to
    k1). Every change redraws :func:`plot_explorer`. Display the returned widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .. import plots

    def show(k1, k2, lag):
        _, axes = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.25]})
        plot_explorer(axes, k1=k1, k2=k2, lag=lag)
        plt.show()

    d, T = EXPLORER_DEFAULTS, EXPLORER_T
    style = {"description_width": "140px"}
    return plots.explorer(
        show,
        k1=widgets.IntSlider(value=d["k1"], min=1, max=T, description="k1 (update every)",
                             continuous_update=False, style=style),
        k2=widgets.IntSlider(value=d["k2"], min=1, max=T,
                             description="k2 (backpropagate)",
                             continuous_update=False, style=style),
        lag=widgets.IntSlider(value=d["lag"], min=1, max=T - 1, description="dependency lag",
                              continuous_update=False, style=style),
    )


def draw_tbptt_paths(T: int = 12, variants=((12, 12), (4, 4), (2, 6)), axes=None):
    """Draw which steps each TBPTT(k1, k2) variant backpropagates through.

    One panel per ``(k1, k2)`` in ``variants``; rows are updates (top to bottom), columns
    time steps. Dark cells: losses injected at that update; light cells: steps the
    gradient flows back through; white: only the forward state passes. A red bar marks
    where each update's backward pass is cut (the state entering the window is a
    constant, as after ``detach``). Returns the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if axes is None:
        heights = [len(tbptt.update_times(T, k1)) + 1.2 for k1, _ in variants]
        _, axes = plt.subplots(len(variants), 1, figsize=(0.55 * T + 2.5, 0.45 * sum(heights) + 1),
                               gridspec_kw={"height_ratios": heights})
    axes = np.atleast_1d(axes)
    cmap = ListedColormap(["white", "#9ecae1", "#08519c"])
    for ax, (k1, k2) in zip(axes, variants):
        grid = tbptt.path_grid(T, k1, k2)
        U = grid.shape[0]
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=2, aspect="auto",
                  extent=(0.5, T + 0.5, U + 0.5, 0.5))
        for u, (s, _, t) in enumerate(tbptt.windows(T, k1, k2), start=1):
            ax.plot([s + 0.5, s + 0.5], [u - 0.45, u + 0.45], color="#d62728", lw=3)
            ax.annotate("", xy=(s + 0.6, u), xytext=(t + 0.4, u),
                        arrowprops=dict(arrowstyle="-|>", color="black", lw=1.0))
        ax.set_xticks(range(1, T + 1))
        ax.set_yticks(range(1, U + 1))
        ax.set_yticklabels([f"update at t={t}" for t in tbptt.update_times(T, k1)], fontsize=8)
        ax.set_xticks(np.arange(0.5, T + 1), minor=True)
        ax.set_yticks(np.arange(0.5, U + 1), minor=True)
        ax.grid(which="minor", color="#bbbbbb", lw=0.6)
        ax.tick_params(which="minor", length=0)
        name = "full BPTT" if k1 == k2 == T else f"TBPTT(k1={k1}, k2={k2})"
        ax.set_title(f"{name}: every {k1} steps, backpropagate {k2} steps", fontsize=11)
    axes[-1].set_xlabel("time step t (the hidden state is carried forward through every step)")
    handles = [Patch(fc="#08519c", label="loss L_t injected in this update"),
               Patch(fc="#9ecae1", label="gradient flows back through step t"),
               Patch(fc="white", ec="#bbbbbb", label="no gradient (forward only)"),
               Patch(fc="#d62728", label="cut: incoming state is a constant (detach)")]
    axes[0].legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.25), ncol=2,
                   fontsize=9, frameon=False)
    axes[0].figure.tight_layout()
    return axes
