"""Losses and their gradients, against torch and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.maths import losses
from course_utils.maths.gradcheck import numerical_gradient
from course_utils.maths.numerics import rel_error


@pytest.mark.parametrize("shape", [(4, 7), (3, 5, 6)])
def test_softmax_cross_entropy_matches_torch(shape):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=shape) * 3
    y = rng.integers(0, shape[-1], size=shape[:-1])
    loss, d = losses.softmax_cross_entropy(logits, y)
    lt = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(lt.reshape(-1, shape[-1]), torch.from_numpy(y).reshape(-1))
    ref.backward()
    assert abs(loss - ref.item()) < 1e-12
    assert d.shape == logits.shape
    assert rel_error(d, lt.grad) < 1e-12


def test_uniform_predictions_give_ln_V_and_large_logits_are_stable():
    V = 13
    loss, _ = losses.softmax_cross_entropy(np.zeros((5, 4, V)), np.zeros((5, 4), dtype=int))
    assert abs(loss - np.log(V)) < 1e-12
    loss, d = losses.softmax_cross_entropy(np.array([[1000.0, 0.0, -1000.0]]), np.array([0]))
    assert np.isfinite(loss) and loss < 1e-12 and np.all(np.isfinite(d))


def test_mask_selects_positions():
    rng = np.random.default_rng(1)
    logits, y = rng.normal(size=(2, 3, 4)), rng.integers(0, 4, size=(2, 3))
    mask = np.zeros((2, 3))
    mask[:, -1] = 1
    loss, d = losses.softmax_cross_entropy(logits, y, mask)
    loss_last, d_last = losses.softmax_cross_entropy(logits[:, -1], y[:, -1])
    assert abs(loss - loss_last) < 1e-14
    assert not d[:, :-1].any() and rel_error(d[:, -1], d_last) < 1e-14
    with pytest.raises(ValueError):
        losses.softmax_cross_entropy(logits, y, np.zeros((2, 3)))


def test_cross_entropy_gradient_check_and_bad_targets():
    rng = np.random.default_rng(2)
    logits, y = rng.normal(size=(3, 4, 5)), rng.integers(0, 5, size=(3, 4))
    _, d = losses.softmax_cross_entropy(logits, y)
    num = numerical_gradient(lambda: losses.softmax_cross_entropy(logits, y)[0], logits)
    assert rel_error(d, num) < 1e-8
    with pytest.raises(ValueError):
        losses.softmax_cross_entropy(logits, y + 5)
    with pytest.raises(ValueError):
        losses.softmax_cross_entropy(logits, y[:, :2])


def test_softmax_sums_to_one():
    p = losses.softmax(np.random.default_rng(3).normal(size=(4, 6)) * 10)
    assert np.allclose(p.sum(-1), 1) and (p > 0).all()


def test_mse_loss_matches_torch():
    rng = np.random.default_rng(4)
    pred, target = rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5, 2))
    loss, d = losses.mse_loss(pred, target)
    pt = torch.tensor(pred, requires_grad=True)
    ref = torch.nn.functional.mse_loss(pt, torch.from_numpy(target))
    ref.backward()
    assert abs(loss - ref.item()) < 1e-12 and rel_error(d, pt.grad) < 1e-12
    with pytest.raises(ValueError):
        losses.mse_loss(pred, target[:, :2])
