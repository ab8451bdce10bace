import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    z = np.dot(x, Wx.T) + np.dot(h_prev, Wh.T) + b
    i = sigmoid(z[:, :H])
    f = sigmoid(z[:, H:2 * H])
    g = np.tanh(z[:, 2 * H:3 * H])
    o = sigmoid(z[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)

    dc = dc_next + dh_next * o * (1 - tanh_c * tanh_c)

    dz = np.zeros_like(z)
    dz[:, :H] = dc * g * i * (1 - i)
    dz[:, H:2 * H] = dc * c_prev * f * (1 - f)
    dz[:, 2 * H:3 * H] = dc * i * (1 - g * g)
    dz[:, 3 * H:] = dh_next * tanh_c * o * (1 - o)

    dc_prev = f * dc
    dx = np.dot(dz, Wx)
    dh_prev = np.dot(dz, Wh)
    dWx = np.dot(dz.T, x)
    dWh = np.dot(dz.T, h_prev)
    db = np.sum(dz, axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    z = np.dot(x, Wx.T) + np.dot(h_prev, Wh.T) + b
    i = sigmoid(z[:, :H])
    f = sigmoid(z[:, H:2 * H])
    g = np.tanh(z[:, 2 * H:3 * H])
    o = sigmoid(z[:, 3 * H:])
    c_next = f * c_prev + i * g
    return o * np.tanh(c_next), c_next


def lstm_forward(x, h0, c0, Wx, Wh, b):
    hs, cs = [], []
    h, c = h0, c0
    for t in range(x.shape[1]):
        h, c = lstm_step_forward(x[:, t, :], h, c, Wx, Wh, b)
        hs.append(h)
        cs.append(c)
    return np.stack(hs, axis=1), np.stack(cs, axis=1)


seq_forward = lstm_forward
step_backward = lstm_step_backward


def lstm_backward(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    h, c = seq_forward(x, h0, c0, Wx, Wh, b)
    T = x.shape[1]
    dxs = []
    dWx, dWh, db = 0, 0, 0
    dh_carry = np.zeros_like(h0)
    if dcT is None:
        dc_carry = np.zeros_like(c0)
    else:
        dc_carry = dcT.copy()
    for t in range(T - 1, -1, -1):
        if t == 0:
            hp, cp = h0, c0
        else:
            hp, cp = h[:, t - 1, :], c[:, t - 1, :]
        grads = step_backward(dh[:, t, :] + dh_carry, dc_carry, x[:, t, :], hp, cp, Wx, Wh, b)
        dxs.append(grads[0])
        dh_carry = grads[1]
        dc_carry = grads[2]
        dWx = dWx + grads[3]
        dWh = dWh + grads[4]
        db = db + grads[5]
    dx = np.stack(dxs[::-1], axis=1)
    return dx, dh_carry, dc_carry, dWx, dWh, db
