"""Losses with their gradients, in numpy (notebook 03 and later).

Each function returns ``(loss, grad)``: the scalar loss and its gradient with respect to
the prediction, ready to be fed into a backward pass. Every loss is a **mean** over the
positions it is computed on, so its value does not depend on the batch size or length.
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits):
    """Numerically stable ``log(softmax(logits))`` over the last axis. Same shape as input."""
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(logits):
    """Softmax over the last axis. Same shape as the input."""
    return np.exp(log_softmax(logits))


def mse_loss(pred, target):
    """Mean squared error ``mean((pred − target)²)`` over all entries.

    Args:
        pred, target: arrays of the same shape, e.g. (N, T, K).

    Returns:
        loss: float; dpred: same shape as ``pred``, ``2 (pred − target) / pred.size``.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape}, target {target.shape}")
    diff = pred - target
    return float(np.mean(diff**2)), 2.0 * diff / diff.size
