import numpy as np

from course_utils.reference import nb01, nb03


def truncated_bptt(x, h0, Wxh, Whh, b, dh, k):
    """TBPTT(k, k): cut into chunks of k steps, carry the hidden state forward,
    drop the gradient w.r.t. each chunk's incoming state."""
    T = x.shape[1]
    cuts = list(range(k, T, k))
    x_chunks = np.split(x, cuts, axis=1)
    dh_chunks = np.split(dh, cuts, axis=1)

    per_chunk = []
    state = h0
    for x_c, dh_c in zip(x_chunks, dh_chunks):
        h_c = nb01.rnn_forward(x_c, state, Wxh, Whh, b)
        _dx, _dstate, gWxh, gWhh, gb = nb03.rnn_backward(dh_c, x_c, state, h_c, Wxh, Whh)
        per_chunk.append((gWxh, gWhh, gb))
        state = h_c[:, -1, :]

    gWxh, gWhh, gb = (np.array(g) for g in zip(*per_chunk))
    return gWxh, gWhh, gb, state
