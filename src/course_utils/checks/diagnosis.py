"""What went wrong in a student's function: the diagnoses behind a check's verdict.

:mod:`course_utils.checks.checker` runs the cases; this module turns what it saw into a
:class:`Problem` (a kind such as "shape" or "raised", the sentence to print, hints and the
machine-readable details) and recognises the classic mistakes (:func:`best_mistake`).
"""

from __future__ import annotations

import contextlib
import copy
import linecache
import os
import sys
import traceback
from dataclasses import dataclass, field

import numpy as np

from ..maths.numerics import rel_error

# The kinds of a verdict that did not pass (``Verdict.kind``).
KINDS = ("not-callable", "returned-none", "structure", "type", "shape", "dtype", "non-finite",
         "mutated", "raised", "renamed-parameters", "not-implemented", "values",
         "checker-error")
MATCH_TOL = 1e-6  # a mistake reproduces an output when within this relative error


@dataclass
class Problem:
    """One diagnosis: ``kind`` (see :data:`KINDS`), the ``message`` and ``hints`` to print,
    and the failing ``output``, the shapes, the exception's type name (``error``), the
    matched ``hint`` and its mistake's short name (``mistake_name``) where they apply."""

    kind: str
    message: str
    hints: list[str] = field(default_factory=list)
    output: str | None = None
    got_shape: tuple | None = None
    expected_shape: tuple | None = None
    error: str | None = None
    hint: str | None = None
    mistake_name: str | None = None


# ---------------------------------------------------------------------------------------
# Structure of the returned value
# ---------------------------------------------------------------------------------------
NAN_HINT = ["Look for an overflow (exp of a large number), a division by zero, or an "
            "array made with np.empty that is never filled."]


def structure_problem(got, ref, outputs, where, comparators=None) -> Problem | None:
    """A :class:`Problem` if ``got`` has the wrong type/length/shape/dtype/NaNs, else None
    (each output is checked by its comparator's ``problem``)."""
    n = len(outputs)
    if got is None:
        return Problem("returned-none", "it returned None.", ["Did you forget the `return` statement?"])
    if n > 1:
        names = ", ".join(outputs)
        if not isinstance(got, (tuple, list)):
            return Problem("structure", f"it returned {describe(got)}; expected a tuple of {n} "
                           f"values ({names}).")
        if len(got) != n:
            return Problem("structure", f"it returned {len(got)} values; expected {n}: ({names}).")
    elif isinstance(got, tuple):
        return Problem("structure", f"it returned a tuple of {len(got)} values; expected a single "
                       f"array `{outputs[0]}`.")
    comparators = comparators or [DEFAULT_COMPARATOR] * n
    for out_name, g, r, comp in zip(outputs, as_tuple(got, n), as_tuple(ref, n), comparators):
        label = f"`{out_name}`" if n > 1 else "the output"
        p = comp.problem(g, r, label, where)
        if p:
            p.output = out_name
            return p
    return None


def output_problem(g, r, label, where) -> Problem | None:
    """The default per-output structure check: a number, or a finite numpy array of the
    reference's shape and dtype."""
    if np.isscalar(r) and not isinstance(r, np.ndarray):
        if not np.isscalar(g) and not (isinstance(g, np.ndarray) and g.ndim == 0):
            return Problem("type", f"{label} should be a number, got {describe(g)}.")
        if not np.isfinite(float(g)):
            return Problem("non-finite", f"{label} is {float(g)} in {where}.", list(NAN_HINT))
        return None
    if hasattr(g, "detach") and hasattr(g, "numpy"):
        return Problem("type", f"{label} is a torch tensor; return a numpy array.",
                       ["Use numpy operations throughout (or `.detach().numpy()` at the end)."])
    if not isinstance(g, np.ndarray):
        return Problem("type", f"{label} should be a numpy array of shape {r.shape}, got "
                       f"{describe(g)}.", expected_shape=tuple(r.shape))
    if g.shape != r.shape:
        return Problem("shape", f"{label} has shape {g.shape}; expected {r.shape} in {where}.",
                       shape_hints(g.shape, r.shape), got_shape=tuple(g.shape),
                       expected_shape=tuple(r.shape))
    if g.dtype != r.dtype:
        return Problem("dtype", f"{label} has dtype {g.dtype}; expected {r.dtype}.",
                       ["Don't convert to another precision (np.float32, int) or build arrays "
                        "with a dtype different from the inputs'."])
    if not np.all(np.isfinite(g)):
        k = int(np.size(g) - np.count_nonzero(np.isfinite(g)))
        return Problem("non-finite", f"{label} contains NaN or inf ({k} of {g.size} entries) in "
                       f"{where}.", list(NAN_HINT))
    return None


