"""The exercise-checking framework (see CONTRIBUTING.md, "The exercise contract").

A check runs a student's function on several random cases, compares it with the
reference implementation and prints **one** verdict:

* ``✅ passed``,
* ``⏳ not attempted yet`` (the function still raises ``NotImplementedError``), or
* ``❌ wrong`` with the most likely cause: which output, how far off, and a hint.

It never lets a student's mistake escape as a traceback: wrong types, shapes, dtypes,
NaNs, ``None``, tuples of the wrong length, exceptions raised inside the student's code
and in-place modification of the inputs are all turned into a sentence.

:func:`check_function` returns the function later cells should use: the student's if
it passed, otherwise the reference (and it says so), so a notebook runs top to bottom
with every exercise unanswered. With the environment variable ``COURSE_GRADING=1`` a
check that does not pass raises :class:`ExerciseFailed` instead, so an autograder
counts it; nbgrader's autograde (``NBGRADER_EXECUTION=autograde`` in its kernel) is
grading mode too, so it never fails open. ``course grade`` does not rely on any of this:
it runs the checks in its own process (:func:`capture`).

Exercise-specific checks live in :mod:`course_utils.exercises`; each builds random
cases, names the outputs and lists the classic :class:`Mistake` s to recognise.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import linecache
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .numerics import rel_error

GRADING_ENV = "COURSE_GRADING"

PASSED, NOT_ATTEMPTED, WRONG = "passed", "not attempted", "wrong"
_ICONS = {PASSED: "✅", NOT_ATTEMPTED: "⏳", WRONG: "❌"}


class ExerciseFailed(AssertionError):
    """Raised by a check in grading mode when the exercise is not (correctly) done."""


def grading_mode() -> bool:
    """True when ``COURSE_GRADING`` is set to something other than '', '0' or 'false', or
    when nbgrader is autograding (it sets ``NBGRADER_EXECUTION=autograde`` in the kernel)."""
    if os.environ.get("NBGRADER_EXECUTION", "").strip().lower() == "autograde":
        return True
    return os.environ.get(GRADING_ENV, "").strip().lower() not in {"", "0", "false", "no"}


def seed_args(seed: int | None) -> tuple:
    """``()`` for a check's own cases, ``(seed,)`` for other ones (held-out checks)."""
    return () if seed is None else (int(seed),)


_CAPTURED: list | None = None


@contextlib.contextmanager
def capture():
    """Collect verdicts instead of printing them (what ``course grade`` uses).

    Inside ``with capture() as found:`` :func:`report` prints nothing, never raises and
    appends ``(verdict, reference_fn)`` to ``found``.
    """
    global _CAPTURED
    saved, _CAPTURED = _CAPTURED, []
    try:
        yield _CAPTURED
    finally:
        _CAPTURED = saved


@dataclass
class Mistake:
    """A classic mistake: a buggy variant of the reference and the hint to show.

    ``fn`` takes the same keyword arguments as the reference and returns what the buggy
    implementation would return. If the student's output matches it, ``hint`` is shown.
    """

    hint: str
    fn: Callable[..., Any]


@dataclass
class Verdict:
    """The outcome of a check: ``status`` is 'passed', 'not attempted' or 'wrong'."""

    name: str
    status: str
    message: str
    details: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        lines = [f"{_ICONS[self.status]} {self.name}: {self.message}"]
        lines += [f"   {d}" for d in self.details]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The public entry point
# ---------------------------------------------------------------------------------------
def check_function(
    student_fn: Callable | None,
    reference_fn: Callable,
    cases: Sequence[dict[str, Any]],
    *,
    name: str | None = None,
    outputs: Sequence[str] = ("output",),
    mistakes: Iterable[Mistake] = (),
    rtol: float = 1e-7,
) -> Callable:
    """Check ``student_fn`` against ``reference_fn``, print the verdict, return a function.

    Args:
        student_fn: the student's function (or whatever the name is bound to).
        reference_fn: the correct implementation, same signature.
        cases: keyword-argument dicts, one per random case. Use batch > 1, T > 1 and
            non-square shapes so a transposed weight cannot pass.
        name: the exercise's function name (defaults to ``reference_fn.__name__``).
        outputs: names of the returned values; one name means a single array is
            returned, several mean a tuple of that length.
        mistakes: classic mistakes to recognise when an output is wrong.
        rtol: largest accepted :func:`~course_utils.numerics.rel_error` per output.

    Returns:
        ``student_fn`` if it passed, else ``reference_fn`` (announced in the verdict).

    Raises:
        ExerciseFailed: in grading mode (``COURSE_GRADING=1``), if it did not pass.
    """
    verdict = run_check(student_fn, reference_fn, cases, name=name, outputs=outputs,
                        mistakes=mistakes, rtol=rtol)
    return report(verdict, student_fn, reference_fn)


