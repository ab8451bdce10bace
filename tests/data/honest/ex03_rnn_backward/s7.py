import numpy as np


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    # delta = dL/da, with tanh' = 1 - h^2
    delta = dh_next - dh_next * h_next * h_next
    N = x.shape[0]
    H, D = Wxh.shape
    dWxh = np.zeros((H, D))
    dWhh = np.zeros((H, H))
    for n in range(N):  # sum the outer products of the samples
        dWxh += np.outer(delta[n], x[n])
        dWhh += np.outer(delta[n], h_prev[n])
    db = delta.sum(axis=0)
    dx = delta @ Wxh
    dh_prev = delta @ Whh
    return dx, dh_prev, dWxh, dWhh, db


def rnn_backward(dh, x, h0, h, Wxh, Whh):
    # copy so the caller's dh is not modified
    g = dh.copy()
    T = g.shape[1]
    dx = np.zeros(x.shape)
    dWxh = np.zeros(Wxh.shape)
    dWhh = np.zeros(Whh.shape)
    db = np.zeros(Whh.shape[0])
    dh0 = None
    for t in range(T - 1, -1, -1):
        hprev = h[:, t - 1] if t > 0 else h0
        dxt, dhp, a, bb, c = rnn_step_backward(g[:, t], x[:, t], hprev, h[:, t], Wxh, Whh)
        dx[:, t] = dxt
        dWxh += a
        dWhh += bb
        db += c
        if t > 0:
            g[:, t - 1] += dhp   # gradient flowing into the previous state
        else:
            dh0 = dhp
    return dx, dh0, dWxh, dWhh, db
