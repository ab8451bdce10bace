"""Checks for notebook 03 (coding BPTT): ``rnn_step_backward``, ``rnn_backward`` and
``temporal_softmax_loss``.

The cases use the forward pass to make ``h_next`` (or ``h``) consistent with the inputs,
so a tanh derivative taken from the wrong quantity gives wrong numbers. The first case
of each list has D = H so that a transposed weight gives *values* that can be matched to
a classic mistake; the others are non-square so a transposed weight can never pass.
The loss's cases have N, T and V all different (a softmax over the wrong axis gives
wrong values, never a shape error), and the last one has scores around 1000, where a
softmax without the max-subtraction overflows.
"""

from __future__ import annotations

import numpy as np

from ..reference import nb01 as _nb01
from ..reference import nb03 as _nb03
from .checker import WRONG, Mistake
from .diagnosis import NAN_HINT, CheckText
from .probes import Probes
from .registry import Exercise, check_functions

# Lesson modules whose functions compute the answer, or part of it (the fast versions,
# the gates): every entry's ``answer_modules`` below.
_ANSWER_MODULES = ("course_utils.maths.rnn", "course_utils.maths.losses")

# (N, D, H) for the step checks, (N, T, D, H) for the sequence checks.
STEP_SHAPES = [(3, 4, 4), (2, 3, 5), (4, 6, 3), (5, 2, 7)]
SEQ_SHAPES = [(3, 5, 4, 4), (2, 6, 3, 5), (4, 4, 6, 3)]

STEP_OUTPUTS = ("dx", "dh_prev", "dWxh", "dWhh", "db")
SEQ_OUTPUTS = ("dx", "dh0", "dWxh", "dWhh", "db")


def _params(rng, D, H):
    return (rng.normal(size=(H, D)) * 0.5, rng.normal(size=(H, H)) * 0.5,
            rng.normal(size=H) * 0.5)


def step_cases(seed: int = 301):
    """Keyword arguments for ``rnn_step_backward``, one dict per shape in STEP_SHAPES."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, D, H in STEP_SHAPES:
        Wxh, Whh, b = _params(rng, D, H)
        x = rng.normal(size=(N, D))
        h_prev = np.tanh(rng.normal(size=(N, H)))
        h_next = _nb01.rnn_step_forward(x, h_prev, Wxh, Whh, b)
        cases.append(dict(dh_next=rng.normal(size=(N, H)), x=x, h_prev=h_prev, h_next=h_next,
                          Wxh=Wxh, Whh=Whh))
    return cases


def seq_cases(seed: int = 302):
    """Keyword arguments for ``rnn_backward``, one dict per shape in SEQ_SHAPES."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, T, D, H in SEQ_SHAPES:
        Wxh, Whh, b = _params(rng, D, H)
        x = rng.normal(size=(N, T, D))
        h0 = np.tanh(rng.normal(size=(N, H)))
        h = _nb01.rnn_forward(x, h0, Wxh, Whh, b)
        cases.append(dict(dh=rng.normal(size=(N, T, H)), x=x, h0=h0, h=h, Wxh=Wxh, Whh=Whh))
    return cases


# ---------------------------------------------------------------------------------------
# Classic mistakes in one step
# ---------------------------------------------------------------------------------------
def _step(da, x, h_prev, Wxh, Whh):
    """The correct step backward given the pre-activation gradient ``da``."""
    return da @ Wxh, da @ Whh, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def _with_da(fn_da):
    def buggy(dh_next, x, h_prev, h_next, Wxh, Whh):
        return _step(fn_da(dh_next, x, h_prev, h_next, Wxh, Whh), x, h_prev, Wxh, Whh)
    return buggy


def _replace(k, fn_out):
    """The correct step with output number ``k`` replaced by ``fn_out(da, **case)``."""
    def buggy(dh_next, x, h_prev, h_next, Wxh, Whh):
        da = dh_next * (1 - h_next**2)
        out = list(_step(da, x, h_prev, Wxh, Whh))
        out[k] = fn_out(da, dh_next=dh_next, x=x, h_prev=h_prev, h_next=h_next, Wxh=Wxh, Whh=Whh)
        return tuple(out)
    return buggy


