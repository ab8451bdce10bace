"""Checks for notebook 06 (gradient clipping): ``clip_grad_norm(grads, max_norm)``.

The exercise's contract: ``clip_grad_norm(grads, max_norm) -> (clipped, total_norm)``
returns **new** arrays (the inputs are left alone) and the global norm before clipping,
with exactly the numbers ``torch.nn.utils.clip_grad_norm_`` produces in place. The check
therefore compares with torch itself, on ordinary cases and on the edge cases (all-zero
gradients, a NaN or an infinite entry, ``max_norm = 0``, a single array instead of a
list).

Here a list of arrays comes back and NaN is sometimes the right answer, so the outputs
have their own comparators (NaN-aware, list-valued) and the check its own wording (cases
named by their labels, torch as the ground truth); the run loop, the mistake matching,
the fallback and grading mode are the course's usual ones
(:func:`course_utils.checks.checker.run_check`).
"""

from __future__ import annotations

import numpy as np

from ..maths.gradnorm import TORCH_EPS, global_norm
from ..reference.nb06 import clip_grad_norm as _reference
from . import checker
from .checker import Mistake
from .registry import Exercise, check_functions

# Lesson modules whose functions compute the answer, or part of it (the fast versions,
# the gates): every entry's ``answer_modules`` below.
_ANSWER_MODULES = ("course_utils.lessons.clipping", "course_utils.maths.gradnorm")

RTOL = 1e-9
NAME = "clip_grad_norm"


# ---------------------------------------------------------------------------------------
# Cases and the torch ground truth
# ---------------------------------------------------------------------------------------
def clip_cases(seed: int = 601) -> list[dict]:
    """Cases ``dict(grads=..., max_norm=..., label=...)``; ``grads`` is a list or one array.

    Shapes are those of an RNN with D = 3, H = 4 and O = 2: Wxh (4, 3), Whh (4, 4),
    b (4,), Why (2, 4), by (2,).
    """
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (4, 4), (4,), (2, 4), (2,)]

    def rnn_grads(scale=1.0):
        return [rng.normal(size=s) * scale for s in shapes]

    big = rnn_grads()
    big[1] *= 10.0  # one large gradient (Whh), the rest small: per-array clipping differs
    small = rnn_grads()
    small = [g * (0.5 / global_norm(small)) for g in small]  # global norm 0.5 < 2
    nan_grads, inf_grads = rnn_grads(), rnn_grads()
    nan_grads[1][2, 3] = np.nan
    inf_grads[3][1, 0] = -np.inf
    return [
        dict(grads=big, max_norm=1.0, label="five gradients, global norm above max_norm"),
        dict(grads=small, max_norm=2.0, label="global norm 0.5, below max_norm = 2: nothing to clip"),
        dict(grads=tuple(rnn_grads(3.0)), max_norm=2.5, label="a tuple of gradients"),
        dict(grads=rng.normal(size=(3, 5)), max_norm=0.5, label="a single array, not a list"),
        dict(grads=[np.zeros(s) for s in shapes], max_norm=1.0, label="every gradient is zero"),
        dict(grads=rnn_grads(), max_norm=0.0, label="max_norm = 0"),
        dict(grads=nan_grads, max_norm=1.0, label="a NaN in one gradient (the norm is NaN)"),
        dict(grads=inf_grads, max_norm=1.0, label="an infinite entry (the norm is inf)"),
    ]


def torch_clip(grads, max_norm):
    """Ground truth from ``torch.nn.utils.clip_grad_norm_`` (float64, on copies).

    Returns (clipped, total_norm) in the exercise's format: a list of arrays (one array if
    ``grads`` is one) and a float.
    """
    import torch

    single = isinstance(grads, np.ndarray)
    arrays = [grads] if single else list(grads)
    params = []
    for g in arrays:
        p = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.from_numpy(np.array(g, dtype=np.float64, copy=True))
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params[0] if single else params, max_norm)
    clipped = [p.grad.numpy().copy() for p in params]
    return (clipped[0] if single else clipped), float(total)


# ---------------------------------------------------------------------------------------
# Classic mistakes (same signature as the exercise)
# ---------------------------------------------------------------------------------------
def _listify(grads):
    return ([grads], True) if isinstance(grads, np.ndarray) else (list(grads), False)


def _scaled(grads, scale):
    arrays, single = _listify(grads)
    with np.errstate(all="ignore"):
        out = [g * scale for g in arrays]
    return out[0] if single else out


def _per_array(grads, max_norm):
    arrays, single = _listify(grads)
    out = [_reference(g, max_norm)[0] for g in arrays]
    return (out[0] if single else out), global_norm(arrays)


def _always_rescale(grads, max_norm):
    total = global_norm(grads)
    with np.errstate(all="ignore"):
        return _scaled(grads, max_norm / (total + TORCH_EPS)), total


def _returns_clipped_norm(grads, max_norm):
    clipped, total = _reference(grads, max_norm)
    return clipped, min(total, max_norm)


