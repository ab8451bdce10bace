import math

import numpy as np

from course_utils.reference import nb01, nb03


def truncated_bptt(x, h0, Wxh, Whh, b, dh, k):
    T = x.shape[1]
    n_chunks = math.ceil(T / k)
    out = {"Wxh": [], "Whh": [], "b": []}
    h_prev = h0
    for j in range(n_chunks):
        sl = slice(j * k, (j + 1) * k)   # numpy clips the end of the last chunk
        h = nb01.rnn_forward(x[:, sl], h_prev, Wxh, Whh, b)
        dx, dh_in, dWxh, dWhh, db = nb03.rnn_backward(dh[:, sl], x[:, sl], h_prev, h, Wxh, Whh)
        out["Wxh"].append(dWxh)
        out["Whh"].append(dWhh)
        out["b"].append(db)
        h_prev = h[:, -1]
    return np.array(out["Wxh"]), np.array(out["Whh"]), np.array(out["b"]), h_prev
