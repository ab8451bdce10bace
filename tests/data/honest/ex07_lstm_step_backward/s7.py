import numpy as np

from course_utils.maths import lstm


def lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    """Backward pass of one LSTM step (no cache: the gates are recomputed)."""
    H = c_prev.shape[-1]
    # written as in the maths, one example per column, then transposed back at the end
    X, Hp, Cp = x.T, h_prev.T, c_prev.T                 # (D, N), (H, N), (H, N)
    A = Wx @ X + Wh @ Hp + b[:, None]                   # (4H, N)
    i = lstm.sigmoid(A[:H])
    f = lstm.sigmoid(A[H:2*H])
    g = np.tanh(A[2*H:3*H])
    o = lstm.sigmoid(A[3*H:])
    C = f * Cp + i * g
    tC = np.tanh(C)

    G = dh_next.T                                       # dL/dh_t, columns
    dC = dc_next.T + G * o * (1 - tC**2)
    delta = np.vstack([dC * g * i * (1 - i),
                       dC * Cp * f * (1 - f),
                       dC * i * (1 - g**2),
                       G * tC * o * (1 - o)])          # (4H, N)

    dx = (Wx.T @ delta).T
    dh_prev = (Wh.T @ delta).T
    dc_prev = (dC * f).T
    dWx = delta @ X.T
    dWh = delta @ Hp.T
    db = delta.sum(axis=1)
    return dx, dh_prev, dc_prev, dWx, dWh, db