def _squared_norm(grads, max_norm):
    arrays, _ = _listify(grads)
    total = float(sum(np.sum(g**2) for g in arrays))
    with np.errstate(all="ignore"):
        return _scaled(grads, np.minimum(1.0, max_norm / (total + TORCH_EPS))), total


def _sum_of_norms(grads, max_norm):
    arrays, _ = _listify(grads)
    total = float(sum(np.linalg.norm(g) for g in arrays))
    with np.errstate(all="ignore"):
        return _scaled(grads, np.minimum(1.0, max_norm / (total + TORCH_EPS))), total


def _value_clip(grads, max_norm):
    arrays, single = _listify(grads)
    out = [np.clip(g, -max_norm, max_norm) for g in arrays]
    return (out[0] if single else out), global_norm(arrays)


def _no_eps(grads, max_norm):
    total = global_norm(grads)
    with np.errstate(all="ignore"):
        scale = np.minimum(1.0, max_norm / total) if total > 0 else 1.0
    return _scaled(grads, scale), total


def _nan_swallowed(grads, max_norm):
    total = global_norm(grads)
    scale = min(1.0, max_norm / (total + TORCH_EPS))  # Python's min(1.0, nan) is 1.0
    return _scaled(grads, scale), total


MISTAKES = [
    Mistake("each array is clipped by its own norm. Clipping by the *global* norm computes "
            "one norm over all arrays together (sqrt of the sum of every squared entry) and "
            "scales every array by the same factor, so the direction is kept.", _per_array,
            name="per-array-norm"),
    Mistake("the gradients are rescaled even when their norm is already below max_norm. "
            "The factor is min(1, max_norm / (total_norm + 1e-6)): small gradients pass "
            "unchanged.", _always_rescale, name="always-rescaled"),
    Mistake("`total_norm` must be the norm *before* clipping (torch returns it so you can "
            "log it); you returned the norm after clipping.", _returns_clipped_norm,
            name="norm-after-clipping"),
    Mistake("the norm is missing its square root: you used the sum of squares.", _squared_norm,
            name="norm-not-square-rooted"),
    Mistake("you added up the arrays' norms. The global norm is sqrt(‖g1‖² + ‖g2‖² + …), "
            "the norm of all entries concatenated.", _sum_of_norms, name="sum-of-norms"),
    Mistake("you clipped every entry to [−max_norm, max_norm]: that is *value* clipping "
            "(`clip_grad_value_`), which changes the direction. Scale all arrays by one "
            "factor instead.", _value_clip, name="value-clipping"),
    Mistake("torch divides by `total_norm + 1e-6`, not by `total_norm`; add the 1e-6 so "
            "the numbers match exactly (it also protects against dividing by zero).", _no_eps,
            name="no-epsilon"),
    Mistake("with a NaN norm, Python's `min(1.0, nan)` returns 1.0 and `nan > max_norm` is "
            "False, so your gradients went through as if healthy. Torch multiplies by the "
            "NaN factor, so *every* entry becomes NaN and the problem cannot go unnoticed: "
            "compute the factor with `np.minimum(1.0, …)`, which propagates NaN, and apply "
            "it unconditionally.", _nan_swallowed, name="nan-swallowed"),
]


