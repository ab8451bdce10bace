"""Notebook 01's explorer prompts, each checked at the setting it states.

Section 7 of ``solutions/01_unrolling_an_rnn.ipynb`` tells the student what to try and
what they will see. Every test below runs the explorer's own experiment
(:func:`unrolling.explorer_experiment`, which :func:`unrolling.plot_explorer` draws) at
the prompt's setting, the explorer's defaults (T = 60, input scale 0.5) unless the
prompt names another, and checks the claim as the prompt words it. A test also checks
that the prose still says it, so a reworded prompt cannot leave its test behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from course_utils.lessons import unrolling

ROOT = Path(__file__).resolve().parents[1]
NB01 = ROOT / "solutions" / "01_unrolling_an_rnn.ipynb"


def _explorer_prose() -> str:
    nb = json.loads(NB01.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and text.startswith("## 7. Explore"):
            return " ".join(text.split())
    raise AssertionError("notebook 01 has no section 7 explorer prose")


def _experiment(**settings):
    return unrolling.explorer_experiment(**{**unrolling.EXPLORER_DEFAULTS, **settings})


def test_the_prompts_state_their_setting():
    prose = _explorer_prose()
    assert unrolling.EXPLORER_DEFAULTS["T"] == 60 and unrolling.EXPLORER_DEFAULTS["input_scale"] == 0.5
    assert "each at $T = 60$ and input scale 0.5" in prose


# Prompt 1: "`linear`, and s from 0.8 to 0.9. rho crosses 1 (from 0.91 to 1.03): at s = 0.8
# the mean derivative at t = 60 is about 700 times smaller than at t = 1, at s = 0.9 it is
# larger than at t = 1. [...] The thick line stays below the dashed one, but never by more
# than a factor of 4."
def test_prompt_linear_rho_crosses_one():
    prose = _explorer_prose()
    assert "from 0.91 to 1.03" in prose
    lo, hi = _experiment(scale=0.8, nonlinearity="linear"), _experiment(scale=0.9, nonlinearity="linear")
    assert f"{lo.spectral_radius:.2f}" == "0.91" and f"{hi.spectral_radius:.2f}" == "1.03"


def test_prompt_linear_memory_turns_from_fading_to_growing():
    assert "about 700 times smaller than at $t = 1$" in _explorer_prose()
    lo, hi = _experiment(scale=0.8, nonlinearity="linear"), _experiment(scale=0.9, nonlinearity="linear")
    fall = 10 ** (lo.mean_log_norms[0] - lo.mean_log_norms[59])  # mean at t = 1 over mean at t = 60
    assert 600 < fall < 800, fall                                   # "about 700 times smaller"
    assert hi.mean_log_norms[59] > hi.mean_log_norms[0]            # "larger than at t = 1"


@pytest.mark.parametrize("scale", [0.8, 0.9])
def test_prompt_linear_thick_line_below_the_dashed_one_within_4(scale):
    assert "never by more than a factor of 4" in _explorer_prose()
    ex = _experiment(scale=scale, nonlinearity="linear")
    m = ex.mean_log_norms
    dashed = m[0] + (ex.steps - 1) * np.log10(ex.spectral_radius)  # what plot_explorer draws
    gap = m - dashed
    assert gap.max() <= 1e-12                 # "stays below the dashed one"
    assert gap.min() > -np.log10(4)           # "never by more than a factor of 4"


# Prompt 2: "`tanh` at s = 1.5, and move the input scale. At 0.5 the derivative has not
# fallen 1000-fold within 60 steps; at 3 it falls 1000-fold in under 20 steps. [...] At
# input scale 0 the state stays at h = 0 [...]: the tanh RNN then gives exactly the linear
# one's curve."
def test_prompt_tanh_input_scale_half_not_1000_fold_within_60():
    assert "At 0.5 the derivative has not fallen 1000-fold within 60 steps" in _explorer_prose()
    assert _experiment(scale=1.5).memory_steps() is None


def test_prompt_tanh_input_scale_3_falls_1000_fold_in_under_20():
    assert "at 3 it falls 1000-fold in under 20 steps" in _explorer_prose()
    steps = _experiment(scale=1.5, input_scale=3.0).memory_steps()
    assert steps is not None and steps < 20


def test_prompt_tanh_input_scale_0_is_exactly_the_linear_curve():
    assert "the tanh RNN then gives exactly the linear one's curve" in _explorer_prose()
    still = _experiment(scale=1.5, input_scale=0.0)
    linear = _experiment(scale=1.5, input_scale=0.0, nonlinearity="linear")
    np.testing.assert_allclose(still.log_norms, linear.log_norms, atol=1e-12)
    # Going deeper says of this setting: "the derivative grows"
    assert still.mean_log_norms[-1] > still.mean_log_norms[0] + 1


def test_going_deeper_not_chaotic_at_s_1_5():
    """Going deeper's claim: over steps 101-200 every sequence's per-step factor is below 1."""
    long_run = unrolling.explorer_experiment(scale=1.5, T=200)
    factor = 10 ** ((long_run.log_norms[:, 199] - long_run.log_norms[:, 99]) / 100)
    assert factor.max() < 0.999
