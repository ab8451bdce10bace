"""Notebook 07's gradient flow, built on the solved LSTM and RNN steps
(:mod:`course_utils.reference`): the gradient of a last-step loss with respect to every
earlier state (LSTM and RNN), the forget gates of a forward pass, the share of the cell
state's gradient that takes the direct path, and the one-step Jacobians of the cell state.
Weights in :mod:`course_utils.maths.lstm`'s layout (gate order i, f, g, o): ``params`` is an
:class:`~course_utils.maths.lstm.LSTMParams` (an :class:`~course_utils.maths.rnn.RNNParams`
for the RNN) or the tuple ``(Wx, Wh, b)`` (``(Wxh, Whh, b)``).
"""

from __future__ import annotations

import numpy as np

from ..maths import lstm
from ..reference import nb01 as _nb01
from ..reference import nb03 as _nb03
from ..reference import nb07 as _nb07


def lstm_state_gradients(x, h0, c0, params, dhT, *, step_backward=None, dcT=None):
    """Gradient of a loss that depends only on ``h_T`` (and ``c_T``) with respect to every
    earlier state.

    Args:
        x: (N, T, D), h0, c0: (N, H), params: the LSTM weights ``(Wx, Wh, b)``.
        dhT: (N, H) gradient of the loss with respect to ``h_T``.
        step_backward: the step backward to use (the student's, once it passes; default:
            the reference, :func:`course_utils.reference.nb07.lstm_step_backward`).
        dcT: optional (N, H) gradient of the loss with respect to ``c_T`` directly (not
            through ``h_T``); None means zero. With ``dhT = 0`` and ``dcT`` the rows of an
            identity matrix, ``dc`` holds the rows of the Jacobians ``∂c_T/∂c_k``.

    Returns:
        dh: (N, T + 1, H) with ``dh[:, k] = ∂L/∂h_k`` for k = 0 … T (k = T is ``dhT``),
        dc: (N, T + 1, H) with ``dc[:, k] = ∂L/∂c_k`` (total, through every path).
    """
    step_backward = step_backward or _nb07.lstm_step_backward
    Wx, Wh, b = _weights(params)
    h, c = _nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    N, T, _ = x.shape
    H = h0.shape[1]
    dh = np.zeros((N, T + 1, H))
    dc = np.zeros((N, T + 1, H))
    dh[:, T] = dhT
    dh_t = dhT
    dc_t = np.zeros_like(dhT) if dcT is None else np.array(dcT, dtype=np.float64)
    # ∂L/∂c_T (total) = dcT + dhT ⊙ o_T ⊙ (1 − tanh²c_T); record it before stepping back.
    o_T = _nb07.lstm_gates(x[:, -1], h[:, -2] if T > 1 else h0, Wx, Wh, b)[3]
    dc[:, T] = dc_t + dhT * o_T * (1 - np.tanh(c[:, -1]) ** 2)
    for t in range(T - 1, -1, -1):
        h_prev = h[:, t - 1] if t > 0 else h0
        c_prev = c[:, t - 1] if t > 0 else c0
        _, dh_t, dc_t, *_ = step_backward(dh_t, dc_t, x[:, t], h_prev, c_prev, Wx, Wh, b)
        dh[:, t] = dh_t
        # dc_t is ∂L/∂c_t through c_{t+1} only; add the path through h_t.
        if t > 0:
            o_t = _nb07.lstm_gates(x[:, t - 1], h[:, t - 2] if t > 1 else h0, Wx, Wh, b)[3]
            dc[:, t] = dc_t + dh_t * o_t * (1 - np.tanh(c_prev) ** 2)
        else:
            dc[:, t] = dc_t  # c_0 does not feed h_0
    return dh, dc


def rnn_state_gradients(x, h0, params, dhT):
    """Like :func:`lstm_state_gradients` for a tanh RNN (``params``: ``(Wxh, Whh, b)``):
    ``dh[:, k] = ∂L/∂h_k``, (N, T+1, H)."""
    Wxh, Whh, b = _weights(params)
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    N, T, _ = x.shape
    dh = np.zeros((N, T + 1, h0.shape[1]))
    dh[:, T] = dhT
    dh_t = dhT
    for t in range(T - 1, -1, -1):
        h_prev = h[:, t - 1] if t > 0 else h0
        _, dh_t, *_ = _nb03.rnn_step_backward(dh_t, x[:, t], h_prev, h[:, t], Wxh, Whh)
        dh[:, t] = dh_t
    return dh


def forget_gates(x, h0, c0, params):
    """The forget gates of the forward pass: (N, T, H), ``f_1 … f_T`` (x: (N, T, D),
    h0, c0: (N, H), params: weights as in :func:`lstm.init_lstm_params`)."""
    Wx, Wh, b = _weights(params)
    x = np.asarray(x, dtype=np.float64)
    N, T, D = x.shape
    H = h0.shape[1]
    h, _ = _nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    h_prev = np.concatenate([np.asarray(h0, dtype=np.float64)[:, None], h[:, :-1]], axis=1)
    f = _nb07.lstm_gates(x.reshape(N * T, D), h_prev.reshape(N * T, H), Wx, Wh, b)[1]
    return f.reshape(N, T, H)


