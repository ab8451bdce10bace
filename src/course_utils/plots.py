"""Shared plotting helpers (matplotlib). Each returns the ``Axes`` it drew on.

:func:`use_course_style` (called by ``course_utils.setup``) makes every figure readable
by colour-blind readers: the default colour cycle is the Okabe–Ito palette, and each
colour comes with its own line style, so lines differ by more than their colour.
"""

from __future__ import annotations

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour
# vision deficiency. Ordered so that "C0".."C3" keep the hue family of matplotlib's default
# (blue, orange, green, red), as code and prose that name "C3" or "the red line" expect.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish green": "#009E73",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "sky blue": "#56B4E9",
    "black": "#000000",
    "yellow": "#F0E442",
}
# the cycle: the palette without yellow (too light on white for a line)
COLORS = tuple(c for name, c in OKABE_ITO.items() if name != "yellow")
# one line style per colour, so that a line is told apart without its colour
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (10, 3)), (0, (1, 3)))


def course_style() -> dict:
    """The course's matplotlib settings (an ``rcParams`` dict): the colour-blind-safe
    colours of :data:`COLORS` cycled together with the line styles of :data:`LINESTYLES`."""
    from cycler import cycler

    return {"axes.prop_cycle": cycler(color=list(COLORS)) + cycler(linestyle=list(LINESTYLES)),
            "image.cmap": "viridis"}


def use_course_style() -> None:
    """Apply :func:`course_style` to matplotlib's ``rcParams`` (every later figure)."""
    import matplotlib

    matplotlib.rcParams.update(course_style())


def _box(ax, xy, text, color, *, w=0.8, h=0.5):
    from matplotlib.patches import FancyBboxPatch

    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                fc=color, ec="black", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=12)


def _arrow(ax, start, end, label=None, color="black", *, label_offset=(0.0, 0.0)):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.8, shrinkA=0, shrinkB=0))
    if label:
        mx, my = (start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1]
        ax.text(mx, my, label, color=color, fontsize=11, ha="center", va="center",
                bbox=dict(fc="white", ec="none", pad=0.5))


def draw_unrolled_rnn(T: int = 4, ax=None, *, show_loss: bool = True):
    """Draw the RNN unrolled over ``T`` steps, with its shared weights colour-coded.

    Every ``x_t → h_t`` arrow carries the same ``W_xh`` (blue) and every
    ``h_{t-1} → h_t`` arrow the same ``W_hh`` (red): one set of weights, used T times.
    With ``show_loss`` each ``h_t`` feeds a per-step loss ``L_t`` that adds up to ``L``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 * (T + 1), 4.2 if show_loss else 3.2))
    blue, red, grey = OKABE_ITO["blue"], OKABE_ITO["vermillion"], "#555555"
    dx = 2.0
    _box(ax, (0, 1.5), "$h_0$", "#eeeeee")
    for t in range(1, T + 1):
        x = t * dx
        _box(ax, (x, 0), f"$x_{t}$", "#dbe9f6")
        _box(ax, (x, 1.5), f"$h_{t}$", "#fde0dd")
        _arrow(ax, (x, 0.3), (x, 1.2), "$W_{xh}$", blue, label_offset=(0.42, 0))
        _arrow(ax, (x - dx + 0.45, 1.5), (x - 0.45, 1.5), "$W_{hh}$", red, label_offset=(0, 0.3))
        if show_loss:
            _box(ax, (x, 3.0), f"$L_{t}$", "#e5f5e0", w=0.7, h=0.45)
            _arrow(ax, (x, 1.8), (x, 2.75), None, grey)
    if show_loss:
        ax.text((T + 1) * dx / 2 + 0.5, 3.75,
                r"$L = \sum_t L_t$   (the same $W_{xh}, W_{hh}, b$ at every step)",
                ha="center", fontsize=12)
    ax.set_xlim(-0.8, T * dx + 0.8)
    ax.set_ylim(-0.6, 4.1 if show_loss else 2.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"An RNN unrolled over T = {T} steps: one layer, applied {T} times")
    return ax


# ---------------------------------------------------------------------------------------
# The lessons' explorers: an interactive panel that is safe headless
# ---------------------------------------------------------------------------------------
def explorer(show, **controls):
    """An ``ipywidgets.interactive`` panel: ``controls`` (widgets, by ``show``'s parameter
    names) and the output of ``show(**values)``, redrawn whenever a control changes.

    Unlike ``ipywidgets.interactive`` it never *captures* output into its ``Output``
    widget (``with out:``, which makes a headless executor's stand-in for the widget send
    the widget's state back on the kernel's shell channel while it waits for the cell's
    reply: the explorer hang, see :mod:`course_utils.tooling.headless`). It runs ``show``
    with IPython's ``capture_output`` and sets the ``Output`` widget's ``outputs`` to what
    was captured (the figure, printed text): a front end draws them as before, a saved
    notebook keeps them in its widget state, and no executor has anything to echo.
    """
    return _explorer_class()(show, **controls)


_EXPLORER: list = []


def _explorer_class():
    if _EXPLORER:
        return _EXPLORER[0]
    import traceback

    import ipywidgets as widgets
    from IPython.utils.capture import capture_output
    from ipywidgets.widgets.interaction import show_inline_matplotlib_plots

    class Explorer(widgets.interactive):
        """``ipywidgets.interactive`` whose redraw sets ``out.outputs`` (see :func:`explorer`)."""

        def update(self, *args):
            self.kwargs = {w._kwarg: w.get_interact_value() for w in self.kwargs_widgets}
            error = None
            with capture_output() as cap:
                try:
                    self.result = self.f(**self.kwargs)
                    show_inline_matplotlib_plots()  # a figure left open (inline backend)
                except Exception:  # shown in the panel, as ipywidgets shows it
                    error = traceback.format_exc()
            outputs = [{"output_type": "stream", "name": "stdout", "text": cap.stdout}
                       ] if cap.stdout else []
            outputs += [{"output_type": "display_data", "data": o.data,
                         "metadata": o.metadata or {}} for o in cap.outputs]
            if cap.stderr or error:
                outputs.append({"output_type": "stream", "name": "stderr",
                                "text": cap.stderr + (error or "")})
            self.out.outputs = tuple(outputs)

    _EXPLORER.append(Explorer)
    return Explorer