HINT_PREACT = ("the tanh derivative is taken from the pre-activation: you used 1 − a² where "
               "a = x Wxhᵀ + h_prev Whhᵀ (+ b). The derivative of tanh at a is 1 − tanh(a)² "
               "= 1 − h_next²: use the step's *output*, h_next.")
HINT_WRONG_STEP = ("the tanh derivative is taken at the wrong time step: you used "
                   "1 − h_prev², but this step's tanh produced h_next, so its derivative is "
                   "1 − h_next².")

# A mistake is recognised by the outputs that are wrong: the checker prefers the one that
# gets wrong exactly the student's wrong outputs (a wrong `da` changes every output), so
# the order of this list does not matter.
STEP_MISTAKES = [
    Mistake("`dh_prev` uses Whh transposed: the forward pass multiplies h_prev by Whhᵀ, so "
            "the way back multiplies `da` by Whh itself, not by its transpose.",
            _replace(1, lambda da, Whh, **_: da @ Whh.T), name="dh-prev-whh-transposed"),
    Mistake("`dx` uses Wxh transposed: the forward pass multiplies x by Wxhᵀ, so the way "
            "back multiplies `da` by Wxh itself; check the shapes, (N, H)·(H, D) = (N, D).",
            _replace(0, lambda da, Wxh, **_: da @ Wxh.T), name="dx-wxh-transposed"),
    Mistake("`dWxh` is transposed: it must have Wxh's shape (H, D), row i for the unit that "
            "receives, column j for the input that sends. Your product is its transpose "
            "((AB)ᵀ = BᵀAᵀ).",
            _replace(2, lambda da, x, **_: x.T @ da), name="dwxh-transposed"),
    Mistake("`dWhh` is transposed: row i belongs to the unit that receives (its `da`), "
            "column j to the unit of h_prev that sends. Your product is its transpose "
            "((AB)ᵀ = BᵀAᵀ).",
            _replace(3, lambda da, h_prev, **_: h_prev.T @ da), name="dwhh-transposed"),
    Mistake("`dWhh` uses h_next: the weight Whh multiplies h_prev in the forward pass, so "
            "its gradient pairs `da` with h_prev, not with the step's output.",
            _replace(3, lambda da, h_next, **_: da.T @ h_next), name="dwhh-uses-h-next"),
    Mistake("`dh_prev` skips the tanh derivative: the path from h_prev to h_next goes "
            "through the tanh too, so `dh_prev` starts from the same `da` that the weights "
            "get, not from dh_next.",
            _replace(1, lambda da, dh_next, Whh, **_: dh_next @ Whh),
            name="dh-prev-skips-tanh-derivative"),
    Mistake("`db` is averaged over the batch: gradients of a shared parameter are *summed* "
            "over every place it is used, not averaged.",
            _replace(4, lambda da, **_: da.mean(axis=0)), name="db-averaged"),
    Mistake("the weight gradients are averaged over the batch: they must be summed (a "
            "product over the batch axis already adds up the N samples; don't divide by N).",
            lambda dh_next, x, h_prev, h_next, Wxh, Whh: (
                lambda o, n: (o[0], o[1], o[2] / n, o[3] / n, o[4] / n))(
                    _nb03.rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh), x.shape[0]),
            name="weight-grads-averaged"),
    Mistake(HINT_PREACT, _with_da(lambda dh_next, x, h_prev, h_next, Wxh, Whh:
                                  dh_next * (1 - np.arctanh(h_next) ** 2)),
            name="tanh-derivative-of-preactivation"),
    Mistake(HINT_PREACT, _with_da(lambda dh_next, x, h_prev, h_next, Wxh, Whh:
                                  dh_next * (1 - (x @ Wxh.T + h_prev @ Whh.T) ** 2)),
            name="tanh-derivative-of-preactivation"),
    Mistake(HINT_WRONG_STEP, _with_da(lambda dh_next, x, h_prev, h_next, Wxh, Whh:
                                      dh_next * (1 - h_prev**2)),
            name="tanh-derivative-wrong-step"),
    Mistake("the tanh derivative is missing: multiply the incoming gradient by "
            "1 − h_next² before it reaches the weights and the inputs.",
            _with_da(lambda dh_next, x, h_prev, h_next, Wxh, Whh: dh_next),
            name="tanh-derivative-missing"),
    Mistake("the tanh derivative is 1 − h_next (the square is missing): "
            "d tanh(a)/da = 1 − tanh(a)² = 1 − h_next².",
            _with_da(lambda dh_next, x, h_prev, h_next, Wxh, Whh: dh_next * (1 - h_next)),
            name="tanh-derivative-not-squared"),
    Mistake("you applied tanh again: tanh'(a) = 1 − h_next² uses h_next itself, "
            "not 1 − tanh(h_next)².",
            _with_da(lambda dh_next, x, h_prev, h_next, Wxh, Whh:
                     dh_next * (1 - np.tanh(h_next) ** 2)), name="tanh-applied-twice"),
]


