import numpy as np

from course_utils.reference import nb01, nb03


def _chunks(T, k):
    start = 0
    while start < T:
        yield start, min(start + k, T)
        start += k


def truncated_bptt(x, h0, Wxh, Whh, b, dh, k):
    grads = []
    h_last = h0
    for s, e in _chunks(x.shape[1], k):
        # forward from the carried state (never truncated)
        h = nb01.rnn_forward(x[:, s:e, :], h_last, Wxh, Whh, b)
        # backward over this chunk only; the gradient into h_last is thrown away
        g = nb03.rnn_backward(dh[:, s:e, :], x[:, s:e, :], h_last, h, Wxh, Whh)
        grads.append(g[2:])
        h_last = h[:, e - s - 1, :]
    dWxh = np.stack([g[0] for g in grads])
    dWhh = np.stack([g[1] for g in grads])
    db = np.stack([g[2] for g in grads])
    return dWxh, dWhh, db, h_last
