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


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    H = c_prev.shape[-1]
    A = (Wx @ x.T + Wh @ h_prev.T + b[:, None]).T
    i, f, o = lstm.sigmoid(A[:, :H]), lstm.sigmoid(A[:, H:2*H]), lstm.sigmoid(A[:, 3*H:])
    g = np.tanh(A[:, 2*H:3*H])
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    return h_next, c_next


def lstm_forward(x, h0, c0, Wx, Wh, b):
    T = x.shape[1]
    h = np.zeros(x.shape[:2] + h0.shape[1:])
    c = np.zeros_like(h)
    for t in range(T):
        if t == 0:
            h[:, 0], c[:, 0] = lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
        else:
            h[:, t], c[:, t] = lstm_step_forward(x[:, t], h[:, t-1], c[:, t-1], Wx, Wh, b)
    return h, c


seq_forward = lstm_forward
step_backward = lstm_step_backward


def lstm_backward(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    """BPTT through lstm_forward (no cache)."""
    h, c = seq_forward(x, h0, c0, Wx, Wh, b)
    # work on a copy of dh: the carried gradient is added into it
    g = np.array(dh, dtype=float)
    T = g.shape[1]
    dx = np.zeros(x.shape)
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(b.shape)
    dc = np.zeros(c0.shape) if dcT is None else dcT
    dh0 = dc0 = None
    for t in range(T - 1, -1, -1):
        hprev = h[:, t-1] if t else h0
        cprev = c[:, t-1] if t else c0
        dxt, dhp, dc, a1, a2, a3 = step_backward(g[:, t], dc, x[:, t], hprev, cprev, Wx, Wh, b)
        dx[:, t] = dxt
        dWx += a1
        dWh += a2
        db += a3
        if t:
            g[:, t-1] += dhp
        else:
            dh0, dc0 = dhp, dc
    return dx, dh0, dc0, dWx, dWh, db
