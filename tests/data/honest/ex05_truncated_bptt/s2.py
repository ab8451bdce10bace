import numpy as np

from course_utils.reference import nb01, nb03


def truncated_bptt(x, h0, Wxh, Whh, b, dh, k):
    N, T, D = x.shape
    H = Whh.shape[0]
    C = -(-T // k)  # ceil(T / k)
    dWxh = np.zeros((C, H, D))
    dWhh = np.zeros((C, H, H))
    db = np.zeros((C, H))
    h = h0
    for c in range(C):
        lo = c * k
        hi = min(T, lo + k)
        xs = x[:, lo:hi]
        hs = nb01.rnn_forward(xs, h, Wxh, Whh, b)
        grads = nb03.rnn_backward(dh[:, lo:hi], xs, h, hs, Wxh, Whh)
        # grads[1] is dL/dh at the chunk's start: truncated, so dropped
        dWxh[c], dWhh[c], db[c] = grads[2], grads[3], grads[4]
        h = hs[:, -1]
    return dWxh, dWhh, db, h