def direct_cell_gradients(x, h0, c0, params, dc_T):
    """The share of ``∂L/∂c_k`` that travels the direct path ``c_k → c_{k+1} → … → c_T``.

    The gradient of a loss at the end with respect to an earlier cell state is a sum over
    paths. The direct path multiplies by the forget gates only; every other path leaves the
    cell state at some step through ``h`` (``c_t → h_t → gates_{t+1} → c_{t+1}``, a *mixed*
    path) and meets ``W_h`` and the gates' derivatives there. This returns the direct
    path's term alone,

        ``direct[:, k] = dc_T ⊙ ∏_{t=k+1}^{T} f_t``,

    so that ``∂L/∂c_k − direct[:, k]`` is what all mixed paths together carry.

    Args:
        x: (N, T, D), h0, c0: (N, H), params: ``(Wx: (4H, D), Wh: (4H, H), b: (4H,))``:
            the sequence and weights of the forward pass.
        dc_T: (N, H) the total gradient ``∂L/∂c_T`` (e.g. ``dc[:, T]`` of
            :func:`lstm_state_gradients`).

    Returns:
        direct: (N, T + 1, H), ``direct[:, T] = dc_T``.
    """
    P = lstm.forget_products(forget_gates(x, h0, c0, params))
    return np.asarray(dc_T, dtype=np.float64)[:, None, :] * P


def cell_step_jacobians(x, h0, c0, params):
    """One-step Jacobians of the cell state through every path, ``K_t = ∂c_t/∂c_{t−1}``.

    ``c_{t−1}`` reaches ``c_t`` directly (factor ``diag(f_t)``) and through
    ``h_{t−1} = o_{t−1} ⊙ tanh(c_{t−1})``, which feeds the gates of step t (the mixed
    path; ``o_{t−1}`` does not depend on ``c_{t−1}``). So

        ``K_t = diag(f_t) + M_t``,  ``M_t = (∂c_t/∂h_{t−1}) diag(o_{t−1} ⊙ (1 − tanh² c_{t−1}))``,

    with ``∂c_t/∂h_{t−1} = diag(c_{t−1} f(1−f)) W_f + diag(g i(1−i)) W_i + diag(i(1−g²)) W_g``
    (``W_i, W_f, W_g`` the row blocks of ``Wh``). At t = 1, ``h_0`` is given, not computed
    from ``c_0``, so ``M_1 = 0``.

    Args:
        x: (N, T, D), h0, c0: (N, H), params: ``(Wx: (4H, D), Wh: (4H, H), b: (4H,))``.

    Returns:
        K: (N, T, H, H) with ``K[:, t − 1] = ∂c_t/∂c_{t−1}`` (rows: units of c_t);
        f: (N, T, H) the forget gates, so that ``K − diag(f)`` is the mixed part ``M``.
    """
    Wx, Wh, b = _weights(params)
    x = np.asarray(x, dtype=np.float64)
    h0, c0 = (np.asarray(a, dtype=np.float64) for a in (h0, c0))
    N, T, D = x.shape
    H = h0.shape[1]
    h, c = _nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)          # h_{t-1}
    c_prev = np.concatenate([c0[:, None], c[:, :-1]], axis=1)          # c_{t-1}
    i, f, g, o = (a.reshape(N, T, H) for a in _nb07.lstm_gates(
        x.reshape(N * T, D), h_prev.reshape(N * T, H), Wx, Wh, b))
    Wi, Wf, Wg = (Wh[lstm.gate_slice(k, H)] for k in "ifg")
    dc_dh = ((c_prev * f * (1 - f))[..., None] * Wf + (g * i * (1 - i))[..., None] * Wi
             + (i * (1 - g**2))[..., None] * Wg)                         # (N, T, H, H)
    # ∂h_{t-1}/∂c_{t-1} = o_{t-1} (1 − tanh² c_{t-1}) for t ≥ 2; zero at t = 1
    dh_dc = np.zeros((N, T, H))
    dh_dc[:, 1:] = o[:, :-1] * (1 - np.tanh(c_prev[:, 1:]) ** 2)
    K = dc_dh * dh_dc[:, :, None, :]
    K[..., np.arange(H), np.arange(H)] += f
    return K, f


def _weights(params) -> tuple:
    """``(W_input, W_hidden, b)`` of an :class:`~course_utils.maths.lstm.LSTMParams`, an
    :class:`~course_utils.maths.rnn.RNNParams` or a tuple of three arrays."""
    return tuple(params.as_tuple() if hasattr(params, "as_tuple") else params)
