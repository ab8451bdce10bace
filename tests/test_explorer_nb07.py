"""Notebook 07's memory explorer (course_utils.lessons.memory): exact Jacobians, figure and widget."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from course_utils.lessons import memory
from course_utils.maths import lstm
from course_utils.reference import nb07

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _torch_cell_jacobians(x, Wx, Wh, b):
    """∂c_T/∂c_k for every k by torch autograd, one backward pass per unit of c_T.

    An independent computation: torch's own LSTM cell (``torch.nn.LSTMCell`` with the same
    weights) steps the sequence, and autograd differentiates c_T with respect to each c_k
    that we keep. Returns (N, T + 1, H, H)."""
    N, T, D = x.shape
    H = Wh.shape[1]
    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(Wx))
        cell.weight_hh.copy_(torch.from_numpy(Wh))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.zero_()
    xt = torch.from_numpy(x)
    h = torch.zeros(N, H, dtype=torch.float64)
    c = torch.zeros(N, H, dtype=torch.float64, requires_grad=True)
    cs = [c]
    for t in range(T):
        h, c = cell(xt[:, t], (h, c))
        c.retain_grad()
        cs.append(c)
    J = np.zeros((N, T + 1, H, H))
    for j in range(H):
        for ck in cs:
            ck.grad = None
        cs[-1][:, j].sum().backward(retain_graph=True)
        for k, ck in enumerate(cs):
            g = ck.grad if k < T else torch.nn.functional.one_hot(
                torch.tensor(j), H).double().expand(N, H)
            J[:, k, j, :] = g.numpy()
    return J


@pytest.mark.parametrize("forget_bias", [0.0, 3.0])
def test_cell_state_jacobians_match_torch_autograd(forget_bias):
    N, T, H = 3, 9, 5
    rng = np.random.default_rng(4)
    p = lstm.init_lstm_params(2, H, rng, forget_bias=forget_bias)
    Wx, Wh, b = p.Wx * 3, p.Wh * 3, p.b    # larger weights: the paths through h matter
    x = rng.uniform(0, 1, size=(N, T, 2))
    zeros = np.zeros((N, H))
    J = memory.cell_state_jacobians(x, zeros, zeros, (Wx, Wh, b))
    J_torch = _torch_cell_jacobians(x, Wx, Wh, b)
    assert J.shape == (N, T + 1, H, H)
    np.testing.assert_allclose(J, J_torch, rtol=1e-9, atol=1e-14)
    np.testing.assert_array_equal(J[:, T], np.broadcast_to(np.eye(H), (N, H, H)))
    # the indirect paths are not negligible here, so dropping them would fail the check
    _, f, _, _ = nb07.lstm_gates(x[:, -1], nb07.lstm_forward(x, zeros, zeros, Wx, Wh, b)[0][:, -2],
                                 Wx, Wh, b)
    direct = np.einsum("nj,jk->njk", f, np.eye(H))
    assert np.abs(J[:, T - 1] - direct).max() > 1e-3


def test_experiment_numbers():
    ex = memory.explorer_experiment(forget_bias=2.0, T=30, H=6, N=2)
    assert ex.jac_norms.shape == ex.direct_norms.shape == (2, 31)
    np.testing.assert_allclose(ex.jac_norms[:, -1], 1.0)
    np.testing.assert_allclose(ex.direct_norms[:, -1], 1.0)
    np.testing.assert_array_equal(ex.lags, 30 - np.arange(31))
    np.testing.assert_array_equal(ex.b_f, np.full(6, 2.0))
    for g in ("i", "f", "g", "o"):
        assert ex.gates[g].shape == (2, 30, 6)
    # the jac norms are the 2-norms of the exact Jacobians, recomputed from scratch
    p = lstm.init_lstm_params(2, 6, np.random.default_rng(0))
    p.b[6:12] = 2.0
    from course_utils.lessons import longrange

    x, _ = longrange.adding_problem(2, 30, np.random.default_rng(2), dtype=np.float64)
    J = _torch_cell_jacobians(x, *p.as_tuple())
    np.testing.assert_allclose(ex.jac_norms, np.linalg.norm(J, ord=2, axis=(2, 3)), rtol=1e-9)
    # the direct path: max over units of the product of forget gates from k+1 to T
    f = ex.gates["f"]
    k = 10
    np.testing.assert_allclose(ex.direct_norms[:, k], np.prod(f[:, k:], axis=1).max(axis=1),
                               rtol=1e-12)
    # at initialisation the forget gates sit near sigmoid(b_f)
    assert abs(f.mean() - float(lstm.sigmoid(2.0))) < 0.05


def test_chrono_experiment_timescales_and_forget_bias_effect():
    ex = memory.explorer_experiment(init="chrono", T_max=50, T=40)
    assert np.all((ex.b_f >= 0) & (ex.b_f <= np.log(49)))
    assert np.all((ex.timescales >= 2 - 1e-9) & (ex.timescales <= 50 + 1e-9))
    np.testing.assert_allclose(ex.gates["i"].mean(axis=(0, 1)), lstm.sigmoid(-ex.b_f), atol=0.1)
    lo = memory.explorer_experiment(forget_bias=0.0, T=60)
    hi = memory.explorer_experiment(forget_bias=5.0, T=60)
    # lag 50: the gradient through the cell state vanishes with b_f = 0, not with b_f = 5
    assert lo.jac_norms[:, 10].mean() < 1e-6 < 0.1 < hi.jac_norms[:, 10].mean()
    with pytest.raises(ValueError):
        memory.explorer_experiment(init="zeros")


def test_plot_explorer_axes_labelled_and_data_follow_the_settings():
    axes = memory.plot_explorer()
    ax_g, ax_j = axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
        assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == 2
    ex = memory.explorer_experiment(**memory.EXPLORER_DEFAULTS)
    np.testing.assert_allclose(ax_j.lines[0].get_ydata(), np.log10(ex.jac_norms.mean(axis=0)))
    np.testing.assert_allclose(ax_j.lines[1].get_ydata(), np.log10(ex.direct_norms.mean(axis=0)))
    np.testing.assert_array_equal(ax_j.lines[0].get_xdata(), ex.lags)
    np.testing.assert_allclose(ax_g.lines[0].get_ydata(), ex.gates["f"][0, :, 0])
    assert len(ax_g.lines) == memory.N_UNITS_SHOWN + 1
    y_default = ax_j.lines[0].get_ydata().copy()
    f_default = ax_g.lines[0].get_ydata().copy()
    a2 = memory.plot_explorer(forget_bias=0.0)
    assert not np.allclose(a2[1].lines[0].get_ydata(), y_default)
    assert not np.allclose(a2[0].lines[0].get_ydata(), f_default)
    a3 = memory.plot_explorer(init="chrono", T_max=20, T=40)
    assert len(a3[1].lines[0].get_ydata()) == 41
    assert "chrono" in a3[0].get_title()
    plt.close("all")


def test_memory_explorer_widget_first_control_is_a_slider_that_redraws():
    import ipywidgets as widgets

    w = memory.memory_explorer()
    assert isinstance(w, widgets.interactive)
    kinds = [type(c).__name__ for c in w.children]
    assert kinds[0] == "FloatSlider"  # the browser test moves the first slider
    assert {"FloatSlider", "IntSlider", "Dropdown", "Output"} <= set(kinds)
    first = w.children[0]
    assert first.description.startswith("forget bias")
    assert first.value == memory.EXPLORER_DEFAULTS["forget_bias"]
    assert w.kwargs == memory.EXPLORER_DEFAULTS
    drawn = []
    orig = memory.plot_explorer

    def spy(axes=None, **settings):
        out = orig(axes, **settings)
        drawn.append(out[1].lines[0].get_ydata().copy())
        return out

    memory.plot_explorer = spy
    try:
        w.update()
        first.value = 0.0  # re-runs the function: a new figure with other data
    finally:
        memory.plot_explorer = orig
    assert w.kwargs["forget_bias"] == 0.0
    assert len(drawn) == 2 and not np.allclose(drawn[0], drawn[1])
    plt.close("all")


def test_explorer_y_limits_fit_the_curves():
    ax_j = memory.plot_explorer()[1]
    lo, hi = ax_j.get_ylim()
    ys = np.concatenate([ax_j.lines[0].get_ydata(), ax_j.lines[1].get_ydata()])
    assert lo <= ys.min() and ys.max() <= hi
    assert ys.max() - ys.min() > 0.4 * (hi - lo)    # the data fill much of the height
    assert memory.log_limits([-1.2, 0.86]) == (-2.0, 2.0)
    assert memory.log_limits([-np.inf, -300.0, 0.0]) == (-30.0, 1.0)   # floor; -inf ignored
    plt.close("all")


def test_draw_cell_paths_has_both_kinds_of_path():
    ax = memory.draw_cell_paths()
    texts = " ".join(t.get_text() for t in ax.texts)
    for label in ("$c_{k}$", "$c_{k+1}$", "$h_{k}$", "gates", "$W_h$", "f_{k+1}"):
        assert label in texts, label
    arrows = [t.arrow_patch for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    colors = {tuple(np.round(a.get_edgecolor(), 3)) for a in arrows}
    assert len(arrows) >= 10 and len(colors) >= 3          # direct, mixed and input arrows
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("direct path" in t for t in legend) and any("mixed path" in t for t in legend)
    plt.close("all")


def test_plot_gradient_paths_draws_every_curve():
    lags = np.arange(5)[::-1]
    h = {"RNN": np.ones(5), "LSTM a": np.ones(5) * 2}
    c = {"LSTM a": (np.ones(5) * 3, np.ones(5) * 4), "LSTM b": (np.ones(5) * 5, np.ones(5) * 6)}
    ax_h, ax_c = memory.plot_gradient_paths(lags, h, c, title="t")
    assert [ln.get_ydata()[0] for ln in ax_h.lines] == [1, 2]
    assert [ln.get_ydata()[0] for ln in ax_c.lines] == [3, 4, 5, 6]
    assert len(ax_c.get_legend().get_texts()) == 4
    for ax in (ax_h, ax_c):
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close("all")


def test_draw_cell_paths_draws_each_path_as_its_legend_says():
    """The mixed path is dashed in the legend and in its arrows; the output gate feeds h,
    not c (issue 27: the legend said dashed while the arrows were solid, and "gates i, f, g,
    o" pointed into c)."""
    from matplotlib.colors import to_rgba

    ax = memory.draw_cell_paths()
    arrows = [t.arrow_patch for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    styles = {}
    for a in arrows:
        styles.setdefault(tuple(np.round(a.get_edgecolor(), 3)), set()).add(str(a.get_linestyle()))
    legend = {ln.get_label(): ln for ln in ax.get_legend().get_lines()}
    assert len(legend) == 3
    for color, dashed in [(memory.DIRECT_COLOR, False), (memory.MIXED_COLOR, True),
                          (memory.O_PATH_COLOR, True)]:
        key = tuple(np.round(to_rgba(color), 3))
        assert len(styles[key]) == 1, styles[key]                 # one style per kind of path
        arrow_solid = styles[key] <= {"solid", "-"}
        (line,) = [ln for ln in legend.values() if tuple(np.round(to_rgba(ln.get_color()), 3)) == key]
        assert arrow_solid == (not dashed) == (line.get_linestyle() in ("-", "solid"))
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "gates $i, f, g$" in texts and "i, f, g, o" not in texts and "$o_{k+1}$" in texts
    plt.close("all")
