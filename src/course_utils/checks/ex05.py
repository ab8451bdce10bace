"""Checks for notebook 05 (truncated BPTT): ``truncated_bptt`` in numpy.

``truncated_bptt(x, h0, Wxh, Whh, b, dh, k) -> (dWxh, dWhh, db, h_last)`` cuts the
sequence into chunks of ``k`` steps, carries the hidden state from chunk to chunk and
returns one gradient per chunk: ``dWxh (C, H, D)``, ``dWhh (C, H, H)``, ``db (C, H)`` with
``C = ceil(T / k)``, and the final state ``h_last (N, H)``. The reference is
:func:`course_utils.reference.nb05.truncated_bptt`.
"""

from __future__ import annotations

import numpy as np

from ..maths import tbptt
from ..reference import nb01 as _nb01
from ..reference import nb03 as _nb03
from ..reference import nb05 as _nb05
from .checker import Mistake
from .probes import Probes
from .registry import Exercise, check_functions

# Lesson modules whose functions compute the answer, or part of it (the fast versions,
# the gates): every entry's ``answer_modules`` below.
_ANSWER_MODULES = ("course_utils.maths.tbptt", "course_utils.lessons.tbptt_numpy",
                  "course_utils.maths.rnn")

# (N, T, D, H, k): batch > 1, T > k, k not dividing T (a shorter last chunk), D != H.
SHAPES = [(3, 10, 4, 5, 4), (2, 12, 3, 6, 3), (4, 7, 5, 3, 2), (2, 9, 2, 4, 9)]
OUTPUTS = ("dWxh", "dWhh", "db", "h_last")



def cases(seed: int = 501):
    rng = np.random.default_rng(seed)
    out = []
    for N, T, D, H, k in SHAPES:
        out.append(dict(x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)) * 0.5,
                        Wxh=rng.normal(size=(H, D)) * 0.5, Whh=rng.normal(size=(H, H)) * 0.5,
                        b=rng.normal(size=H) * 0.5, dh=rng.normal(size=(N, T, H)), k=k))
    return out


def _chunked(x, h0, Wxh, Whh, b, dh, k, *, carry="state", accumulate=False):
    """Chunked TBPTT with switchable bugs (for the classic mistakes)."""
    T = x.shape[1]
    bounds = tbptt.chunk_bounds(T, k)
    h_prev = h0
    gx, gh, gb = [], [], []
    acc = [np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(b)]
    for s, e in bounds:
        h_in = {"state": h_prev, "h0": h0, "zeros": np.zeros_like(h0)}[carry]
        h = _nb01.rnn_forward(x[:, s:e], h_in, Wxh, Whh, b)
        _, _, dWxh, dWhh, db = _nb03.rnn_backward(dh[:, s:e], x[:, s:e], h_in, h, Wxh, Whh)
        if accumulate:
            acc = [acc[0] + dWxh, acc[1] + dWhh, acc[2] + db]
            dWxh, dWhh, db = acc
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
        h_prev = h[:, -1]
    return np.stack(gx), np.stack(gh), np.stack(gb), h_prev


def _full_bptt_split(x, h0, Wxh, Whh, b, dh, k):
    """Gradient not truncated: each chunk's update includes the flow from later chunks'
    losses (what you get from one backward pass over everything, split by chunk)."""
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    T = x.shape[1]
    gx, gh, gb = [], [], []
    carry = np.zeros_like(h0)
    per = {}
    for s, e in reversed(tbptt.chunk_bounds(T, k)):
        h_in = h0 if s == 0 else h[:, s - 1]
        d = dh[:, s:e].copy()
        d[:, -1] += carry
        _, carry, dWxh, dWhh, db = _nb03.rnn_backward(d, x[:, s:e], h_in, h[:, s:e], Wxh, Whh)
        per[s] = (dWxh, dWhh, db)
    for s, _ in tbptt.chunk_bounds(T, k):
        gx.append(per[s][0])
        gh.append(per[s][1])
        gb.append(per[s][2])
    return np.stack(gx), np.stack(gh), np.stack(gb), h[:, -1]


def _first_state_carried(x, h0, Wxh, Whh, b, dh, k):
    h_prev = h0
    gx, gh, gb = [], [], []
    for s, e in tbptt.chunk_bounds(x.shape[1], k):
        h = _nb01.rnn_forward(x[:, s:e], h_prev, Wxh, Whh, b)
        _, _, dWxh, dWhh, db = _nb03.rnn_backward(dh[:, s:e], x[:, s:e], h_prev, h, Wxh, Whh)
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
        h_prev = h[:, 0]
    return np.stack(gx), np.stack(gh), np.stack(gb), h_prev


