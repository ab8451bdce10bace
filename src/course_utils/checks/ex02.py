"""Checks for notebook 02 (deriving BPTT): the scalar RNN's gradient as a function.

``scalar_bptt(x, y, w, u, b, h0) -> (dw, du, db, dh0)`` for the scalar RNN
``h_t = tanh(w h_{t-1} + u x_t + b)`` with ``L = Σ_t ½ (h_t − y_t)²``
(see :mod:`course_utils.maths.scalar_rnn`).
"""

from __future__ import annotations

import numpy as np

from ..maths import scalar_rnn
from ..reference import nb02 as _nb02
from .checker import Mistake
from .registry import WRITTEN, Exercise, check_functions

# Lesson modules whose functions compute the answer, or part of it (the fast versions,
# the gates): every entry's ``answer_modules`` below.
_ANSWER_MODULES = ("course_utils.maths.scalar_rnn",)

OUTPUTS = ("dw", "du", "db", "dh0")
LENGTHS = [5, 8, 3, 11]


def cases(seed: int = 201):
    """Keyword arguments for ``scalar_bptt``: sequences of several lengths, T > 1."""
    rng = np.random.default_rng(seed)
    out = []
    for T in LENGTHS:
        out.append(dict(x=rng.normal(size=T), y=rng.normal(size=T) * 0.5,
                        w=float(rng.uniform(0.5, 1.2) * rng.choice([-1, 1])),
                        u=float(rng.normal()), b=float(rng.normal() * 0.3),
                        h0=float(rng.normal() * 0.5)))
    return out


def reference(x, y, w, u, b, h0):
    """The correct gradients (dw, du, db, dh0), by BPTT."""
    return _nb02.scalar_bptt(x, y, w, u, b, h0)


def _buggy(*, carry=True, deriv="h_t", prev0="h0", carry_deriv=True, reverse=True,
           dw_state="prev", mean=False, dh0="carry"):
    """BPTT for the scalar RNN with switches that reproduce classic mistakes."""
    def fn(x, y, w, u, b, h0):
        h = scalar_rnn.forward(x, w, u, b, h0)
        T = len(x)
        hp = scalar_rnn.previous_states(h, {"h0": h0, "zero": 0.0}[prev0])
        a = w * scalar_rnn.previous_states(h, h0) + u * np.asarray(x) + b
        dw = du = db = 0.0
        c = 0.0
        g1 = 0.0
        order = range(T - 1, -1, -1) if reverse else range(T)
        for t in order:
            g = h[t] - y[t] + (c if carry else 0.0)
            tanh_d = {"h_t": 1 - h[t] ** 2, "preact": 1 - a[t] ** 2,
                      "prev": 1 - hp[t] ** 2, "none": 1.0}[deriv]
            delta = g * tanh_d
            dw += delta * (hp[t] if dw_state == "prev" else h[t])
            du += delta * x[t]
            db += delta
            c = delta * w if carry_deriv else g * w
            if t == 0:
                g1 = g
        if mean:
            dw, du, db = dw / T, du / T, db / T
        return float(dw), float(du), float(db), float(c if dh0 == "carry" else g1)
    return fn


MISTAKES = [
    Mistake("only the direct term is there: each step's gradient must also receive what "
            "flows back from later steps, g_t = (h_t − y_t) + g_{t+1}·w·(1 − h_{t+1}²). "
            "Every path from L_t to an earlier use of w is missing.", _buggy(carry=False),
            name="direct-term-only"),
    Mistake("the tanh derivative is taken from the pre-activation: 1 − a_t² with "
            "a_t = w h_{t-1} + u x_t + b. It must be 1 − tanh(a_t)² = 1 − h_t².",
            _buggy(deriv="preact"), name="tanh-derivative-of-preactivation"),
    Mistake("the tanh derivative is taken at the wrong step: 1 − h_{t-1}² instead of "
            "1 − h_t² (h_t is what the tanh at step t produced).", _buggy(deriv="prev"),
            name="tanh-derivative-wrong-step"),
    Mistake("the tanh derivative is missing: multiply by 1 − h_t² before the gradient "
            "reaches w, u, b or h_{t-1}.", _buggy(deriv="none"), name="tanh-derivative-missing"),
    Mistake("the gradient passed back to h_{t-1} skips the tanh derivative: it is "
            "g_t·(1 − h_t²)·w, not g_t·w.", _buggy(carry_deriv=False),
            name="carry-skips-tanh-derivative"),
    Mistake("dL/dw uses h_t: w multiplies h_{t-1} in the forward pass, so the immediate "
            "derivative is (1 − h_t²)·h_{t-1}.", _buggy(dw_state="next"), name="dw-uses-h-t"),
    Mistake("the first step starts from 0 instead of h0: h_{t-1} at t = 1 is h_0.",
            _buggy(prev0="zero"), name="first-step-from-zero"),
    Mistake("the loop runs forwards in time: the gradient at h_t needs the gradient at "
            "h_{t+1} first, so go from t = T down to 1.", _buggy(reverse=False),
            name="loop-forwards"),
    Mistake("the gradients are averaged over time: a shared parameter's gradient is the "
            "*sum* of its contributions from every step.", _buggy(mean=True),
            name="averaged-over-time"),
    Mistake("`dh0` is the gradient at h_1, not at h_0: pass it back through step 1 "
            "(multiply by (1 − h_1²)·w).", _buggy(dh0="g1"), name="dh0-at-h1"),
]


EXERCISES = (
    Exercise("ex02_cost_of_paths", 2, "Cost of the path sum vs BPTT", 1, kind=WRITTEN),
    Exercise("ex02_scalar_bptt", 2, "Scalar BPTT", 3, function="scalar_bptt",
             reference=reference, cases=cases, seed=201, outputs=OUTPUTS,
             mistakes=tuple(MISTAKES), rtol=1e-9,
             description="4 random sequences (T = 3 to 11), against the reference, relative "
             "error < 1e-9.", binds="scalar_grads",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",)),
    Exercise("ex02_which_state", 2, "Which hidden state where", 1, kind=WRITTEN),
    Exercise("ex02_vanishing_bound", 2, "A bound on the path products", 1, kind=WRITTEN),
)
(check_scalar_bptt,) = check_functions(EXERCISES)