# ---------------------------------------------------------------------------------------
# Classic mistakes in the sequence
# ---------------------------------------------------------------------------------------
def _bptt(dh, x, h0, h, Wxh, Whh, *, step=_nb03.rnn_step_backward, carry=True, own_grad=True,
          first_prev="h0", deriv_from="h_t", accumulate="sum", reverse=True, dh0="carry"):
    """rnn_backward with switches that reproduce classic mistakes (defaults: correct)."""
    N, T, _ = x.shape
    dx = np.zeros_like(x)
    dWxh, dWhh = np.zeros_like(Wxh), np.zeros_like(Whh)
    db = np.zeros(Whh.shape[0])
    dh_carry = np.zeros_like(h0)
    carries = []
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        if t > 0:
            h_prev = h[:, t - 1]
        else:
            h_prev = {"h0": h0, "wrap": h[:, -1], "zeros": np.zeros_like(h0),
                      "h1": h[:, 0]}[first_prev]
        h_out = {"h_t": h[:, t], "h_prev": h_prev,
                 "h_next_step": h[:, min(t + 1, T - 1)]}[deriv_from]
        g = (dh[:, t] if own_grad or t == T - 1 else 0) + (dh_carry if carry else 0)
        dx_t, new_carry, dWxh_t, dWhh_t, db_t = step(g, x[:, t], h_prev, h_out, Wxh, Whh)
        carries.append(dh_carry)
        dh_carry = new_carry
        dx[:, t] = dx_t
        if accumulate == "sum" or accumulate == "mean":
            dWxh, dWhh, db = dWxh + dWxh_t, dWhh + dWhh_t, db + db_t
        elif accumulate == "overwrite":
            dWxh, dWhh, db = dWxh_t, dWhh_t, db_t
    if accumulate == "mean":
        dWxh, dWhh, db = dWxh / T, dWhh / T, db / T
    if dh0 == "dh0_from_h1":
        dh_carry = carries[-1] + dh[:, 0]  # gradient w.r.t. h_1, not h_0
    return dx, dh_carry, dWxh, dWhh, db


def _seq(**switches):
    return lambda dh, x, h0, h, Wxh, Whh: _bptt(dh, x, h0, h, Wxh, Whh, **switches)


