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


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    N, H = h_prev.shape
    pre = (np.einsum("nd,kd->nk", x, Wx) + np.einsum("nh,kh->nk", h_prev, Wh) + b).reshape(N, 4, H)
    i = lstm.sigmoid(pre[:, 0])
    f = lstm.sigmoid(pre[:, 1])
    g = np.tanh(pre[:, 2])
    o = lstm.sigmoid(pre[:, 3])
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    return h_next, c_next


def lstm_forward(x, h0, c0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H))
    c = np.empty((N, T, H))
    for t in range(T):
        prev_h = h0 if t == 0 else h[:, t - 1]
        prev_c = c0 if t == 0 else c[:, t - 1]
        h[:, t], c[:, t] = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
    return h, c


seq_forward = lstm_forward
step_backward = lstm_step_backward


def lstm_backward(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    """BPTT through lstm_forward.

    Nothing cached: states from seq_forward, one step_backward per step.
    """
    N, T, D = x.shape
    H = h0.shape[1]
    h, c = seq_forward(x, h0, c0, Wx, Wh, b)

    # states entering each step: (h_0, c_0), (h_1, c_1), ..., (h_{T-1}, c_{T-1})
    h_in = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    c_in = np.concatenate([c0[:, None], c[:, :-1]], axis=1)

    dx = np.empty((N, T, D))
    dWx = np.zeros((4 * H, D))
    dWh = np.zeros((4 * H, H))
    db = np.zeros(4 * H)

    r_h = np.zeros((N, H))                          # nothing comes back into h_T
    r_c = np.zeros((N, H)) if dcT is None else dcT  # only dcT into c_T
    t = T - 1
    while t >= 0:
        dx[:, t], r_h, r_c, gWx, gWh, gb = step_backward(
            dh[:, t] + r_h, r_c, x[:, t], h_in[:, t], c_in[:, t], Wx, Wh, b)
        dWx += gWx
        dWh += gWh
        db += gb
        t -= 1
    return dx, r_h, r_c, dWx, dWh, db
