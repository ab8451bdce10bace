"""The exercise registry: one declarative :class:`Exercise` per exercise, the single source.

Each ``checks/exNN.py`` declares its entries (``EXERCISES = (Exercise(...), ...)``)
next to its cases and mistakes, in the order the notebook shows them. From an entry come:

* the ``check_<function>(student_fn, seed=None)`` that the check cell calls
  (:func:`check_functions`);
* the check cell's source and the nbgrader/course metadata of the check cell, of the
  solution cell (``<id>_code``) and of a written-answer cell (:func:`sync_notebook`, which
  ``course build`` applies to ``solutions/``; a test checks the notebooks equal it);
* the catalogue (``course exercises``, the table in INSTRUCTORS.md) and what ``course grade`` and
  :func:`course_utils.checks.integrity.hidden_check` check (every entry of the course:
  :func:`course_utils.checks.discovery.exercises`, which finds the ``exNN.py`` modules).

A new code exercise is one entry plus a solution cell (a code cell defining the function,
its body between ``### BEGIN SOLUTION`` and ``### END SOLUTION``); ``course build`` adds
the check cell after it and writes the metadata. A new written exercise is one entry plus
a markdown answer cell whose metadata holds ``{"nbgrader": {"grade_id": "<id>"}}``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import checker
from . import probes as _probes
from .checker import Mistake, Verdict

CODE, WRITTEN = "code", "written"
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class Exercise:
    """One exercise of the course.

    Every exercise: ``id`` (the nbgrader ``grade_id``, ``exNN_…``), ``notebook`` (NN as an
    int), ``title``, ``points`` and ``kind`` ("code" or "written").

    A code exercise also has: ``function`` (the student's function name), ``reference``
    (the correct implementation, same signature), ``cases`` (``cases(seed)`` -> a list of
    keyword-argument dicts) with its default ``seed``, the ``outputs``' names (one name: a
    single value is returned), the classic ``mistakes``, ``rtol`` (the largest accepted
    :func:`~course_utils.maths.numerics.rel_error` per output), ``description`` (the check cell's ``# Check: …``
    comment; a newline starts another comment line) and ``binds`` (the name the check
    cell gives the returned function).

    Optional: ``comparators`` (``(output name, Comparator)`` pairs, see
    :class:`course_utils.checks.diagnosis.Comparator`: how an output's structure is checked and
    its error measured; default: same shape/dtype, finite, rel_error), ``text`` (a
    :class:`course_utils.checks.diagnosis.CheckText` for other wording or cases with labels),
    ``truth`` (what the outputs are compared with, if not the reference: ex06 compares
    with torch), ``runner`` (turns a step function into one that returns the compared
    outputs: ex08 trains a model with it), ``diagnose`` (refines a wrong verdict: ex03's
    shape hints for weight gradients) and ``harness`` (the function of the exercise
    module that ``course grade`` runs in its sandbox).

    What the answer may use, declared here and nowhere else: ``libraries`` (the top-level
    packages; the standard library is always allowed), ``helpers`` (the course functions
    it may call, as function objects: the behaviour recorder and the hidden tests'
    tripwires both read them) and ``answer_modules`` (the lesson modules whose functions
    compute the answer too, or part of it: ``course grade`` and the hidden tests treat a
    call to one like a call to the reference).
    """

    id: str
    notebook: int
    title: str
    points: float
    kind: str = CODE
    function: str | None = None
    reference: Callable | None = None
    cases: Callable[..., list[dict]] | None = None
    seed: int | None = None
    outputs: tuple[str, ...] = ("output",)
    mistakes: tuple[Mistake, ...] = ()
    rtol: float = 1e-7
    description: str = ""
    binds: str | None = None
    comparators: tuple[tuple[str, Any], ...] = ()
    text: Any = None
    truth: Callable | None = None
    runner: Callable | None = None
    diagnose: Callable | None = None
    harness: str | None = None
    libraries: tuple[str, ...] | None = None
    helpers: tuple[Callable, ...] = ()
    answer_modules: tuple[str, ...] = ()
    probes: Any = None

    def __post_init__(self):
        if not self.id.startswith(f"ex{self.notebook:02d}_"):
            raise ValueError(f"{self.id}: an exercise id starts with ex{self.notebook:02d}_")
        if self.kind not in (CODE, WRITTEN):
            raise ValueError(f"{self.id}: kind must be {CODE!r} or {WRITTEN!r}")
        if self.kind == CODE:
            missing = [k for k in ("function", "reference", "cases", "seed", "description",
                                   "binds", "libraries") if getattr(self, k) is None or getattr(self, k) == ""]
            if missing:
                raise ValueError(f"{self.id}: a code exercise needs {', '.join(missing)}")

    # -- names --------------------------------------------------------------------------
    @property
    def module(self) -> str:
        """The exercise module, ``course_utils.checks.exNN``."""
        return f"course_utils.checks.{self.module_name}"

    @property
    def module_name(self) -> str:
        return f"ex{self.notebook:02d}"

    @property
    def check_name(self) -> str:
        return f"check_{self.function}"

    @property
    def helper_names(self) -> tuple[str, ...]:
        """The ``helpers`` as ``module.qualname`` (what the behaviour recorder names)."""
        return tuple(f"{h.__module__}.{h.__qualname__}" for h in self.helpers)

    @property
    def helper_short_names(self) -> tuple[str, ...]:
        """The ``helpers`` as ``<last part of the module>.qualname`` (``nb01.rnn_forward``:
        what :mod:`course_utils.checks.integrity` leaves alone, whichever copy of the
        module it loaded)."""
        return tuple(f"{h.__module__.rsplit('.', 1)[-1]}.{h.__qualname__}"
                     for h in self.helpers)

    @property
    def answer_id(self) -> str:
        """The solution cell's ``grade_id``."""
        return f"{self.id}_code"

    # -- checking -----------------------------------------------------------------------
    def case_list(self, seed: int | None = None) -> list[dict]:
        """The cases for ``seed`` (default: the entry's own, the visible cases)."""
        return list(self.cases(self.seed if seed is None else int(seed)))

    def run_check(self, student_fn, seed: int | None = None) -> Verdict:
        """The verdict on ``student_fn`` (nothing printed); a diagnosed mistake's
        ``mistake`` is ``<exercise id>/<short name>``."""
        truth = self.truth or self.reference
        student = self.runner(student_fn) if self.runner and callable(student_fn) else student_fn
        ref = self.runner(truth) if self.runner else truth
        verdict = checker.run_check(student, ref, self.case_list(seed), name=self.function,
                                    outputs=self.outputs, mistakes=self.mistakes, rtol=self.rtol,
                                    comparators=dict(self.comparators), text=self.text)
        verdict = self.diagnose(verdict) if self.diagnose else verdict
        verdict = _probes.refine(self, student_fn, verdict, seed, find=_loaded_exercise)
        if verdict.mistake_name:
            verdict.mistake = f"{self.id}/{verdict.mistake_name}"
        return verdict

    def check(self, student_fn, seed: int | None = None):
        """Print the verdict; return the function later cells use (see
        :func:`course_utils.checks.checker.report`)."""
        return checker.report(self.run_check(student_fn, seed), student_fn, self.reference)

    # -- notebook cells -----------------------------------------------------------------
    def check_cell_source(self) -> str:
        """The check cell: the comment, the call, the hidden tests."""
        first, *rest = self.description.splitlines()
        lines = [f"# Check: {first}", *(f"# {r}" for r in rest),
                 f"{self.binds} = {self.module_name}.{self.check_name}({self.function})",
                 "### BEGIN HIDDEN TESTS",
                 "from course_utils.checks import integrity",
                 f'integrity.hidden_check("{self.module_name}", "{self.check_name}", '
                 f"{self.function})",
                 "### END HIDDEN TESTS"]
        return "\n".join(lines)

    def graded_metadata(self) -> dict:
        """``{"nbgrader": …, "course": …}`` of the graded cell (check cell or written answer)."""
        written = self.kind == WRITTEN
        return {"nbgrader": {"grade": True, "grade_id": self.id, "locked": not written,
                             "points": self.points, "schema_version": SCHEMA_VERSION,
                             "solution": written, "task": False},
                "course": {"title": self.title}}

    def solution_metadata(self) -> dict:
        """``{"nbgrader": …}`` of a code exercise's solution cell."""
        return {"nbgrader": {"grade": False, "grade_id": self.answer_id, "locked": False,
                             "schema_version": SCHEMA_VERSION, "solution": True,
                             "task": False}}


