"""What the course's files are called: the one home of these naming rules.

* a course notebook is ``NN_name.ipynb`` (:data:`NB_NAME`), in ``solutions/`` (the source)
  and ``notebooks/`` (the student edition generated from it);
* a *side file* is a copy the student commands write next to a notebook
  (``NN_name.updated.ipynb``, ``.fresh``, ``.bak``, ``.mine``, with a number when the plain
  name is taken: ``NN_name.fresh2.ipynb``): the build, ``progress`` and the grader skip it
  (:func:`is_side_file`);
* a written answer that still holds nbgrader's placeholder (:data:`BLANK_ANSWER`) is blank.

Standard library only and no imports from the course: ``course progress`` and ``course
update`` load it before the course's environment exists.
"""

from __future__ import annotations

import re
from pathlib import Path

NB_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
SIDE_TAGS = ("updated", "fresh", "bak", "mine")
_SIDE_FILE = re.compile(r"\.(" + "|".join(SIDE_TAGS) + r")\d*\.ipynb$")
BLANK_ANSWER = "YOUR ANSWER HERE"  # nbgrader's text in a written-answer cell of the release


def is_notebook(name: str) -> bool:
    """``NN_name.ipynb``: a course notebook's file name (side files and others are not)."""
    return bool(NB_NAME.match(name))


def is_side_file(name: str) -> bool:
    """A copy the student commands wrote next to a notebook (``x.updated.ipynb``, ``x.fresh2.ipynb`` …)."""
    return bool(_SIDE_FILE.search(name))


def notebooks_in(folder: Path) -> list[Path]:
    """The course notebooks (``NN_name.ipynb``) of ``folder``, sorted."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if is_notebook(p.name))


def is_blank_answer(text: str) -> bool:
    """A written answer with nothing of the student's in it."""
    return not text.strip() or text.strip() == BLANK_ANSWER
