"""Notebook 07's checks: correct LSTMs pass, each classic mistake gets its diagnosis."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import checker, ex07
from course_utils.reference import nb07

CHECKS = {
    "step_forward": (ex07.check_lstm_step_forward, nb07.lstm_step_forward,
                     ex07.STEP_FORWARD_MISTAKES),
    "step_backward": (ex07.check_lstm_step_backward, nb07.lstm_step_backward,
                      ex07.STEP_BACKWARD_MISTAKES),
    "forward": (ex07.check_lstm_forward, nb07.lstm_forward, ex07.SEQ_FORWARD_MISTAKES),
    "backward": (ex07.check_lstm_backward, nb07.lstm_backward, ex07.SEQ_BACKWARD_MISTAKES),
}


def _verdict(check, fn, capsys):
    returned = check(fn)
    return returned, capsys.readouterr().out


def _sig(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("key", CHECKS)
def test_reference_passes(key, capsys):
    check, ref, _ = CHECKS[key]
    fn, out = _verdict(check, ref, capsys)
    assert fn is ref and "passed" in out and "✅" in out


@pytest.mark.parametrize("key", CHECKS)
def test_unanswered_is_not_attempted(key, capsys):
    check, ref, _ = CHECKS[key]

    def unanswered(*args, **kwargs):
        raise NotImplementedError()

    fn, out = _verdict(check, unanswered, capsys)
    assert fn is ref and "not attempted yet" in out


@pytest.mark.parametrize("key", CHECKS)
def test_grading_mode_raises(key, monkeypatch, capsys):
    check, _, mistakes = CHECKS[key]
    monkeypatch.setenv("COURSE_GRADING", "1")
    with pytest.raises(checker.ExerciseFailed):
        check(mistakes[0].fn)


MISTAKE_PARAMS = [pytest.param(key, m, id=f"{key}:{m.hint[:40]}")
                  for key, (_, _, ms) in CHECKS.items() for m in ms]


@pytest.mark.parametrize("key,mistake", MISTAKE_PARAMS)
def test_every_listed_mistake_is_diagnosed(key, mistake, capsys):
    check, ref, _ = CHECKS[key]
    fn, out = _verdict(check, mistake.fn, capsys)
    assert fn is ref
    assert "❌" in out and mistake.hint in out


# ---------------------------------------------------------------------------------------
# Correct implementations written differently must pass
# ---------------------------------------------------------------------------------------
def step_forward_alt(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    W = np.concatenate([Wx, Wh], axis=1)                       # (4H, D + H)
    a = np.concatenate([x, h_prev], axis=1) @ W.T + b
    i, f, g, o = np.split(a, 4, axis=1)
    assert i.shape[1] == H
    c = _sig(f) * c_prev + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c), c


def step_backward_alt(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx.T + h_prev @ Wh.T + b
    i, f, g, o = np.split(a, 4, axis=1)
    i, f, g, o = _sig(i), _sig(f), np.tanh(g), _sig(o)
    c = f * c_prev + i * g
    dc = dc_next + dh_next * o * (1 - np.tanh(c) ** 2)
    da = np.hstack([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                    dh_next * np.tanh(c) * o * (1 - o)])
    return (da @ Wx, da @ Wh, dc * f, np.einsum("nk,nd->kd", da, x),
            np.einsum("nk,nh->kh", da, h_prev), np.einsum("nk->k", da))


def forward_alt(x, h0, c0, Wx, Wh, b):
    hs, cs, h, c = [], [], h0, c0
    for x_t in np.moveaxis(x, 1, 0):
        h, c = step_forward_alt(x_t, h, c, Wx, Wh, b)
        hs.append(h)
        cs.append(c)
    return np.stack(hs, 1), np.stack(cs, 1)


def backward_alt(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    h, c = forward_alt(x, h0, c0, Wx, Wh, b)
    hp = np.concatenate([h0[:, None], h], axis=1)  # (N, T+1, H): hp[:, t] = h_{t-1}
    cp = np.concatenate([c0[:, None], c], axis=1)
    grads = [0.0, 0.0, 0.0]
    dxs = []
    dh_c = 0 * h0
    dc_c = 0 * c0 if dcT is None else dcT
    for t in reversed(range(x.shape[1])):
        dx_t, dh_c, dc_c, *dW = step_backward_alt(dh[:, t] + dh_c, dc_c, x[:, t], hp[:, t],
                                                  cp[:, t], Wx, Wh, b)
        grads = [g + d for g, d in zip(grads, dW)]
        dxs.append(dx_t)
    return (np.stack(dxs[::-1], 1), dh_c, dc_c, *grads)


@pytest.mark.parametrize("key,fn", [("step_forward", step_forward_alt),
                                    ("step_backward", step_backward_alt),
                                    ("forward", forward_alt), ("backward", backward_alt)])
def test_alternative_correct_implementations_pass(key, fn, capsys):
    check = CHECKS[key][0]
    returned, out = _verdict(check, fn, capsys)
    assert returned is fn, out


# ---------------------------------------------------------------------------------------
# The classic mistakes, written independently as a student would
# ---------------------------------------------------------------------------------------
def wrong_gate_order(x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx.T + h_prev @ Wh.T + b
    i, f, o, g = np.split(a, 4, axis=1)  # CS231n order
    c = _sig(f) * c_prev + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c), c


def sigmoid_candidate(x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx.T + h_prev @ Wh.T + b
    i, f, g, o = np.split(a, 4, axis=1)
    c = _sig(f) * c_prev + _sig(i) * _sig(g)
    return _sig(o) * np.tanh(c), c


def tanh_of_old_cell(x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx.T + h_prev @ Wh.T + b
    i, f, g, o = np.split(a, 4, axis=1)
    c = _sig(f) * c_prev + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c_prev), c


def ignores_dc_next(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    return step_backward_alt(dh_next, np.zeros_like(dc_next), x, h_prev, c_prev, Wx, Wh, b)


def backward_with_old_tanh(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx.T + h_prev @ Wh.T + b
    i, f, g, o = np.split(a, 4, axis=1)
    i, f, g, o = _sig(i), _sig(f), np.tanh(g), _sig(o)
    tc = np.tanh(c_prev)  # wrong step
    dc = dc_next + dh_next * o * (1 - tc**2)
    da = np.hstack([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                    dh_next * tc * o * (1 - o)])
    return da @ Wx, da @ Wh, dc * f, da.T @ x, da.T @ h_prev, da.sum(0)


def backward_drops_carried_dc(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    h, c = forward_alt(x, h0, c0, Wx, Wh, b)
    T = x.shape[1]
    dx, dWx, dWh, db = np.zeros_like(x), 0 * Wx, 0 * Wh, 0 * b
    dh_c = 0 * h0
    for t in range(T - 1, -1, -1):
        hp, cp = (h[:, t - 1], c[:, t - 1]) if t else (h0, c0)
        dc_in = dcT if (t == T - 1 and dcT is not None) else 0 * c0
        dx[:, t], dh_c, dc_c, a1, a2, a3 = step_backward_alt(dh[:, t] + dh_c, dc_in, x[:, t],
                                                             hp, cp, Wx, Wh, b)
        dWx, dWh, db = dWx + a1, dWh + a2, db + a3
    return dx, dh_c, dc_c, dWx, dWh, db


# The classic bugs a self-learner planted (issue 28), each written by hand.
def forward_throws_c_away(x, h0, c0, Wx, Wh, b):
    """The cell state is not carried: the step's c_next is thrown away."""
    N, T, _ = x.shape
    h, c = np.zeros((N, T, h0.shape[1])), np.zeros((N, T, h0.shape[1]))
    h_t, c_t = h0, c0
    for t in range(T):
        h_t, _ = step_forward_alt(x[:, t], h_t, c_t, Wx, Wh, b)
        h[:, t], c[:, t] = h_t, c_t
    return h, c


