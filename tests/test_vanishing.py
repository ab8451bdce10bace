"""course_utils.lessons.vanishing (notebook 04's lesson): the lag experiment against the chain of
bounds, the figures, the explorer and the first-symbol recall training."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.lessons import vanishing as V
from course_utils.maths import jacobians


def test_step_log_norms_and_the_chain_of_bounds():
    rng = np.random.default_rng(7)
    Whh = jacobians.gaussian_init(16, 1.5, rng)
    ex = V.measure(Whh, "tanh", T=40, N=4, seed=1)
    steps = jacobians.step_log_norms(ex.h, Whh, "tanh")  # (N, T)
    assert steps.shape == (4, 40)
    # submultiplicativity: ‖∏ J‖ ≤ ∏ ‖J‖ for every lag
    cum = np.cumsum(steps[:, ::-1], axis=1)
    assert np.all(ex.log_norms <= cum + 1e-9)
    # each step: ‖diag(1−h²) Whh‖ ≤ max(1−h²) σ_max ≤ γ σ_max
    sig = jacobians.spectrum(Whh).sigma_max
    dmax = (1 - ex.h**2).max(axis=2)
    assert np.all(10**steps <= dmax * sig + 1e-12)
    assert ex.rate() <= ex.bound
    assert 0 < ex.mean_derivative < 1



def test_linear_rate_tends_to_the_spectral_radius():
    G = jacobians.gaussian_init(24, 1.0, np.random.default_rng(9))
    W = jacobians.with_spectral_radius(G, 0.8)
    ex = V.measure(W, "linear", T=300, N=2)
    assert abs(ex.rate() - 0.8) < 0.03  # Gelfand: ‖W^ℓ‖^{1/ℓ} → ρ(W)
    assert ex.rate() < 0.9 * ex.bound


def test_explorer_figure_changes_with_the_slider_settings():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = V.plot_explorer()
    y_default = ax.lines[0].get_ydata().copy()
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert len(ax.get_legend().get_texts()) == 3
    ax2 = V.plot_explorer(spectral_radius=2.0)
    assert not np.allclose(ax2.lines[0].get_ydata(), y_default)
    ax3 = V.plot_explorer(T=30, nonlinearity="relu", matrix="orthogonal", input_scale=0.0)
    assert len(ax3.lines[0].get_ydata()) == 30
    plt.close("all")


def test_gradient_explorer_widget():
    import ipywidgets as widgets
    import matplotlib

    matplotlib.use("Agg")
    w = V.gradient_explorer()
    assert isinstance(w, widgets.interactive)
    kinds = {type(c).__name__ for c in w.children}
    assert {"FloatSlider", "IntSlider", "Dropdown", "Output"} <= kinds
    slider = next(c for c in w.children if getattr(c, "description", "").startswith("spectral"))
    assert slider.value == V.EXPLORER_DEFAULTS["spectral_radius"]
    slider.value = 1.5  # re-runs the function without error
    assert w.kwargs["spectral_radius"] == 1.5


def test_plot_lag_curves_draws_one_line_per_run_and_the_bounds():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    W = jacobians.gaussian_init(8, 1.0, np.random.default_rng(10))
    runs = {"a": V.measure(W, "tanh", T=20, N=2), "b": V.measure(W, "linear", T=20, N=2)}
    ax = V.plot_lag_curves(runs, title="t", linestyles={"b": "--"})
    assert [ln.get_label() for ln in ax.lines] == ["a", "b"]
    assert ax.lines[1].get_linestyle() == "--"
    np.testing.assert_allclose(ax.lines[1].get_ydata(), 10 ** runs["b"].mean_log_norms)
    ax2 = V.plot_lag_curves(runs, show_bounds=True)
    assert len(ax2.lines) == 4
    np.testing.assert_allclose(ax2.lines[1].get_ydata(), runs["a"].bound ** np.arange(1, 21))
    assert ax2.get_xlabel() and ax2.get_ylabel() and ax2.get_legend() is not None
    plt.close("all")


def test_first_symbol_task_targets_the_first_symbol():
    x, y = V.first_symbol_task(50, 7, np.random.default_rng(0), n_symbols=3)
    assert x.shape == (50, 8, 3) and y.shape == (50,) and y.dtype == np.int64
    assert np.all(x.sum(axis=2) == 1)  # one-hot at every step
    assert np.array_equal(x[:, 0].argmax(axis=1), y)
    assert not np.array_equal(x[:, -1].argmax(axis=1), y)  # the last symbol is a distractor
    with pytest.raises(ValueError, match="lag"):
        V.first_symbol_task(5, 0, np.random.default_rng(0))


def test_a_short_lag_is_learned_and_the_gradient_from_x1_shrinks_with_the_lag():
    short = V.train_first_symbol_recall(2, steps=150)
    assert short.accuracy > 0.95 and short.loss < 0.2, short
    assert short.chance == 0.25
    again = V.train_first_symbol_recall(2, steps=150)
    assert (again.accuracy, again.loss, again.grad_ratio_at_init) == (
        short.accuracy, short.loss, short.grad_ratio_at_init)  # deterministic
    untrained = V.train_first_symbol_recall(2, steps=0)
    assert abs(untrained.accuracy - 0.25) < 0.1 and untrained.loss > 1.0
    ratios = [V.train_first_symbol_recall(lag, steps=0).grad_ratio_at_init for lag in (2, 10, 40)]
    assert ratios[0] > ratios[1] > ratios[2] and ratios[2] < 1e-3, ratios
