"""Notebook 05's explorer prompts ("try X: you will see Y"), each checked by running the
explorer's own experiment (``truncation.explorer_experiment``) at the stated setting."""

from __future__ import annotations

import pytest
from notebook_cells import cell_text

from course_utils import provenance
from course_utils.lessons import truncation

NOTEBOOK = provenance.ROOT / "solutions" / "05_truncated_bptt.ipynb"
PROMPTS = cell_text(NOTEBOOK, "c032-b-explorer-intro", squash_spaces=True)


def test_the_prompts_are_the_ones_checked_here():
    assert "**$k_1 = k_2 = 4$, lag 6.** No cell of the red line is kept (0 of 18)" in PROMPTS
    assert "85 % of the full gradient's norm" in PROMPTS
    assert "(5 of 18 kept)" in PROMPTS and "(18 of 18)" in PROMPTS
    assert "**$k_1 = k_2 = 4$, lag 12.** The truncated gradient's norm is within 1 %" in PROMPTS
    assert "misses about a third of it" in PROMPTS


def test_defaults_are_within_the_sliders():
    assert truncation.EXPLORER_DEFAULTS == dict(k1=4, k2=8, lag=6)


def test_k4_lag6_keeps_no_copy_path_but_85_percent_of_the_norm():
    ex = truncation.explorer_experiment(k1=4, k2=4, lag=6)
    assert ex.dependency_kept() == (0, 18)
    assert round(100 * ex.norm_ratio) == 85


@pytest.mark.parametrize("k1, k2, kept", [(4, 7, 5), (1, 7, 18)])
def test_raising_k2_then_lowering_k1_keeps_the_copy_paths(k1, k2, kept):
    assert truncation.explorer_experiment(k1=k1, k2=k2, lag=6).dependency_kept() == (kept, 18)


def test_lag12_norm_within_1_percent_yet_a_third_missed():
    ex = truncation.explorer_experiment(k1=4, k2=4, lag=12)
    assert abs(ex.norm_ratio - 1) < 0.01
    assert 0.28 < ex.missed < 0.38  # "about a third"
