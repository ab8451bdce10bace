"""The exercise-checking framework (see CONTRIBUTING.md, "The exercise contract").

A check runs a student's function on several random cases, compares it with the
reference implementation and prints **one** verdict:

* ``✅ passed``,
* ``⏳ not attempted yet`` (the function still raises ``NotImplementedError``), or
* ``❌ wrong`` with the most likely cause: which output, how far off, and a hint.

It never lets a student's mistake escape as a traceback: wrong types, shapes, dtypes,
NaNs, ``None``, tuples of the wrong length, exceptions raised inside the student's code
and in-place modification of the inputs are all turned into a sentence.

:func:`report` prints the verdict and returns the function later cells should use: the student's if
it passed, otherwise the reference (and it says so), so a notebook runs top to bottom
with every exercise unanswered. With the environment variable ``COURSE_GRADING=1`` a
check that does not pass raises :class:`ExerciseFailed` instead, so an autograder
counts it; nbgrader's autograde (``NBGRADER_EXECUTION=autograde`` in its kernel) is
grading mode too, so it never fails open. ``course grade`` does not rely on any of this:
it runs each check's verdict itself, in its own process, on the sandboxed function
(:meth:`course_utils.checks.registry.Exercise.run_check`); :func:`capture` collects the
verdicts of check functions instead of printing them (the hidden tests of
:mod:`course_utils.checks.integrity` use it).

Exercise-specific checks live in :mod:`course_utils.checks`; each builds random
cases, names the outputs and lists the classic :class:`Mistake` s to recognise.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..maths.numerics import rel_error  # noqa: F401  (re-exported)
from ..status import ICONS, NOT_ATTEMPTED, PASSED, VERDICT_KEY, WRONG
from . import diagnosis as _dx
from .diagnosis import KINDS, CheckText, Comparator, Problem  # noqa: F401  (re-exported)

GRADING_ENV = "COURSE_GRADING"



class ExerciseFailed(AssertionError):
    """Raised by a check in grading mode when the exercise is not (correctly) done."""


def grading_mode() -> bool:
    """True when ``COURSE_GRADING`` is set to something other than '', '0' or 'false', or
    when nbgrader is autograding (it sets ``NBGRADER_EXECUTION=autograde`` in the kernel)."""
    if os.environ.get("NBGRADER_EXECUTION", "").strip().lower() == "autograde":
        return True
    return os.environ.get(GRADING_ENV, "").strip().lower() not in {"", "0", "false", "no"}


_CAPTURED: list | None = None


@contextlib.contextmanager
def capture():
    """Collect verdicts instead of printing them (what the hidden tests use).

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
    ``name``: the mistake's short name (lower-case words joined by ``-``, such as
    ``whh-not-transposed``), unique within its exercise and never reworded, so that the
    grader's reports can count who made it: a verdict carries it as ``mistake_name``, and
    ``<exercise id>/<name>`` as ``mistake``.
    """

    hint: str
    fn: Callable[..., Any]
    name: str = ""


@dataclass
class Verdict:
    """The outcome of a check: ``status`` is 'passed', 'not attempted' or 'wrong'.

    ``message`` and ``details`` are what is printed; the other fields say the same for a
    program (the grader's reports read them, never the wording): ``kind`` (one of
    :data:`~course_utils.checks.diagnosis.KINDS`, None when passed), the failing ``output``'s
    name, ``got_shape`` / ``expected_shape``, the 1-based ``case`` number, the matched
    ``hint`` (the "Most likely" cause), ``error`` (the type name of the exception the
    student's code raised), and the diagnosed mistake: ``mistake_name`` (see
    :class:`Mistake`) and ``mistake`` (``<exercise id>/<name>``, set by
    :meth:`course_utils.checks.registry.Exercise.run_check`), the same for two students
    with the same mistake, whatever the wording of their verdicts; ``located``: where the
    probes of :mod:`course_utils.checks.probes` place a bug no mistake names (or None).
    """

    name: str
    status: str
    message: str
    details: list[str] = field(default_factory=list)
    kind: str | None = None
    output: str | None = None
    got_shape: tuple | None = None
    expected_shape: tuple | None = None
    case: int | None = None
    hint: str | None = None
    error: str | None = None
    mistake: str | None = None
    mistake_name: str | None = None
    located: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        lines = [f"{ICONS[self.status]} {self.name}: {self.message}"]
        lines += [f"   {d}" for d in self.details]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The fields as plain JSON-able data."""
        d = asdict(self)
        for k in ("got_shape", "expected_shape"):
            d[k] = list(d[k]) if d[k] is not None else None
        return d

    @classmethod
    def from_problem(cls, name: str, p: Problem, case: int | None = None,
                     details: list[str] | None = None) -> Verdict:
        status = NOT_ATTEMPTED if p.kind == "not-implemented" else WRONG
        return cls(name, status, p.message, list(p.hints if details is None else details),
                   kind=p.kind, output=p.output, got_shape=p.got_shape,
                   expected_shape=p.expected_shape, case=case, hint=p.hint, error=p.error,
                   mistake_name=p.mistake_name)


