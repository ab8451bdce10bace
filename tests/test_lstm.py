"""Unit tests of the numpy LSTM reference (course_utils.maths.lstm): torch match and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.lessons import cell_flow
from course_utils.maths import lstm
from course_utils.maths.gradcheck import numerical_gradient
from course_utils.maths.numerics import rel_error
from course_utils.reference import nb07


def _torch_lstm(D, H, seed=0, forget_bias=None):
    torch.manual_seed(seed)
    m = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    if forget_bias is not None:
        with torch.no_grad():
            m.bias_ih_l0[H:2 * H] = forget_bias
    return m


def _data(N, T, D, H, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)) * 0.5, rng.normal(size=(N, H)),
            rng.normal(size=(N, T, H)), rng.normal(size=(N, H)), rng.normal(size=(N, H)))


@pytest.mark.parametrize("N,T,D,H", [(3, 7, 4, 5), (2, 1, 3, 2), (1, 5, 6, 3)])
def test_forward_and_backward_match_torch(N, T, D, H):
    m = _torch_lstm(D, H)
    p = lstm.params_from_torch(m)
    assert p.Wx.shape == (4 * H, D) and p.Wh.shape == (4 * H, H) and p.b.shape == (4 * H,)
    x, h0, c0, G, Gh, Gc = _data(N, T, D, H)
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out, (hn, cn) = m(xt, (h0t[None], c0t[None]))
    loss = (out * torch.from_numpy(G)).sum() + (hn[0] * torch.from_numpy(Gh)).sum() \
        + (cn[0] * torch.from_numpy(Gc)).sum()
    loss.backward()

    h, c = nb07.lstm_forward(x, h0, c0, *p.as_tuple())
    assert rel_error(h, out) < 1e-12
    assert rel_error(h[:, -1], hn[0]) < 1e-12 and rel_error(c[:, -1], cn[0]) < 1e-12

    dh = G.copy()
    dh[:, -1] += Gh
    dx, dh0, dc0, dWx, dWh, db = nb07.lstm_backward(dh, x, h0, c0, *p.as_tuple(), dcT=Gc)
    g = lstm.grads_from_torch(m)
    for ours, theirs in [(dx, xt.grad), (dh0, h0t.grad), (dc0, c0t.grad), (dWx, g.Wx),
                         (dWh, g.Wh), (db, g.b), (db, m.bias_hh_l0.grad)]:
        assert rel_error(ours, theirs) < 1e-10


def test_step_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    N, D, H = 3, 4, 2
    x, h_prev, c_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(4 * H, D)), rng.normal(size=(4 * H, H)), rng.normal(size=4 * H)
    dh_next, dc_next = rng.normal(size=(N, H)), rng.normal(size=(N, H))

    def loss():
        h, c = nb07.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return np.sum(h * dh_next) + np.sum(c * dc_next)

    grads = nb07.lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b)
    for arr, g in zip([x, h_prev, c_prev, Wx, Wh, b], grads):
        assert rel_error(g, numerical_gradient(loss, arr)) < 1e-8


def test_init_lstm_params_draws_like_torch_two_biases_added():
    H = 64
    k = 1 / np.sqrt(H)
    p = lstm.init_lstm_params(5, H, np.random.default_rng(0))
    assert p.Wx.shape == (4 * H, 5) and p.Wh.shape == (4 * H, H) and p.b.shape == (4 * H,)
    assert np.abs(p.Wh).max() <= k and np.abs(p.b).max() <= 2 * k
    # torch: bias_ih + bias_hh, two independent uniform(-k, k): std k*sqrt(2/3), not k/sqrt(3)
    bs = np.concatenate([lstm.init_lstm_params(1, H, np.random.default_rng(s)).b
                         for s in range(40)])
    assert abs(bs.std() / k - np.sqrt(2 / 3)) < 0.03
    assert np.abs(bs).max() > 1.5 * k
    torch.manual_seed(0)
    m = torch.nn.LSTM(1, H)
    tb = (m.bias_ih_l0 + m.bias_hh_l0).detach().numpy()
    assert np.abs(tb).max() <= 2 * k and np.abs(tb).max() > k  # torch's sum exceeds k too


def _params_to_torch(params: lstm.LSTMParams, m) -> None:
    """Write numpy weights into a ``torch.nn.LSTM`` in place (``bias_ih_l0 = b``,
    ``bias_hh_l0 = 0``, so that they add up to ``b``): the inverse of
    ``lstm.params_from_torch``, for the round trip below."""
    lstm._check_plain_lstm(m)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.as_tensor(params.Wx))
        m.weight_hh_l0.copy_(torch.as_tensor(params.Wh))
        if m.bias:
            m.bias_ih_l0.copy_(torch.as_tensor(params.b))
            m.bias_hh_l0.zero_()


def test_params_to_torch_roundtrip_and_gate_slices():
    rng = np.random.default_rng(0)
    p = lstm.init_lstm_params(3, 4, rng, forget_bias=2.0)
    assert np.all(p.b[lstm.gate_slice("f", 4)] == 2.0)
    assert not np.any(p.b[lstm.gate_slice("i", 4)] == 2.0)
    assert np.abs(p.Wx).max() <= 0.5  # 1/sqrt(4)
    m = _torch_lstm(3, 4)
    _params_to_torch(p, m)
    q = lstm.params_from_torch(m)
    for a, b_ in zip(p.as_tuple(), q.as_tuple()):
        assert np.array_equal(a, b_)
    with pytest.raises(ValueError):
        lstm.params_from_torch(torch.nn.LSTM(3, 4, num_layers=2))


def test_sigmoid_is_stable_and_correct():
    z = np.array([-1000.0, -2.0, 0.0, 3.0, 1000.0])
    s = lstm.sigmoid(z)
    assert np.all(np.isfinite(s))
    assert np.allclose(s, 1 / (1 + np.exp(-np.clip(z, -50, 50))))


def test_state_gradients_match_autograd():
    N, T, D, H = 2, 6, 3, 4
    m = _torch_lstm(D, H, forget_bias=1.0)
    p = lstm.params_from_torch(m)
    x, h0, c0, *_ = _data(N, T, D, H)
    dhT = np.random.default_rng(5).normal(size=(N, H))
    dh, dc = cell_flow.lstm_state_gradients(x, h0, c0, p, dhT)
    assert dh.shape == dc.shape == (N, T + 1, H)

    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(m, name + "_l0"))
    hs, cs = [torch.tensor(h0, requires_grad=True)], [torch.tensor(c0, requires_grad=True)]
    for t in range(T):
        h_new, c_new = cell(torch.from_numpy(x[:, t]), (hs[-1], cs[-1]))
        h_new.retain_grad()
        c_new.retain_grad()
        hs.append(h_new)
        cs.append(c_new)
    (hs[-1] * torch.from_numpy(dhT)).sum().backward()
    for k in range(T + 1):
        assert rel_error(dh[:, k], hs[k].grad) < 1e-10
        assert rel_error(dc[:, k], cs[k].grad) < 1e-10


def test_rnn_state_gradients_match_autograd():
    from course_utils.maths import rnn

    N, T, D, H = 2, 5, 3, 4
    rng = np.random.default_rng(2)
    p = rnn.init_rnn_params(D, H, rng)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    dhT = rng.normal(size=(N, H))
    dh = cell_flow.rnn_state_gradients(x, h0, p, dhT)
    hs = [torch.tensor(h0, requires_grad=True)]
    W = [torch.from_numpy(a) for a in p.as_tuple()]
    for t in range(T):
        h_new = torch.tanh(torch.from_numpy(x[:, t]) @ W[0].T + hs[-1] @ W[1].T + W[2])
        h_new.retain_grad()
        hs.append(h_new)
    (hs[-1] * torch.from_numpy(dhT)).sum().backward()
    for k in range(T + 1):
        assert rel_error(dh[:, k], hs[k].grad) < 1e-10


# ---------------------------------------------------------------------------------------
# Chrono initialisation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("T_max", [3.0, 10.0, 100.0, 750.0])
def test_chrono_forget_bias_range_and_seeding(T_max):
    b = lstm.chrono_forget_bias(500, T_max, np.random.default_rng(3))
    assert b.shape == (500,) and b.dtype == np.float64
    assert b.min() >= 0.0 and b.max() <= np.log(T_max - 1)
    np.testing.assert_array_equal(b, lstm.chrono_forget_bias(500, T_max, np.random.default_rng(3)))
    assert not np.array_equal(b, lstm.chrono_forget_bias(500, T_max, np.random.default_rng(4)))
    with pytest.raises(ValueError):
        lstm.chrono_forget_bias(4, 2.0, np.random.default_rng(0))


def test_chrono_timescales_are_uniform_on_2_to_T_max():
    # 1/(1 - sigmoid(b_f)) = 1 + u with u ~ U(1, T_max - 1): uniform on [2, T_max].
    T_max = 100.0
    b = lstm.chrono_forget_bias(20000, T_max, np.random.default_rng(0))
    tau = 1.0 / (1.0 - lstm.sigmoid(b))
    assert tau.min() >= 2.0 - 1e-9 and tau.max() <= T_max + 1e-9
    np.testing.assert_allclose(tau, 1.0 + np.exp(b), rtol=1e-9)
    # Kolmogorov-Smirnov distance to U(2, T_max): for n = 20000 the 1 % critical value is
    # 1.63/sqrt(n) ≈ 0.0115.
    s = np.sort(tau)
    cdf = (s - 2.0) / (T_max - 2.0)
    n = len(s)
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < 1.63 / np.sqrt(n)
    # and a draw concentrated at one timescale would fail the same test
    s_bad = np.sort(1.0 + np.exp(np.full(n, np.log(T_max / 2))))
    cdf_bad = (s_bad - 2.0) / (T_max - 2.0)
    assert np.max(np.abs(np.arange(1, n + 1) / n - cdf_bad)) > 0.1


def test_chrono_init_of_course_params():
    H = 6
    p = lstm.init_lstm_params(3, H, np.random.default_rng(1))
    before = p.b.copy()
    b_f = lstm.chrono_init(p, 50.0, np.random.default_rng(7))
    np.testing.assert_array_equal(p.b[H:2 * H], b_f)
    np.testing.assert_array_equal(p.b[0:H], -b_f)
    np.testing.assert_array_equal(p.b[2 * H:], before[2 * H:])  # g and o untouched
    assert np.all((b_f >= 0) & (b_f <= np.log(49.0)))
    q = lstm.init_lstm_params(3, H, np.random.default_rng(1))
    lstm.chrono_init(q, 50.0, np.random.default_rng(7))
    np.testing.assert_array_equal(p.b, q.b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chrono_init_of_torch_lstm_sets_the_effective_biases(dtype):
    D, H, T_max = 3, 8, 100.0
    torch.manual_seed(0)
    m = torch.nn.LSTM(D, H, batch_first=True, dtype=dtype)
    w_before = m.weight_hh_l0.detach().clone()
    go_before = (m.bias_ih_l0 + m.bias_hh_l0).detach().clone()[2 * H:]
    b_f = lstm.chrono_init(m, T_max, np.random.default_rng(5))
    b = (m.bias_ih_l0 + m.bias_hh_l0).detach().double().numpy()   # torch's effective bias
    tol = 1e-6 if dtype == torch.float32 else 0.0
    np.testing.assert_allclose(b[H:2 * H], b_f, atol=tol, rtol=0)      # gate order i, f, g, o
    np.testing.assert_allclose(b[0:H], -b[H:2 * H], atol=0, rtol=0)
    assert np.all(b[H:2 * H] >= 0) and np.all(b[H:2 * H] <= np.log(T_max - 1) + tol)
    torch.testing.assert_close((m.bias_ih_l0 + m.bias_hh_l0).detach()[2 * H:], go_before)
    torch.testing.assert_close(m.weight_hh_l0.detach(), w_before)
    # the forget gates of the torch model, at zero input and state, are sigmoid(b_f)
    with torch.no_grad():
        _, (_, c) = m(torch.zeros(1, 1, D, dtype=dtype), (torch.zeros(1, 1, H, dtype=dtype),
                                                          torch.ones(1, 1, H, dtype=dtype)))
    p = lstm.params_from_torch(m)
    i, f, g, _ = nb07.lstm_gates(np.zeros((1, D)), np.zeros((1, H)), *p.as_tuple())
    np.testing.assert_allclose(f[0], lstm.sigmoid(b_f), rtol=1e-6)
    np.testing.assert_allclose(c.double().numpy()[0, 0], (f + i * g)[0], rtol=1e-6)
    # seeded: the same generator seed gives the same biases
    m2 = torch.nn.LSTM(D, H, batch_first=True, dtype=dtype)
    lstm.chrono_init(m2, T_max, np.random.default_rng(5))
    torch.testing.assert_close(m2.bias_ih_l0.detach()[:2 * H], m.bias_ih_l0.detach()[:2 * H])
    with pytest.raises(ValueError):
        lstm.chrono_init(torch.nn.LSTM(D, H, bias=False), T_max, np.random.default_rng(0))


# ---------------------------------------------------------------------------------------
# The path decomposition of ∂L/∂c_k
# ---------------------------------------------------------------------------------------
def _torch_step(x_t, h, c, Wx, Wh, b, detach_h=False):
    """One LSTM step in torch from the equations; ``detach_h`` cuts every path through h."""
    H = h.shape[1]
    a = x_t @ Wx.T + (h.detach() if detach_h else h) @ Wh.T + b
    i, f, g, o = (torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]),
                  torch.tanh(a[:, 2 * H:3 * H]), torch.sigmoid(a[:, 3 * H:]))
    c = f * c + i * g
    return o * torch.tanh(c), c


def test_forget_products():
    f = np.random.default_rng(0).uniform(0.1, 1.0, size=(2, 5, 3))
    P = lstm.forget_products(f)
    assert P.shape == (2, 6, 3)
    np.testing.assert_array_equal(P[:, 5], 1.0)
    for k in range(6):
        np.testing.assert_allclose(P[:, k], np.prod(f[:, k:], axis=1), rtol=1e-14)


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_direct_cell_gradients_equal_autograd_with_the_paths_through_h_cut(scale):
    """Autograd with h detached where it enters the gates keeps exactly the direct path
    (and the end's c_T → h_T); that is what direct_cell_gradients computes."""
    N, T, D, H = 3, 8, 2, 4
    rng = np.random.default_rng(2)
    p = lstm.init_lstm_params(D, H, rng, forget_bias=1.0)
    Wx, Wh, b = p.Wx * scale, p.Wh * scale, p.b
    x, h0, c0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    dhT = rng.normal(size=(N, H))
    _, dc = cell_flow.lstm_state_gradients(x, h0, c0, (Wx, Wh, b), dhT)
    direct = cell_flow.direct_cell_gradients(x, h0, c0, (Wx, Wh, b), dc[:, T])
    assert direct.shape == (N, T + 1, H)

    tW = [torch.from_numpy(a) for a in (Wx, Wh, b)]
    h, c = torch.from_numpy(h0), torch.tensor(c0, requires_grad=True)
    cs = [c]
    for t in range(T):
        h, c = _torch_step(torch.from_numpy(x[:, t]), h, c, *tW, detach_h=True)
        c.retain_grad()
        cs.append(c)
    (h * torch.from_numpy(dhT)).sum().backward()
    for k in range(T + 1):
        assert rel_error(direct[:, k], cs[k].grad.numpy()) < 1e-12
    # the mixed paths are not negligible here, so the total differs from the direct part
    assert rel_error(dc[:, 0], direct[:, 0]) > 1e-3


def test_without_recurrent_weights_the_total_is_the_direct_path():
    N, T, D, H = 2, 30, 2, 5
    rng = np.random.default_rng(3)
    p = lstm.init_lstm_params(D, H, rng, forget_bias=2.0)
    x = rng.uniform(0, 1, size=(N, T, D))
    z = np.zeros((N, H))
    dhT = rng.normal(size=(N, H))
    Wh0 = np.zeros_like(p.Wh)
    _, dc = cell_flow.lstm_state_gradients(x, z, z, (p.Wx, Wh0, p.b), dhT)
    direct = cell_flow.direct_cell_gradients(x, z, z, (p.Wx, Wh0, p.b), dc[:, T])
    assert rel_error(dc, direct) < 1e-13


def test_cell_step_jacobians_match_autograd():
    N, T, D, H = 2, 5, 3, 4
    rng = np.random.default_rng(4)
    p = lstm.init_lstm_params(D, H, rng, forget_bias=1.0)
    Wx, Wh, b = p.Wx * 3, p.Wh * 3, p.b
    x, h0, c0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    K, f = cell_flow.cell_step_jacobians(x, h0, c0, (Wx, Wh, b))
    assert K.shape == (N, T, H, H) and f.shape == (N, T, H)
    h_np, c_np = nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    tW = [torch.from_numpy(a) for a in (Wx, Wh, b)]
    hs = [h0] + [h_np[:, t] for t in range(T)]
    cs = [c0] + [c_np[:, t] for t in range(T)]
    for t in range(1, T + 1):                      # K[:, t-1] = ∂c_t/∂c_{t-1}
        for n in range(N):
            def c_t_of(c_prev, t=t, n=n):
                if t == 1:
                    h_prev = torch.from_numpy(hs[0][n:n + 1])
                else:   # h_{t-1} = o_{t-1} tanh(c_{t-1}), o_{t-1} from x_{t-1}, h_{t-2}
                    a = (torch.from_numpy(x[n:n + 1, t - 2]) @ tW[0].T
                         + torch.from_numpy(hs[t - 2][n:n + 1]) @ tW[1].T + tW[2])
                    h_prev = torch.sigmoid(a[:, 3 * H:]) * torch.tanh(c_prev)
                _, c_new = _torch_step(torch.from_numpy(x[n:n + 1, t - 1]), h_prev, c_prev, *tW)
                return c_new[0]
            J = torch.autograd.functional.jacobian(c_t_of, torch.from_numpy(cs[t - 1][n:n + 1]))
            np.testing.assert_allclose(K[n, t - 1], J[:, 0, :].numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(K[:, 0], np.einsum("nj,jk->njk", f[:, 0], np.eye(H)))
    assert np.abs(K[:, 1:] - np.einsum("ntj,jk->ntjk", f[:, 1:], np.eye(H))).max() > 1e-2
