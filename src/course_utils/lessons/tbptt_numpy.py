"""Truncated and checkpointed BPTT in numpy, built on the solved step functions of
notebooks 01 and 03 (:mod:`course_utils.reference`): the general TBPTT(k1, k2)
(k1 = k2 is notebook 05's exercise, :func:`course_utils.reference.nb05.truncated_bptt`),
exact BPTT with √T memory, and the gradient of a last-step loss split by lag.

The loss is linear in the hidden states, as in :mod:`course_utils.maths.tbptt` (whose
schedules, :func:`tbptt.update_times` and :func:`tbptt.chunk_bounds`, these use):
``dh: (N, T, H)`` is the per-step gradient ``∂L_t/∂h_t``.
"""

from __future__ import annotations

import numpy as np

from ..maths import tbptt
from ..reference import nb01 as _nb01
from ..reference import nb03 as _nb03


def tbptt_k1k2_numpy(x, h0, Wxh, Whh, b, *, dh, k1, k2):
    """General TBPTT(k1, k2) with k1 <= k2: every k1 steps, backpropagate k2 steps.

    At each update time ``t`` (see :func:`tbptt.update_times`) the losses of steps
    ``t-k1 … t-1`` (0-based) are backpropagated through steps ``max(0, t-k2) … t-1``;
    the state entering that window is treated as a constant. (If k1 does not divide T,
    the last update injects fewer than k1 losses and its window starts ``k2 - k1`` steps
    before its first loss, so that k1 = k2 gives exactly the chunks of :func:`reference.nb05.truncated_bptt`.)

    Args:
        x: (N, T, D); h0: (N, H); Wxh (H, D); Whh (H, H); b (H,); dh: (N, T, H).
        k1: steps between updates; k2: steps backpropagated (k2 >= k1).

    Returns:
        dWxh (U, H, D), dWhh (U, H, H), db (U, H): one gradient per update (U updates),
        and h_last (N, H).
    """
    if not 1 <= k1 <= k2:
        raise ValueError(f"need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    N, T, _ = x.shape
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)  # forward values (a real implementation
    # keeps only the last k2 of them; here we slice them for clarity)
    gx, gh, gb = [], [], []
    for s, prev, t in tbptt.windows(T, k1, k2):  # s = t - k2, except for a shorter last update
        h_in = h0 if s == 0 else h[:, s - 1]
        dh_win = np.zeros_like(dh[:, s:t])
        dh_win[:, prev - s:] = dh[:, prev:t]  # losses not yet used: steps prev … t-1
        _, _, dWxh, dWhh, db = _nb03.rnn_backward(dh_win, x[:, s:t], h_in, h[:, s:t], Wxh, Whh)
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
    return np.stack(gx), np.stack(gh), np.stack(gb), h[:, -1]


def checkpointed_bptt_numpy(x, h0, Wxh, Whh, b, *, dh, segment):
    """Exact BPTT that stores only the states at segment boundaries (gradient checkpointing).

    Forward: keep ``h`` only every ``segment`` steps (about T/segment states). Backward:
    for each segment, last to first, recompute its states from the stored boundary and
    backpropagate through it, carrying ``dh`` into the previous segment. With
    ``segment ≈ √T`` memory is O(√T) instead of O(T), for one extra forward pass.

    Returns:
        dWxh (H, D), dWhh (H, H), db (H,), equal to full BPTT's (up to rounding).
    """
    bounds = tbptt.chunk_bounds(x.shape[1], segment)
    starts = []
    h_prev = h0
    for s, e in bounds:  # forward, storing boundary states only
        starts.append(h_prev)
        for t in range(s, e):
            h_prev = _nb01.rnn_step_forward(x[:, t], h_prev, Wxh, Whh, b)
    dWxh, dWhh = np.zeros_like(Wxh), np.zeros_like(Whh)
    db = np.zeros_like(b)
    carry = np.zeros_like(h0)
    for (s, e), h_in in zip(reversed(bounds), reversed(starts)):
        h = _nb01.rnn_forward(x[:, s:e], h_in, Wxh, Whh, b)  # recompute this segment
        dh_seg = dh[:, s:e].copy()
        dh_seg[:, -1] += carry
        _, carry, gx, gh, gb = _nb03.rnn_backward(dh_seg, x[:, s:e], h_in, h, Wxh, Whh)
        dWxh += gx
        dWhh += gh
        db += gb
    return dWxh, dWhh, db


def contributions_by_lag(x, h0, Wxh, Whh, b, *, dh_last):
    """Split the gradient of a loss at the *last* step into one term per lag.

    With ``L = ⟨dh_last, h_T⟩``, ``∂L/∂Whh = Σ_{j=0}^{T-1} c_j`` where ``c_j`` is the term
    from step ``T-j`` (the path that goes back ``j`` steps). Truncating at ``k`` keeps
    ``c_0 … c_{k-1}``.

    Args:
        x: (N, T, D), h0 (N, H), weights as usual; dh_last: (N, H).

    Returns:
        c: (T, H, H) with ``c[j]`` the lag-``j`` contribution to ∂L/∂Whh.
    """
    N, T, _ = x.shape
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    c = np.zeros((T,) + Whh.shape)
    g = dh_last
    for j in range(T):
        t = T - 1 - j
        h_prev = h[:, t - 1] if t > 0 else h0
        _, g, _, dWhh, _ = _nb03.rnn_step_backward(g, x[:, t], h_prev, h[:, t], Wxh, Whh)
        c[j] = dWhh
    return c
