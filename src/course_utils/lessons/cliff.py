"""Lesson 06's explorer: gradient descent on the cliff, with and without norm clipping.

The model, its loss surface and the descent are those of :mod:`course_utils.lessons.clipping`
(:class:`clipping.Cliff`, :func:`clipping.cliff_loss_and_grad`, :func:`clipping.descend`):
one tanh unit run for T = 50 steps, ``L(w, b) = (h_50 − 0.7)²``. The explorer runs plain
gradient descent and clipped gradient descent from the same start with the same learning
rate, and draws both trajectories on the loss surface and their losses per step.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import clipping

EXPLORER_DEFAULTS = dict(max_norm=1.0, lr=0.1, steps=40, w0=1.5, b0=-0.4)
VIEW = dict(w=(0.6, 2.4), b=(-0.8, 1.0))  # the zoomed view of notebook 06


@lru_cache(maxsize=1)
def loss_surface(n_w: int = 181, n_b: int = 181):
    """The cliff's loss on a grid over :data:`VIEW` (computed once, then cached).

    Returns:
        w (n_b, n_w), b (n_b, n_w), L (n_b, n_w) arrays (read-only).
    """
    w, b = np.meshgrid(np.linspace(*VIEW["w"], n_w), np.linspace(*VIEW["b"], n_b))
    L, _, _ = clipping.cliff_loss_and_grad(w, b)
    for a in (w, b, L):
        a.setflags(write=False)
    return w, b, L


def explorer_experiment(max_norm=1.0, lr=0.1, steps=40, w0=1.5, b0=-0.4) -> dict:
    """Plain and clipped gradient descent on the cliff from ``(w0, b0)``.

    Returns:
        ``{"plain": ..., "clipped": ...}``, each the dict of :func:`clipping.descend`
        (``path`` (steps+1, 2), ``loss`` (steps+1,), ``grad_norm`` (steps+1,)).
    """
    start = (float(w0), float(b0))
    with np.errstate(over="ignore", invalid="ignore"):
        return {"plain": clipping.descend(start, lr=lr, steps=int(steps)),
                "clipped": clipping.descend(start, lr=lr, steps=int(steps), max_norm=max_norm)}


def _summary(run: dict) -> str:
    steps = np.linalg.norm(np.diff(run["path"], axis=0), axis=1)
    longest = float(steps.max()) if steps.size else 0.0
    final = float(run["loss"][-1])
    shown = "< 1e-12" if final < 1e-12 else f"{final:.2g}"  # never print rounding noise
    return f"longest step {longest:.2g}, final loss {shown}"


def plot_explorer(axes=None, **settings):
    """Draw the explorer's figure for ``settings`` (see :data:`EXPLORER_DEFAULTS`).

    Left: the loss surface (zoomed view) with both trajectories; a run that leaves the view
    is drawn up to its edge. Right: the loss at each step of both runs (log scale).
    Returns the two Axes.
    """
    import matplotlib.pyplot as plt

    s = {**EXPLORER_DEFAULTS, **settings}
    runs = explorer_experiment(**s)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    ax, bx = axes
    w, b, L = loss_surface()
    dw, db = w[0, 1] - w[0, 0], b[1, 0] - b[0, 0]  # a uniform grid: an image is quick to draw
    im = ax.imshow(L, cmap="viridis", origin="lower", aspect="auto", interpolation="nearest",
                   extent=(w[0, 0] - dw / 2, w[0, -1] + dw / 2, b[0, 0] - db / 2, b[-1, 0] + db / 2))
    plt.colorbar(im, ax=ax, label="loss $L(w, b)$")
    plain, clipped = runs["plain"], runs["clipped"]
    ax.plot(*plain["path"].T, "s-", color="red", ms=4, label="plain: " + _summary(plain))
    ax.plot(*clipped["path"].T, "o-", color="white", mec="black", ms=3, zorder=3,
            label=f"clipped to norm {s['max_norm']:.3g}: " + _summary(clipped))
    ax.plot([s["w0"]], [s["b0"]], "*", color="gold", mec="black", ms=14, zorder=4, label="start")
    ax.set_xlim(*VIEW["w"])
    ax.set_ylim(*VIEW["b"])
    ax.set_xlabel("recurrent weight $w$")
    ax.set_ylabel("bias $b$")
    ax.set_title(f"Gradient descent on the cliff, learning rate {s['lr']:.3g}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)

    k = np.arange(len(plain["loss"]))
    bx.semilogy(k, plain["loss"] + 1e-16, "s-", color="red", ms=3, label="plain")
    bx.semilogy(k, clipped["loss"] + 1e-16, "o-", color="black", ms=3,
                label=f"clipped (max norm {s['max_norm']:.3g})")
    bx.set_ylim(1e-16, 10)
    bx.set_xlabel("gradient step")
    bx.set_ylabel("loss (log scale; +1e-16)")
    bx.set_title("Loss along the two runs", fontsize=10)
    bx.legend(loc="lower left", fontsize=8)
    axes[0].figure.tight_layout()
    return axes


def cliff_explorer():
    """An ``ipywidgets.interactive`` explorer of clipping on the cliff.

    Controls: the clipping threshold and the learning rate (``FloatLogSlider``), the number
    of steps (``IntSlider``) and the start (w0, b0) (``FloatSlider``). Every change redraws
    :func:`plot_explorer`. Display the returned widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .. import plots

    def show(max_norm, lr, steps, w0, b0):
        _, axes = plt.subplots(1, 2, figsize=(12, 4.3))
        plot_explorer(axes, max_norm=max_norm, lr=lr, steps=steps, w0=w0, b0=b0)
        plt.show()

    d = EXPLORER_DEFAULTS
    style = {"description_width": "140px"}
    return plots.explorer(
        show,
        max_norm=widgets.FloatLogSlider(value=d["max_norm"], base=10, min=-2, max=2, step=0.25,
                                        description="clipping threshold", readout_format=".3g",
                                        continuous_update=False, style=style),
        lr=widgets.FloatLogSlider(value=d["lr"], base=10, min=-3, max=0, step=0.25,
                                  description="learning rate", readout_format=".3g",
                                  continuous_update=False, style=style),
        steps=widgets.IntSlider(value=d["steps"], min=10, max=200, step=10, description="steps",
                                continuous_update=False, style=style),
        w0=widgets.FloatSlider(value=d["w0"], min=VIEW["w"][0], max=VIEW["w"][1], step=0.05,
                               description="start w", continuous_update=False, style=style),
        b0=widgets.FloatSlider(value=d["b0"], min=VIEW["b"][0], max=VIEW["b"][1], step=0.05,
                               description="start b", continuous_update=False, style=style),
    )
