"""The gradient checker: numerical gradients, relative errors, the worst entry."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.maths.gradcheck import (
    GradCheckResult,
    format_grad_check,
    grad_check,
    numerical_gradient,
)


def test_numerical_gradient_of_a_known_function():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 4))
    x = rng.normal(size=(4,))
    x_before = x.copy()
    g = numerical_gradient(lambda: float(np.sum(np.sin(A @ x))), x)
    exact = A.T @ np.cos(A @ x)
    assert np.max(np.abs(g - exact)) < 1e-8
    assert np.array_equal(x, x_before)  # restored after perturbation


def test_numerical_gradient_with_upstream_gradient_and_dtype_guard():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3))
    df = rng.normal(size=(2, 3))
    g = numerical_gradient(lambda: x**3, x, df=df)
    assert np.max(np.abs(g - 3 * x**2 * df)) < 1e-7
    with pytest.raises(TypeError):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_centred_differences_are_second_order():
    # error of the centred difference shrinks like eps², far below a one-sided one
    x = np.array([0.7])
    g = numerical_gradient(lambda: float(np.exp(x[0]) ** 2), x, eps=1e-4)
    assert abs(g[0] - 2 * np.exp(1.4)) < 1e-7


def test_grad_check_passes_a_correct_gradient_and_finds_the_worst_entry():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(3, 5))
    v = rng.normal(size=(5,))

    def f():
        return float(np.sum(np.tanh(W @ v)))

    gW = np.outer(1 - np.tanh(W @ v) ** 2, v)
    gv = W.T @ (1 - np.tanh(W @ v) ** 2)
    res = grad_check(f, dict(W=W, v=v), dict(W=gW, v=gv))
    assert [r.name for r in res] == ["W", "v"] and all(r.ok for r in res)
    assert all(r.rel_error < 1e-8 for r in res)

    bad = gW.copy()
    bad[1, 3] += 0.5
    (rW,) = grad_check(f, dict(W=W), dict(W=bad))
    assert not rW.ok and rW.worst_index == (1, 3)
    assert abs(rW.analytic - rW.numeric - 0.5) < 1e-6
    assert "TOO LARGE" in str(rW) and "(1, 3)" in str(rW)


def test_grad_check_rejects_wrong_shapes_and_threshold_is_configurable():
    x = np.ones(3)
    with pytest.raises(ValueError):
        grad_check(lambda: float(x.sum()), dict(x=x), dict(x=np.ones(4)))
    (r,) = grad_check(lambda: float(x.sum()), dict(x=x), dict(x=np.ones(3) * 1.001),
                      threshold=1e-2)
    assert r.ok and r.threshold == 1e-2
    assert not GradCheckResult("a", float("nan"), (0,), 0.0, 0.0).ok


def test_format_grad_check_table():
    x = np.array([1.0, 2.0])
    res = grad_check(lambda: float(np.sum(x**2)), dict(x=x), dict(x=2 * x))
    table = format_grad_check(res)
    assert "relative error" in table and "worst entry" in table and "x" in table
    stable = format_grad_check(res, exact=False)
    assert "< 1e-07" in stable


def test_stable_table_hides_the_worst_entry_of_passing_arrays_only():
    # A passing array's worst entry is an argmax over rounding noise: it differs between
    # CPUs, so the stable table must not print it; a failing array's must stay visible.
    good = GradCheckResult("W", 3e-10, (2, 1), 0.123456, 0.123457)
    bad = GradCheckResult("b", 0.4, (3,), 0.25, -0.5)
    table = format_grad_check([good, bad], exact=False)
    row_good, row_bad = table.splitlines()[2:]
    assert "(2, 1)" not in row_good and "0.123" not in row_good and "3.0e-10" not in row_good
    assert row_good.split()[1:] == ["<", "1e-07", "-", "-", "-"]
    assert row_bad.split()[1:] == ["TOO", "LARGE", "(3,)", "+0.2500", "-0.5000"]
    exact = format_grad_check([good, bad]).splitlines()[2:]
    assert "(2, 1)" in exact[0] and "3.0e-10" in exact[0] and "+0.123456" in exact[0]
    # same text whatever the noise: a different worst entry of a passing array
    moved = GradCheckResult("W", 5e-10, (0, 0), -0.9, -0.9)
    assert format_grad_check([moved, bad], exact=False) == table
