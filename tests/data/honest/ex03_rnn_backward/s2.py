import numpy as np


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    dtanh = 1.0 - h_next * h_next
    d = dh_next * dtanh
    dWxh = np.dot(d.T, x)
    dWhh = np.dot(d.T, h_prev)
    db = np.sum(d, axis=0)
    dx = np.dot(d, Wxh)
    dh_prev = np.dot(d, Whh)
    return dx, dh_prev, dWxh, dWhh, db


def rnn_backward(dh, x, h0, h, Wxh, Whh):
    T = x.shape[1]
    dxs = []
    dWxh, dWhh, db = 0, 0, 0
    dnext = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        if t == 0:
            hp = h0
        else:
            hp = h[:, t - 1]
        out = rnn_step_backward(dh[:, t] + dnext, x[:, t], hp, h[:, t], Wxh, Whh)
        dxs.append(out[0])
        dnext = out[1]
        dWxh = dWxh + out[2]
        dWhh = dWhh + out[3]
        db = db + out[4]
    dx = np.stack(dxs[::-1], axis=1)
    return dx, dnext, dWxh, dWhh, db
