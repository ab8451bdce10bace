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
