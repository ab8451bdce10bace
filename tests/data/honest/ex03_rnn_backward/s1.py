import numpy as np


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    """Backward pass of one RNN step, h_next = tanh(x Wxh^T + h_prev Whh^T + b)."""
    da = dh_next * (1 - h_next ** 2)   # (N, H)
    dx = da @ Wxh                      # (N, H) @ (H, D) -> (N, D)
    dh_prev = da @ Whh                 # (N, H) @ (H, H) -> (N, H)
    dWxh = da.T @ x                    # (H, N) @ (N, D) -> (H, D)
    dWhh = da.T @ h_prev               # (H, N) @ (N, H) -> (H, H)
    db = da.sum(axis=0)                # (H,)
    return dx, dh_prev, dWxh, dWhh, db


def rnn_backward(dh, x, h0, h, Wxh, Whh):
    """Backpropagation through time for a tanh RNN (batch-first)."""
    N, T, H = dh.shape
    D = x.shape[2]
    dx = np.zeros((N, T, D))
    dWxh = np.zeros_like(Wxh)
    dWhh = np.zeros_like(Whh)
    db = np.zeros(H)
    dh_carry = np.zeros((N, H))
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        g = dh[:, t] + dh_carry
        dx_t, dh_carry, dWxh_t, dWhh_t, db_t = rnn_step_backward(g, x[:, t], h_prev, h[:, t], Wxh, Whh)
        dx[:, t] = dx_t
        dWxh += dWxh_t
        dWhh += dWhh_t
        db += db_t
    dh0 = dh_carry
    return dx, dh0, dWxh, dWhh, db