def report(verdict: Verdict, student_fn, reference_fn):
    """Print a verdict and return the function later cells should use (see above)."""
    if _CAPTURED is not None:
        _CAPTURED.append((verdict, reference_fn))
        return student_fn
    if not verdict.passed and not grading_mode():
        verdict.details.append("Later cells use the reference implementation until this check passes.")
    print(verdict)
    if not verdict.passed and grading_mode():
        raise ExerciseFailed(str(verdict))
    if verdict.passed:
        return student_fn
    return reference_fn


def run_check(student_fn, reference_fn, cases, *, name=None, outputs=("output",),
              mistakes=(), rtol=1e-7) -> Verdict:
    """Run the check and return a :class:`Verdict` without printing anything."""
    name = name or getattr(reference_fn, "__name__", "your function")
    cases = list(cases)
    try:
        verdict = _run_check(student_fn, reference_fn, cases, name, tuple(outputs),
                             list(mistakes), rtol)
        note = rename_note(student_fn, cases[0] if cases else {})
        if note and verdict.status == WRONG and "the exercise calls it with" not in verdict.message:
            verdict.details.append(note)
        return verdict
    except Exception as exc:  # a bug in the checker itself must not look like the student's
        return Verdict(name, WRONG, "the checker could not evaluate your function "
                       f"({type(exc).__name__}: {exc}).",
                       ["Re-run the function's cell, then this one. If it persists, ask for help."])


# ---------------------------------------------------------------------------------------
# Implementation
# ---------------------------------------------------------------------------------------
def _run_check(student_fn, reference_fn, cases, name, outputs, mistakes, rtol) -> Verdict:
    if student_fn is None or not callable(student_fn):
        return Verdict(name, WRONG, f"expected a function, got {_describe(student_fn)}.",
                       [f"Run the cell that defines `{name}` first."])
    n_cases = len(cases)
    for i, case in enumerate(cases, start=1):
        where = f"case {i} of {n_cases}" if n_cases > 1 else "the test case"
        ref_out = reference_fn(**_copy(case))
        student_args = _copy(case)
        try:
            got = call_student(student_fn, student_args)
        except NotImplementedError as exc:
            return _not_implemented(name, student_fn, exc)
        except Exception as exc:
            return _raised(name, student_fn, exc, case, where)

        problem = _structure_problem(got, ref_out, outputs, where)
        if problem:
            msg, hints = problem
            return Verdict(name, WRONG, msg, hints + _shapes_line(case))

        mutated = [k for k, v in case.items() if isinstance(v, np.ndarray)
                   and not _same_array(v, student_args[k])]
        if mutated:
            args = ", ".join(f"`{k}`" for k in mutated)
            return Verdict(name, WRONG, f"it modifies its input {args} in place.",
                           ["Work on new arrays (e.g. `a = a + 1`, or `a.copy()` first) instead "
                            "of `+=` or slice assignment on an argument: the caller still needs it."])

        got_t, ref_t = _as_tuple(got, len(outputs)), _as_tuple(ref_out, len(outputs))
        errors = [rel_error(g, r) for g, r in zip(got_t, ref_t)]
        bad = [j for j, e in enumerate(errors) if not e <= rtol]
        if bad:
            return _wrong_values(name, case, where, outputs, got_t, ref_t, errors, bad,
                                 mistakes, rtol)
    plural = "s" if n_cases != 1 else ""
    return Verdict(name, PASSED, f"passed ({n_cases} random case{plural}, every output within "
                   f"relative error {rtol:.0e} of the reference).")


