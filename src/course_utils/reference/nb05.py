"""Reference solution of notebook 05's exercise: truncated BPTT, TBPTT(k, k).

Other variants (general k1 ≤ k2, checkpointing, torch) are in :mod:`course_utils.maths.tbptt`.
"""

from __future__ import annotations

import numpy as np

from ..maths import tbptt
from . import nb01, nb03


def truncated_bptt(x, h0, Wxh, Whh, b, dh, k):
    """TBPTT(k, k): chunks of ``k`` steps, hidden state carried forward, gradient not.

    For chunk ``c`` covering steps ``[s, e)``: run :func:`nb01.rnn_forward` from the state
    the previous chunk ended in, then :func:`nb03.rnn_backward` with ``dh[:, s:e]``; the
    returned ``dh0`` (the gradient that would flow into the previous chunk) is dropped.

    Args:
        x: (N, T, D) inputs; h0: (N, H) initial state; Wxh (H, D), Whh (H, H), b (H,).
        dh: (N, T, H) per-step loss gradients ∂L_t/∂h_t.
        k: chunk length (the last chunk is shorter when k does not divide T).

    Returns:
        dWxh (C, H, D), dWhh (C, H, H), db (C, H): the gradient of each chunk's loss
        (C = ceil(T / k)), and h_last (N, H): the state after the last step.
    """
    h_prev = h0
    gx, gh, gb = [], [], []
    for s, e in tbptt.chunk_bounds(x.shape[1], k):
        h = nb01.rnn_forward(x[:, s:e], h_prev, Wxh, Whh, b)
        _, _, dWxh, dWhh, db = nb03.rnn_backward(dh[:, s:e], x[:, s:e], h_prev, h, Wxh, Whh)
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
        h_prev = h[:, -1]  # carry the state forward (a value: no gradient goes back)
    return np.stack(gx), np.stack(gh), np.stack(gb), h_prev
