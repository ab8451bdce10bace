"""Losses and their gradients, against torch and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.maths import losses
from course_utils.maths.numerics import rel_error


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
