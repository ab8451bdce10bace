import numpy as np


def lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    H = Wh.shape[1]
    A = np.matmul(x, Wx.T) + np.matmul(h_prev, Wh.T) + b
    sig = lambda v: 0.5 * (1.0 + np.tanh(0.5 * v))  # stable sigmoid
    ig = sig(A[:, 0:H])
    fg = sig(A[:, H:2 * H])
    gg = np.tanh(A[:, 2 * H:3 * H])
    og = sig(A[:, 3 * H:4 * H])
    c_next = fg * c_prev + ig * gg
    tanhc = np.tanh(c_next)

    d_o = dh_next * tanhc
    d_c = dh_next * og * (1 - tanhc ** 2) + dc_next
    d_f = d_c * c_prev
    d_i = d_c * gg
    d_g = d_c * ig

    dA = np.concatenate((d_i * ig * (1 - ig),
                         d_f * fg * (1 - fg),
                         d_g * (1 - gg ** 2),
                         d_o * og * (1 - og)), axis=-1)

    dWx = np.matmul(dA.T, x)
    dWh = np.matmul(dA.T, h_prev)
    db = dA.sum(0)
    dx = np.matmul(dA, Wx)
    dh_prev = np.matmul(dA, Wh)
    dc_prev = d_c * fg
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    H = Wh.shape[1]
    A = np.matmul(x, Wx.T) + np.matmul(h_prev, Wh.T) + b
    sig = lambda v: 0.5 * (1.0 + np.tanh(0.5 * v))
    c_next = sig(A[:, H:2 * H]) * c_prev + sig(A[:, 0:H]) * np.tanh(A[:, 2 * H:3 * H])
    h_next = sig(A[:, 3 * H:4 * H]) * np.tanh(c_next)
    return h_next, c_next


def lstm_forward(x, h0, c0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    c = np.zeros((N, T, H))
    hprev, cprev = h0, c0
    for t in range(T):
        hprev, cprev = lstm_step_forward(x[:, t], hprev, cprev, Wx, Wh, b)
        h[:, t] = hprev
        c[:, t] = cprev
    return h, c


seq_forward = lstm_forward
step_backward = lstm_step_backward


def lstm_backward(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    h, c = seq_forward(x, h0, c0, Wx, Wh, b)
    N, T, H = h.shape
    dx_list = []
    dWx = np.zeros(Wx.shape)
    dWh = np.zeros(Wh.shape)
    db = np.zeros(b.shape)
    dhp = np.zeros((N, H))
    dcp = dcT if dcT is not None else np.zeros((N, H))
    for k in range(T):
        t = T - 1 - k
        hp = h[:, t - 1] if t >= 1 else h0
        cp = c[:, t - 1] if t >= 1 else c0
        out = step_backward(dh[:, t] + dhp, dcp, x[:, t], hp, cp, Wx, Wh, b)
        dx_list.insert(0, out[0])
        dhp, dcp = out[1], out[2]
        dWx = dWx + out[3]
        dWh = dWh + out[4]
        db = db + out[5]
    return np.stack(dx_list, axis=1), dhp, dcp, dWx, dWh, db