# ---------------------------------------------------------------------------------------
# The public entry point (what a registry entry's check function calls after run_check)
# ---------------------------------------------------------------------------------------
def report(verdict: Verdict, student_fn, reference_fn):
    """Print a verdict and return the function later cells should use: ``student_fn`` if
    it passed, else ``reference_fn`` (announced in the verdict); in grading mode
    (``COURSE_GRADING=1``) a verdict that did not pass raises :class:`ExerciseFailed`."""
    if _CAPTURED is not None:
        _CAPTURED.append((verdict, reference_fn))
        return student_fn
    if not verdict.passed and not grading_mode():
        verdict.details.append("Later cells use the reference implementation until this check passes.")
    print(verdict)
    publish_verdict(verdict)
    if not verdict.passed and grading_mode():
        raise ExerciseFailed(str(verdict))
    if verdict.passed:
        return student_fn
    return reference_fn


OUTPUT_METADATA_KEY = VERDICT_KEY  # the check cell's output metadata (course progress)
PUBLISHED = ("name", "status", "kind", "mistake", "mistake_name")  # the verdict's fields


def verdict_metadata(verdict: Verdict) -> dict:
    """What a check cell publishes of its verdict (:data:`PUBLISHED`, and ``reason``: the
    printed verdict's first line without its icon), every time, whatever the status."""
    info = {k: getattr(verdict, k) for k in PUBLISHED}
    info["reason"] = f"{verdict.name}: {verdict.message}"
    return info


def publish_verdict(verdict: Verdict) -> None:
    """In a Jupyter kernel, add an empty output whose metadata holds the verdict
    (``course_verdict``: :func:`verdict_metadata`), for ``course progress`` to read from the
    saved notebook; the printed verdict is unchanged. Every verdict is published (passed,
    wrong, not attempted, a checker error); nothing outside a kernel."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return
    display({"text/plain": ""}, raw=True, metadata={OUTPUT_METADATA_KEY: verdict_metadata(verdict)})


def run_check(student_fn, reference_fn, cases, *, name=None, outputs=("output",),
              mistakes=(), rtol=1e-7, comparators=None, text=None) -> Verdict:
    """Run the check and return a :class:`Verdict` without printing anything.

    ``comparators``: ``{output name: Comparator}`` for outputs compared otherwise than
    by default (see :class:`~course_utils.checks.diagnosis.Comparator`); ``text``: a
    :class:`~course_utils.checks.diagnosis.CheckText` for other wording.
    """
    name = name or getattr(reference_fn, "__name__", "your function")
    cases = list(cases)
    text = text or _dx.DEFAULT_TEXT
    comps = [(comparators or {}).get(o, _dx.DEFAULT_COMPARATOR) for o in outputs]
    try:
        verdict = _run_check(student_fn, reference_fn, cases, name, outputs=tuple(outputs),
                             mistakes=list(mistakes), rtol=rtol, comps=comps, text=text)
        note = (rename_note(student_fn, text.arguments(cases[0]) if cases else {})
                if text.rename_notes else None)
        if note and verdict.status == WRONG and verdict.kind != "renamed-parameters":
            verdict.details.append(note)
        return verdict
    except Exception as exc:  # a bug in the checker itself must not look like the student's
        return Verdict(name, WRONG, "the checker could not evaluate your function "
                       f"({type(exc).__name__}: {exc}).",
                       ["Re-run the function's cell, then this one. If it persists, ask for help."],
                       kind="checker-error", error=type(exc).__name__)


# ---------------------------------------------------------------------------------------
# Implementation
# ---------------------------------------------------------------------------------------
def _run_check(student_fn, reference_fn, cases, name, *, outputs, mistakes, rtol, comps,
               text) -> Verdict:
    """Run the cases in order; the first that fails decides the verdict."""
    if student_fn is None or not callable(student_fn):
        return Verdict(name, WRONG, f"expected a function, got {_dx.describe(student_fn)}.",
                       [f"Run the cell that defines `{name}` first."], kind="not-callable")
    evidence = []  # (arguments, got, ref, wrong outputs) of the cases run so far
    for i, case in enumerate(cases, start=1):
        where, args = text.where(i, len(cases), case), text.arguments(case)
        ref_out = reference_fn(**_copy(args))
        student_args = _copy(args)
        try:
            with text.numpy_errors():
                got = call_student(student_fn, student_args)
        except NotImplementedError as exc:
            return _not_implemented(name, student_fn, exc)
        except RenamedParameters as exc:
            return _renamed(name, exc, i)
        except Exception as exc:
            return Verdict.from_problem(name, text.raised(exc, args, where), i)
        problem = text.structure(got, ref_out, outputs, where, args, comparators=comps)
        if problem:
            return Verdict.from_problem(name, problem, i)
        mutated = [k for k, v in args.items() if not _unchanged(v, student_args[k])]
        if mutated:
            return Verdict.from_problem(name, text.mutated(mutated, where), i)
        got_t, ref_t = _dx.as_tuple(got, len(outputs)), _dx.as_tuple(ref_out, len(outputs))
        errors = [c.error(g, r) for g, r, c in zip(got_t, ref_t, comps)]
        bad = [j for j, e in enumerate(errors) if not e <= rtol]
        evidence.append((args, got_t, ref_t, bad))
        if bad:
            evidence += _more_evidence(student_fn, reference_fn, cases[i:], outputs, rtol,
                                       comps=comps, text=text)
            found = _dx.best_mistake(mistakes, evidence, comps, rtol)
            short, hint = ((found.name or None, found.hint) if found is not None
                           else text.fallback(got_t, ref_t, bad) or (None, None))
            msg, details = text.wrong(outputs, where, got_t, ref_t, errors, bad=bad, hint=hint, rtol=rtol)
            return Verdict(name, WRONG, msg, details, kind="values", output=outputs[bad[0]],
                           case=i, hint=hint, mistake_name=short)
    return Verdict(name, PASSED, text.passed(len(cases), rtol))


def _more_evidence(student_fn, reference_fn, cases, outputs, rtol, *, comps, text) -> list:
    """``(arguments, got, ref, wrong outputs)`` for the remaining cases, for recognising a
    mistake; a case where the student's function raises or returns a malformed value
    gives no evidence."""
    out = []
    for case in cases:
        args = text.arguments(case)
        try:
            ref = reference_fn(**_copy(args))
            with text.numpy_errors():
                got = call_student(student_fn, _copy(args))
            if text.structure(got, ref, outputs, "", args, comparators=comps):
                continue
            got_t, ref_t = _dx.as_tuple(got, len(outputs)), _dx.as_tuple(ref, len(outputs))
            bad = [j for j, (g, r, c) in enumerate(zip(got_t, ref_t, comps))
                   if not c.error(g, r) <= rtol]
        except Exception:
            continue
        out.append((args, got_t, ref_t, bad))
    return out


def call_student(student_fn, kwargs: dict):
    """Call ``student_fn`` with the check's keyword arguments, forgiving renamed parameters.

    If the names do not fit but the function takes the same number of positional
    parameters, it is called positionally (the order is the exercise's). Otherwise the
    ``TypeError`` says which names the function has and which the exercise uses.
    """
    if call_plan(student_fn, kwargs) == POSITIONAL:
        return student_fn(*kwargs.values())
    return student_fn(**kwargs)


KEYWORDS, POSITIONAL = "keywords", "positional"


def call_plan(student_fn, kwargs: dict) -> str:
    """How :func:`call_student` calls ``student_fn`` with ``kwargs``: :data:`KEYWORDS`
    (the names fit, or the signature cannot be read) or :data:`POSITIONAL` (other names,
    same number of parameters); raises :class:`RenamedParameters` when neither fits.
    The one place this is decided, so a verdict's note describes the call that was made."""
    try:
        sig = inspect.signature(student_fn)
    except (TypeError, ValueError):
        return KEYWORDS
    try:
        sig.bind(**kwargs)
    except TypeError:
        pass
    else:
        return KEYWORDS
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) >= len(kwargs):
        try:
            sig.bind(*kwargs.values())
        except TypeError:
            pass
        else:
            return POSITIONAL
    theirs = ", ".join(p.name for p in params)
    ours = ", ".join(kwargs)
    raise RenamedParameters(f"your function's parameters are ({theirs}); the exercise calls "
                            f"it with ({ours}). Use the names (or the order) of the template.")