def call_student(student_fn, kwargs: dict):
    """Call ``student_fn`` with the check's keyword arguments, forgiving renamed parameters.

    If the names do not fit but the function takes the same number of positional
    parameters, it is called positionally (the order is the exercise's). Otherwise the
    ``TypeError`` says which names the function has and which the exercise uses.
    """
    try:
        sig = inspect.signature(student_fn)
    except (TypeError, ValueError):
        return student_fn(**kwargs)
    try:
        sig.bind(**kwargs)
    except TypeError:
        pass
    else:
        return student_fn(**kwargs)
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) >= len(kwargs):
        try:
            sig.bind(*kwargs.values())
        except TypeError:
            pass
        else:
            return student_fn(*kwargs.values())
    theirs = ", ".join(p.name for p in params)
    ours = ", ".join(kwargs)
    raise RenamedParameters(f"your function's parameters are ({theirs}); the exercise calls "
                            f"it with ({ours}). Use the names (or the order) of the template.")


def rename_note(student_fn, case: dict) -> str | None:
    """A note when the function's parameter names differ from the exercise's (it was then
    called positionally), else None."""
    try:
        names = [p.name for p in inspect.signature(student_fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return None
    ours = list(case)
    if names[:len(ours)] == ours or not set(ours) - set(names):
        return None
    return (f"Note: your function's parameters are ({', '.join(names)}); the exercise calls it "
            f"with ({', '.join(ours)}), so they were passed in that order.")


class RenamedParameters(TypeError):
    """The student's parameters do not fit the exercise's call."""


def _wrong_values(name, case, where, outputs, got_t, ref_t, errors, bad, mistakes, rtol):
    j = bad[0]
    out = outputs[j]
    label = f"output `{out}`" if len(outputs) > 1 else "the output"
    ok = [outputs[k] for k in range(len(outputs)) if k not in bad]
    msg = f"{label} is wrong in {where} (relative error {_fmt(errors[j])}; must be below {rtol:.0e})."
    details = []
    hint = _match_mistake(mistakes, case, got_t, bad)
    if hint is None:
        hint = _generic_hint(got_t[j], ref_t[j])
    if hint:
        details.append(f"Most likely: {hint}")
    if len(bad) > 1:
        details.append("Also wrong: " + ", ".join(f"`{outputs[k]}`" for k in bad[1:]) + ".")
    if ok and len(outputs) > 1:
        details.append("Correct: " + ", ".join(f"`{o}`" for o in ok) + ".")
    return Verdict(name, WRONG, msg, details)


def _match_mistake(mistakes, case, got_t, bad):
    for m in mistakes:
        try:
            buggy = m.fn(**_copy(case))
        except Exception:
            continue
        buggy_t = _as_tuple(buggy, len(got_t))
        try:
            if all(rel_error(got_t[k], buggy_t[k]) < 1e-6 for k in bad):
                return m.hint
        except Exception:
            continue
    return None


def _generic_hint(got, ref):
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    if rel_error(got, -ref) < 1e-6:
        return "the sign is flipped."
    if not np.any(got) and np.any(ref):
        return "it is all zeros: is a value computed but never stored or returned?"
    denom = float(np.vdot(ref, ref))
    if denom > 0:
        scale = float(np.vdot(got, ref)) / denom
        if abs(scale - 1) > 1e-6 and rel_error(got, scale * ref) < 1e-6:
            return f"it is the right answer times {scale:.4g}: a missing or extra factor."
    return None


def _structure_problem(got, ref, outputs, where):
    """Return (message, hints) if ``got`` has the wrong type/length/shape/dtype/NaNs."""
    n = len(outputs)
    if got is None:
        return ("it returned None.", ["Did you forget the `return` statement?"])
    if n > 1:
        names = ", ".join(outputs)
        if not isinstance(got, (tuple, list)):
            return (f"it returned {_describe(got)}; expected a tuple of {n} values ({names}).", [])
        if len(got) != n:
            return (f"it returned {len(got)} values; expected {n}: ({names}).", [])
    elif isinstance(got, tuple):
        return (f"it returned a tuple of {len(got)} values; expected a single array "
                f"`{outputs[0]}`.", [])
    for out_name, g, r in zip(outputs, _as_tuple(got, n), _as_tuple(ref, n)):
        label = f"`{out_name}`" if n > 1 else "the output"
        if np.isscalar(r) and not isinstance(r, np.ndarray):
            if not np.isscalar(g) and not (isinstance(g, np.ndarray) and g.ndim == 0):
                return (f"{label} should be a number, got {_describe(g)}.", [])
            if not np.isfinite(float(g)):
                return (f"{label} is {float(g)} in {where}.", _NAN_HINT)
            continue
        if hasattr(g, "detach") and hasattr(g, "numpy"):
            return (f"{label} is a torch tensor; return a numpy array.",
                    ["Use numpy operations throughout (or `.detach().numpy()` at the end)."])
        if not isinstance(g, np.ndarray):
            return (f"{label} should be a numpy array of shape {r.shape}, got {_describe(g)}.", [])
        if g.shape != r.shape:
            return (f"{label} has shape {g.shape}; expected {r.shape} in {where}.",
                    _shape_hints(g.shape, r.shape))
        if g.dtype != r.dtype:
            return (f"{label} has dtype {g.dtype}; expected {r.dtype}.",
                    ["Don't convert to another precision (np.float32, int) or build arrays "
                     "with a dtype different from the inputs'."])
        if not np.all(np.isfinite(g)):
            k = int(np.size(g) - np.count_nonzero(np.isfinite(g)))
            return (f"{label} contains NaN or inf ({k} of {g.size} entries) in {where}.", _NAN_HINT)
    return None


_NAN_HINT = ["Look for an overflow (exp of a large number), a division by zero, or an "
             "array made with np.empty that is never filled."]


def _shape_hints(got_shape, ref_shape):
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


def _not_implemented(name, student_fn, exc):
    culprit = _raising_function(exc)
    own = getattr(student_fn, "__name__", name)
    if culprit and culprit != own:
        return Verdict(name, NOT_ATTEMPTED,
                       f"not attempted yet: `{own}` calls `{culprit}`, which still raises "
                       "NotImplementedError.", [f"Implement `{culprit}` first."])
    return Verdict(name, NOT_ATTEMPTED,
                   "not attempted yet. Replace `raise NotImplementedError()` with your code, "
                   "run that cell, then run this check again.")


def _raised(name, student_fn, exc, case, where):
    if isinstance(exc, RenamedParameters):
        return Verdict(name, WRONG, str(exc))
    msg = f"your function raised {type(exc).__name__}: {_shorten(str(exc))} (in {where})."
    details = []
    loc = _student_location(exc)
    if loc:
        details.append(f"At {loc}")
    text = str(exc)
    if "matmul" in text or "shapes" in text or "broadcast" in text or "dimension" in text:
        details.append("The shapes don't fit together: write each array's shape next to "
                       "the line and check which weight needs a transpose.")
    details += _shapes_line(case)
    return Verdict(name, WRONG, msg, details)


def _shapes_line(case):
    parts = [f"{k} {tuple(v.shape)}" for k, v in case.items() if isinstance(v, np.ndarray)]
    return ["Shapes in this case: " + ", ".join(parts) + "."] if parts else []


def _frames(exc):
    remote = getattr(exc, "remote_frames", None)  # raised in the grading sandbox
    return remote if remote is not None else traceback.extract_tb(exc.__traceback__)


def _is_library_file(filename: str) -> bool:
    here = os.path.dirname(os.path.abspath(__file__))
    return (filename.startswith(here) or filename.startswith("<course") or "site-packages" in filename
            or filename.startswith(sys.prefix) or filename.startswith(sys.base_prefix))


def _student_location(exc):
    """'line 7 of `fn`: <source>' for the innermost frame outside libraries."""
    for fr in reversed(_frames(exc)):
        if not _is_library_file(fr.filename):
            line = (fr.line or linecache.getline(fr.filename, fr.lineno)).strip()
            return f"line {fr.lineno} of `{fr.name}`: {line}"
    return None


def _raising_function(exc):
    frames = [fr for fr in _frames(exc) if not _is_library_file(fr.filename)]
    return frames[-1].name if frames else None


# ---------------------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------------------
def _copy(case: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
            for k, v in case.items()}


def _same_array(a, b) -> bool:
    return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _as_tuple(x, n):
    if n == 1:
        return (x,)
    return tuple(x)


def _describe(x) -> str:
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a {type(x).__name__}"


def _fmt(err: float) -> str:
    return "inf (NaN or inf somewhere)" if not np.isfinite(err) else f"{err:.1e}"


def _shorten(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