def shape_hints(got_shape, ref_shape) -> list[str]:
    hints = []
    if len(got_shape) == len(ref_shape) and sorted(got_shape) == sorted(ref_shape):
        hints.append("The axes are in the wrong order. The course is batch-first: "
                     "sequences are (N, T, ...), not (T, N, ...).")
    elif len(got_shape) == len(ref_shape) + 1:
        hints.append("It has one axis too many: did you keep an extra dimension "
                     "(a stacked list, or keepdims)?")
    elif len(got_shape) == len(ref_shape):
        diff = [k for k in range(len(ref_shape)) if got_shape[k] != ref_shape[k]]
        if len(diff) == 1 and got_shape[diff[0]] == ref_shape[diff[0]] + 1:
            hints.append(f"Axis {diff[0]} has one entry too many: did you include the "
                         "initial state (or an extra step)?")
        elif len(diff) == 1 and got_shape[diff[0]] == ref_shape[diff[0]] - 1:
            hints.append(f"Axis {diff[0]} has one entry too few: an off-by-one in a loop?")
    return hints


# ---------------------------------------------------------------------------------------
# Wrong values: the classic mistakes
# ---------------------------------------------------------------------------------------
def best_mistake(mistakes, evidence, comparators, rtol):
    """The classic mistake (a :class:`~course_utils.checks.checker.Mistake`) that best
    explains the student's outputs, or None.

    ``evidence``: ``(arguments, got, ref, bad)`` for every case where the student's function
    returned well-formed outputs (``got``, ``ref``: tuples; ``bad``: the indices of the
    wrong outputs). A mistake *explains* a case when it reproduces every wrong output
    there; it must explain every case it can be run on (a mistake that raises on a case
    gives no evidence from it). Among those, the one whose set of wrong outputs equals
    the student's on the most cases wins, then the one run on more cases; so the order of
    the list matters only between mistakes the cases cannot tell apart.
    """
    best, best_score = None, None
    for m in mistakes:
        score = _explains(m, evidence, comparators, rtol)
        if score is not None and (best_score is None or score < best_score):
            best, best_score = m, score
    return best


def _explains(mistake, evidence, comparators, rtol):
    """``(cases not exact, -cases run)`` if ``mistake`` explains every case it runs on,
    else None."""
    run = not_exact = 0
    n = len(comparators)
    for case, got, ref, bad in evidence:
        try:
            with np.errstate(all="ignore"):
                buggy = as_tuple(mistake.fn(**copy_case(case)), n)
        except Exception:
            continue
        try:
            if not all(comparators[k].error(got[k], buggy[k]) < MATCH_TOL for k in bad):
                return None
            wrong = {k for k in range(n) if not comparators[k].error(buggy[k], ref[k]) <= rtol}
        except Exception:
            return None
        run += 1
        not_exact += wrong != set(bad)
    return (not_exact, -run) if run else None


def generic_diagnosis(got, ref) -> tuple[str, str] | None:
    """``(short name, hint)`` for a wrong output that no classic mistake explains: the sign
    flipped, all zeros, or the answer times a constant (one name whatever the factor)."""
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    if rel_error(got, -ref) < MATCH_TOL:
        return "sign-flipped", "the sign is flipped."
    if not np.any(got) and np.any(ref):
        return "all-zeros", "it is all zeros: is a value computed but never stored or returned?"
    denom = float(np.vdot(ref, ref))
    if denom > 0:
        scale = float(np.vdot(got, ref)) / denom
        if abs(scale - 1) > MATCH_TOL and rel_error(got, scale * ref) < MATCH_TOL:
            return ("constant-factor",
                    f"it is the right answer times {scale:.4g}: a missing or extra factor.")
    return None


# ---------------------------------------------------------------------------------------
# Exceptions raised by the student's code
# ---------------------------------------------------------------------------------------
def not_implemented(name, student_fn, exc) -> Problem:
    culprit = raising_function(exc)
    own = getattr(student_fn, "__name__", name)
    if culprit and culprit != own:
        return Problem("not-implemented", f"not attempted yet: `{own}` calls `{culprit}`, which "
                       "still raises NotImplementedError.", [f"Implement `{culprit}` first."],
                       error=type(exc).__name__)
    return Problem("not-implemented", "not attempted yet. Replace `raise NotImplementedError()` "
                   "with your code, run that cell, then run this check again.",
                   error=type(exc).__name__)


def raised(exc, case, where) -> Problem:
    msg = f"your function raised {type(exc).__name__}: {shorten(str(exc))} (in {where})."
    details = []
    loc = student_location(exc)
    if loc:
        details.append(f"At {loc}")
    text = str(exc)
    if "matmul" in text or "shapes" in text or "broadcast" in text or "dimension" in text:
        details.append("The shapes don't fit together: write each array's shape next to "
                       "the line and check which weight needs a transpose.")
    details += shapes_line(case)
    return Problem("raised", msg, details, error=type(exc).__name__)


