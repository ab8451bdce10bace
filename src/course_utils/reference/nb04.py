"""Reference solutions of notebook 04's exercises: the Jacobian of one tanh RNN step and
the product of step Jacobians over a window (see :mod:`course_utils.maths.jacobians`)."""

from __future__ import annotations

import numpy as np

from ..maths import jacobians


def rnn_step_jacobian(x, h_prev, Wxh, Whh, b):
    """The tanh step Jacobian ``∂h_next/∂h_prev``.

    Args:
        x: (N, D), h_prev: (N, H), Wxh: (H, D), Whh: (H, H), b: (H,).

    Returns:
        J: (N, H, H), ``J[n] = diag(1 − h_next[n]²) · Whh`` where
        ``h_next = tanh(x @ Wxh.T + h_prev @ Whh.T + b)``.
    """
    h_next = np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)
    return (1.0 - h_next**2)[:, :, None] * Whh


def jacobian_product(h, Whh, t: int, k: int, nonlinearity: str = "tanh"):
    """``∂h_t/∂h_k = J_t J_{t−1} ⋯ J_{k+1}`` for a batch (the identity when t == k).

    Args:
        h: (N, T, H) states h_1 … h_T (``h[:, s−1]`` is h_s; h_0 is not needed).
        Whh: (H, H).
        t, k: time indices with 0 ≤ k ≤ t ≤ T (k = 0 means the initial state h_0).

    Returns:
        (N, H, H).
    """
    N, T, H = h.shape
    if not 0 <= k <= t <= T:
        raise ValueError(f"need 0 <= k <= t <= T = {T}, got t = {t}, k = {k}")
    P = np.broadcast_to(np.eye(H, dtype=h.dtype), (N, H, H)).copy()
    for s in range(t, k, -1):  # P = J_t ⋯ J_s, growing to the right
        P = P @ jacobians.step_jacobian(h[:, s - 1], Whh, nonlinearity)
    return P
