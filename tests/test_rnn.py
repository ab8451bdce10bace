"""The numpy RNN reference: forward and backward, slow and fast, against torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.lessons import bptt_timing
from course_utils.maths import rnn
from course_utils.maths.gradcheck import grad_check
from course_utils.maths.numerics import rel_error
from course_utils.reference import nb01, nb03


def _problem(N=3, T=7, D=4, H=5, seed=0):
    rng = np.random.default_rng(seed)
    p = rnn.init_rnn_params(D, H, rng, scale=0.6)
    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(size=(N, H)) * 0.5
    dh = rng.normal(size=(N, T, H))
    return x, h0, p, dh


def _torch_grads(x, h0, p, dh):
    """Gradients of sum(h * dh) through torch.nn.RNN in float64 (two biases = one b)."""
    D, H = p.Wxh.shape[1], p.Wxh.shape[0]
    net = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(p.Wxh))
        net.weight_hh_l0.copy_(torch.from_numpy(p.Whh))
        net.bias_ih_l0.copy_(torch.from_numpy(p.b))
        net.bias_hh_l0.zero_()
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, _ = net(xt, h0t)
    (out * torch.from_numpy(dh)).sum().backward()
    return out.detach().numpy(), dict(dx=xt.grad.numpy(), dh0=h0t.grad[0].numpy(),
                                      dWxh=net.weight_ih_l0.grad.numpy(),
                                      dWhh=net.weight_hh_l0.grad.numpy(),
                                      db=net.bias_ih_l0.grad.numpy())


NAMES = ("dx", "dh0", "dWxh", "dWhh", "db")


@pytest.mark.parametrize("forward,backward", [(nb01.rnn_forward, nb03.rnn_backward),
                                              (rnn.rnn_forward_fast, rnn.rnn_backward_fast)],
                         ids=["naive", "fast"])
@pytest.mark.parametrize("shape", [(3, 7, 4, 5), (2, 1, 6, 3), (1, 12, 2, 8)])
def test_forward_backward_match_torch_autograd(forward, backward, shape):
    x, h0, p, dh = _problem(*shape)
    h_torch, g_torch = _torch_grads(x, h0, p, dh)
    h = forward(x, h0, *p.as_tuple())
    assert h.shape == shape[:2] + (shape[3],)
    assert rel_error(h, h_torch) < 1e-12
    grads = backward(dh, x, h0, h, p.Wxh, p.Whh)
    for name, g in zip(NAMES, grads):
        assert g.shape == g_torch[name].shape, name
        assert rel_error(g, g_torch[name]) < 1e-9, name


def test_fast_equals_naive():
    x, h0, p, dh = _problem(4, 9, 3, 6, seed=3)
    h = nb01.rnn_forward(x, h0, *p.as_tuple())
    assert rel_error(rnn.rnn_forward_fast(x, h0, *p.as_tuple()), h) < 1e-13
    for a, b in zip(nb03.rnn_backward(dh, x, h0, h, p.Wxh, p.Whh),
                    rnn.rnn_backward_fast(dh, x, h0, h, p.Wxh, p.Whh)):
        assert rel_error(a, b) < 1e-12


def test_backward_passes_a_gradient_check():
    x, h0, p, dh = _problem(2, 4, 3, 5, seed=1)
    Wxh, Whh, b = p.as_tuple()

    def loss():
        return float(np.sum(nb01.rnn_forward(x, h0, Wxh, Whh, b) * dh))

    h = nb01.rnn_forward(x, h0, Wxh, Whh, b)
    dx, dh0, dWxh, dWhh, db = nb03.rnn_backward(dh, x, h0, h, Wxh, Whh)
    res = grad_check(loss, dict(x=x, h0=h0, Wxh=Wxh, Whh=Whh, b=b),
                     dict(x=dx, h0=dh0, Wxh=dWxh, Whh=dWhh, b=db))
    assert all(r.ok for r in res), [str(r) for r in res]


def test_step_backward_matches_torch():
    rng = np.random.default_rng(5)
    N, D, H = 3, 4, 6
    x, h_prev = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    Wxh, Whh, b = rng.normal(size=(H, D)), rng.normal(size=(H, H)) * 0.3, rng.normal(size=H)
    dh_next = rng.normal(size=(N, H))
    ts = [torch.tensor(a, requires_grad=True) for a in (x, h_prev, Wxh, Whh, b)]
    out = torch.tanh(ts[0] @ ts[2].T + ts[1] @ ts[3].T + ts[4])
    (out * torch.from_numpy(dh_next)).sum().backward()
    h_next = nb01.rnn_step_forward(x, h_prev, Wxh, Whh, b)
    dx, dh_prev, dWxh, dWhh, db = nb03.rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh)
    for g, t in zip((dx, dh_prev, dWxh, dWhh, db), (ts[0], ts[1], ts[2], ts[3], ts[4])):
        assert rel_error(g, t.grad) < 1e-12


def test_backward_does_not_modify_its_inputs():
    x, h0, p, dh = _problem()
    h = nb01.rnn_forward(x, h0, *p.as_tuple())
    args = (dh, x, h0, h, p.Wxh, p.Whh)
    copies = [a.copy() for a in args]
    for fn in (nb03.rnn_backward, rnn.rnn_backward_fast):
        fn(*args)
        assert all(np.array_equal(a, c) for a, c in zip(args, copies))


def test_zero_upstream_gradient_gives_zero_gradients():
    x, h0, p, dh = _problem()
    h = nb01.rnn_forward(x, h0, *p.as_tuple())
    for g in rnn.rnn_backward_fast(np.zeros_like(dh), x, h0, h, p.Wxh, p.Whh):
        assert not g.any()


def test_affine_forward_backward():
    rng = np.random.default_rng(2)
    h = rng.normal(size=(2, 3, 4))
    W, c = rng.normal(size=(5, 4)), rng.normal(size=5)
    dy = rng.normal(size=(2, 3, 5))
    y = rnn.affine_forward(h, W, c)
    assert y.shape == (2, 3, 5)
    ht, Wt, ct = (torch.tensor(a, requires_grad=True) for a in (h, W, c))
    (torch.from_numpy(dy) * (ht @ Wt.T + ct)).sum().backward()
    dh, dW, dc = rnn.affine_backward(dy, h, W)
    assert rel_error(y, (ht @ Wt.T + ct).detach()) < 1e-14
    assert rel_error(dh, ht.grad) < 1e-12
    assert rel_error(dW, Wt.grad) < 1e-12
    assert rel_error(dc, ct.grad) < 1e-12


def test_time_bptt_reports_three_positive_timings():
    r = bptt_timing.time_bptt(2, 3, 4, 5, repeats=2)
    assert set(r) == {"naive", "fast", "torch"}
    for wall, cpu in r.values():
        assert wall > 0 and cpu >= 0 and np.isfinite([wall, cpu]).all()  # measured, finite


def _numpy_input_jacobian(x, h0, p, k):
    """∂h_t/∂x_{k+1} = J_t ⋯ J_{k+2} · diag(1 − h_{k+1}²) Wxh, from the numpy forward pass."""
    h = nb01.rnn_forward(x, h0, p.Wxh, p.Whh, p.b)
    N, T, H = h.shape
    out = np.zeros((N, T, H, x.shape[2]))
    for n in range(N):
        M = (1 - h[n, k] ** 2)[:, None] * p.Wxh  # ∂h_{k+1}/∂x_{k+1}: (H, D)
        out[n, k] = M
        for t in range(k + 1, T):
            M = ((1 - h[n, t] ** 2)[:, None] * p.Whh) @ M
            out[n, t] = M
    return out


@pytest.mark.parametrize("k", [0, 2])
def test_input_jacobian_norms_match_the_product_of_step_jacobians(k):
    x, h0, p, _ = _problem(N=3, T=7, D=4, H=5, seed=3)
    norms = rnn.input_jacobian_norms(x, h0, p.Wxh, p.Whh, p.b, k=k)
    assert norms.shape == (3, 7)
    J = _numpy_input_jacobian(x, h0, p, k)
    expected = np.linalg.norm(J, 2, axis=(2, 3))
    assert np.all(norms[:, :k] == 0)
    assert rel_error(norms, expected) < 1e-12
    before = torch.get_num_threads()
    two = rnn.input_jacobian_norms(x, h0, p.Wxh, p.Whh, p.b, k=k, threads=2)
    assert torch.get_num_threads() == before  # restored
    assert rel_error(two, norms) < 1e-12


def test_input_jacobian_norms_match_finite_differences():
    x, h0, p, _ = _problem(N=2, T=6, D=3, H=4, seed=5)
    eps = 1e-6
    J_fd = np.zeros((2, 6, 4, 3))
    for d in range(3):
        xp, xm = x.copy(), x.copy()
        xp[:, 0, d] += eps
        xm[:, 0, d] -= eps
        J_fd[..., d] = (nb01.rnn_forward(xp, h0, p.Wxh, p.Whh, p.b)
                        - nb01.rnn_forward(xm, h0, p.Wxh, p.Whh, p.b)) / (2 * eps)
    norms = rnn.input_jacobian_norms(x, h0, p.Wxh, p.Whh, p.b)
    assert rel_error(norms, np.linalg.norm(J_fd, 2, axis=(2, 3))) < 1e-8
    with pytest.raises(ValueError, match="k must be"):
        rnn.input_jacobian_norms(x, h0, p.Wxh, p.Whh, p.b, k=6)


def test_format_bptt_timings_table():
    from course_utils.lessons.bptt_timing import format_bptt_timings

    rows = [{"N": 32, "T": 64, "D": 128, "H": 128, "naive_ms": 15.14, "fast_ms": 13.7,
             "torch_ms": 27.1},
            {"N": 8, "T": 64, "D": 128, "H": 128, "naive_ms": 5.2, "fast_ms": 3.3,
             "torch_ms": 5.8}]
    lines = format_bptt_timings(rows).splitlines()
    assert len(lines) == 4 and "fast/torch" in lines[0] and set(lines[1]) == {"-"}
    assert lines[2].split() == ["32", "64", "128", "128", "|", "15.1", "13.7", "27.1", "|",
                                "0.51", "0.56", "1.11"]
    assert lines[3].split()[-3:] == ["0.57", "0.90", "1.58"]
