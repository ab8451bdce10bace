"""Reference solutions of notebook 07's exercises: the LSTM step and sequence, forward and
backward, in :mod:`course_utils.maths.lstm`'s layout (gate order i, f, g, o; ``Wx`` (4H, D),
``Wh`` (4H, H), ``b`` (4H,)). The backward functions recompute the gates (no cache)."""

from __future__ import annotations

import numpy as np

from ..maths import lstm


def lstm_gates(x, h_prev, Wx, Wh, b):
    """The four gate activations of one step.

    Args:
        x: (N, D), h_prev: (N, H), Wx: (4H, D), Wh: (4H, H), b: (4H,).

    Returns:
        i, f, g, o: each (N, H) (i, f, o after the sigmoid, g after the tanh).
    """
    H = h_prev.shape[1]
    a = x @ Wx.T + h_prev @ Wh.T + b
    i = lstm.sigmoid(a[:, :H])
    f = lstm.sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = lstm.sigmoid(a[:, 3 * H:])
    return i, f, g, o


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step.

    Args:
        x: (N, D) inputs at this step.
        h_prev: (N, H) previous hidden state; c_prev: (N, H) previous cell state.
        Wx: (4H, D), Wh: (4H, H), b: (4H,) with gate blocks in the order i, f, g, o.

    Returns:
        h_next: (N, H) = o ⊙ tanh(c_next); c_next: (N, H) = f ⊙ c_prev + i ⊙ g.
    """
    i, f, g, o = lstm_gates(x, h_prev, Wx, Wh, b)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    return h_next, c_next


def lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    """Backward pass of :func:`lstm_step_forward` (recomputes the gates).

    Args:
        dh_next: (N, H) total gradient of the loss with respect to ``h_next``.
        dc_next: (N, H) gradient with respect to ``c_next`` that arrives from the *next*
            step (through ``c_{t+1} = f_{t+1} ⊙ c_t + …``), not counting the path
            through ``h_next``, which this function adds.
        x, h_prev, c_prev, Wx, Wh, b: the step's inputs, as in the forward pass.

    Returns:
        dx (N, D), dh_prev (N, H), dc_prev (N, H), dWx (4H, D), dWh (4H, H), db (4H,).
    """
    i, f, g, o = lstm_gates(x, h_prev, Wx, Wh, b)
    c_next = f * c_prev + i * g
    tc = np.tanh(c_next)
    do = dh_next * tc
    dc = dc_next + dh_next * o * (1.0 - tc**2)  # both paths into c_t
    di, df, dg = dc * g, dc * c_prev, dc * i
    dc_prev = dc * f
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2),
                         do * o * (1 - o)], axis=1)  # (N, 4H)
    dx = da @ Wx
    dh_prev = da @ Wh
    dWx = da.T @ x
    dWh = da.T @ h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """Run the LSTM over a sequence by repeating :func:`lstm_step_forward`.

    Args:
        x: (N, T, D) inputs, batch-first; h0, c0: (N, H) initial states.
        Wx: (4H, D), Wh: (4H, H), b: (4H,).

    Returns:
        h: (N, T, H) hidden states h_1 … h_T; c: (N, T, H) cell states c_1 … c_T
        (h0, c0 not included). ``h[:, -1]`` and ``c[:, -1]`` are torch's ``h_n``, ``c_n``.
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    dtype = np.result_type(x, h0, c0, Wx, Wh, b)
    h = np.empty((N, T, H), dtype=dtype)
    c = np.empty((N, T, H), dtype=dtype)
    h_t, c_t = h0, c0
    for t in range(T):
        h_t, c_t = lstm_step_forward(x[:, t], h_t, c_t, Wx, Wh, b)
        h[:, t], c[:, t] = h_t, c_t
    return h, c


def lstm_backward(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    """Backpropagation through time for :func:`lstm_forward` (recomputes the forward pass).

    Args:
        dh: (N, T, H) gradient of the loss with respect to each ``h_t`` as it comes from
            the losses directly (not yet including the flow from later steps).
        x: (N, T, D), h0, c0: (N, H), Wx: (4H, D), Wh: (4H, H), b: (4H,).
        dcT: optional (N, H) gradient with respect to the final cell state ``c_T`` (when
            the loss uses it, e.g. torch's ``c_n``); None means zero.

    Returns:
        dx (N, T, D), dh0 (N, H), dc0 (N, H), dWx (4H, D), dWh (4H, H), db (4H,);
        weight gradients are summed over time and batch.
    """
    h, c = lstm_forward(x, h0, c0, Wx, Wh, b)
    T = x.shape[1]
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_carry = np.zeros_like(h0)
    dc_carry = np.zeros_like(c0) if dcT is None else np.array(dcT, copy=True)
    for t in range(T - 1, -1, -1):
        h_prev = h[:, t - 1] if t > 0 else h0
        c_prev = c[:, t - 1] if t > 0 else c0
        dx_t, dh_carry, dc_carry, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dh_carry, dc_carry, x[:, t], h_prev, c_prev, Wx, Wh, b)
        dx[:, t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_carry, dc_carry, dWx, dWh, db
