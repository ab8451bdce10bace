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


# ---- issues 27 and 28: concepts before use, the exercise needs its derivation ----------
def _cells():
    return json.loads(SOLUTION.read_text())["cells"]


def _src(cell) -> str:
    return "".join(cell["source"])


def _index(cell_id: str) -> int:
    return next(i for i, c in enumerate(_cells()) if c.get("id") == cell_id)


def test_the_text_before_the_step_jacobian_exercise_holds_no_formula():
    import re

    cells = _cells()
    before = "\n".join(_src(c) for c in cells[:_index("c004-eba87e1b")] if c["cell_type"] == "markdown")
    exercise = _src(cells[_index("c003-5fd2a137")])
    lesson = before[:before.index(exercise)] + exercise[:exercise.index("<details>")]
    squashed = lesson.replace(" ", "").replace("\\,", "")
    assert "diag(1-h" not in squashed and "1-h_t^2" not in squashed and "1-h_t[i]^2" not in squashed
    assert "[:, :, None]" not in before
    hints = re.findall(r"<summary>(Hint \d)", exercise)
    assert hints == ["Hint 1", "Hint 2", "Hint 3"]
    assert "\\mathrm{diag}(1 - h_\\text{next}[n]^2)" in exercise.split("Hint 3")[1]  # the last hint
    glossary = (ROOT / "GLOSSARY.md").read_text()
    entry = glossary.split('<a id="jacobian"></a>')[1].split("<a id=")[0]
    assert "diag" not in entry


def test_gamma_and_clipping_are_not_used_before_they_are_taught():
    cells = _cells()
    section5 = _index("c022-43706400")
    for c in cells[:section5]:
        if c["cell_type"] == "markdown":
            assert "\\gamma" not in _src(c), c.get("id")
    training = _src(cells[_index("c037-b-training-md")])
    assert "clipped at 1 ([gradient clipping](../GLOSSARY.md#clipping), taught in notebook 06:" in training


def test_the_tanh_rates_are_called_lower_not_slower_and_1_5_vanishes_too():
    text = _markdown()
    assert "slower than linear" not in text and "tanh was slower" not in text
    runs = {r: V.measure(jacobians.with_spectral_radius(
        jacobians.gaussian_init(64, 1.0, np.random.default_rng(0)), r), "tanh", T=100, N=8).rate()
        for r in (0.9, 1.0, 1.2, 1.5)}
    assert all(rate < 1 for rate in runs.values())  # "also vanishes at 0.9, 1.0, 1.2 and 1.5"
    assert "$\\rho = 0.9, 1.0, 1.2$ and $1.5$" in text
    assert f"(rates {runs[1.2]:.3f} and {runs[1.5]:.3f})" in text
    key_fact_3 = text.split("## Key facts")[1].split("\n4.")[0]
    assert "\\max_i(1-h_t[i]^2)\\,\\sigma_{\\max}" in key_fact_3
    assert "the constant $\\gamma\\sigma_{\\max}$" in key_fact_3


def test_every_assert_in_a_lesson_cell_has_a_message():
    import ast

    for c in _cells():
        if c["cell_type"] != "code":
            continue
        src = "\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                        if line.lstrip().startswith(("%", "!")) else line
                        for line in _src(c).splitlines())  # IPython magics
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Assert):
                assert node.msg is not None, (c.get("id"), ast.unparse(node.test))
