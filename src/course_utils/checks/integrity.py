"""Held-out checks for nbgrader's autograde, run inside the student's kernel.

The check cells of ``solutions/`` end with a hidden-test region (stripped from the
student notebooks by the generator)::

    ### BEGIN HIDDEN TESTS
    from course_utils.checks import integrity
    integrity.hidden_check("ex01", "check_rnn_step_forward", rnn_step_forward)
    ### END HIDDEN TESTS

:func:`hidden_check` raises ``AssertionError`` (so nbgrader gives the cell 0 points)
unless the function passes the check on held-out cases. It does not trust what the
notebook's code may have changed: it runs *fresh copies* of the checking code and the
references, loaded from their files (so a replaced ``exNN.check_…``, ``ex01 = Fake()`` or
a patched ``grading_mode`` has no effect), it refuses a function that is, wraps or keeps
a course function, and while the check runs every function of the reference's module and
of the entry's ``answer_modules`` is replaced by a tripwire, so a function that calls the
reference (or a lesson function that computes the same thing) fails. While the check calls
the function, :class:`course_utils.checks.behaviour.Recorder` records what runs underneath:
any other course function (not among the exercise's ``helpers``) fails it too, and a
library the exercise does not allow is printed to standard error as a line
``Flagged for review: …`` (nbgrader has no review flags; its formgrader shows the output).

This is weaker than ``course grade``, which runs the student's code in a separate
process: code in the same kernel can still patch the import system or this module
before the hidden test runs (see INSTRUCTORS.md, "Threat model").
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import secrets
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # course_utils/
HELDOUT_SEEDS = (90_001, 90_002)


class NotOwnWork(AssertionError):
    """The function is, wraps or calls code shipped with the course."""


def fresh_modules(*names: str) -> list:
    """New copies of ``course_utils.<name>`` for each name (and of what they import from
    the package), loaded from the package's files under a private name, ignoring
    ``sys.modules``."""
    prefix = f"_course_fresh_{secrets.token_hex(4)}"
    spec = importlib.util.spec_from_file_location(
        prefix, PACKAGE_DIR / "__init__.py", submodule_search_locations=[str(PACKAGE_DIR)])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[prefix] = pkg
    try:
        spec.loader.exec_module(pkg)
        return [importlib.import_module(f"{prefix}.{name}") for name in names]
    finally:
        for key in [k for k in sys.modules if k == prefix or k.startswith(prefix + ".")]:
            del sys.modules[key]


def _course_function(obj) -> str | None:
    mod = getattr(obj, "__module__", None) or ""
    if isinstance(mod, str) and (mod == "course_utils" or mod.startswith("course_utils.")):
        return f"{mod}.{getattr(obj, '__name__', '?')}"
    return None


def reused(fn) -> str | None:
    """Why ``fn`` is not the student's own work, or None."""
    seen = 0
    while fn is not None and seen < 10:
        what = _course_function(fn)
        if what:
            return f"it is the course's `{what}`"
        code = getattr(fn, "__code__", None)
        glb = getattr(fn, "__globals__", {})
        for n in (code.co_names if code is not None else ()):
            v = glb.get(n) if isinstance(glb, dict) else None
            what = _course_function(v) if callable(v) and not inspect.isclass(v) else None
            if what and not n.startswith("check_"):
                return f"it keeps the course's `{what}` in the global `{n}`"
        fn, seen = getattr(fn, "__wrapped__", None), seen + 1
    return None


class _Tripwire:
    def __init__(self, what):
        self.what = what

    def __call__(self, *a, **k):
        raise NotOwnWork(f"it calls the course's `{self.what}`")


@contextlib.contextmanager
def _tripwires(module_names, allowed=()):
    """Replace every function of the live modules (but ``allowed`` ones, ``module.name``)
    by a tripwire for the duration."""
    saved = []
    for name in module_names:
        mod = sys.modules.get(name)
        if mod is None:
            continue
        for k, v in list(vars(mod).items()):
            if inspect.isfunction(v) and v.__module__ == name \
                    and f"{name.rsplit('.', 1)[-1]}.{k}" not in allowed:
                saved.append((mod, k, v))
                setattr(mod, k, _Tripwire(f"{name}.{k}"))
    try:
        yield
    finally:
        for mod, k, v in saved:
            setattr(mod, k, v)


def _live(name: str) -> str:
    return "course_utils." + name.split(".", 1)[1]


def hidden_check(exercises: str, check: str, fn, seeds=HELDOUT_SEEDS) -> None:
    """Run ``course_utils.checks.<exercises>.<check>`` on held-out cases with fresh
    copies of the checking code; raise ``AssertionError`` with the verdict unless passed.

    The references that are off limits are those of the module's registry entries
    (``EXERCISES``) and the checked entry's ``answer_modules``, but its ``helpers``."""
    why = reused(fn)
    if why:
        raise NotOwnWork(f"not your work: {why}.")
    ex, checker, behaviour = fresh_modules(f"checks.{exercises}", "checks.checker",
                                           "checks.behaviour")
    refs = [e.reference for e in ex.EXERCISES if e.kind == "code"]
    exercise = next(e for e in ex.EXERCISES if e.kind == "code" and e.check_name == check)
    allowed = set(exercise.helper_short_names)
    modules = {_live(r.__module__) for r in refs} | set(exercise.answer_modules)
    recorder = behaviour.Recorder(package_dir=str(PACKAGE_DIR))
    for seed in seeds:
        with checker.capture() as found, _tripwires(modules, allowed):
            getattr(ex, check)(recorder.wrap(fn), seed=seed)
        verdict = found[0][0]
        if not verdict.passed:
            if verdict.error == NotOwnWork.__name__:
                raise NotOwnWork(f"not your work: {verdict.message}")
        zero, flags = behaviour.judge(recorder.events(), function=exercise.function,
                                      libraries=exercise.libraries or (),
                                      helpers=exercise.helper_names)
        if zero:
            raise NotOwnWork(zero)
        if not verdict.passed:
            _print_flags(flags)
            raise AssertionError(f"held-out check (seed {seed}): {verdict}")
    _print_flags(flags)


def _print_flags(flags) -> None:
    for flag in flags:
        print(f"Flagged for review: {flag}.", file=sys.stderr)
