import numpy as np


def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
    da = np.multiply(dh_next, 1 - np.power(h_next, 2))
    db = np.sum(da, axis=0)
    dWhh = np.matmul(da.T, h_prev)
    dh_prev = np.matmul(da, Whh)
    dWxh = np.matmul(da.T, x)
    dx = np.matmul(da, Wxh)
    return dx, dh_prev, dWxh, dWhh, db


def rnn_backward(dh, x, h0, h, Wxh, Whh):
    N, T, H = h.shape
    dx_list = []
    dWxh = None
    dWhh = None
    db = None
    dh_prev = np.zeros((N, H))
    for i in range(T):
        t = T - 1 - i                       # go backwards: T-1, ..., 0
        prev = h[:, t - 1] if t >= 1 else h0
        step = rnn_step_backward(dh[:, t] + dh_prev, x[:, t], prev, h[:, t], Wxh, Whh)
        dx_t, dh_prev, dWxh_t, dWhh_t, db_t = step
        dx_list.insert(0, dx_t)
        if dWxh is None:
            dWxh, dWhh, db = dWxh_t, dWhh_t, db_t
        else:
            dWxh = dWxh + dWxh_t
            dWhh = dWhh + dWhh_t
            db = db + db_t
    dx = np.stack(dx_list, axis=1)
    dh0 = dh_prev
    return dx, dh0, dWxh, dWhh, db
