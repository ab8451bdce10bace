import numpy as np

from course_utils.maths import lstm


def lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    """Backward pass of one LSTM step."""
    # recompute the forward step
    a = x @ Wx.T + h_prev @ Wh.T + b              # (N, 4H)
    ai, af, ag, ao = np.split(a, 4, axis=1)
    i, f, g, o = lstm.sigmoid(ai), lstm.sigmoid(af), np.tanh(ag), lstm.sigmoid(ao)
    c_next = f * c_prev + i * g
    tc = np.tanh(c_next)

    # back through h_next = o * tanh(c_next)
    do = dh_next * tc
    dc = dc_next + dh_next * o * (1 - tc ** 2)

    # back through c_next = f * c_prev + i * g
    di = dc * g
    df = dc * c_prev
    dg = dc * i
    dc_prev = dc * f

    # back through the nonlinearities
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)],
                        axis=1)                  # (N, 4H)

    dx = da @ Wx                                  # (N, D)
    dh_prev = da @ Wh                             # (N, H)
    dWx = da.T @ x                                # (4H, D)
    dWh = da.T @ h_prev                           # (4H, H)
    db = da.sum(axis=0)                           # (4H,)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    a = x @ Wx.T + h_prev @ Wh.T + b
    ai, af, ag, ao = np.split(a, 4, axis=1)
    i, f, g, o = lstm.sigmoid(ai), lstm.sigmoid(af), np.tanh(ag), lstm.sigmoid(ao)
    c_next = f * c_prev + i * g
    h_next = o * np.tanh(c_next)
    return h_next, c_next


def lstm_forward(x, h0, c0, Wx, Wh, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    c = np.zeros((N, T, H))
    h_t, c_t = h0, c0
    for t in range(T):
        h_t, c_t = lstm_step_forward(x[:, t], h_t, c_t, Wx, Wh, b)
        h[:, t], c[:, t] = h_t, c_t
    return h, c


# what the check cells of sections 4 and 5 returned (this student's passed)
seq_forward = lstm_forward
step_backward = lstm_step_backward


# answer cell: ex07_lstm_backward
def lstm_backward(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    """BPTT through lstm_forward."""
    h, c = seq_forward(x, h0, c0, Wx, Wh, b)
    N, T, H = dh.shape
    dx = np.zeros_like(x)
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    dh_next = np.zeros((N, H))
    dc_next = np.zeros((N, H)) if dcT is None else dcT
    for t in reversed(range(T)):
        h_prev = h[:, t - 1] if t > 0 else h0
        c_prev = c[:, t - 1] if t > 0 else c0
        dx_t, dh_next, dc_next, dWx_t, dWh_t, db_t = step_backward(
            dh[:, t] + dh_next, dc_next, x[:, t], h_prev, c_prev, Wx, Wh, b)
        dx[:, t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dc_next, dWx, dWh, db
