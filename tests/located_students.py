"""Wrong implementations written as a student would write them, for the located verdicts
(issue 28 item 3): the classic bugs of the issue and others no catalogued mistake names.

Each is ``(exercise id, label, function)``; ``STUDENTS`` lists them. Used by
``tests/test_probes.py`` and ``benchmarks/located_verdicts.py``.
"""

from __future__ import annotations

import numpy as np

from course_utils.maths.lstm import sigmoid
from course_utils.reference import nb01, nb03, nb07


# ---- notebook 01 ---------------------------------------------------------------------------
def step_bias_twice(x, h_prev, Wxh, Whh, b):
    return np.tanh(x @ Wxh.T + h_prev @ Whh.T + 2 * b)


def step_h_prev_squared(x, h_prev, Wxh, Whh, b):
    return np.tanh(x @ Wxh.T + (h_prev * h_prev) @ Whh.T + b)


def step_batch_mean(x, h_prev, Wxh, Whh, b):
    a = x @ Wxh.T + h_prev @ Whh.T + b
    return np.tanh(a - a.mean(axis=0) + a.mean(axis=0).mean())


def forward_bias_first_step_only(x, h0, Wxh, Whh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    h_prev = h0
    for t in range(T):
        h_prev = np.tanh(x[:, t] @ Wxh.T + h_prev @ Whh.T + (b if t == 0 else 0))
        h[:, t] = h_prev
    return h


def forward_whh_transposed_after_first(x, h0, Wxh, Whh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    h_prev = h0
    for t in range(T):
        W = Whh.T if t == 0 else Whh
        h_prev = np.tanh(x[:, t] @ Wxh.T + h_prev @ W.T + b)
        h[:, t] = h_prev
    return h


def forward_h0_twice(x, h0, Wxh, Whh, b):
    h = nb01.rnn_forward(x, h0, Wxh, Whh, b)
    h[:, 0] = np.tanh(x[:, 0] @ Wxh.T + 2 * h0 @ Whh.T + b)
    return h


# ---- notebook 03 ---------------------------------------------------------------------------
def step_back_dwhh_from_h_next(dh_next, x, h_prev, h_next, Wxh, Whh):
    da = dh_next * (1 - h_next**2)
    return da @ Wxh, da @ Whh, da.T @ x, da.T @ (h_prev + h_next) / 2, da.sum(0)


def step_back_db_from_dh(dh_next, x, h_prev, h_next, Wxh, Whh):
    da = dh_next * (1 - h_next**2)
    return da @ Wxh, da @ Whh, da.T @ x, da.T @ h_prev, dh_next.sum(0)


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    da = dh_next * (1 - h_next**2)
    return da @ Wxh, da @ Whh, da.T @ x, da.T @ h_prev, da.sum(0)


def backward_h_t_as_h_prev(dh, x, h0, h, Wxh, Whh):
    """The issue's misattribution: ``h[:, t]`` passed as ``h_prev`` (a correct step)."""
    N, T, D = x.shape
    dx = np.zeros_like(x)
    dWxh, dWhh, db = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros(Whh.shape[0])
    dh_prev = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        dx[:, t], dh_prev, a, b_, c = rnn_step_backward(
            dh[:, t] + dh_prev, x[:, t], h[:, t], h[:, t], Wxh, Whh)
        dWxh += a
        dWhh += b_
        db += c
    return dx, dh_prev, dWxh, dWhh, db


def backward_carry_halved(dh, x, h0, h, Wxh, Whh):
    T = x.shape[1]
    dx = np.zeros_like(x)
    dWxh, dWhh, db = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros(Whh.shape[0])
    dh_prev = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        h_prev = h[:, t - 1] if t > 0 else h0
        dx[:, t], dh_prev, a, b_, c = nb03.rnn_step_backward(
            dh[:, t] + 0.5 * dh_prev, x[:, t], h_prev, h[:, t], Wxh, Whh)
        dWxh, dWhh, db = dWxh + a, dWhh + b_, db + c
    return dx, dh_prev, dWxh, dWhh, db


def backward_skips_t0(dh, x, h0, h, Wxh, Whh):
    T = x.shape[1]
    dx = np.zeros_like(x)
    dWxh, dWhh, db = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros(Whh.shape[0])
    dh_prev = np.zeros_like(h0)
    for t in range(T - 1, 0, -1):
        dx[:, t], dh_prev, a, b_, c = nb03.rnn_step_backward(
            dh[:, t] + dh_prev, x[:, t], h[:, t - 1], h[:, t], Wxh, Whh)
        dWxh, dWhh, db = dWxh + a, dWhh + b_, db + c
    return dx, dh_prev, dWxh, dWhh, db


# ---- notebook 05 ---------------------------------------------------------------------------
def _tbptt(x, h0, Wxh, Whh, b, dh, k, *, start):
    T = x.shape[1]
    h_prev, full = h0, nb01.rnn_forward(x, h0, Wxh, Whh, b)
    gx, gh, gb = [], [], []
    for s in range(0, T, k):
        e = min(s + k, T)
        h_in = {"h0": h0, "zeros": np.zeros_like(h0)}.get(start, h_prev)
        h = full[:, s:e] if start == "one-pass" else nb01.rnn_forward(x[:, s:e], h_in, Wxh, Whh, b)
        if start == "one-pass":
            h_in = h0
        _, _, dWxh, dWhh, db = nb03.rnn_backward(dh[:, s:e], x[:, s:e], h_in, h, Wxh, Whh)
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
        h_prev = h[:, -1]
    return np.stack(gx), np.stack(gh), np.stack(gb), h_prev


def tbptt_each_chunk_from_h0(x, h0, Wxh, Whh, b, dh, k):
    return _tbptt(x, h0, Wxh, Whh, b, dh, k, start="h0")


def tbptt_reset_to_zeros(x, h0, Wxh, Whh, b, dh, k):
    return _tbptt(x, h0, Wxh, Whh, b, dh, k, start="zeros")


def tbptt_one_pass_h0_everywhere(x, h0, Wxh, Whh, b, dh, k):
    return _tbptt(x, h0, Wxh, Whh, b, dh, k, start="one-pass")


def tbptt_last_chunk_dh_reversed(x, h0, Wxh, Whh, b, dh, k):
    return _tbptt(x, h0, Wxh, Whh, b, dh[:, ::-1], k, start="carried")


# ---- notebook 07 ---------------------------------------------------------------------------
def lstm_forward_c_not_carried(x, h0, c0, Wx, Wh, b):
    N, T, _ = x.shape
    h, c = np.zeros((N, T, h0.shape[1])), np.zeros((N, T, h0.shape[1]))
    h_t = h0
    for t in range(T):
        h_t, c_t = nb07.lstm_step_forward(x[:, t], h_t, c0, Wx, Wh, b)
        h[:, t], c[:, t] = h_t, c_t
    return h, c


def lstm_forward_swapped(x, h0, c0, Wx, Wh, b):
    h, c = nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    return c, h


def lstm_forward_c0_for_h0(x, h0, c0, Wx, Wh, b):
    return nb07.lstm_forward(x, c0, c0, Wx, Wh, b)


def _lstm_bwd(dh, x, h0, c0, Wx, Wh, b, dcT=None, *, carry_dc=True, t0="h0"):
    h, c = nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    T = x.shape[1]
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_c = np.zeros_like(h0)
    dc_c = np.zeros_like(c0) if dcT is None else dcT.copy()
    for t in range(T - 1, -1, -1):
        if t > 0 or t0 == "wrap":
            h_prev, c_prev = h[:, t - 1], c[:, t - 1]
        else:
            h_prev, c_prev = h0, c0
        dx[:, t], dh_c, dc_new, a, b_, d = nb07.lstm_step_backward(
            dh[:, t] + dh_c, dc_c if carry_dc else np.zeros_like(c0), x[:, t], h_prev, c_prev,
            Wx, Wh, b)
        dc_c = dc_new
        dWx, dWh, db = dWx + a, dWh + b_, db + d
    return dx, dh_c, dc_c, dWx, dWh, db


def lstm_backward_dc_dropped(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    return _lstm_bwd(dh, x, h0, c0, Wx, Wh, b, dcT, carry_dc=False)


def lstm_backward_wraps_at_t0(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    return _lstm_bwd(dh, x, h0, c0, Wx, Wh, b, dcT, t0="wrap")


def lstm_step_backward_df_uses_c_next(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx.T + h_prev @ Wh.T + b
    i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    c_next = f * c_prev + i * g
    tc = np.tanh(c_next)
    do = dh_next * tc
    dc = dc_next + dh_next * o * (1 - tc**2)
    di, df, dg = dc * g, dc * c_next, dc * i
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2),
                         do * o * (1 - o)], axis=1)
    return da @ Wx, da @ Wh, dc * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def lstm_step_forward_forget_on_input(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx.T + h_prev @ Wh.T + b
    _i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    c_next = f * c_prev + f * g
    return o * np.tanh(c_next), c_next


STUDENTS = [
    ("ex01_rnn_step_forward", "bias added twice", step_bias_twice),
    ("ex01_rnn_step_forward", "h_prev squared", step_h_prev_squared),
    ("ex01_rnn_step_forward", "batch mean mixed in", step_batch_mean),
    ("ex01_rnn_forward", "bias at the first step only", forward_bias_first_step_only),
    ("ex01_rnn_forward", "Whh transposed after the first step", forward_whh_transposed_after_first),
    ("ex01_rnn_forward", "h0 counted twice", forward_h0_twice),
    ("ex03_rnn_step_backward", "dWhh from the mean of h_prev and h_next",
     step_back_dwhh_from_h_next),
    ("ex03_rnn_step_backward", "db from dh_next", step_back_db_from_dh),
    ("ex03_rnn_backward", "h[:, t] passed as h_prev", backward_h_t_as_h_prev),
    ("ex03_rnn_backward", "carry halved", backward_carry_halved),
    ("ex03_rnn_backward", "t = 0 skipped", backward_skips_t0),
    ("ex05_truncated_bptt", "each chunk from h0", tbptt_each_chunk_from_h0),
    ("ex05_truncated_bptt", "state reset to zeros", tbptt_reset_to_zeros),
    ("ex05_truncated_bptt", "one forward pass, h0 as every chunk's previous state",
     tbptt_one_pass_h0_everywhere),
    ("ex05_truncated_bptt", "dh reversed in time", tbptt_last_chunk_dh_reversed),
    ("ex07_lstm_step_forward", "forget gate on the input", lstm_step_forward_forget_on_input),
    ("ex07_lstm_forward", "cell state not carried", lstm_forward_c_not_carried),
    ("ex07_lstm_forward", "h and c swapped", lstm_forward_swapped),
    ("ex07_lstm_forward", "c0 used as h0", lstm_forward_c0_for_h0),
    ("ex07_lstm_step_backward", "df = dc * c_next", lstm_step_backward_df_uses_c_next),
    ("ex07_lstm_backward", "dc carry dropped", lstm_backward_dc_dropped),
    ("ex07_lstm_backward", "h[:, -1] at t = 0", lstm_backward_wraps_at_t0),
]


def step_hard_coded_batch(x, h_prev, Wxh, Whh, b):
    """Right whenever the batch has 3 rows or fewer (a hard-coded slice)."""
    h = np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)
    h[3:] = 0.0
    return h


STUDENTS.append(("ex01_rnn_step_forward", "hard-coded batch of 3", step_hard_coded_batch))