# ---------------------------------------------------------------------------------------
# Comparison: NaN-aware, list-valued outputs (per-output comparators)
# ---------------------------------------------------------------------------------------
def _numbers_error(a, b) -> float:
    """The relative error of the finite entries (norm-relative); inf unless the NaN/inf
    patterns (and the infinities) are equal."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf")
    inf_a, inf_b = np.isinf(a), np.isinf(b)
    if not np.array_equal(inf_a, inf_b) or not np.array_equal(a[inf_a], b[inf_b]):
        return float("inf")
    fin = np.isfinite(a)
    return checker.rel_error(a[fin], b[fin])


def _total_error(a, b) -> float:
    a, b = float(a), float(b)
    if np.isnan(b) or np.isinf(b) or np.isnan(a) or np.isinf(a):
        return 0.0 if (a == b or (np.isnan(a) and np.isnan(b))) else float("inf")
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def _clipped_error(got, ref) -> float:
    if isinstance(ref, np.ndarray):
        return _numbers_error(got, ref)
    if len(got) != len(ref):
        return float("inf")
    return max((_numbers_error(g, r) for g, r in zip(got, ref)), default=0.0)


def _same_clipped(got, ref, rtol=RTOL) -> bool:
    return _clipped_error(got, ref) <= rtol


class _Clipped(checker.Comparator):
    def error(self, got, ref):
        return _clipped_error(got, ref)


class _Total(checker.Comparator):
    def error(self, got, ref):
        return _total_error(got, ref)


def _structure_problem(got, case, ref_clipped):
    """A sentence (and hints) if the returned value has the wrong structure, else None."""
    grads = case["grads"]
    if got is None:
        return "it returned None.", ["Did you forget `return clipped, total_norm`?"]
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        what = checker._describe(got)
        hints = ["This version returns new arrays *and* the norm: `return clipped, total_norm` "
                 "(torch's `clip_grad_norm_` changes the gradients in place and returns only "
                 "the norm)."]
        return f"it returned {what}; expected a pair (clipped, total_norm).", hints
    clipped, total = got
    if hasattr(total, "detach"):
        return "`total_norm` is a torch tensor; return a float.", ["Use numpy throughout."]
    if not (np.isscalar(total) or (isinstance(total, np.ndarray) and total.ndim == 0)):
        return (f"`total_norm` should be a number, got {checker._describe(total)}.",
                ["It is one number: the norm of all the gradients together."])
    if isinstance(grads, np.ndarray):
        if not isinstance(clipped, np.ndarray):
            return (f"for a single array the result should be a single array, got "
                    f"{checker._describe(clipped)}.",
                    ["Like torch, accept one array as well as a list: treat it as a list of "
                     "one and give back one array."])
        arrays, refs = [clipped], [ref_clipped]
    else:
        if not isinstance(clipped, (list, tuple)) or len(clipped) != len(grads):
            return (f"`clipped` should be a list of {len(grads)} arrays (one per gradient), got "
                    f"{checker._describe(clipped)}.", [])
        arrays, refs = list(clipped), list(ref_clipped)
    for i, (a, r) in enumerate(zip(arrays, refs)):
        if hasattr(a, "detach"):
            return "the clipped gradients are torch tensors; return numpy arrays.", []
        if not isinstance(a, np.ndarray) or a.shape != r.shape:
            return (f"clipped array {i} is {checker._describe(a)}; expected shape {r.shape}.",
                    ["Return one array per input gradient, with the same shape."])
        if a.dtype != r.dtype:
            return (f"clipped array {i} has dtype {a.dtype}; expected {r.dtype}.", [])
    return None


class _Text(checker.CheckText):
    """The check's wording: cases named by their labels, torch as the ground truth."""

    rename_notes = False

    def numpy_errors(self):
        return np.errstate(all="ignore")

    def arguments(self, case):
        return dict(grads=case["grads"], max_norm=case["max_norm"])

    def where(self, i, n, case):
        return f"case {i} of {n} ({case['label']})"

    def structure(self, got, ref, outputs, where, case, comparators):
        problem = _structure_problem(got, case, ref[0])
        if problem is None:
            return None
        msg, hints = problem
        return checker.Problem("structure", f"{msg[:-1]} in {where}.", hints)

    def mutated(self, names, where):
        return checker.Problem("mutated", f"it modifies the input gradients in place ({where}).",
                               ["This version returns *new* arrays (`g * scale`, not `g *= "
                                "scale`): the caller may still need the unclipped gradients."])

    def raised(self, exc, case, where):
        problem = super().raised(exc, {}, where)
        if isinstance(exc, ZeroDivisionError) or "zero" in where:
            problem.hints.append("With all-zero gradients the norm is 0: torch divides "
                                 "by `total_norm + 1e-6`, so nothing blows up.")
        return problem

    def fallback(self, got, ref, bad):
        if 0 in bad and _same_clipped(got[0], ref[0], 1e-5):
            return ("factor-not-exact",
                    "your clipped gradients are within 1e-5 of torch's but not within "
                    f"{RTOL:.0e}: does the factor use `max_norm / (total_norm + 1e-6)` "
                    "exactly as torch does?")
        return None

    def wrong(self, outputs, where, got, ref, errors, bad, hint, rtol):
        what = ("the clipped gradients and `total_norm` are" if len(bad) == 2
                else "the clipped gradients are" if bad == [0] else "`total_norm` is")
        details = [f"torch: total_norm = {ref[1]:.6g}; yours: {float(got[1]):.6g}."]
        if hint:
            details.insert(0, f"Most likely: {hint}")
        return f"{what} not what torch.nn.utils.clip_grad_norm_ gives in {where}.", details

    def passed(self, n, rtol):
        return (f"passed ({n} cases, including all-zero gradients, NaN and inf norms, "
                f"max_norm = 0 and a single array; same numbers as "
                f"torch.nn.utils.clip_grad_norm_ to {rtol:.0e}).")


EXERCISES = (
    Exercise("ex06_clip_grad_norm", 6, "Clip by global norm, like torch", 3,
             function=NAME, reference=_reference, cases=clip_cases, seed=601,
             outputs=("clipped", "total_norm"), mistakes=tuple(MISTAKES), rtol=RTOL,
             truth=torch_clip, comparators=(("clipped", _Clipped()), ("total_norm", _Total())),
             text=_Text(),
             description="compares with torch.nn.utils.clip_grad_norm_ on 8 cases (edge cases "
             "included).", binds="clip_norm",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",)),
)
(check_clip_grad_norm,) = check_functions(EXERCISES)
