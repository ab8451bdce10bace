"""Checks for notebook 04 (vanishing and exploding gradients).

* ``rnn_step_jacobian(x, h_prev, Wxh, Whh, b) -> J`` (N, H, H): ``∂h_next/∂h_prev``.
* ``jacobian_product(h, Whh, t, k) -> P`` (N, H, H): ``∂h_t/∂h_k = J_t ⋯ J_{k+1}``.
"""

from __future__ import annotations

import numpy as np

from ..reference import nb01 as _nb01
from ..reference import nb04 as _nb04
from .checker import Mistake
from .registry import WRITTEN, Exercise, check_functions

# Lesson modules whose functions compute the answer, or part of it (the fast versions,
# the gates): every entry's ``answer_modules`` below.
_ANSWER_MODULES = ("course_utils.maths.jacobians", "course_utils.lessons.vanishing")

# (N, D, H): batch > 1 and D != H, so the Jacobian with respect to x (H, D) has the wrong
# shape; every Whh is a random non-symmetric matrix so a transposed Jacobian cannot pass.
STEP_SHAPES = [(3, 4, 5), (2, 6, 3), (4, 2, 6)]
# (N, T, D, H, t, k). The first cases have 1 <= k and t < T so that the off-by-one
# mistakes (which would need h_0 or h_{T+1}) can be recognised; later ones reach k = 0
# and t = T, and one has a single factor.
PRODUCT_CASES = [(3, 9, 3, 5, 7, 2), (2, 8, 4, 3, 6, 3), (4, 6, 2, 4, 6, 0), (2, 5, 3, 6, 4, 3)]


def _step_case(rng, N, D, H):
    return dict(x=rng.normal(size=(N, D)), h_prev=rng.normal(size=(N, H)) * 0.7,
                Wxh=rng.normal(size=(H, D)) * 0.6, Whh=rng.normal(size=(H, H)) * 0.6,
                b=rng.normal(size=H) * 0.3)


def step_cases(seed: int = 401):
    rng = np.random.default_rng(seed)
    return [_step_case(rng, *s) for s in STEP_SHAPES]


