import numpy as np

from course_utils.maths import lstm

ORDER = ("i", "f", "g", "o")


def lstm_step_backward(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx.T + h_prev @ Wh.T + b
    blocks = {name: a[:, k * H:(k + 1) * H] for k, name in enumerate(ORDER)}
    gate = {name: (np.tanh(v) if name == "g" else lstm.sigmoid(v)) for name, v in blocks.items()}

    c = gate["f"] * c_prev + gate["i"] * gate["g"]
    tc = np.tanh(c)

    dc = dc_next + dh_next * gate["o"] * (1 - tc * tc)
    dgate = {
        "i": dc * gate["g"],
        "f": dc * c_prev,
        "g": dc * gate["i"],
        "o": dh_next * tc,
    }
    # derivative of each activation, written with its output
    da = []
    for name in ORDER:
        y = gate[name]
        slope = 1 - y * y if name == "g" else y * (1 - y)
        da.append(dgate[name] * slope)
    da = np.concatenate(da, axis=1)

    return da @ Wx, da @ Wh, dc * gate["f"], da.T @ x, da.T @ h_prev, da.sum(axis=0)


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    H = h_prev.shape[1]
    a = x @ Wx.T + h_prev @ Wh.T + b
    gate = {name: a[:, k * H:(k + 1) * H] for k, name in enumerate(ORDER)}
    gate = {name: (np.tanh(v) if name == "g" else lstm.sigmoid(v)) for name, v in gate.items()}
    c_next = gate["f"] * c_prev + gate["i"] * gate["g"]
    return gate["o"] * np.tanh(c_next), c_next


def lstm_forward(x, h0, c0, Wx, Wh, b):
    states = [(h0, c0)]
    for t in range(x.shape[1]):
        states.append(lstm_step_forward(x[:, t], *states[-1], Wx, Wh, b))
    h = np.stack([s[0] for s in states[1:]], axis=1)
    c = np.stack([s[1] for s in states[1:]], axis=1)
    return h, c


seq_forward = lstm_forward
step_backward = lstm_step_backward


def lstm_backward(dh, x, h0, c0, Wx, Wh, b, dcT=None):
    T = x.shape[1]
    h, c = seq_forward(x, h0, c0, Wx, Wh, b)
    grads = {"Wx": np.zeros_like(Wx), "Wh": np.zeros_like(Wh), "b": np.zeros_like(b)}
    dx = np.zeros_like(x)
    carry_h = np.zeros_like(h0)
    carry_c = np.zeros_like(c0) if dcT is None else np.array(dcT, copy=True)
    for t in range(T)[::-1]:
        before = (h0, c0) if t == 0 else (h[:, t - 1], c[:, t - 1])
        dx[:, t], carry_h, carry_c, gWx, gWh, gb = step_backward(
            dh[:, t] + carry_h, carry_c, x[:, t], before[0], before[1], Wx, Wh, b)
        grads["Wx"] += gWx
        grads["Wh"] += gWh
        grads["b"] += gb
    return dx, carry_h, carry_c, grads["Wx"], grads["Wh"], grads["b"]
