import numpy as np

from course_utils.reference import nb01, nb03


def truncated_bptt(x, h0, Wxh, Whh, b, dh, k):
    """TBPTT(k, k) over one long sequence: chunks of k steps, state carried, gradient not."""
    T = x.shape[1]
    dWxh_all, dWhh_all, db_all = [], [], []
    h_start = h0
    for s in range(0, T, k):
        e = min(s + k, T)
        h_chunk = nb01.rnn_forward(x[:, s:e], h_start, Wxh, Whh, b)
        _, _, dWxh, dWhh, db = nb03.rnn_backward(dh[:, s:e], x[:, s:e], h_start, h_chunk, Wxh, Whh)
        dWxh_all.append(dWxh)
        dWhh_all.append(dWhh)
        db_all.append(db)
        h_start = h_chunk[:, -1]   # carry the state, not the gradient
    return np.stack(dWxh_all), np.stack(dWhh_all), np.stack(db_all), h_start