SEQ_MISTAKES = [
    Mistake("the gradient flowing in from the next time step is missing: h_t is also used "
            "by step t+1, so step t's backward must receive dh[:, t] plus the gradient that "
            "step t+1's backward returned, not dh[:, t] alone.", _seq(carry=False),
            name="carry-missing"),
    Mistake("the per-step gradient dh[:, t] is dropped: the total gradient at h_t is the "
            "loss's own gradient dh[:, t] *plus* what flows back from step t+1.",
            _seq(own_grad=False), name="own-gradient-dropped"),
    Mistake("the loop runs forwards in time: BPTT must start at t = T−1 and go back to 0, "
            "because the gradient at h_t needs the gradient from step t+1 first.",
            _seq(reverse=False), name="loop-forwards"),
    Mistake("at t = 0 you used h[:, t-1], which is h[:, -1] = h_T (Python wraps negative "
            "indices!), instead of h0: the state before the first step is the initial state.",
            _seq(first_prev="wrap"), name="t0-wraps-to-last-state"),
    Mistake("at t = 0 the previous state is taken as zeros instead of h0.",
            _seq(first_prev="zeros"), name="t0-zero-state"),
    Mistake("at t = 0 the previous state is h[:, 0] = h_1 instead of h0.",
            _seq(first_prev="h1"), name="t0-uses-h1"),
    Mistake("`dh0` is the gradient with respect to h_1 (what entered the last step), not "
            "h0: return the `dh_prev` that the step at t = 0 produces.",
            _seq(dh0="dh0_from_h1"), name="dh0-at-h1"),
    Mistake("the tanh derivative comes from the wrong time step: step t's tanh produced "
            "h[:, t], so pass h[:, t] as h_next (you passed the previous state).",
            _seq(deriv_from="h_prev"), name="tanh-derivative-from-previous-state"),
    Mistake("the tanh derivative comes from the wrong time step: step t's tanh produced "
            "h[:, t], so pass h[:, t] as h_next (you passed h[:, t+1]).",
            _seq(deriv_from="h_next_step"), name="tanh-derivative-from-next-state"),
    Mistake("the weight and bias gradients are not summed over time: you kept only one "
            "step's. A shared weight gets the sum of the gradients from every step that used "
            "it.", _seq(accumulate="overwrite"),
            name="grads-not-summed-over-time"),
    Mistake("the weight and bias gradients are averaged over time: they must be summed over "
            "every step (and the batch), not divided by T.", _seq(accumulate="mean"),
            name="grads-averaged-over-time"),
] + [
    Mistake("your step function has a bug that this check inherits: " + m.hint,
            _seq(step=m.fn), name=f"step-{m.name}")
    for m in STEP_MISTAKES if m.hint != HINT_WRONG_STEP
]


# ---------------------------------------------------------------------------------------
# Better diagnoses for shape problems of weight gradients
# ---------------------------------------------------------------------------------------
def _shape_diagnosis(verdict, outputs=None):
    """Replace the generic shape hint by one about weight/bias gradients when it fits."""
    if verdict.status != WRONG or verdict.kind != "shape" or verdict.output is None:
        return verdict
    name, got, want = verdict.output, verdict.got_shape, verdict.expected_shape
    hint = short = None
    if name in ("dWxh", "dWhh") and len(got) == 2 and got == want[::-1]:
        param, short = name[1:], f"{name.lower()}-transposed"
        hint = (f"`{name}` is transposed: a gradient has the shape of its parameter, "
                f"{param} is (H, {'D' if param == 'Wxh' else 'H'}): row i for the unit that "
                f"receives (its `da`), column j for the "
                f"{'input' if param == 'Wxh' else 'unit of h_prev'} that sends.")
    elif name in ("dWxh", "dWhh", "db") and len(got) > len(want):
        short = f"{name.lower()}-not-summed"
        hint = (f"`{name}` has extra leading axes {got[:len(got) - len(want)]}: it must be "
                "summed over the batch (and over time): a shared parameter's gradient adds "
                "up the contributions from every sample and step that used it.")
    if hint:
        shapes = [d for d in verdict.details if d.startswith("Shapes in this case")]
        verdict.details = [f"Most likely: {hint}"] + shapes
        verdict.hint, verdict.mistake_name = hint, short
    return verdict


# ---------------------------------------------------------------------------------------
# A matrix product of a weight gradient whose shapes do not fit
# ---------------------------------------------------------------------------------------
_GENERIC_SHAPES = "check which weight needs a transpose"


def weight_product_hint(param: str) -> str:
    """What is wrong in a weight gradient's product that raised a shape error (no code)."""
    cols, sender = ("D", "input") if param == "Wxh" else ("H", "unit of h_prev")
    return (f"`d{param}` has {param}'s shape (H, {cols}): entry [i, j] adds up, over the N "
            f"samples of the batch, the `da` of receiving unit i times the {sender} j that "
            "sends. A matrix product adds up over its inner axis, so both factors must have "
            f"the batch axis N there, (H, N)·(N, {cols}); in your product the axes that meet "
            "are not both N.")


