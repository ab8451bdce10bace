"""Reference solutions of notebook 01's exercises: one RNN step, then a whole sequence.

Shapes and layout as in :mod:`course_utils.maths.rnn` (``Wxh`` (H, D), ``Whh`` (H, H), ``b`` (H,),
batch-first sequences). The checks in :mod:`course_utils.checks.ex01` compare a
student's functions with these; later notebooks import them once the exercise is done.
"""

from __future__ import annotations

import numpy as np


def rnn_step_forward(x, h_prev, Wxh, Whh, b):
    """One time step of a tanh RNN.

    Args:
        x: (N, D) inputs at this step.
        h_prev: (N, H) hidden state from the previous step.
        Wxh: (H, D) input-to-hidden weights.
        Whh: (H, H) hidden-to-hidden weights.
        b: (H,) bias.

    Returns:
        h_next: (N, H) new hidden state, ``tanh(x @ Wxh.T + h_prev @ Whh.T + b)``.
    """
    return np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)


def rnn_forward(x, h0, Wxh, Whh, b):
    """Run the RNN over a whole sequence by repeating :func:`rnn_step_forward`.

    Args:
        x: (N, T, D) input sequence, batch-first.
        h0: (N, H) initial hidden state.
        Wxh: (H, D), Whh: (H, H), b: (H,) as in :func:`rnn_step_forward`.

    Returns:
        h: (N, T, H) hidden states ``h_1 … h_T`` (``h0`` is not included).
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, Wxh, Whh, b))
    h_prev = h0
    for t in range(T):
        h_prev = rnn_step_forward(x[:, t], h_prev, Wxh, Whh, b)
        h[:, t] = h_prev
    return h
