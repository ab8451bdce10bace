"""Reference solution of notebook 02's coded exercise: BPTT for the scalar RNN.

The model and its loss are those of :mod:`course_utils.maths.scalar_rnn`.
"""

from __future__ import annotations

import numpy as np

from ..maths import scalar_rnn


def scalar_bptt(x, y, w, u, b, h0):
    """Gradients of :func:`course_utils.maths.scalar_rnn.loss` by the backward recursion (BPTT), O(T).

    ``g_t = (h_t − y_t) + g_{t+1} w (1 − h_{t+1}²)`` is the total gradient at h_t;
    ``δ_t = g_t (1 − h_t²)``; then dw = Σ δ_t h_{t-1}, du = Σ δ_t x_t, db = Σ δ_t and
    dL/dh_0 = δ_1 w.

    Returns:
        (dw, du, db, dh0) as floats.
    """
    x = np.asarray(x, dtype=float)
    h = scalar_rnn.forward(x, w, u, b, h0)
    hp = scalar_rnn.previous_states(h, h0)
    dw = du = db = 0.0
    carry = 0.0
    for t in range(len(x) - 1, -1, -1):
        delta = (h[t] - y[t] + carry) * (1.0 - h[t] ** 2)
        dw += delta * hp[t]
        du += delta * x[t]
        db += delta
        carry = delta * w
    return float(dw), float(du), float(db), float(carry)
