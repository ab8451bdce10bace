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
