"""The scalar RNN of notebook 02: three ways to the same gradient."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.maths import scalar_rnn as sr
from course_utils.reference import nb02

EXAMPLE = dict(x=np.array([1.0, -0.5, 0.8, 0.3, -1.0, 0.6]),
               y=np.array([0.5, -0.2, 0.1, 0.4, -0.6, 0.3]), w=0.8, u=1.1, b=0.1, h0=0.2)


def test_forward_matches_the_recurrence():
    h = sr.forward(EXAMPLE["x"], 0.8, 1.1, 0.1, 0.2)
    assert h.shape == (6,)
    assert np.isclose(h[0], np.tanh(0.8 * 0.2 + 1.1 * 1.0 + 0.1))
    assert np.isclose(h[1], np.tanh(0.8 * h[0] + 1.1 * -0.5 + 0.1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bptt_equals_torch_and_finite_differences(seed):
    rng = np.random.default_rng(seed)
    T = 4 + seed * 5
    args = dict(x=rng.normal(size=T), y=rng.normal(size=T) * 0.5, w=float(rng.normal()),
                u=float(rng.normal()), b=float(rng.normal()) * 0.3, h0=float(rng.normal()) * 0.5)
    ours = dict(zip(sr.PARAMS, nb02.scalar_bptt(**args)))
    ref = sr.torch_grads(**args)
    fd = sr.finite_difference_grads(**args)
    for k in sr.PARAMS:
        assert abs(ours[k] - ref[k]) <= 1e-12 * max(1.0, abs(ref[k])), k
        assert abs(fd[k] - ref[k]) < 1e-8, k


@pytest.mark.parametrize("wrt", ["w", "u", "b"])
def test_path_sum_equals_the_gradient(wrt):
    C = sr.path_contributions(**EXAMPLE, wrt=wrt)
    assert C.shape == (6, 6)
    assert np.allclose(np.triu(C, 1), 0)  # a loss cannot depend on a later step
    assert np.isclose(C.sum(), sr.torch_grads(**EXAMPLE)[wrt], rtol=1e-12, atol=0)


def test_diagonal_of_the_path_table_is_the_immediate_term():
    h = sr.forward(EXAMPLE["x"], 0.8, 1.1, 0.1, 0.2)
    C = sr.path_contributions(**EXAMPLE)
    immediate = (h - EXAMPLE["y"]) * (1 - h**2) * sr.previous_states(h, 0.2)
    assert np.allclose(np.diag(C), immediate)
    assert not np.isclose(np.diag(C).sum(), C.sum())  # the carried paths matter


def test_jacobian_products_are_products_of_local_derivatives():
    h = sr.forward(EXAMPLE["x"], 0.8, 1.1, 0.1, 0.2)
    P = sr.jacobian_products(h, 0.8)
    d = sr.local_derivatives(h, 0.8)
    assert P.shape == (6, 7)
    assert np.allclose(np.diag(P[:, 1:]), 1)
    assert np.isclose(P[5, 2], d[5] * d[4] * d[3] * d[2])  # ∂h_6/∂h_2
    assert np.isclose(P[3, 0], np.prod(d[:4]))          # ∂h_4/∂h_0
    assert P[1, 4] == 0                                 # ∂h_2/∂h_4 = 0
    # and it is the derivative: perturb h_2 and watch h_6 (feed the states forward)
    eps = 1e-6
    x, w, u, b = EXAMPLE["x"], 0.8, 1.1, 0.1

    def h6_from_h2(h2):
        return sr.forward(x[2:], w, u, b, h2)[-1]

    num = (h6_from_h2(h[1] + eps) - h6_from_h2(h[1] - eps)) / (2 * eps)
    assert np.isclose(num, P[5, 2], rtol=1e-7)


def test_bounded_by_powers_of_w():
    h = sr.forward(np.linspace(-1, 1, 12), 0.5, 1.0, 0.0, 0.0)
    P = sr.jacobian_products(h, 0.5)
    for t in range(1, 13):
        for k in range(t + 1):
            assert abs(P[t - 1, k]) <= 0.5 ** (t - k) + 1e-15
