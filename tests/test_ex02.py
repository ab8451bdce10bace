"""Notebook 02's check: the scalar BPTT's classic mistakes are diagnosed."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import ex02
from course_utils.maths import scalar_rnn


def _verdict(fn, capsys):
    returned = ex02.check_scalar_bptt(fn)
    return returned, capsys.readouterr().out


def test_reference_and_helper_defaults_pass(capsys):
    fn, out = _verdict(ex02.reference, capsys)
    assert fn is ex02.reference and "✅ scalar_bptt: passed" in out
    ok = ex02._buggy()
    assert _verdict(ok, capsys)[0] is ok


def test_path_sum_implementation_passes(capsys):
    """A correct implementation written completely differently: the O(T²) path sum."""
    def scalar_bptt(x, y, w, u, b, h0):
        dw = scalar_rnn.path_contributions(x, y, w, u, b, h0, "w").sum()
        du = scalar_rnn.path_contributions(x, y, w, u, b, h0, "u").sum()
        db = scalar_rnn.path_contributions(x, y, w, u, b, h0, "b").sum()
        h = scalar_rnn.forward(x, w, u, b, h0)
        P = scalar_rnn.jacobian_products(h, w)
        dh0 = float(np.sum((h - y) * P[:, 0]))
        return dw, du, db, dh0

    assert _verdict(scalar_bptt, capsys)[0] is scalar_bptt


def test_forward_mode_implementation_passes(capsys):
    """Forward-mode (real-time recurrent learning): carry dh_t/dθ forwards in time."""
    def scalar_bptt(x, y, w, u, b, h0):
        h, s = h0, np.array([0.0, 0.0, 0.0, 1.0])   # dh/d(w, u, b, h0)
        grads = np.zeros(4)
        for t in range(len(x)):
            h_new = np.tanh(w * h + u * x[t] + b)
            s = (1 - h_new**2) * (w * s + np.array([h, x[t], 1.0, 0.0]))
            h = h_new
            grads += (h - y[t]) * s
        return tuple(float(g) for g in grads)

    assert _verdict(scalar_bptt, capsys)[0] is scalar_bptt


@pytest.mark.parametrize("mistake", ex02.MISTAKES, ids=lambda m: m.hint[:40])
def test_mistakes_are_diagnosed(mistake, capsys):
    fn, out = _verdict(mistake.fn, capsys)
    assert fn is ex02.reference
    assert "❌" in out and mistake.hint in out


def test_student_style_mistake_without_carry(capsys):
    def scalar_bptt(x, y, w, u, b, h0):
        h = scalar_rnn.forward(x, w, u, b, h0)
        hp = np.concatenate([[h0], h[:-1]])
        delta = (h - y) * (1 - h**2)
        return (delta * hp).sum(), (delta * x).sum(), delta.sum(), delta[0] * w

    _, out = _verdict(scalar_bptt, capsys)
    assert "only the direct term" in out


def test_unanswered_and_broken(capsys):
    def scalar_bptt(x, y, w, u, b, h0):
        raise NotImplementedError()

    fn, out = _verdict(scalar_bptt, capsys)
    assert fn is ex02.reference and "not attempted yet" in out
    _, out = _verdict(lambda x, y, w, u, b, h0: (1.0, 2.0), capsys)
    assert "returned 2 values; expected 4" in out
    _, out = _verdict(lambda x, y, w, u, b, h0: (np.nan, 0.0, 0.0, 0.0), capsys)
    assert "NaN" in out or "nan" in out


def test_cases_have_several_lengths_and_mistakes_differ():
    cs = ex02.cases()
    assert all(len(c["x"]) > 1 for c in cs) and len({len(c["x"]) for c in cs}) > 1
    for c in cs:
        ref = np.array(ex02.reference(**c))
        for m in ex02.MISTAKES:
            assert not np.allclose(np.array(m.fn(**c)), ref), m.hint
