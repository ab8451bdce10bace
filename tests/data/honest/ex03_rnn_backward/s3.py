import numpy as np


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    """Backward pass of one RNN step.

    dh_next (N,H), x (N,D), h_prev (N,H), h_next (N,H), Wxh (H,D), Whh (H,H)
    """
    # tanh'(a) = 1 - tanh(a)^2 = 1 - h_next^2
    delta = (1 - np.square(h_next)) * dh_next          # (N, H)

    # parameter gradients: sum of outer products over the batch
    dWxh = np.einsum("ni,nj->ij", delta, x)            # (H, D)
    dWhh = np.einsum("ni,nj->ij", delta, h_prev)       # (H, H)
    db = np.einsum("ni->i", delta)                     # (H,)

    # gradients w.r.t. the inputs of the step
    dx = np.einsum("ni,ij->nj", delta, Wxh)            # (N, D)
    dh_prev = np.einsum("ni,ij->nj", delta, Whh)       # (N, H)
    return dx, dh_prev, dWxh, dWhh, db


def rnn_backward(dh, x, h0, h, Wxh, Whh):
    """Backpropagation through time for a tanh RNN (batch-first)."""
    N, T, D = x.shape
    H = h0.shape[1]

    dx = np.empty((N, T, D))
    dWxh = np.zeros((H, D))
    dWhh = np.zeros((H, H))
    db = np.zeros((H,))

    grad_from_future = np.zeros((N, H))   # nothing comes back into the last step
    t = T - 1
    while t >= 0:
        prev_state = h0 if t == 0 else h[:, t - 1, :]
        total = dh[:, t, :] + grad_from_future
        dx[:, t, :], grad_from_future, gWxh, gWhh, gb = rnn_step_backward(
            total, x[:, t, :], prev_state, h[:, t, :], Wxh, Whh)
        dWxh += gWxh
        dWhh += gWhh
        db += gb
        t -= 1

    # after step 0, what is left is the gradient w.r.t. h0
    return dx, grad_from_future, dWxh, dWhh, db
