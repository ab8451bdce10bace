"""Checks for notebook 01 (unrolling an RNN): ``rnn_step_forward`` and ``rnn_forward``."""

from __future__ import annotations

import numpy as np

from ..reference import nb01 as _nb01
from .checker import Mistake
from .probes import Probes, scaled
from .registry import Exercise, check_functions

# Lesson modules whose functions compute the answer, or part of it (the fast versions,
# the gates): every entry's ``answer_modules`` below.
_ANSWER_MODULES = ("course_utils.maths.rnn",)

# (N, D, H) for the step checks. The first case is square in D and H so that a
# transposed Wxh gives wrong numbers (diagnosed) instead of a shape error; the others
# are non-square so a transposed weight cannot pass.
STEP_SHAPES = [(3, 5, 5), (2, 3, 4), (4, 6, 3), (5, 2, 7)]
# (N, T, D, H) for the sequence checks.
SEQ_SHAPES = [(3, 4, 5, 5), (2, 6, 3, 4), (4, 3, 5, 2)]


def _step_case(rng, N, D, H):
    return dict(x=rng.normal(size=(N, D)), h_prev=rng.normal(size=(N, H)) * 0.5,
                Wxh=rng.normal(size=(H, D)) * 0.5, Whh=rng.normal(size=(H, H)) * 0.5,
                b=rng.normal(size=H) * 0.5)


def _seq_case(rng, N, T, D, H):
    return dict(x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)) * 0.5,
                Wxh=rng.normal(size=(H, D)) * 0.5, Whh=rng.normal(size=(H, H)) * 0.5,
                b=rng.normal(size=H) * 0.5)


def step_cases(seed: int = 101):
    rng = np.random.default_rng(seed)
    return [_step_case(rng, *s) for s in STEP_SHAPES]


def seq_cases(seed: int = 102):
    rng = np.random.default_rng(seed)
    return [_seq_case(rng, *s) for s in SEQ_SHAPES]


STEP_MISTAKES = [
    Mistake("you used `h_prev @ Whh` instead of `h_prev @ Whh.T`. Whh maps h_{t-1} to h_t, "
            "so with row vectors it is applied transposed.",
            lambda x, h_prev, Wxh, Whh, b: np.tanh(x @ Wxh.T + h_prev @ Whh + b),
            name="whh-not-transposed"),
    Mistake("you used `x @ Wxh` instead of `x @ Wxh.T`. Wxh is (H, D): it maps a D-vector "
            "to an H-vector, so row vectors need its transpose.",
            lambda x, h_prev, Wxh, Whh, b: np.tanh(x @ Wxh + h_prev @ Whh.T + b),
            name="wxh-not-transposed"),
    Mistake("both weight matrices are used untransposed (`x @ Wxh`, `h_prev @ Whh`).",
            lambda x, h_prev, Wxh, Whh, b: np.tanh(x @ Wxh + h_prev @ Whh + b),
            name="both-weights-not-transposed"),
    Mistake("the bias `b` is missing.",
            lambda x, h_prev, Wxh, Whh, b: np.tanh(x @ Wxh.T + h_prev @ Whh.T),
            name="bias-missing"),
    Mistake("the tanh is missing: h_next must be tanh of the pre-activation.",
            lambda x, h_prev, Wxh, Whh, b: x @ Wxh.T + h_prev @ Whh.T + b, name="tanh-missing"),
    Mistake("the previous hidden state is ignored (no `h_prev @ Whh.T` term).",
            lambda x, h_prev, Wxh, Whh, b: np.tanh(x @ Wxh.T + b), name="h-prev-ignored"),
    Mistake("the input is ignored (no `x @ Wxh.T` term).",
            lambda x, h_prev, Wxh, Whh, b: np.tanh(h_prev @ Whh.T + b), name="input-ignored"),
    Mistake("you used a sigmoid instead of tanh.",
            lambda x, h_prev, Wxh, Whh, b: 1 / (1 + np.exp(-(x @ Wxh.T + h_prev @ Whh.T + b))),
            name="sigmoid-not-tanh"),
    Mistake("you used ReLU instead of tanh.",
            lambda x, h_prev, Wxh, Whh, b: np.maximum(0, x @ Wxh.T + h_prev @ Whh.T + b),
            name="relu-not-tanh"),
    Mistake("the bias is added after the tanh instead of inside it.",
            lambda x, h_prev, Wxh, Whh, b: np.tanh(x @ Wxh.T + h_prev @ Whh.T) + b,
            name="bias-outside-tanh"),
]


