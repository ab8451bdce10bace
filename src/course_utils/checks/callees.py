"""Whom a sequence check blames: a step function it calls, only when that step is wrong.

A sequence function (``rnn_backward``) calls the student's step function
(``rnn_step_backward``) by its global name. When the sequence check fails,
:func:`blame_callees` finds that step function (:func:`callees`: the entry's
``Probes.uses`` say which exercises' functions to look for), runs the sequence function
once more with the step wrapped so that every call is compared with the reference step on
the very same arguments (:func:`with_globals`: a copy of the function, the student's own
globals are left alone), and

* blames the step only when it is wrong there: the verdict quotes the step's own check
  and says whether the sequence function passes with the reference step in its place;
* otherwise says that the step is right on those inputs, and drops the catalogued
  "your step function has a bug that this check inherits" mistakes (``step-…``) so that
  the sequence function itself is diagnosed (or located, :mod:`course_utils.checks.probes`).

When the step function cannot be seen (a closure, the grader's sandboxed proxy), the
verdict stands as it is.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import types
import warnings
from typing import Any

import numpy as np

from . import checker
from . import diagnosis as _dx


def callees(student_fn, used) -> list[tuple[str, Any]]:
    """``(global name, function)`` of the student's own functions for the exercise
    ``used`` that ``student_fn`` calls by a global name (its ``function`` or ``binds``
    name); the course's reference is not the student's. Empty when they cannot be seen
    (a closure, a sandboxed proxy)."""
    code, globs = getattr(student_fn, "__code__", None), getattr(student_fn, "__globals__", None)
    if code is None or not isinstance(globs, dict):
        return []
    names = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    out = []
    for name in dict.fromkeys((used.function, used.binds)):
        fn = globs.get(name)
        if name in names and callable(fn) and fn is not used.reference:
            out.append((name, fn))
    return out


@contextlib.contextmanager
def quiet():
    """Run a probe without its prints, warnings or numpy floating-point messages: the
    check's own run already showed them once."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def with_globals(student_fn, **replace_names):
    """A copy of ``student_fn`` whose global names ``replace_names`` are other objects
    (the student's own globals are left alone)."""
    globs = dict(student_fn.__globals__, **replace_names)
    fn = types.FunctionType(student_fn.__code__, globs, student_fn.__name__,
                            student_fn.__defaults__, student_fn.__closure__)
    fn.__kwdefaults__ = copy.copy(student_fn.__kwdefaults__)
    return fn


def _recording(step, used, seen: list):
    """``step``, noting in ``seen`` each call whose outputs differ from the reference's on
    the same arguments (or cannot be compared)."""
    comps = [dict(used.comparators).get(o, _dx.DEFAULT_COMPARATOR) for o in used.outputs]

    def wrapper(*args, **kwargs):
        a, kw = copy.deepcopy(args), copy.deepcopy(kwargs)
        out = step(*args, **kwargs)
        if not seen:
            try:
                with np.errstate(all="ignore"):
                    ref = used.reference(*a, **kw)
                    if _dx.structure_problem(out, ref, used.outputs, "", comps):
                        seen.append(("malformed", a, kw))
                    else:
                        got_t = _dx.as_tuple(out, len(used.outputs))
                        ref_t = _dx.as_tuple(ref, len(used.outputs))
                        if any(not c.error(g, r) <= used.rtol
                               for g, r, c in zip(got_t, ref_t, comps)):
                            seen.append(("values", a, kw))
            except Exception:
                pass
        return out
    return wrapper


def blame_callees(exercise, spec, student_fn, verdict, seed, *, find):
    """The verdict, refined as the module says; ``find``: the registry's entry by id."""
    if not spec.uses:
        return verdict
    # the student's own function, under a wrapper such as the behaviour recorder's
    own = inspect.unwrap(student_fn)
    found = []
    for uid in spec.uses:
        used = find(uid)
        found += [(name, fn, used) for name, fn in callees(own, used)]
    if not found:
        return verdict  # nothing to re-check: the verdict stands as it is
    cases = exercise.case_list(seed)
    blamed = []
    for name, fn, used in found:
        seen: list = []
        probe = with_globals(own, **{name: _recording(fn, used, seen)})
        for case in cases:
            if seen:
                break
            try:
                with quiet():
                    checker.call_student(probe, _dx.copy_case(case))
            except Exception:
                continue
        if seen:
            blamed.append((name, fn, used))
    if blamed:
        return _blame(exercise, own, verdict, seed, blamed)
    # Every step it calls is right on the inputs it passes them: the bug is its own.
    inherited = verdict.mistake_name and verdict.mistake_name.startswith("step-")
    if inherited:
        mistakes = tuple(m for m in exercise.mistakes if not m.name.startswith("step-"))
        verdict = _recheck(exercise, student_fn, seed, mistakes)
    names = [f"`{n}`" for n, _, _ in found]
    said = (f"Your {names[0]} gives" if len(names) == 1 else
            f"Your {', '.join(names[:-1])} and {names[-1]} give")
    verdict.details.append(f"{said} the right values on the inputs `{exercise.function}` passes "
                           f"{'it' if len(names) == 1 else 'them'}: the bug is in "
                           f"`{exercise.function}` itself.")
    return verdict


def _recheck(exercise, student_fn, seed, mistakes):
    with quiet():
        v = checker.run_check(student_fn, exercise.truth or exercise.reference, exercise.case_list(seed),
                              name=exercise.function, outputs=exercise.outputs,
                              mistakes=mistakes, rtol=exercise.rtol,
                              comparators=dict(exercise.comparators), text=exercise.text)
    return exercise.diagnose(v) if exercise.diagnose else v


def _blame(exercise, student_fn, verdict, seed, blamed):
    name, fn, used = blamed[0]
    with quiet():
        own = used.run_check(fn)
    swapped = with_globals(student_fn, **{n: u.reference for n, _, u in blamed})
    rest = _recheck(exercise, swapped, seed, exercise.mistakes)
    said = (f"; its own check says: {own.message}" if not own.passed
            else ", although it passes its own check's cases.")
    hint = (f"your `{name}`, which `{exercise.function}` calls, is wrong on the inputs "
            f"`{exercise.function}` passes it{said}")
    if rest.passed:
        hint += (f" With the reference `{used.function}` in its place, `{exercise.function}` "
                 f"passes: fix `{name}`; the rest of `{exercise.function}` is right.")
    else:
        why = f": {rest.hint}" if rest.hint else f" ({rest.message.rstrip('.')})."
        hint += (f" With the reference `{used.function}` in its place, `{exercise.function}` "
                 f"is still wrong{why} Fix `{name}` first, then `{exercise.function}`.")
    verdict.details = [d for d in verdict.details if not d.startswith("Most likely: ")]
    verdict.details.insert(0, f"Most likely: {hint}")
    verdict.hint = hint
    if not (verdict.mistake_name or "").startswith("step-"):
        verdict.mistake_name = "own-step-function-wrong"
    return verdict