def product_cases(seed: int = 402):
    """Hidden states of a random tanh RNN (moderately saturated, so tanh' varies a lot
    between steps and units) with the window (t, k)."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, T, D, H, t, k in PRODUCT_CASES:
        x = rng.normal(size=(N, T, D))
        Wxh = rng.normal(size=(H, D)) * 0.8
        Whh = rng.normal(size=(H, H)) * 1.2 / np.sqrt(H)
        b = rng.normal(size=H) * 0.3
        h = _nb01.rnn_forward(x, rng.normal(size=(N, H)) * 0.5, Wxh, Whh, b)
        cases.append(dict(h=h, Whh=Whh, t=t, k=k))
    return cases


# ---------------------------------------------------------------------------------------
# Exercise 1: one step's Jacobian
# ---------------------------------------------------------------------------------------
def _pre(x, h_prev, Wxh, Whh, b):
    return x @ Wxh.T + h_prev @ Whh.T + b


STEP_MISTAKES = [
    Mistake("the Jacobian is transposed: you built Whhᵀ · diag(1 − h²). Entry [i, j] must be "
            "∂h_next[i]/∂h_prev[j]: row i belongs to output unit i and is scaled by its tanh', "
            "and Whh enters as it is, not transposed.",
            lambda x, h_prev, Wxh, Whh, b: np.swapaxes(
                _nb04.rnn_step_jacobian(x, h_prev, Wxh, Whh, b), 1, 2), name="transposed"),
    Mistake("the diagonal is on the wrong side: you scaled column j of Whh by unit j's tanh' "
            "(Whh · diag(1 − h²)). tanh' belongs to the *output* unit i, so it scales row i, "
            "a diagonal on the left.",
            lambda x, h_prev, Wxh, Whh, b: (1 - np.tanh(_pre(x, h_prev, Wxh, Whh, b))**2)[:, None, :]
            * Whh, name="diag-on-wrong-side"),
    Mistake("the diag(tanh') factor is missing: you returned Whh for every example. The "
            "chain rule goes through the tanh, whose derivative is 1 − h_next².",
            lambda x, h_prev, Wxh, Whh, b: np.broadcast_to(Whh, (x.shape[0],) + Whh.shape).copy(),
            name="tanh-derivative-missing"),
    Mistake("tanh' is taken from the wrong step: you used 1 − h_prev². The derivative belongs "
            "to the tanh that *produces* h_next, so use 1 − h_next².",
            lambda x, h_prev, Wxh, Whh, b: (1 - h_prev**2)[:, :, None] * Whh,
            name="tanh-derivative-wrong-step"),
    Mistake("you used 1 − a² with a the pre-activation. tanh'(a) = 1 − tanh(a)², i.e. "
            "1 − h_next² with h_next = tanh(a).",
            lambda x, h_prev, Wxh, Whh, b: (1 - _pre(x, h_prev, Wxh, Whh, b)**2)[:, :, None] * Whh,
            name="tanh-derivative-of-preactivation"),
    Mistake("tanh' is written as 1 − h_next; it is 1 − h_next² (squared).",
            lambda x, h_prev, Wxh, Whh, b: (1 - np.tanh(_pre(x, h_prev, Wxh, Whh, b)))[:, :, None]
            * Whh, name="tanh-derivative-not-squared"),
    Mistake("you multiplied by h_next = tanh(a) instead of its derivative 1 − h_next².",
            lambda x, h_prev, Wxh, Whh, b: np.tanh(_pre(x, h_prev, Wxh, Whh, b))[:, :, None] * Whh,
            name="tanh-not-derivative"),
    Mistake("you used the sigmoid's derivative h(1 − h); for tanh it is 1 − h².",
            lambda x, h_prev, Wxh, Whh, b: (lambda h: (h * (1 - h))[:, :, None] * Whh)(
                np.tanh(_pre(x, h_prev, Wxh, Whh, b))), name="sigmoid-derivative"),
]


# ---------------------------------------------------------------------------------------
# Exercise 2: the product over a window
# ---------------------------------------------------------------------------------------
def _J(h, Whh, s):
    """J_s = ∂h_s/∂h_{s−1} = diag(1 − h_s²) Whh, with h_s = h[:, s−1]; (N, H, H)."""
    if s < 1:
        raise IndexError("h_0 is not stored in h")
    return (1 - h[:, s - 1] ** 2)[:, :, None] * Whh


def _eye(h):
    N, _, H = h.shape
    return np.broadcast_to(np.eye(H), (N, H, H)).copy()


def _product(h, Whh, factors):
    P = _eye(h)
    for F in factors:
        P = P @ F
    return P


def _reversed_order(h, Whh, t, k):
    return _product(h, Whh, [_J(h, Whh, s) for s in range(k + 1, t + 1)])


def _each_transposed(h, Whh, t, k):
    return _product(h, Whh, [np.swapaxes(_J(h, Whh, s), 1, 2) for s in range(t, k, -1)])


def _whole_transposed(h, Whh, t, k):
    return np.swapaxes(_nb04.jacobian_product(h, Whh, t, k), 1, 2)


def _no_diag(h, Whh, t, k):
    return _product(h, Whh, [np.broadcast_to(Whh, (h.shape[0],) + Whh.shape)] * (t - k))


def _diag_wrong_side(h, Whh, t, k):
    return _product(h, Whh, [Whh * (1 - h[:, s - 1] ** 2)[:, None, :] for s in range(t, k, -1)])


def _tanh_from_previous(h, Whh, t, k):
    return _product(h, Whh, [(1 - h[:, s - 2] ** 2)[:, :, None] * Whh if s >= 2 else None
                             for s in range(t, k, -1)])


def _tanh_from_next(h, Whh, t, k):
    if t >= h.shape[1]:
        raise IndexError("needs h_{T+1}")
    return _product(h, Whh, [(1 - h[:, s] ** 2)[:, :, None] * Whh for s in range(t, k, -1)])


def _one_too_many(h, Whh, t, k):
    return _product(h, Whh, [_J(h, Whh, s) for s in range(t, k - 1, -1)])


def _one_too_few(h, Whh, t, k):
    return _product(h, Whh, [_J(h, Whh, s) for s in range(t, k + 1, -1)])


def _elementwise(h, Whh, t, k):
    P = np.ones((h.shape[0],) + Whh.shape)
    for s in range(t, k, -1):
        P = P * _J(h, Whh, s)
    return P


PRODUCT_MISTAKES = [
    Mistake("the product is in the wrong order: you computed J_{k+1} ⋯ J_t. The chain rule "
            "gives ∂h_t/∂h_k = J_t J_{t−1} ⋯ J_{k+1}: the latest step's Jacobian stands on the "
            "left, so a factor added for an earlier step goes on the right.",
            _reversed_order, name="wrong-order"),
    Mistake("every factor is transposed (you multiplied the J_s.T). J_s[i, j] = ∂h_s[i]/∂h_{s−1}[j] "
            "= (1 − h_s[i]²) Whh[i, j].", _each_transposed, name="factors-transposed"),
    Mistake("the whole product is transposed: that is ∂h_t/∂h_k's transpose (the order of "
            "the factors and the side of the diag are both flipped). Entry [i, j] must be "
            "∂h_t[i]/∂h_k[j].", _whole_transposed, name="product-transposed"),
    Mistake("the diag(1 − h²) factors are missing: you computed Whh^(t−k). Each step's "
            "Jacobian is diag(1 − h_s²) · Whh.", _no_diag, name="tanh-derivatives-missing"),
    Mistake("the diagonal is on the wrong side: each factor must be diag(1 − h_s²) · Whh "
            "(rows scaled), not Whh · diag(1 − h_s²).", _diag_wrong_side,
            name="diag-on-wrong-side"),
    Mistake("tanh' comes from the wrong step: J_s needs 1 − h_s², the derivative of the tanh "
            "that produced h_s. Remember h[:, s−1] holds h_s (h_0 is not stored); you used "
            "h_{s−1}.", _tanh_from_previous, name="tanh-derivative-wrong-step"),
    Mistake("tanh' comes from the wrong step: J_s needs 1 − h_s², and h_s is h[:, s−1] "
            "(h_0 is not stored); you used h[:, s], i.e. h_{s+1}: the window is shifted by one "
            "step.", _tanh_from_next, name="tanh-derivative-off-by-one"),
    Mistake("one factor too many: ∂h_t/∂h_k has t − k factors, J_t ⋯ J_{k+1}; you also "
            "multiplied by J_k.", _one_too_many, name="one-factor-too-many"),
    Mistake("one factor too few: ∂h_t/∂h_k has t − k factors, J_t ⋯ J_{k+1}; you stopped at "
            "J_{k+2}.", _one_too_few, name="one-factor-too-few"),
    Mistake("you multiplied the Jacobians element-wise (`*`); they must be chained with the "
            "matrix product (`@`, batched over the first axis).", _elementwise,
            name="elementwise-product"),
]


EXERCISES = (
    Exercise("ex04_rnn_step_jacobian", 4, "The Jacobian of one RNN step", 2,
             function="rnn_step_jacobian", reference=_nb04.rnn_step_jacobian,
             cases=step_cases, seed=401, outputs=("J",), mistakes=tuple(STEP_MISTAKES),
             description="compares with the reference on 3 random cases (batch > 1, D != H, "
             "random Whh).", binds="step_jacobian_fn",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",)),
    Exercise("ex04_jacobian_product", 4, "The Jacobian product over a window", 3,
             function="jacobian_product", reference=_nb04.jacobian_product,
             cases=product_cases, seed=402, outputs=("P",), mistakes=tuple(PRODUCT_MISTAKES),
             description="4 random windows (t, k), including k = 0, t = T and a single factor.",
             binds="product_fn",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",)),
    Exercise("ex04_spectral_radius_vs_norm", 4, "Spectral radius or largest singular value?",
             1, kind=WRITTEN),
)
check_rnn_step_jacobian, check_jacobian_product = check_functions(EXERCISES)