class _StepText(CheckText):
    """A shape error raised in the line that computes ``dWxh`` or ``dWhh`` is named as a
    product that does not sum over the batch (not as a weight that needs a transpose: the
    operand to transpose is ``da``)."""

    def raised(self, exc, case, where):
        from .diagnosis import student_location

        problem = super().raised(exc, case, where)
        loc = student_location(exc) or ""
        line = loc.split(": ", 1)[-1]
        for param in ("Wxh", "Whh"):
            if (f"d{param}" in line and "@" in line
                    and any(_GENERIC_SHAPES in h for h in problem.hints)):
                problem.hints = [weight_product_hint(param) if _GENERIC_SHAPES in h else h
                                 for h in problem.hints]
                break
        return problem


# ---------------------------------------------------------------------------------------
# The read-out's loss: softmax cross-entropy over time
# ---------------------------------------------------------------------------------------
LOSS_SHAPES = [(3, 5, 7), (2, 6, 4), (4, 3, 9), (2, 4, 6)]  # (N, T, V); the last: large
LOSS_OUTPUTS = ("loss", "dscores")
LARGE_SHIFT = 1000.0  # exp(1000) overflows float64 (its largest value is about e^709.8)


def loss_cases(seed: int = 303):
    """Keyword arguments for ``temporal_softmax_loss``, one dict per shape in LOSS_SHAPES;
    the last case's scores are shifted by ``LARGE_SHIFT`` (same softmax, same answer)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i, (N, T, V) in enumerate(LOSS_SHAPES):
        scores = rng.normal(size=(N, T, V)) * 2.0
        if i == len(LOSS_SHAPES) - 1:
            scores = scores + LARGE_SHIFT
        cases.append(dict(scores=scores, targets=rng.integers(0, V, size=(N, T))))
    return cases


def _loss_variant(scores, targets, *, axis=-1, stable=True, divide="NT", grad_divide=True,
                  one_hot=True):
    """temporal_softmax_loss with switches that reproduce classic mistakes (defaults:
    correct). ``axis``: the softmax's axis; ``divide``: "NT", "N" or "none"."""
    N, T, V = scores.shape
    z = scores - scores.max(axis=axis, keepdims=True) if stable else scores
    with np.errstate(all="ignore"):
        e = np.exp(z)
        p = e / e.sum(axis=axis, keepdims=True)
        onehot = np.eye(V)[targets]                                  # (N, T, V)
        loss_sum = -np.log((p * onehot).sum(axis=-1)).sum()
    scale = {"NT": N * T, "N": N, "none": 1}[divide]
    dscores = p - onehot if one_hot else p.copy()
    return float(loss_sum / scale), dscores / scale if grad_divide else dscores


def _loss_mistake(**switches):
    return lambda scores, targets: _loss_variant(scores, targets, **switches)


HINT_OVERFLOW = ("exp of a large score overflows: with scores around 1000, np.exp gives inf "
                 "and inf/inf = NaN. Subtract each row's maximum before the exponential "
                 "(scores − scores.max(axis=-1, keepdims=True)): the softmax does not change, "
                 "and the largest exponential is exp(0) = 1.")

NO_MAX_SUBTRACTION = "no-max-subtraction"  # the mistake's name, wherever it is diagnosed

