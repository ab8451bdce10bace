"""Notebook 07's explorer prompts are true at their stated settings.

Each "try …: you will see …" bullet of section 12 is a claim; each test below runs the
explorer's own experiment (``memory.explorer_experiment``, what the sliders draw) at the
setting the bullet names and checks what the bullet says, and the bullet's wording is
checked to be the one tested.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from notebook_cells import cell_text

from course_utils.lessons import memory
from course_utils.maths import lstm

ROOT = Path(__file__).resolve().parents[1]
PROMPT_CELL = "c033g-explorer-md"


def _prompts(folder: str = "solutions") -> str:
    return cell_text(ROOT / folder / "07_lstm.ipynb", PROMPT_CELL, squash_spaces=True)


def _curves(**settings):
    """(every path, direct path), each (T + 1,) indexed by lag (entry l is lag l)."""
    e = memory.explorer_experiment(**settings)
    return e.jac_norms.mean(axis=0)[::-1], e.direct_norms.mean(axis=0)[::-1], e


@pytest.fixture(scope="module")
def constant():
    return {bf: _curves(forget_bias=bf) for bf in (0.0, 0.5, 1.0, 2.0, 3.0)}


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_the_prompts_are_the_ones_tested(folder):
    text = _prompts(folder)
    for phrase in [
        "every path together is far above the direct path alone",
        "grows from lag 25 to lag 100",
        "shrinks by a factor a little above $\\sigma(b_f)$ per step",
        "falls more slowly than it",
        "at $b_f = 1$ it is below $10^{-6}$ at lag 100",
        "at $b_f = 2$ still above 0.1",
        "the forget gates spread from about 0.8 to 0.99",
        "above 0.1 at lag 100",
        "between $10^{-5}$ and $10^{-3}$",
        "between 0.03 and 0.3 at lag 300",
        "above 0.3",
    ]:
        assert phrase in text, phrase


def test_default_every_path_far_above_direct_and_growing(constant):
    total, direct, _ = constant[3.0]
    assert total[100] > 10 * direct[100]                  # "far above"
    assert total[100] > total[25]                         # "grows from lag 25 to lag 100"
    assert np.all(np.diff(direct) <= 1e-12)               # the direct path only falls


@pytest.mark.parametrize("bf", [0.0, 0.5, 1.0, 2.0, 3.0])
def test_direct_path_falls_a_little_slower_than_sigma_bf(constant, bf):
    total, direct, _ = constant[bf]
    per_step = direct[100] ** (1 / 100)
    s = float(lstm.sigmoid(bf))
    assert s <= per_step <= s + 0.05, (per_step, s)       # "a little more than σ(b_f)"
    ratio = total / direct                                # every path falls more slowly:
    assert np.all(np.diff(ratio[1:100]) > 0)              # its lead grows at every lag
    assert ratio[100] > ratio[50]                         # (lag 100, c_0, has no h before it)


def test_every_path_vanishes_from_b_f_1_down(constant):
    assert constant[1.0][0][100] < 1e-6 and constant[0.0][0][100] < 1e-6
    assert constant[2.0][0][100] > 0.1


def test_chrono_default_horizon():
    total, _, e = _curves(init="chrono", T_max=100, T=100)
    f = e.gates["f"]
    assert 0.75 < f.min() < 0.85 and f.max() > 0.98       # "from about 0.8 to 0.99"
    assert total[100] > 0.1                               # "above 0.1 at lag 100"


def test_chrono_short_horizon_and_long_sequences():
    total_10, _, _ = _curves(init="chrono", T_max=10, T=100)
    assert 1e-5 < total_10[100] < 1e-3
    total_100, _, _ = _curves(init="chrono", T_max=100, T=300)
    assert 0.03 < total_100[300] < 0.3
    total_300, _, _ = _curves(init="chrono", T_max=300, T=300)
    assert total_300[300] > 0.3
