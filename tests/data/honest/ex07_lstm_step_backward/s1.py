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