def _full_forward_h0_as_prev(x, h0, Wxh, Whh, b, dh, k):
    """One forward pass over the whole sequence (right states), then every chunk's backward
    pass is given ``h0`` as the state that entered it."""
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    gx, gh, gb = [], [], []
    for s, e in tbptt.chunk_bounds(x.shape[1], k):
        _, _, dWxh, dWhh, db = _nb03.rnn_backward(dh[:, s:e], x[:, s:e], h0, h[:, s:e], Wxh, Whh)
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
    return np.stack(gx), np.stack(gh), np.stack(gb), h[:, -1]


def _whole_dh(x, h0, Wxh, Whh, b, dh, k):
    """Every chunk backpropagates dh[:, :e-s] (the first steps' gradients), not its own."""
    h_prev = h0
    gx, gh, gb = [], [], []
    for s, e in tbptt.chunk_bounds(x.shape[1], k):
        h = _nb01.rnn_forward(x[:, s:e], h_prev, Wxh, Whh, b)
        _, _, dWxh, dWhh, db = _nb03.rnn_backward(dh[:, : e - s], x[:, s:e], h_prev, h, Wxh, Whh)
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
        h_prev = h[:, -1]
    return np.stack(gx), np.stack(gh), np.stack(gb), h_prev


# A missing last chunk (T not a multiple of k) gives a shape error, which the checker
# reports by itself ("Axis 0 has one entry too few"); no Mistake is needed for it.
MISTAKES = [
    Mistake("every chunk starts again from h0: the hidden state is not carried forward. "
            "Truncation cuts the *gradient*, not the state: start chunk c+1 from the last "
            "state of chunk c.", lambda **kw: _chunked(**kw, carry="h0"),
            name="chunks-restart-from-h0"),
    Mistake("every chunk starts from a zero state: the hidden state is not carried forward "
            "(that is a *stateless* model). Start chunk c+1 from the last state of chunk c.",
            lambda **kw: _chunked(**kw, carry="zeros"), name="chunks-restart-from-zeros"),
    Mistake("the gradients add up over chunks: each output must hold *one* chunk's gradient. "
            "Reset your accumulators for every chunk (the numpy version of forgetting "
            "`optimizer.zero_grad()`).", lambda **kw: _chunked(**kw, accumulate=True),
            name="gradients-accumulate-over-chunks"),
    Mistake("the gradient is not truncated: the gradient of later chunks' losses flows "
            "back into earlier chunks (that is full BPTT, split by chunk). Drop the `dh0` "
            "that `rnn_backward` returns instead of passing it on.", _full_bptt_split,
            name="not-truncated"),
    Mistake("the hidden states are right (your forward pass is), but every chunk's backward "
            "pass is given `h0` as the state that entered the chunk. For chunk c+1 that state "
            "is the last state of chunk c, `h[:, s - 1]` (only the first chunk starts from "
            "`h0`): pass it to `rnn_backward` as the chunk's initial state, or `dWhh` of "
            "every chunk after the first is wrong.", _full_forward_h0_as_prev,
            name="backward-uses-h0-for-every-chunk"),
    Mistake("the state carried to the next chunk is the chunk's *first* state `h[:, 0]`; it "
            "must be the last one, `h[:, -1]`.", _first_state_carried, name="carries-first-state"),
    Mistake("every chunk uses the loss gradients of the first steps, `dh[:, :k]`; use the "
            "chunk's own slice `dh[:, s:e]`.", _whole_dh, name="first-steps-gradients"),
]


EXERCISES = (
    Exercise("ex05_truncated_bptt", 5, "Chunked truncated BPTT in numpy", 3,
             function="truncated_bptt", reference=_nb05.truncated_bptt, cases=cases, seed=501,
             outputs=OUTPUTS, mistakes=tuple(MISTAKES),
             description="4 random cases (batch > 1, T not a multiple of k, D != H) against "
             "the reference.", binds="tbptt_fn",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",), helpers=(_nb01.rnn_forward, _nb03.rnn_backward),
             probes=Probes(time=(("x", 1), ("dh", 1)), chunk="k", zero=("h0",),
                           square=("Whh",), batch=("x", "h0", "dh"))),
)
(check_truncated_bptt,) = check_functions(EXERCISES)