def shapes_line(case) -> list[str]:
    parts = [f"{k} {tuple(v.shape)}" for k, v in case.items() if isinstance(v, np.ndarray)]
    return ["Shapes in this case: " + ", ".join(parts) + "."] if parts else []


def _frames(exc):
    remote = getattr(exc, "remote_frames", None)  # raised in the grading sandbox
    return remote if remote is not None else traceback.extract_tb(exc.__traceback__)


def _is_library_file(filename: str) -> bool:
    here = os.path.dirname(os.path.abspath(__file__))
    return (filename.startswith(here) or filename.startswith("<course") or "site-packages" in filename
            or filename.startswith(sys.prefix) or filename.startswith(sys.base_prefix))


def student_location(exc) -> str | None:
    """'line 7 of `fn`: <source>' for the innermost frame outside libraries."""
    for fr in reversed(_frames(exc)):
        if not _is_library_file(fr.filename):
            line = (fr.line or linecache.getline(fr.filename, fr.lineno)).strip()
            return f"line {fr.lineno} of `{fr.name}`: {line}"
    return None


def raising_function(exc) -> str | None:
    frames = [fr for fr in _frames(exc) if not _is_library_file(fr.filename)]
    return frames[-1].name if frames else None


# ---------------------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------------------
def copy_case(case: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
            for k, v in case.items()}


def as_tuple(x, n):
    if n == 1:
        return (x,)
    return tuple(x)


def describe(x) -> str:
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a {type(x).__name__}"


def fmt(err: float) -> str:
    return "inf (NaN or inf somewhere)" if not np.isfinite(err) else f"{err:.1e}"


def shorten(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------
# Per-output comparators and the wording of a check (both replaceable per exercise)
# ---------------------------------------------------------------------------------------
class Comparator:
    """How one output is compared: :meth:`problem` checks its structure (default: a
    number, or a finite numpy array of the reference's shape and dtype), :meth:`error`
    measures how far it is from the reference (default:
    :func:`~course_utils.maths.numerics.rel_error`); it passes when ``error <= rtol``."""

    def problem(self, got, ref, label, where) -> Problem | None:
        return output_problem(got, ref, label, where)

    def error(self, got, ref) -> float:
        return rel_error(got, ref)


DEFAULT_COMPARATOR = Comparator()


class CheckText:
    """The wording of a check's verdicts, and what a case passes to the function.

    The defaults are the course's usual wording; an exercise whose outputs or cases need
    other words (ex06: cases with labels, torch as the ground truth) overrides methods.
    """

    rename_notes = True  # add a note when the function was called positionally

    def numpy_errors(self):
        """The numpy error state the student's function runs in (default: as it is)."""
        return contextlib.nullcontext()

    def arguments(self, case: dict) -> dict:
        """The keyword arguments of the call (default: the whole case)."""
        return case

    def where(self, i: int, n: int, case: dict) -> str:
        return f"case {i} of {n}" if n > 1 else "the test case"

    def structure(self, got, ref, outputs, where, case, *, comparators) -> Problem | None:
        p = structure_problem(got, ref, outputs, where, comparators)
        if p:
            p.hints = p.hints + shapes_line(case)
        return p

    def mutated(self, names, where) -> Problem:
        args = ", ".join(f"`{k}`" for k in names)
        return Problem("mutated", f"it modifies its input {args} in place.",
                       ["Work on new arrays (e.g. `a = a + 1`, or `a.copy()` first) instead "
                        "of `+=` or slice assignment on an argument: the caller still needs it."])

    def raised(self, exc, case, where) -> Problem:
        return raised(exc, case, where)

    def fallback(self, got, ref, bad) -> tuple[str, str] | None:
        """``(short name, hint)`` when no classic mistake fits (default: sign, zeros, a
        constant factor; see :func:`generic_diagnosis`), or None."""
        return generic_diagnosis(got[bad[0]], ref[bad[0]])

    def wrong(self, outputs, where, got, ref, errors, *, bad, hint, rtol) -> tuple[str, list[str]]:
        """The message and details of a verdict on wrong values."""
        j = bad[0]
        label = f"output `{outputs[j]}`" if len(outputs) > 1 else "the output"
        ok = [outputs[k] for k in range(len(outputs)) if k not in bad]
        msg = (f"{label} is wrong in {where} (relative error {fmt(errors[j])}; must be below "
               f"{rtol:.0e}).")
        details = [f"Most likely: {hint}"] if hint else []
        if len(bad) > 1:
            details.append("Also wrong: " + ", ".join(f"`{outputs[k]}`" for k in bad[1:]) + ".")
        if ok and len(outputs) > 1:
            details.append("Correct: " + ", ".join(f"`{o}`" for o in ok) + ".")
        return msg, details

    def passed(self, n: int, rtol: float) -> str:
        plural = "s" if n != 1 else ""
        return (f"passed ({n} random case{plural}, every output within relative error "
                f"{rtol:.0e} of the reference).")


DEFAULT_TEXT = CheckText()
