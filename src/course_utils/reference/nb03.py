"""Reference solutions of notebook 03's exercises: the backward pass of one RNN step,
then backpropagation through time over a sequence (for :mod:`course_utils.reference.nb01`'s
forward pass), and the read-out's loss: softmax cross-entropy over time, forward and
backward."""

from __future__ import annotations

import numpy as np


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    """Backward pass of :func:`course_utils.reference.nb01.rnn_step_forward`.

    Args:
        dh_next: (N, H) total gradient of the loss with respect to ``h_next`` (from the
            loss at this step *and* from later steps).
        x: (N, D), h_prev: (N, H), h_next: (N, H): the step's input, previous state and
            output (the output gives tanh' = 1 − h_next²).
        Wxh: (H, D), Whh: (H, H).

    Returns:
        dx (N, D), dh_prev (N, H), dWxh (H, D), dWhh (H, H), db (H,).
    """
    da = dh_next * (1.0 - h_next**2)  # gradient at the pre-activation, (N, H)
    dx = da @ Wxh
    dh_prev = da @ Whh
    dWxh = da.T @ x
    dWhh = da.T @ h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dWxh, dWhh, db


def rnn_backward(dh, x, h0, h, Wxh, Whh):
    """Backpropagation through time for :func:`course_utils.reference.nb01.rnn_forward`.

    Args:
        dh: (N, T, H) gradient of the loss with respect to every hidden state, as it
            comes from the per-step losses (not yet including the flow from later steps).
        x: (N, T, D), h0: (N, H), h: (N, T, H) as in/out of :func:`course_utils.reference.nb01.rnn_forward`.
        Wxh: (H, D), Whh: (H, H).

    Returns:
        dx (N, T, D), dh0 (N, H), dWxh (H, D), dWhh (H, H), db (H,). Weight and bias
        gradients are summed over time and batch.
    """
    N, T, _ = x.shape
    dx = np.zeros_like(x)
    dWxh, dWhh = np.zeros_like(Wxh), np.zeros_like(Whh)
    db = np.zeros(Whh.shape[0], dtype=dh.dtype)
    dh_carry = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        h_prev = h[:, t - 1] if t > 0 else h0
        dx_t, dh_carry, dWxh_t, dWhh_t, db_t = rnn_step_backward(
            dh[:, t] + dh_carry, x[:, t], h_prev, h[:, t], Wxh, Whh)
        dx[:, t] = dx_t
        dWxh += dWxh_t
        dWhh += dWhh_t
        db += db_t
    return dx, dh_carry, dWxh, dWhh, db


def temporal_softmax_loss(scores, targets):
    """Softmax cross-entropy at every time step, and its gradient (the read-out's loss).

    Args:
        scores: (N, T, V) unnormalised scores (logits) over V classes at each step.
        targets: (N, T) integer class ids in [0, V).

    Returns:
        loss: float, the **mean** of ``−log softmax(scores[n, t])[targets[n, t]]`` over
            all N·T positions; dscores (N, T, V), its gradient with respect to
            ``scores``: ``(softmax(scores) − onehot(targets)) / (N·T)``. The softmax is
            taken over the last axis, after subtracting each row's maximum (exp of a
            large score would overflow; the softmax does not change).
    """
    N, T, V = scores.shape
    shifted = scores - scores.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]   # (N, T)
    loss = -picked.mean()
    dscores = np.exp(log_p)
    np.put_along_axis(dscores, targets[..., None], np.take_along_axis(
        dscores, targets[..., None], axis=-1) - 1.0, axis=-1)
    return float(loss), dscores / (N * T)