def _signature(exercise: Exercise) -> str:
    try:
        params = ", ".join(inspect.signature(exercise.reference).parameters)
    except (TypeError, ValueError):
        params = "…"
    outs = exercise.outputs[0] if len(exercise.outputs) == 1 else f"({', '.join(exercise.outputs)})"
    return f"{exercise.function}({params}) -> {outs}"


def check_functions(entries) -> tuple[Callable, ...]:
    """The ``check_<function>(student_fn, seed=None)`` of each code entry, in order."""
    out = []
    for entry in entries:
        if entry.kind != CODE:
            continue

        def check(student_fn, seed: int | None = None, _entry=entry):
            return _entry.check(student_fn, seed)

        check.__name__ = check.__qualname__ = entry.check_name
        check.__module__ = entry.module
        check.__doc__ = (f"Check ``{_signature(entry)}``; ``seed``: other random cases "
                         "(held-out checks). Prints one verdict and returns the function later "
                         "cells use.")
        check.exercise = entry
        out.append(check)
    return tuple(out)


def _loaded_exercise(exercise_id: str) -> Exercise:
    """The entry with this id from its exercise module, which is already loaded (an entry
    names only exercises of its own notebook in ``Probes.uses``); no import, so no cycle."""
    module = sys.modules[f"{__package__}.{exercise_id.split('_', 1)[0]}"]
    return next(e for e in module.EXERCISES if e.id == exercise_id)
