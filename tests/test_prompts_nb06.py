"""Notebook 06's explorer prompts ("try X: you will see Y"), each checked by running the
explorer's own experiment (``cliff.explorer_experiment``) at the stated setting, with the
slider values the explorer offers."""

from __future__ import annotations

import numpy as np
import pytest
from notebook_cells import cell_text

from course_utils import provenance
from course_utils.lessons import cliff

NOTEBOOK = provenance.ROOT / "solutions" / "06_gradient_clipping.ipynb"
PROMPTS = cell_text(NOTEBOOK, "c008-b-explorer-intro", squash_spaces=True)
SLIDER_THRESHOLDS = {round(float(t), 2): float(t) for t in 10 ** np.arange(-2, 2.01, 0.25)}


def _run(**settings):
    runs = cliff.explorer_experiment(**settings)
    longest = {name: float(np.linalg.norm(np.diff(r["path"], axis=0), axis=1).max())
               for name, r in runs.items()}
    return runs, longest


def test_the_prompts_are_the_ones_checked_here():
    assert "(threshold 1, learning rate 0.1, 40 steps from $(1.5, -0.4)$)" in PROMPTS
    assert "At about 3 the clipped run still reaches the valley floor" in PROMPTS
    assert "at 10 it is thrown over the wall (final loss near 0.08)" in PROMPTS
    assert "from about 30 up it jumps off like the plain run" in PROMPTS
    assert "whose gradient norm on the wall is about 200" in PROMPTS
    assert "**Lower the learning rate to 0.01 and give it 200 steps.**" in PROMPTS
    assert "(its longest step is below 0.1)" in PROMPTS
    assert cliff.EXPLORER_DEFAULTS == dict(max_norm=1.0, lr=0.1, steps=40, w0=1.5, b0=-0.4)


def test_default_plain_run_meets_a_gradient_of_about_200():
    runs, _ = _run()
    assert runs["plain"]["grad_norm"].max() == pytest.approx(200, rel=0.1)


def test_threshold_about_3_reaches_the_valley_floor():
    runs, _ = _run(max_norm=SLIDER_THRESHOLDS[3.16])
    assert runs["clipped"]["loss"][-1] < 1e-12


def test_threshold_10_is_thrown_over_the_wall():
    runs, _ = _run(max_norm=SLIDER_THRESHOLDS[10.0])
    assert runs["clipped"]["loss"][-1] == pytest.approx(0.08, abs=0.01)


@pytest.mark.parametrize("t", [31.62, 56.23, 100.0])
def test_from_about_30_up_it_jumps_off_like_the_plain_run(t):
    runs, longest = _run(max_norm=SLIDER_THRESHOLDS[t])
    assert longest["clipped"] > 3
    assert runs["clipped"]["loss"][-1] == pytest.approx(runs["plain"]["loss"][-1], abs=1e-3)


def test_lr_0_01_for_200_steps_the_plain_run_walks_down_without_a_jump():
    runs, longest = _run(lr=0.01, steps=200)
    assert longest["plain"] < 0.1 and runs["plain"]["loss"][-1] < 1e-9
