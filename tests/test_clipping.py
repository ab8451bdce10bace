"""Unit tests of course_utils.lessons.clipping (notebook 06's helpers)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from course_utils.lessons import clipping as C
from course_utils.maths.numerics import rel_error
from course_utils.reference import nb06


def _grads(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) * scale for s in [(5, 3), (5, 5), (5,), (2, 5), (2,)]]


def test_global_norm_is_the_norm_of_the_concatenation():
    g = _grads()
    assert abs(C.global_norm(g) - np.linalg.norm(np.concatenate([x.ravel() for x in g]))) < 1e-12
    assert C.global_norm([]) == 0.0
    assert C.global_norm(np.array([3.0, 4.0])) == 5.0
    assert np.isnan(C.global_norm([np.array([1.0, np.nan])]))


@pytest.mark.parametrize("scale, max_norm", [(1.0, 0.5), (0.01, 5.0), (3.0, 0.0)])
def test_clip_grad_norm_matches_torch_and_leaves_inputs_alone(scale, max_norm):
    g = _grads(1, scale)
    before = [x.copy() for x in g]
    clipped, total = nb06.clip_grad_norm(g, max_norm)
    params = []
    for x in g:
        p = torch.zeros(x.shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.from_numpy(x.copy())
        params.append(p)
    t_total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert abs(total - float(t_total)) <= 1e-12 * float(t_total)
    for c, p in zip(clipped, params):
        assert rel_error(c, p.grad) < 1e-12
    assert all(np.array_equal(a, b) for a, b in zip(g, before))
    assert C.global_norm(clipped) <= max_norm + 1e-9 or total <= max_norm


def test_clip_grad_norm_single_array_and_nonfinite():
    out, total = nb06.clip_grad_norm(np.array([3.0, 4.0]), 1.0)
    assert isinstance(out, np.ndarray) and total == 5.0
    assert np.allclose(out, [0.6, 0.8], atol=1e-6)
    out, total = nb06.clip_grad_norm([np.array([1.0, np.nan])], 1.0)
    assert np.isnan(total) and np.isnan(out[0]).all()
    out, total = nb06.clip_grad_norm([np.array([1.0, np.inf])], 1.0)
    assert np.isinf(total) and out[0][0] == 0 and np.isnan(out[0][1])


def test_clip_grad_value_matches_torch():
    g = _grads(2, 2.0)
    clipped = C.clip_grad_value(g, 0.7)
    for c, x in zip(clipped, g):
        p = torch.zeros(x.shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.from_numpy(x.copy())
        torch.nn.utils.clip_grad_value_([p], 0.7)
        assert rel_error(c, p.grad) == 0.0
    assert isinstance(C.clip_grad_value(np.ones(3) * 5, 1.0), np.ndarray)


def test_angle_deg():
    assert abs(C.angle_deg(np.array([1.0, 0.0]), np.array([1.0, 1.0])) - 45.0) < 1e-12
    assert abs(C.angle_deg([np.array([1.0, 0.0])], [np.array([-2.0, 0.0])]) - 180.0) < 1e-12
    g = _grads(3, 5.0)
    clipped, _ = nb06.clip_grad_norm(g, 1.0)
    assert C.angle_deg(g, clipped) < 1e-6
    assert C.angle_deg(g, C.clip_grad_value(g, 1.0)) > 1.0
    # accurate for tiny angles, where arccos(cos) would lose everything
    a, b = np.array([1.0, 0.0]), np.array([1.0, 1e-9])
    assert abs(C.angle_deg(a, b) - np.degrees(1e-9)) < 1e-15
    assert C.angle_deg(np.zeros(2), a) == 0.0


@pytest.mark.parametrize("w, b", [(0.5, 0.2), (1.5, -0.4), (1.29, -0.1), (2.5, -0.9)])
def test_cliff_gradient_matches_torch_autograd(w, b):
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    cliff = C.Cliff()
    h = torch.tensor(cliff.h0, dtype=torch.float64)
    for _ in range(cliff.T):
        h = torch.tanh(wt * h + bt)
    loss = (h - cliff.target) ** 2
    loss.backward()
    L, dw, db = C.cliff_loss_and_grad(w, b)
    assert abs(float(L) - loss.item()) <= 1e-12
    assert rel_error(np.array([dw, db]), np.array([wt.grad.item(), bt.grad.item()])) < 1e-9


def test_cliff_states_follow_the_recurrence_and_saturate_far_out():
    hs = C.cliff_states(1.5, -0.4)
    assert hs.shape == (51,) and hs[0] == 0.5
    assert all(hs[t] == np.tanh(1.5 * hs[t - 1] - 0.4) for t in range(1, 51))
    assert C.cliff_states(np.ones((3, 4)), 0.0).shape == (51, 3, 4)
    # far out on the plateau every state rounds to exactly 1, so the gradient is exactly 0
    hs = C.cliff_states(8.6, 18.9)
    assert np.all(hs[1:] == 1.0)
    L, dw, db = C.cliff_loss_and_grad(8.6, 18.9)
    assert dw == 0.0 and db == 0.0 and abs(L - 0.09) < 1e-15


def test_cliff_has_a_cliff_and_vectorises():
    w = np.linspace(0.5, 3.0, 501)
    L, dw, db = C.cliff_loss_and_grad(w, -0.3)
    assert L.shape == w.shape
    assert L.max() > 2.5 and L.min() < 0.01  # from the high plateau to the valley
    assert np.max(np.abs(np.diff(L))) > 1.0  # a jump between neighbouring grid points
    _, dw, db = C.cliff_loss_and_grad(np.linspace(0.0, 3.0, 3001), -0.1)
    assert np.hypot(dw, db).max() > 1000 * np.median(np.hypot(dw, db))  # the cliff face


def test_descend_plain_jumps_and_clipped_steps_are_bounded():
    plain = C.descend((1.5, -0.4), lr=0.1, steps=40)
    clipped = C.descend((1.5, -0.4), lr=0.1, steps=40, max_norm=1.0)
    steps_plain = np.linalg.norm(np.diff(plain["path"], axis=0), axis=1)
    steps_clip = np.linalg.norm(np.diff(clipped["path"], axis=0), axis=1)
    assert steps_plain.max() > 5.0
    assert steps_clip.max() <= 0.1 * 1.0 + 1e-9
    assert clipped["loss"][-1] < 1e-3 < plain["loss"][-1]
    assert plain["path"].shape == (41, 2) and plain["loss"].shape == (41,)


def test_delayed_copy_batches():
    x, y = next(C.delayed_copy_batches(0, N=4, T=12, lag=3))
    assert x.shape == y.shape == (4, 12, 1)
    assert np.array_equal(y[:, 3:], x[:, :-3]) and not y[:, :3].any()


def test_init_regression_rnn_shapes_and_orthogonal_whh():
    p = C.init_regression_rnn(2, 6, 3, seed=0, whh_scale=1.3)
    assert [a.shape for a in p] == [(6, 2), (6, 6), (6,), (3, 6), (3,)]
    assert np.allclose(np.linalg.svd(p[1], compute_uv=False), 1.3)


def test_regression_gradients_match_torch_autograd():
    p = C.init_regression_rnn(2, 5, 3, seed=1, whh_scale=0.9)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 7, 2)), rng.normal(size=(4, 7, 3))
    loss, grads = C.regression_loss_and_grads(p, (x, y))
    tp = [torch.tensor(a, requires_grad=True) for a in p]
    Wxh, Whh, b, Why, by = tp
    h = torch.zeros(4, 5, dtype=torch.float64)
    outs = []
    for t in range(7):
        h = torch.tanh(torch.from_numpy(x[:, t]) @ Wxh.T + h @ Whh.T + b)
        outs.append(h @ Why.T + by)
    t_loss = ((torch.stack(outs, 1) - torch.from_numpy(y)) ** 2).mean()
    t_loss.backward()
    assert abs(loss - t_loss.item()) < 1e-12
    for g, t in zip(grads, tp):
        assert rel_error(g, t.grad) < 1e-9


def test_readout_curvature_is_the_largest_eigenvalue_of_the_autograd_hessian():
    p = C.init_regression_rnn(2, 4, 2, seed=3, whh_scale=1.1)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5, 2))
    h = torch.from_numpy(C.regression_hidden_states(p, x))
    assert h.shape == (3, 5, 4)
    assert torch.allclose(h[:, 0], torch.tanh(torch.from_numpy(x[:, 0] @ p[0].T + p[2])))

    def loss(flat):  # the read-out (Why (2, 4), by (2,)) as one vector
        Why, by = flat[:8].reshape(2, 4), flat[8:]
        return ((h @ Why.T + by - torch.from_numpy(y)) ** 2).mean()

    theta = torch.from_numpy(np.concatenate([p[3].ravel(), p[4]]))
    hess = torch.autograd.functional.hessian(loss, theta)
    lam = float(torch.linalg.eigvalsh(hess).max())
    assert abs(C.readout_curvature(p, x, O=2) - lam) <= 1e-12 * lam


def test_train_sgd_stops_with_a_clear_message_on_nonfinite_loss(capsys):
    def loss_and_grads(params, batch):
        k = batch
        loss = float("nan") if k == 3 else 1.0 / (k + 1)
        return loss, [np.ones_like(p) for p in params]

    hist = C.train_sgd([np.zeros(2)], loss_and_grads, iter(range(100)), lr=0.1, steps=50,
                       name="demo")
    out = capsys.readouterr().out
    assert hist.diverged and hist.stopped_at == 3 and len(hist.loss) == 4
    assert "demo: stopped at step 3" in out and "not finite" in out and out.count("\n") == 1
    assert hist.final_loss() == float("inf")
    assert np.allclose(hist.params[0], -0.3)  # three updates, none with the NaN step


def test_train_sgd_stops_on_infinite_gradient_norm(capsys):
    def loss_and_grads(params, batch):
        return 1.0, [np.array([np.inf, 0.0])]

    hist = C.train_sgd([np.zeros(2)], loss_and_grads, iter(range(10)), lr=0.1, steps=5)
    assert hist.stopped_at == 0 and "gradient norm is inf" in hist.message
    assert np.array_equal(hist.params[0], np.zeros(2))


def test_train_sgd_clips_with_the_given_function_and_keeps_params(capsys):
    calls = []

    def clip_fn(grads, max_norm):
        calls.append(max_norm)
        return nb06.clip_grad_norm(grads, max_norm)

    p0 = [np.zeros(3)]
    hist = C.train_sgd(p0, lambda p, b: (1.0, [np.full(3, 10.0)]), iter(range(10)), lr=1.0,
                       steps=4, max_norm=0.5, clip_fn=clip_fn, verbose=False)
    assert calls == [0.5] * 4 and all(hist.clipped) and not p0[0].any()
    assert abs(np.linalg.norm(hist.params[0]) - 4 * 0.5) < 1e-5
    assert capsys.readouterr().out == ""


def test_is_divergent():
    assert not C.is_divergent(1.0, 2.0)
    assert not C.is_divergent(1e9, 1e10)  # at the bound is not above it
    assert C.is_divergent(float("nan"), 1.0) and C.is_divergent(1.0, float("inf"))
    assert C.is_divergent(2e10, 1.0) and C.is_divergent(1.0, 2e10)
    assert C.is_divergent(1.0, 5.0, bound=4.0)
    assert not C.is_divergent(1e300, 1e300, bound=float("inf"))
    assert C.is_divergent(float("inf"), 1.0, bound=float("inf"))


def test_train_sgd_stops_above_the_bound_or_only_on_nonfinite():
    def blow_up(params, k):  # the loss grows 100-fold per step, overflows at step 155
        with np.errstate(over="ignore"):
            return float(np.float64(100.0) ** k), [np.ones_like(p) for p in params]

    hist = C.train_sgd([np.zeros(2)], blow_up, iter(range(1000)), lr=0.1, steps=1000,
                       verbose=False)
    assert hist.stopped_at == 6 and "the loss is 1.0e+12 (above 1e+10)" in hist.message
    hist = C.train_sgd([np.zeros(2)], blow_up, iter(range(1000)), lr=0.1, steps=1000,
                       verbose=False, diverge_above=np.inf)
    assert hist.stopped_at == 155 and "not finite" in hist.message


def test_real_training_diverges_without_clipping_and_converges_with_it(capsys):
    """The unclipped run blows up within its first 50 steps on every BLAS kernel; when it
    finally overflows to inf is machine-dependent, so divergence means above 1e10."""
    p = C.init_regression_rnn(1, 32, 1, seed=0)
    common = dict(lr=0.25, steps=200, verbose=False)
    plain = C.train_sgd(p, C.regression_loss_and_grads, C.delayed_copy_batches(100), **common)
    clipped = C.train_sgd(p, C.regression_loss_and_grads, C.delayed_copy_batches(100),
                          max_norm=1.0, **common)
    assert plain.diverged and plain.stopped_at < 50 and "diverged" in plain.message
    assert C.is_divergent(plain.loss[-1], plain.grad_norm[-1])
    assert not clipped.diverged and clipped.final_loss() < 0.5 * clipped.loss[0]
    assert max(clipped.loss) < 10 and max(clipped.grad_norm) < 1e3


def test_percentile_threshold_ignores_nonfinite():
    assert C.percentile_threshold([1.0, 2.0, 3.0, np.inf, np.nan], 50) == 2.0


def test_first_spike():
    assert C.first_spike([1.0, 1.2, 0.9, 30.0, 1.0], factor=20) == 3
    assert C.first_spike([1.0, 1.2, 0.9, 19.0, 1.0], factor=20) is None
    assert C.first_spike([1.0, 25.0], factor=20) == 1


def test_latch_batches():
    x, y = next(C.latch_batches(seed=3, N=64, T=20, noise=0.1))
    assert x.shape == y.shape == (64, 20, 1)
    s = y[:, 0, 0]
    assert set(np.unique(s)) == {-1.0, 1.0}
    assert np.all(y == s[:, None, None])  # the target is the first sign at every step
    assert np.all(np.sign(x[:, 0, 0]) == s)  # noise 0.1 cannot flip a ±1 pulse
    assert np.abs(x[:, 1:]).max() < 1.0


def test_hessian_lambda_max_matches_the_full_hessian():
    from course_utils.maths.gradnorm import flatten

    p = C.init_regression_rnn(D=1, H=3, O=1, seed=1, whh_scale=1.2)
    batch = next(C.latch_batches(0, N=4, T=6))
    theta = np.concatenate([q.ravel() for q in p])

    def grad(th):
        parts = np.split(th, np.cumsum([q.size for q in p])[:-1])
        return flatten(C.regression_loss_and_grads([a.reshape(q.shape) for a, q in zip(parts, p)],
                                                   batch)[1])

    hess = np.array([(grad(theta + 1e-5 * e) - grad(theta - 1e-5 * e)) / 2e-5
                     for e in np.eye(theta.size)])
    exact = np.linalg.eigvalsh((hess + hess.T) / 2).max()
    lam = C.hessian_lambda_max(p, C.regression_loss_and_grads, batch, iters=40)
    assert abs(lam - exact) < 1e-6 * abs(exact)
    # the read-out block is a lower bound of the whole Hessian's largest eigenvalue
    assert C.readout_curvature(p, batch[0]) <= lam + 1e-9


def test_sharpness_along_run_replays_train_sgd():
    p0 = C.init_regression_rnn(D=1, H=8, O=1, seed=0, whh_scale=0.8)
    s = C.sharpness_along_run(p0, C.regression_loss_and_grads, C.latch_batches(1, N=8, T=10),
                              lr=0.1, steps=12, every=5, iters=10)
    assert list(s["step"]) == [0, 5, 10]
    run = C.train_sgd(p0, C.regression_loss_and_grads, C.latch_batches(1, N=8, T=10), lr=0.1,
                      steps=10, verbose=False)
    batch = next(itertools.islice(C.latch_batches(1, N=8, T=10), 10, None))
    lam = C.hessian_lambda_max(run.params, C.regression_loss_and_grads, batch, iters=10)
    assert abs(s["lr_lambda"][2] - 0.1 * lam) < 1e-12 * lam


def test_latch_run_meets_a_cliff_and_clipping_above_the_typical_norm_rescues_it():
    """Notebook 06's section 3: stable on the smooth part, one cliff, a rare clip."""
    p0 = C.init_regression_rnn(D=1, H=32, O=1, seed=0, whh_scale=0.8)
    plain = C.train_sgd(p0, C.regression_loss_and_grads, C.latch_batches(100), lr=0.15,
                        steps=600, verbose=False)
    norms = np.array(plain.grad_norm)
    k = C.first_spike(norms, 20)
    assert plain.diverged and k is not None and k > 100
    assert np.median(norms[:k]) < 1.0 and np.mean(norms[:k] > 3) < 0.05
    clipped = C.train_sgd(p0, C.regression_loss_and_grads, C.latch_batches(100), lr=0.15,
                          steps=600, max_norm=3.0, verbose=False)
    assert not clipped.diverged and clipped.final_loss() < 0.01
    assert 0 < np.mean(clipped.clipped) < 0.05
