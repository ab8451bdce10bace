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


def softmax_cross_entropy(logits, y, mask=None):
    """Mean cross-entropy of integer targets under ``softmax(logits)``.

    Works for a single prediction per sequence (many-to-one) and for one per time step
    (a language model): the leading axes are flattened.

    Args:
        logits: (..., V) unnormalised scores, e.g. (N, V) or (N, T, V).
        y: (...) integer class ids in [0, V), the leading shape of ``logits``.
        mask: optional (...) array of 0/1 (or weights): which positions count. The loss
            is then ``Σ mask·ce / Σ mask``.

    Returns:
        loss: float, ``mean(−log p[y])`` over the (masked) positions; ``ln V`` for
            uniform predictions.
        dlogits: (..., V), its gradient: ``(softmax(logits) − onehot(y)) · mask / Σ mask``.
    """
    logits = np.asarray(logits)
    y = np.asarray(y)
    if y.shape != logits.shape[:-1]:
        raise ValueError(f"targets have shape {y.shape}, expected {logits.shape[:-1]}")
    V = logits.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= V):
        raise ValueError(f"targets must lie in [0, {V})")
    logp = log_softmax(logits)
    lp = logp.reshape(-1, V)
    yf = y.reshape(-1)
    w = np.ones(yf.shape, dtype=lp.dtype) if mask is None else np.asarray(mask, dtype=lp.dtype).reshape(-1)
    total = w.sum()
    if total <= 0:
        raise ValueError("the mask selects no position")
    ce = -lp[np.arange(yf.size), yf]
    loss = float((w * ce).sum() / total)
    dlogits = np.exp(lp)
    dlogits[np.arange(yf.size), yf] -= 1.0
    dlogits *= (w / total)[:, None]
    return loss, dlogits.reshape(logits.shape)


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