LOSS_MISTAKES = [
    Mistake(HINT_OVERFLOW, _loss_mistake(stable=False), name=NO_MAX_SUBTRACTION),
    Mistake("the loss is summed over the N·T positions instead of averaged: divide the loss "
            "and its gradient by N·T.", _loss_mistake(divide="none"), name="summed-not-averaged"),
    Mistake("you divided by N only (the batch; CS231n's temporal softmax loss does that): "
            "this course's loss is the mean over all N·T positions, so divide the loss and "
            "its gradient by N·T.", _loss_mistake(divide="N"), name="divided-by-n-only"),
    Mistake("`dscores` is not divided by N·T: the loss is a mean over the N·T positions, so "
            "every position's gradient (p − onehot) carries the factor 1/(N·T) too.",
            _loss_mistake(grad_divide=False), name="dscores-not-averaged"),
    Mistake("the softmax is taken over the time axis (axis=1): each position's probabilities "
            "are over the V classes, the last axis (axis=-1, keepdims=True in the max and "
            "the sum).", _loss_mistake(axis=1), name="softmax-over-time"),
    Mistake("the softmax is taken over the batch axis (axis=0): each position's probabilities "
            "are over the V classes, the last axis (axis=-1, keepdims=True in the max and "
            "the sum).", _loss_mistake(axis=0), name="softmax-over-batch"),
    Mistake("`dscores` lacks the − onehot(target): the gradient of −log p_y with respect to "
            "the score s_j is p_j − [j = y], so subtract 1 at each position's target class.",
            _loss_mistake(one_hot=False), name="no-onehot-subtracted"),
]


class _LossText(CheckText):
    """NaN or inf is a malformed output, which ends the check before values are compared
    (so before mistakes are matched): in a case whose scores overflow ``np.exp`` (the
    last one), it is named as the missing max-subtraction: the same hint and mistake id
    as the catalogued mistake, so the terminal and the class report say the same."""

    def numpy_errors(self):
        return np.errstate(all="ignore")  # the verdict explains an overflow; no warnings

    def structure(self, got, ref, outputs, where, case, comparators):
        problem = super().structure(got, ref, outputs, where, case, comparators=comparators)
        if problem is None or problem.kind != "non-finite":
            return problem
        if np.max(np.abs(case["scores"])) > np.log(np.finfo(np.float64).max):
            problem.hint, problem.mistake_name = HINT_OVERFLOW, NO_MAX_SUBTRACTION
            problem.hints = [f"Most likely: {HINT_OVERFLOW}"] + [
                h for h in problem.hints if h not in NAN_HINT]
        return problem


EXERCISES = (
    Exercise("ex03_rnn_step_backward", 3, "One RNN step, backward", 3,
             function="rnn_step_backward", reference=_nb03.rnn_step_backward,
             cases=step_cases, seed=301, outputs=STEP_OUTPUTS, mistakes=tuple(STEP_MISTAKES),
             diagnose=_shape_diagnosis, text=_StepText(),
             description="4 random cases (batch > 1, D != H in three of them), compared with "
             "the reference.", binds="step_backward",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",),
             probes=Probes(zero=("h_prev", "x", "h_next"), square=("Whh", "Wxh"),
                           batch=("dh_next", "x", "h_prev", "h_next"))),
    Exercise("ex03_rnn_backward", 3, "BPTT over a sequence", 4,
             function="rnn_backward", reference=_nb03.rnn_backward, cases=seq_cases,
             seed=302, outputs=SEQ_OUTPUTS, mistakes=tuple(SEQ_MISTAKES),
             diagnose=_shape_diagnosis, text=_StepText(),
             description="3 random batches of sequences, compared with the reference.",
             binds="seq_backward",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",),
             probes=Probes(time=(("dh", 1), ("x", 1), ("h", 1)), out_time=(("dx", 1),),
                           backward=True, zero=("h0",), upstream=(("dh", 1),),
                           square=("Whh", "Wxh"), batch=("dh", "x", "h0", "h"),
                           uses=("ex03_rnn_step_backward",))),
    Exercise("ex03_temporal_softmax_loss", 3, "The read-out's loss over time, forward and "
             "backward", 3, function="temporal_softmax_loss",
             reference=_nb03.temporal_softmax_loss, cases=loss_cases, seed=303,
             outputs=LOSS_OUTPUTS, mistakes=tuple(LOSS_MISTAKES), text=_LossText(),
             description="4 random cases (N, T, V all different; the last with scores around "
             "1000), compared with the reference.", binds="softmax_loss",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",)),
)
check_rnn_step_backward, check_rnn_backward, check_temporal_softmax_loss = \
    check_functions(EXERCISES)
