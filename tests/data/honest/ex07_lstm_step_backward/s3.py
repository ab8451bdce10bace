import numpy as np

from course_utils.maths import lstm


def lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    N, H = h_prev.shape
    # pre-activations, viewed as (N, 4, H): gate k is pre[:, k]
    pre = (np.einsum("nd,kd->nk", x, Wx) + np.einsum("nh,kh->nk", h_prev, Wh) + b).reshape(N, 4, H)
    gates = np.empty_like(pre)
    gates[:, [0, 1, 3]] = lstm.sigmoid(pre[:, [0, 1, 3]])
    gates[:, 2] = np.tanh(pre[:, 2])
    i, f, g, o = gates[:, 0], gates[:, 1], gates[:, 2], gates[:, 3]

    c_new = f * c_prev + i * g
    t = np.tanh(c_new)

    dc_total = dc_next + dh_next * o * (1.0 - t**2)

    # gradients w.r.t. the gate values, same layout as gates
    dgates = np.stack([dc_total * g, dc_total * c_prev, dc_total * i, dh_next * t], axis=1)
    # local derivatives of the activations
    local = np.stack([i * (1 - i), f * (1 - f), 1 - g**2, o * (1 - o)], axis=1)
    dpre = (dgates * local).reshape(N, 4 * H)

    dx = np.einsum("nk,kd->nd", dpre, Wx)
    dh_prev = np.einsum("nk,kh->nh", dpre, Wh)
    dc_prev = dc_total * f
    dWx = np.einsum("nk,nd->kd", dpre, x)
    dWh = np.einsum("nk,nh->kh", dpre, h_prev)
    db = dpre.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db
