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