def _never_updated(x, h0, Wxh, Whh, b):
    return np.stack([_nb01.rnn_step_forward(x[:, t], h0, Wxh, Whh, b)
                     for t in range(x.shape[1])], axis=1)


def _stores_previous(x, h0, Wxh, Whh, b):
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    return np.concatenate([h0[:, None], h[:, :-1]], axis=1)


def _last_step_only(x, h0, Wxh, Whh, b):
    h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
    return np.repeat(h[:, -1:], x.shape[1], axis=1)


def _first_input_only(x, h0, Wxh, Whh, b):
    return _nb01.rnn_forward(np.repeat(x[:, :1], x.shape[1], axis=1), h0, Wxh, Whh, b)


def _reversed_time(x, h0, Wxh, Whh, b):
    return _nb01.rnn_forward(x[:, ::-1], h0, Wxh, Whh, b)


def _zero_h0(x, h0, Wxh, Whh, b):
    return _nb01.rnn_forward(x, np.zeros_like(h0), Wxh, Whh, b)


SEQ_MISTAKES = [
    Mistake("every step starts from h0: the hidden state is never carried forward. "
            "Update `h_prev` to the new state inside the loop.", _never_updated,
            name="state-not-carried"),
    Mistake("the outputs are shifted by one step: position t holds h_{t-1} (you stored the "
            "state before updating it, so h0 appears and h_T is missing).", _stores_previous,
            name="outputs-shifted"),
    Mistake("every position holds the final state: you stored a reference to one array "
            "that kept changing, or filled all positions after the loop.", _last_step_only,
            name="final-state-everywhere"),
    Mistake("every step reads the first input x[:, 0]: index the input with the loop "
            "variable, x[:, t].", _first_input_only, name="first-input-only"),
    Mistake("time runs backwards: step t must read x[:, t] for t = 0, 1, …, T−1.",
            _reversed_time, name="time-reversed"),
    Mistake("the given h0 is ignored (you started from zeros).", _zero_h0, name="h0-ignored"),
]


# A probe: tiny weights, where tanh(a) = a to within the check's tolerance.
_SMALL = scaled(("Wxh", "Whh", "b"), 1e-5, "weights 10⁻⁵ times smaller (where tanh(a) ≈ a)",
                "look at the nonlinearity")

EXERCISES = (
    Exercise("ex01_rnn_step_forward", 1, "One RNN step, forward", 2,
             function="rnn_step_forward", reference=_nb01.rnn_step_forward,
             cases=step_cases, seed=101, outputs=("h_next",), mistakes=tuple(STEP_MISTAKES),
             description="compares with the reference on 4 random cases (non-square shapes, "
             "batch > 1).", binds="step_forward",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",),
             probes=Probes(zero=("h_prev", "x", "b"), square=("Whh", "Wxh"),
                           batch=("x", "h_prev"), settings=(_SMALL,))),
    Exercise("ex01_rnn_forward", 1, "A whole sequence, forward", 3,
             function="rnn_forward", reference=_nb01.rnn_forward, cases=seq_cases, seed=102,
             outputs=("h",), mistakes=tuple(SEQ_MISTAKES),
             description="compares with the reference on 3 random batches of sequences.",
             binds="seq_forward",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",),
             probes=Probes(time=(("x", 1),), out_time=(("h", 1),), zero=("h0", "b"),
                           square=("Whh", "Wxh"), batch=("x", "h0"), settings=(_SMALL,),
                           uses=("ex01_rnn_step_forward",))),
)
check_rnn_step_forward, check_rnn_forward = check_functions(EXERCISES)
