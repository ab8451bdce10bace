"""course_utils.maths.jacobians and the references of notebook 04: Jacobians against torch autograd
(float64), log norms, spectra and bounds, initialisers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from course_utils.maths import jacobians
from course_utils.maths.numerics import rel_error
from course_utils.reference import nb01, nb03, nb04

TORCH_F = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
           "linear": lambda a: a}


def _rnn(rng, N=3, T=7, D=4, H=5, scale=1.2, nonlinearity="tanh"):
    x = rng.normal(size=(N, T, D))
    Wxh = rng.normal(size=(H, D)) * 0.7
    Whh = rng.normal(size=(H, H)) * scale / np.sqrt(H)
    b = rng.normal(size=H) * 0.3
    h0 = rng.normal(size=(N, H)) * 0.5
    if nonlinearity in ("relu", "sigmoid"):
        h0 = np.abs(h0)
    h = jacobians.forward(x, h0, Wxh, Whh, b, nonlinearity)
    return x, h0, Wxh, Whh, b, h


def _torch_window(x, Wxh, Whh, b, n, t, k, nonlinearity):
    """h_k ↦ h_t for example n, as a torch function (steps k+1 … t)."""
    f = TORCH_F[nonlinearity]
    xt, Wx, Wh, bt = (torch.from_numpy(a) for a in (x[n], Wxh, Whh, b))

    def g(hk):
        h = hk
        for s in range(k + 1, t + 1):
            h = f(xt[s - 1] @ Wx.T + h @ Wh.T + bt)
        return h
    return g


def _state(h0, h, n, k):
    return torch.from_numpy((h0 if k == 0 else h[:, k - 1])[n].copy())


@pytest.mark.parametrize("nonlinearity", jacobians.NONLINEARITIES)
def test_forward_matches_torch_and_rnn_module(nonlinearity):
    x, h0, Wxh, Whh, b, h = _rnn(np.random.default_rng(0), nonlinearity=nonlinearity)
    f = TORCH_F[nonlinearity]
    ht = torch.from_numpy(h0)
    for t in range(x.shape[1]):
        ht = f(torch.from_numpy(x[:, t]) @ torch.from_numpy(Wxh).T
               + ht @ torch.from_numpy(Whh).T + torch.from_numpy(b))
        assert rel_error(h[:, t], ht) < 1e-12
    if nonlinearity == "tanh":
        assert rel_error(h, nb01.rnn_forward(x, h0, Wxh, Whh, b)) < 1e-13


@pytest.mark.parametrize("nonlinearity", jacobians.NONLINEARITIES)
def test_step_jacobian_matches_autograd(nonlinearity):
    x, h0, Wxh, Whh, b, h = _rnn(np.random.default_rng(1), nonlinearity=nonlinearity)
    J = jacobians.step_jacobian(h, Whh, nonlinearity)
    assert J.shape == (3, 7, 5, 5)
    for n in range(3):
        for t in (1, 4, 7):
            ref = jacobian(_torch_window(x, Wxh, Whh, b, n, t, t - 1, nonlinearity),
                           _state(h0, h, n, t - 1))
            assert rel_error(J[n, t - 1], ref) < 1e-12, (nonlinearity, n, t)


def test_rnn_step_jacobian_reference_matches_autograd():
    rng = np.random.default_rng(2)
    N, D, H = 4, 3, 6
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    Wxh, Whh, b = rng.normal(size=(H, D)), rng.normal(size=(H, H)) * 0.5, rng.normal(size=H)
    J = nb04.rnn_step_jacobian(x, h_prev, Wxh, Whh, b)
    assert J.shape == (N, H, H)
    for n in range(N):
        def step(hp, n=n):
            return torch.tanh(torch.from_numpy(x[n]) @ torch.from_numpy(Wxh).T
                              + hp @ torch.from_numpy(Whh).T + torch.from_numpy(b))
        ref = jacobian(step, torch.from_numpy(h_prev[n]))
        assert rel_error(J[n], ref) < 1e-12
    # and it is not symmetric in (i, j): a transposed Jacobian would fail
    assert rel_error(J, np.swapaxes(J, 1, 2)) > 0.1


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("t,k", [(7, 0), (7, 3), (5, 1), (4, 3), (6, 6)])
def test_jacobian_product_matches_autograd(nonlinearity, t, k):
    x, h0, Wxh, Whh, b, h = _rnn(np.random.default_rng(3), nonlinearity=nonlinearity)
    P = nb04.jacobian_product(h, Whh, t, k, nonlinearity)
    assert P.shape == (3, 5, 5)
    for n in range(3):
        ref = jacobian(_torch_window(x, Wxh, Whh, b, n, t, k, nonlinearity), _state(h0, h, n, k))
        if t == k:
            ref = torch.eye(5, dtype=torch.float64)
        assert rel_error(P[n], ref) < 1e-10, (n, t, k)


def test_jacobian_product_rejects_bad_windows():
    h = np.zeros((2, 4, 3))
    with pytest.raises(ValueError):
        nb04.jacobian_product(h, np.eye(3), 2, 3)
    with pytest.raises(ValueError):
        nb04.jacobian_product(h, np.eye(3), 5, 0)


def test_vector_jacobian_product_is_bptt():
    """dL/dh_0 from nb03.rnn_backward (loss on h_T only) equals g · ∂h_T/∂h_0."""
    x, h0, Wxh, Whh, b, h = _rnn(np.random.default_rng(4))
    g = np.random.default_rng(5).normal(size=h0.shape)
    dh = np.zeros_like(h)
    dh[:, -1] = g
    _, dh0, *_ = nb03.rnn_backward(dh, x, h0, h, Wxh, Whh)
    P = nb04.jacobian_product(h, Whh, h.shape[1], 0)
    assert rel_error(dh0, np.einsum("ni,nij->nj", g, P)) < 1e-12


@pytest.mark.parametrize("ord_", [2, "fro"])
@pytest.mark.parametrize("nonlinearity", jacobians.NONLINEARITIES)
def test_log_norms_equal_explicit_products(ord_, nonlinearity):
    x, h0, Wxh, Whh, b, h = _rnn(np.random.default_rng(6), T=12, nonlinearity=nonlinearity)
    logs = jacobians.jacobian_log_norms(h, Whh, nonlinearity, ord=ord_)
    assert logs.shape == (3, 12)
    T = h.shape[1]
    for lag in range(1, T + 1):
        P = nb04.jacobian_product(h, Whh, T, T - lag, nonlinearity)
        with np.errstate(divide="ignore"):
            ref = np.log10(np.linalg.norm(P, ord_, axis=(1, 2)))
        finite = np.isfinite(ref)
        assert np.array_equal(finite, np.isfinite(logs[:, lag - 1]))
        np.testing.assert_allclose(logs[finite, lag - 1], ref[finite], rtol=0, atol=1e-10)


def test_log_norms_survive_under_and_overflow():
    H, T = 4, 800
    for gain, expected in [(0.2, np.log10(0.2)), (3.0, np.log10(3.0))]:
        Whh = jacobians.orthogonal_init(H, np.random.default_rng(0), gain)
        h = np.random.default_rng(1).normal(size=(2, T, H))
        logs = jacobians.jacobian_log_norms(h, Whh, "linear")
        # a linear RNN with Whh = gain·Q: ‖Whh^ℓ‖ = gain^ℓ exactly, far beyond float64's range
        np.testing.assert_allclose(logs, np.arange(1, T + 1) * expected + 0 * logs, atol=1e-9)
        assert np.all(np.isfinite(logs))
        assert abs(jacobians.rate_from_log_norms(logs) - gain) < 1e-9


def test_relu_dead_product_is_minus_inf_and_mean_counts_it_as_zero():
    Whh = np.eye(3)
    h = np.ones((2, 5, 3))
    h[0, 2] = 0.0  # every unit of example 0 off at step 3
    logs = jacobians.jacobian_log_norms(h, Whh, "relu")
    np.testing.assert_allclose(logs[1], 0.0, atol=1e-12)
    np.testing.assert_allclose(logs[0, :2], 0.0, atol=1e-12)
    assert np.all(np.isneginf(logs[0, 2:]))
    curve = jacobians.batch_mean_log10(logs)
    np.testing.assert_allclose(curve, [0, 0, np.log10(0.5), np.log10(0.5), np.log10(0.5)], atol=1e-12)


def test_spectrum_and_regimes():
    W = np.array([[0.5, 2.0], [0.0, 0.5]])  # non-normal: ρ = 0.5 but σ_max > 2
    sp = jacobians.spectrum(W)
    assert abs(sp.spectral_radius - 0.5) < 1e-12
    assert sp.sigma_max > 2 and np.all(np.diff(sp.singular_values) <= 0)
    assert jacobians.regime(W, "tanh") == "exploding possible"
    assert jacobians.regime(W, "sigmoid") == "vanishing guaranteed"  # σ_max < 4 = 1/γ
    assert jacobians.pascanu_bound(W, "sigmoid") == pytest.approx(0.25 * sp.sigma_max)
    assert jacobians.regime(0.9 * np.eye(3)) == "vanishing guaranteed"


def test_initialisers():
    rng = np.random.default_rng(8)
    Q = jacobians.orthogonal_init(50, rng, gain=0.9)
    np.testing.assert_allclose(Q @ Q.T, 0.81 * np.eye(50), atol=1e-12)
    sp = jacobians.spectrum(Q)
    assert abs(sp.sigma_max - 0.9) < 1e-12 and abs(sp.spectral_radius - 0.9) < 1e-12
    G = jacobians.gaussian_init(200, 1.3, rng)
    sg = jacobians.spectrum(G)
    assert abs(sg.spectral_radius - 1.3) < 0.15  # circular law
    assert abs(sg.sigma_max - 2.6) < 0.15  # quarter-circle law edge: 2·scale
    assert np.array_equal(jacobians.identity_init(3, 0.5), 0.5 * np.eye(3))
    W = jacobians.with_spectral_radius(G, 0.7)
    assert abs(jacobians.spectrum(W).spectral_radius - 0.7) < 1e-12
    for kind in ("gaussian", "orthogonal", "identity"):
        assert jacobians.init_whh(kind, 5, 1.0, rng).shape == (5, 5)
    with pytest.raises(ValueError):
        jacobians.init_whh("xavier", 5, 1.0, rng)


def test_derivatives_match_torch():
    a = torch.linspace(-3, 3, 41, dtype=torch.float64, requires_grad=True)
    for name, f in TORCH_F.items():
        out = f(a)
        (grad,) = torch.autograd.grad(out.sum(), a)
        mine = jacobians.derivative_from_output(out.detach().numpy(), name)
        assert rel_error(mine, grad) < 1e-12, name
    with pytest.raises(ValueError):
        jacobians.activate(np.zeros(2), "gelu")
    with pytest.raises(ValueError):
        jacobians.derivative_from_output(np.zeros(2), "gelu")


def test_renormalise_keeps_the_scale_as_a_logarithm_and_zero_as_zero():
    rng = np.random.default_rng(11)
    P = rng.normal(size=(3, 4, 2))
    P[1] *= 1e-100
    P[2] = 0.0
    Q, logs = jacobians.renormalise(P, np.array([1.0, 2.0, 3.0]))
    assert Q.shape == P.shape
    np.testing.assert_allclose(np.linalg.norm(Q[:2], axis=(1, 2)), 1.0, rtol=1e-14)
    fro = np.linalg.norm(P[:2], axis=(1, 2))
    np.testing.assert_allclose(logs[:2], [1.0, 2.0] + np.log10(fro), rtol=1e-14)
    np.testing.assert_allclose(Q[:2] * fro[:, None, None], P[:2], rtol=1e-14)
    assert np.all(Q[2] == 0.0) and np.isneginf(logs[2])
