import numpy as np

from course_utils.reference import nb01, nb03


def truncated_bptt(x, h0, Wxh, Whh, b, dh, k):
    N, T, D = x.shape
    H = h0.shape[1]
    starts = np.arange(0, T, k)
    dWxh = np.empty((len(starts), H, D))
    dWhh = np.empty((len(starts), H, H))
    db = np.empty((len(starts), H))
    hcur = h0.copy()
    for idx, st in enumerate(starts):
        en = st + k if st + k < T else T
        hseq = nb01.rnn_forward(x[:, st:en], hcur, Wxh, Whh, b)
        res = nb03.rnn_backward(dh[:, st:en], x[:, st:en], hcur, hseq, Wxh, Whh)
        dWxh[idx] = res[2]
        dWhh[idx] = res[3]
        db[idx] = res[4]
        hcur = hseq[:, -1].copy()
    return dWxh, dWhh, db, hcur
