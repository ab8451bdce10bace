"""Tests of course_utils.training: the TBPTT loop, detach, history, non-finite losses."""

import numpy as np
import pytest
import torch

from course_utils import runtime, training
from course_utils.data import tasks
from course_utils.lessons import longrange


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is faster and steadier on a busy machine."""
    with runtime.torch_threads(1):
        yield


def _data(lag=2, T=240, n=16, seed=0):
    x, y, _ = tasks.delayed_recall(n, T, lag, 3, np.random.default_rng(seed))
    return torch.from_numpy(x), torch.from_numpy(y)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_shapes(cell):
    m = training.SequenceModel(3, 8, 5, cell=cell)
    out, h = m(torch.zeros(2, 7, 3))
    assert out.shape == (2, 7, 5)
    with pytest.raises(ValueError):
        training.SequenceModel(3, 8, 5, cell="xyz")


def test_train_tbptt_learns_short_lag_and_counts_updates():
    torch.manual_seed(0)
    x, y = _data()
    m = training.SequenceModel(3, 16, 3)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    hist = training.train_tbptt(m, [(x, y)], loss_fn=training.cross_entropy_loss,
                                optimizer=opt, k=8, epochs=4, clip=1.0, progress=True)
    assert hist.n_updates == 4 * 30 and len(hist.grad_norms) == hist.n_updates
    assert len(hist.epoch_losses) == 4
    assert hist.epoch_losses[-1] < 0.5 * hist.epoch_losses[0]
    xt, yt = _data(seed=1)
    assert training.evaluate(m, xt, yt, metric=training.accuracy) > 0.9
    assert training.evaluate(m, xt, yt, metric=training.accuracy, chunk=7) == pytest.approx(
        training.evaluate(m, xt, yt, metric=training.accuracy))
    assert hist.smoothed(5).shape == (hist.n_updates,)


def test_truncation_blocks_long_lag():
    """Lag 6 with k = 4: no gradient path spans the lag, so accuracy stays near chance."""
    torch.manual_seed(0)
    x, y = _data(lag=6, T=400)
    m = training.SequenceModel(3, 16, 3)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    training.train_tbptt(m, [(x, y)], loss_fn=training.cross_entropy_loss, optimizer=opt,
                         k=4, epochs=2, progress=False)
    xt, yt = _data(lag=6, seed=1)
    assert training.evaluate(m, xt, yt, metric=training.accuracy) < 0.6


def test_full_bptt_when_k_none_and_callable_batches():
    torch.manual_seed(0)
    m = training.SequenceModel(2, 4, 1)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    x, y = longrange.adding_problem(8, 10, np.random.default_rng(0))
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def loss_fn(out, yy):
        return ((out[:, -1, 0] - yy) ** 2).mean()

    hist = training.train_tbptt(m, lambda: [(x, y), (x, y)], loss_fn=loss_fn, optimizer=opt,
                                epochs=3, progress=False)
    assert hist.n_updates == 6


def test_clipping_limits_the_step():
    torch.manual_seed(0)
    m = training.SequenceModel(3, 8, 3)
    before = [p.detach().clone() for p in m.parameters()]
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    x, y = _data(T=20, n=4)
    hist = training.train_tbptt(m, [(x, y)], loss_fn=training.cross_entropy_loss,
                                optimizer=opt, clip=1e-3, progress=False)
    step = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(m.parameters(), before)))
    assert hist.grad_norms[0] > 1e-2
    assert float(step) <= 1e-3 * 1.0001


def test_non_finite_loss_raises_clear_error():
    m = training.SequenceModel(3, 8, 3)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    x, y = _data(T=20, n=4)
    with pytest.raises(training.NonFiniteLossError, match="diverged"):
        training.train_tbptt(m, [(x, y)], loss_fn=lambda o, t: o.sum() * float("nan"),
                             optimizer=opt, progress=False)


def test_cross_entropy_without_targets_is_zero():
    out = torch.zeros(2, 3, 4, requires_grad=True)
    loss = training.cross_entropy_loss(out, torch.full((2, 3), -1))
    assert float(loss.detach()) == 0.0
    loss.backward()


def test_stateful_carries_state_between_batches():
    m = training.SequenceModel(3, 8, 3)
    calls = []
    orig = m.forward

    def spy(x, h=None):
        calls.append(h is None)
        return orig(x, h)

    m.forward = spy
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    x, y = _data(T=8, n=2)
    training.train_tbptt(m, [(x, y), (x, y)], loss_fn=training.cross_entropy_loss,
                         optimizer=opt, k=4, stateful=True, progress=False)
    assert calls == [True, False, False, False]
    calls.clear()
    training.train_tbptt(m, [(x, y), (x, y)], loss_fn=training.cross_entropy_loss,
                         optimizer=opt, k=4, stateful=False, progress=False)
    assert calls == [True, False, True, False]