def forward_c_from_c0(x, h0, c0, Wx, Wh, b):
    """The cell state is not carried: every step reads c0."""
    N, T, _ = x.shape
    h, c = np.zeros((N, T, h0.shape[1])), np.zeros((N, T, h0.shape[1]))
    h_t = h0
    for t in range(T):
        h_t, c[:, t] = step_forward_alt(x[:, t], h_t, c0, Wx, Wh, b)
        h[:, t] = h_t
    return h, c


def forward_swaps_h_and_c(x, h0, c0, Wx, Wh, b):
    h, c = forward_alt(x, h0, c0, Wx, Wh, b)
    return c, h


def _backward_by_hand(dh, x, h0, c0, Wx, Wh, b, dcT, *, keep_dc=True, wrap=False):
    h, c = forward_alt(x, h0, c0, Wx, Wh, b)
    T = x.shape[1]
    dx, dWx, dWh, db = np.zeros_like(x), 0 * Wx, 0 * Wh, 0 * b
    dh_c = 0 * h0
    dc_c = 0 * c0 if dcT is None else dcT.copy()
    for t in reversed(range(T)):
        hp, cp = (h[:, t - 1], c[:, t - 1]) if (t or wrap) else (h0, c0)
        dx[:, t], dh_c, dc_new, a1, a2, a3 = step_backward_alt(dh[:, t] + dh_c, dc_c, x[:, t],
                                                               hp, cp, Wx, Wh, b)
        if keep_dc:
            dc_c = dc_new
        dWx, dWh, db = dWx + a1, dWh + a2, db + a3
    return dx, dh_c, dc_c, dWx, dWh, db


