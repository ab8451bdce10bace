"""Notebook 02's drawing of the backward flow (``unrolling.draw_bptt_flow``)."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest

from course_utils.lessons import unrolling


def _arrows(ax, kind):
    return [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None and a.get_gid() == kind]


@pytest.mark.parametrize("T", [1, 3, 5])
def test_three_forward_and_three_backward_arrows_per_step(T):
    ax = unrolling.draw_bptt_flow(T=T)
    forward, backward = _arrows(ax, unrolling.FORWARD), _arrows(ax, unrolling.BACKWARD)
    assert len(forward) == 3 * T and len(backward) == 3 * T
    assert all(a.arrow_patch.get_linestyle() != "-" for a in backward)  # dashed
    texts = [t.get_text() for t in ax.texts]
    assert sum(bool(re.fullmatch(r"\$g_\d+\$", t)) for t in texts) == T  # g_t at every state
    assert sum(r"\delta_" in t and "h_" in t and "top" in t for t in texts) >= T  # one term per step
    assert sum("shared" in t for t in texts) == 1                    # one box of weights
    plt.close("all")


def test_backward_arrows_point_back_in_time_and_into_the_weights():
    ax = unrolling.draw_bptt_flow(T=3)
    backward = _arrows(ax, unrolling.BACKWARD)
    # an annotation's xy is the arrow head, xyann its tail
    leftwards = [a for a in backward if a.xy[0] < a.xyann[0] - 1]   # h_t -> h_{t-1}
    downwards = [a for a in backward if a.xy[1] < a.xyann[1] - 2]   # h_t -> the weights
    assert len(leftwards) == 3 and len(downwards) == 3
    forward = _arrows(ax, unrolling.FORWARD)
    assert not any(a.xy[0] < a.xyann[0] - 1 for a in forward)        # forward never goes back
    plt.close("all")
