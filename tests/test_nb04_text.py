"""Numbers that notebook 04's prose quotes from its own computations, recomputed here so
the text cannot drift away from the code (the counterexample of section 5 and the
gradient ratios of the training experiment in section 8)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from course_utils.lessons import vanishing as V
from course_utils.maths import jacobians

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "04_vanishing_exploding_gradients.ipynb"


def _markdown() -> str:
    cells = json.loads(SOLUTION.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _sci(v: float, digits: int) -> str:
    """1.6e-03 -> '1.6\\cdot10^{-3}' (the way the prose writes it)."""
    mant, exp = f"{v:.{digits}e}".split("e")
    return f"{mant}\\cdot10^{{{int(exp)}}}"


def test_the_counterexample_numbers_in_the_text_are_what_the_matrices_give():
    text = _markdown()
    W = np.array([[1.2, 1.0], [-1.0, -0.5]])
    DW = np.diag([1.0, 0.05]) @ W
    rho_W, rho_DW = jacobians.spectrum(W).spectral_radius, jacobians.spectrum(DW).spectral_radius
    assert abs(rho_W - np.sqrt(0.4)) < 1e-12
    assert rho_W < 1 < rho_DW
    assert f"from {rho_W:.2f} to {rho_DW:.2f}" in text  # "raises the spectral radius from 0.63 to 1.16"
    assert "0.63 → 1.16" in text and f"{rho_W:.2f} becomes {rho_DW:.2f}" in text
    n_W = np.linalg.norm(np.linalg.matrix_power(W, 50), 2)
    n_DW = np.linalg.norm(np.linalg.matrix_power(DW, 50), 2)
    assert f"\\lVert W^{{50}}\\rVert \\approx {_sci(n_W, 1)}" in text
    assert f"\\lVert (DW)^{{50}}\\rVert \\approx {_sci(n_DW, 0)}" in text


def test_the_gradient_ratios_in_the_text_are_what_the_untrained_rnn_gives():
    text = _markdown()
    ratio = {lag: V.train_first_symbol_recall(lag, steps=0).grad_ratio_at_init
             for lag in (10, 20, 40, 60)}
    assert f"was already ${_sci(ratio[10], 1)}$" in text
    assert f"to ${_sci(ratio[60], 0)}$ (lag 60)" in text
    assert f"its ratio was ${_sci(ratio[20], 1)}$" in text
    assert f"${_sci(ratio[40], 0)}$ or less of the gradient to the last" in text
    assert ratio[40] > ratio[60]
