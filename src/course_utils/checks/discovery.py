"""Every exercise of the course, found from the files: each ``checks/exNN.py`` is notebook
NN's exercise module (its ``EXERCISES``, in the order the notebook shows them).

Adding a notebook's exercises is adding its ``exNN.py``: no list to edit. This module is the
only one that imports the exercise modules by name; they import :mod:`.registry` (the
:class:`~.registry.Exercise` entry), never this module, so there is no import cycle.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from .registry import Exercise

_MODULE = re.compile(r"^ex(\d\d)\.py$")


def notebooks() -> tuple[int, ...]:
    """The notebook numbers that have an exercise module (``checks/exNN.py``), sorted."""
    return tuple(sorted(int(m[1]) for p in Path(__file__).parent.iterdir()
                        if (m := _MODULE.match(p.name))))


def exercises() -> list[Exercise]:
    """Every exercise of the course, in notebook order (notebook 01's first)."""
    out: list[Exercise] = []
    for n in notebooks():
        out += list(importlib.import_module(f"{__package__}.ex{n:02d}").EXERCISES)
    return out


def find(exercise_id: str, among=None) -> Exercise:
    """The exercise with this id, among ``among`` (default: every exercise of the course;
    ``KeyError`` if there is none)."""
    for e in among if among is not None else exercises():
        if e.id == exercise_id:
            return e
    raise KeyError(exercise_id)