def backward_drops_dc_carry(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    """`dx[:, t], dh_c, _, ... = step_backward(...)`: the dc carry is dropped."""
    return _backward_by_hand(dh, x, h0, c0, Wx, Wh, b, dcT, keep_dc=False)


def backward_wraps_at_t0(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    """`h[:, t - 1]` without the t = 0 case: h[:, -1] (and c[:, -1]) at t = 0."""
    return _backward_by_hand(dh, x, h0, c0, Wx, Wh, b, dcT, wrap=True)


def step_backward_df_uses_c_next(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx.T + h_prev @ Wh.T + b
    i, f, g, o = np.split(a, 4, axis=1)
    i, f, g, o = _sig(i), _sig(f), np.tanh(g), _sig(o)
    c_next = f * c_prev + i * g
    tc = np.tanh(c_next)
    dc = dc_next + dh_next * o * (1 - tc**2)
    df = dc * c_next                                     # the bug: c_prev belongs here
    da = np.hstack([dc * g * i * (1 - i), df * f * (1 - f), dc * i * (1 - g * g),
                    dh_next * tc * o * (1 - o)])
    return da @ Wx, da @ Wh, dc * f, da.T @ x, da.T @ h_prev, da.sum(0)



@pytest.mark.parametrize("key,fn,words", [
    ("step_forward", wrong_gate_order, "gate order is i, f, o, g"),
    ("step_forward", sigmoid_candidate, "candidate g uses a sigmoid"),
    ("step_forward", tanh_of_old_cell, "uses tanh(c_prev)"),
    ("step_backward", ignores_dc_next, "`dc_next` is ignored"),
    ("step_backward", backward_with_old_tanh, "tanh(c_prev) where tanh(c_next) belongs"),
    ("backward", backward_drops_carried_dc, "the gradient along the cell state from step t+1 is missing"),
    ("forward", forward_throws_c_away, "the cell state is never carried forward"),
    ("forward", forward_c_from_c0, "the cell state is never carried forward"),
    ("forward", forward_swaps_h_and_c, "h and c are swapped in the output"),
    ("backward", backward_drops_dc_carry, "the gradient along the cell state from step t+1 is missing"),
    ("backward", backward_wraps_at_t0, "Python's negative index reads the *last* step"),
    ("step_backward", step_backward_df_uses_c_next, "its gradient is dc ⊙ c_prev, not dc ⊙ c_next"),
])
def test_classic_mistakes_written_by_hand(key, fn, words, capsys):
    check, ref, _ = CHECKS[key]
    returned, out = _verdict(check, fn, capsys)
    assert returned is ref
    assert words in out, out


def test_shape_and_type_errors_do_not_crash(capsys):
    def transposed_wh(x, h_prev, c_prev, Wx, Wh, b):
        a = x @ Wx.T + h_prev @ Wh + b
        return a, a

    def returns_one(x, h0, c0, Wx, Wh, b):
        return nb07.lstm_forward(x, h0, c0, Wx, Wh, b)[0]

    _, out = _verdict(ex07.check_lstm_step_forward, transposed_wh, capsys)
    assert "raised ValueError" in out
    _, out = _verdict(ex07.check_lstm_forward, returns_one, capsys)
    assert "expected a tuple of 2 values" in out


def test_cases_are_batched_non_square_and_cover_dcT():
    for c in ex07.step_forward_cases()[1:]:
        N, D = c["x"].shape
        H = c["h_prev"].shape[1]
        assert N > 1 and D != H and c["Wx"].shape == (4 * H, D)
    seq = ex07.seq_backward_cases()
    assert all(c["x"].shape[1] > 1 for c in seq)
    assert "dcT" not in seq[0] and all("dcT" in c for c in seq[1:])


def _backward_carrying_in_place(dh, x, h0, c0, Wx, Wh, b, dcT=None, *, into="dcT"):
    """Right values, but it writes into its inputs: the carried dc into ``dcT`` itself
    (slice assignment), or the carried dh into ``dh`` (``dh[:, t] += …``)."""
    h, c = nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    T = x.shape[1]
    dx, dWx, dWh, db = np.zeros_like(x), 0 * Wx, 0 * Wh, 0 * b
    dh_c = np.zeros_like(h0)
    dc_c = dcT if dcT is not None else np.zeros_like(c0)   # no copy: an alias of dcT
    for t in range(T - 1, -1, -1):
        hp, cp = (h[:, t - 1], c[:, t - 1]) if t else (h0, c0)
        if into == "dh":
            dh[:, t] += dh_c
            up = dh[:, t]
        else:
            up = dh[:, t] + dh_c
        dx[:, t], dh_c, dc_new, a1, a2, a3 = nb07.lstm_step_backward(up, dc_c, x[:, t], hp, cp,
                                                                     Wx, Wh, b)
        if into == "dcT":
            dc_c[...] = dc_new
        else:
            dc_c = dc_new
        dWx, dWh, db = dWx + a1, dWh + a2, db + a3
    return dx, dh_c, dc_c.copy(), dWx, dWh, db


@pytest.mark.parametrize("into", ["dcT", "dh"])
def test_an_input_changed_in_place_is_named(into, capsys):
    """The notebook says that lstm_backward must leave dcT (and dh) unchanged; the check
    says so when a function with otherwise right values modifies one of them."""
    def fn(dh, x, h0, c0, Wx, Wh, b, dcT=None):
        return _backward_carrying_in_place(dh, x, h0, c0, Wx, Wh, b, dcT, into=into)

    v = checker.run_check(fn, nb07.lstm_backward, ex07.seq_backward_cases(),
                          outputs=("dx", "dh0", "dc0", "dWx", "dWh", "db"))
    assert v.kind == "mutated" and f"`{into}`" in v.message, v
    returned, out = _verdict(ex07.check_lstm_backward, fn, capsys)
    assert returned is nb07.lstm_backward and f"modifies its input `{into}` in place" in out, out