def rename_note(student_fn, case: dict) -> str | None:
    """A note when the check called ``student_fn`` (the function it calls itself, with the
    keyword arguments ``case``) positionally because its parameter names differ, else None.

    The note names ``student_fn``'s own parameters and the names of the call the check
    made. A function the check calls with keywords (its names fit; or it is a harness
    such as ex08's runner, which calls the student's step itself) gets no note.
    """
    try:
        if call_plan(student_fn, case) != POSITIONAL:
            return None
        params = inspect.signature(student_fn).parameters.values()
    except (TypeError, ValueError):
        return None
    params = list(params)
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    ours = list(case)
    if names[:len(ours)] == ours:
        return None
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    theirs = ", ".join(stars.get(p.kind, "") + p.name for p in params)
    return (f"Note: your function's parameters are ({theirs}); the exercise calls it "
            f"with ({', '.join(ours)}), so they were passed in that order.")


class RenamedParameters(TypeError):
    """The student's parameters do not fit the exercise's call."""


def _not_implemented(name, student_fn, exc) -> Verdict:
    return Verdict.from_problem(name, _dx.not_implemented(name, student_fn, exc))


def _renamed(name, exc: RenamedParameters, i: int) -> Verdict:
    return Verdict(name, WRONG, str(exc), kind="renamed-parameters", case=i,
                   error=type(exc).__name__)


# ---------------------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------------------
_copy = _dx.copy_case
_describe = _dx.describe


def _unchanged(before, after) -> bool:
    """False if an array argument (or an array in a list/tuple argument) was modified."""
    if isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and before.shape == after.shape
                and np.array_equal(before, after, equal_nan=True))
    if isinstance(before, (list, tuple)) and any(isinstance(v, np.ndarray) for v in before):
        return (isinstance(after, (list, tuple)) and len(before) == len(after)
                and all(_unchanged(b, a) for b, a in zip(before, after)))
    return True
