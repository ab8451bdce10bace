"""Every "try …: you will see …" prompt of notebook 04's explorer (section 9) is a claim:
each test runs the explorer's own experiment, ``vanishing.explorer_experiment``, at the
prompt's setting and checks what the prompt says, and checks that the prompt still says it.
(Notebook 03 has no explorer and no such prompts.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from course_utils.lessons import vanishing as V
from course_utils.maths import jacobians

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "04_vanishing_exploding_gradients.ipynb"


@pytest.fixture(scope="module")
def prompts() -> str:
    cells = json.loads(SOLUTION.read_text())["cells"]
    text = next("".join(c["source"]) for c in cells if c.get("id") == "c038-4669c95d")
    return " ".join(text.split())


def _rate(rho, nonlinearity="tanh", **kw):
    return V.explorer_experiment(spectral_radius=rho, nonlinearity=nonlinearity, **kw).rate()


def _slider(name):
    w = V.gradient_explorer()
    return next(c for c in w.children if getattr(c, "description", "").startswith(name))


def test_the_prompts_are_the_ones_checked_here(prompts):
    starts = ["* `linear`, and move", "* `tanh` at $\\rho = 1.5$", "* `sigmoid`:",
              "* `relu`, $\\rho$ from 1", "* `orthogonal`:"]
    assert all(s in prompts for s in starts)
    assert prompts.count("\n* ") + prompts.count(" * `") == len(starts)


def test_linear_runs_parallel_to_rho_power_offset_by_1_5_to_2(prompts):
    assert ("runs parallel to $\\rho^\\ell$ (the rate in the legend is $\\rho$ to within 1%), "
            "1.5 to 2 times above it, and turns from falling ($\\rho = 0.9$) to rising "
            "($\\rho = 1.1$)") in prompts
    for rho in (0.5, 0.9, 1.0, 1.1, 1.5, 2.0):
        ex = V.explorer_experiment(spectral_radius=rho, nonlinearity="linear")
        sp = jacobians.spectrum(ex.Whh)
        assert abs(ex.rate() / rho - 1) < 0.01
        ratio = 10 ** (ex.mean_log_norms - ex.lags * np.log10(sp.spectral_radius))
        assert 1.4 < ratio.min() and ratio.max() < 2.05  # "1.5 to 2 times above it"
    assert _rate(0.9, "linear") < 1 < _rate(1.1, "linear")


def test_tanh_at_rho_1_5_saturation_lowers_the_rate_as_the_input_grows(prompts):
    assert ("With no input the rate is $\\rho$ (the state stays at 0, where tanh is linear); "
            "it falls as the input grows, below 1 from an input scale of 0.5 and to about "
            "0.44 at 5.") in prompts
    scales = [0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0]
    rates = [_rate(1.5, input_scale=s) for s in scales]
    assert abs(rates[0] - 1.5) < 0.02
    assert all(a > b for a, b in zip(rates, rates[1:]))  # falls at every step of the grid
    assert rates[1] > 1 > rates[2]                      # below 1 from 0.5 on
    assert round(rates[-1], 2) == 0.44
    assert _slider("input scale").max >= 5 and _slider("spectral radius").max >= 1.5


def test_sigmoid_bound_turns_up_near_2_4_and_the_gradient_vanishes_until_about_8(prompts):
    assert "is 4 times lower than tanh's" in prompts
    assert "(about 2.4: from there on explosion is possible)" in prompts
    assert "$\\rho = 3$, the gradient still vanishes (rate about 0.58)" in prompts
    assert "It stops vanishing only near $\\rho = 8$, beyond the slider" in prompts

    def bound(rho, nl):
        return jacobians.GAMMA[nl] * jacobians.spectrum(
            V.explorer_experiment(spectral_radius=rho, nonlinearity=nl).Whh).sigma_max

    assert abs(bound(1.3, "tanh") / bound(1.3, "sigmoid") - 4) < 1e-12  # per step, same W_hh
    assert bound(2.3, "sigmoid") < 1 < bound(2.5, "sigmoid")
    assert round(_rate(3.0, "sigmoid"), 2) == 0.58
    assert _slider("spectral radius").max == 3.0                        # "at the slider's end"
    assert all(_rate(r, "sigmoid") < 1 for r in (3.0, 5.0, 7.0))
    assert _rate(7.0, "sigmoid") < 1 < _rate(8.0, "sigmoid")
    ax = V.plot_explorer(spectral_radius=8, nonlinearity="sigmoid")  # the call the prompt names
    assert "rate 1.01" in ax.get_legend().get_texts()[0].get_text()
    import matplotlib.pyplot as plt
    plt.close(ax.figure)


def test_relu_still_vanishes_up_to_1_5_and_grows_from_between_1_7_and_1_9(prompts):
    assert ("(more than half of the units at any step). So up to $\\rho = 1.5$ the gradient "
            "still vanishes (rate 0.62 at $\\rho = 1.05$, 0.85 at 1.5); the rate passes 1 "
            "between $\\rho = 1.7$ and 1.9.") in prompts
    for rho in (1.05, 1.5, 1.9):
        ex = V.explorer_experiment(spectral_radius=rho, nonlinearity="relu")
        assert (ex.h == 0).mean() > 0.5  # more than half of the units are inactive
    assert round(_rate(1.05, "relu"), 2) == 0.62 and round(_rate(1.5, "relu"), 2) == 0.85
    assert all(_rate(r, "relu") < 1 for r in np.arange(1.0, 1.51, 0.05))
    assert _rate(1.7, "relu") < 1 < _rate(1.9, "relu")


@pytest.mark.parametrize("nonlinearity", ["tanh", "linear", "relu"])
def test_orthogonal_bound_and_rho_lines_coincide(prompts, nonlinearity):
    assert "for tanh, linear and relu ($\\gamma = 1$) the dashed and dotted lines coincide" in prompts
    for rho in (0.5, 1.0, 2.0):
        ex = V.explorer_experiment(spectral_radius=rho, nonlinearity=nonlinearity,
                                   matrix="orthogonal")
        sp = jacobians.spectrum(ex.Whh)
        assert jacobians.GAMMA[nonlinearity] == 1
        assert abs(sp.sigma_max - sp.spectral_radius) < 1e-9 * rho
