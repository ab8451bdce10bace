"""What the course's files are called: the one home of these naming rules.

* a course notebook is ``NN_name.ipynb`` (:data:`NB_NAME`), in ``solutions/`` (the source)
  and ``notebooks/`` (the student edition generated from it);
* a *side file* is a copy the student commands write next to a notebook
  (``NN_name.updated.ipynb``, ``.fresh``, ``.bak``, ``.mine``: :data:`SIDE_TAGS`, with a
  number when the plain name is taken: ``NN_name.fresh2.ipynb``): not a course notebook's
  name, so the build leaves it alone; which copy of a notebook ``progress`` and the grader
  read is :mod:`course_utils.tooling.student.copies`' rule;
* a written answer that still holds nbgrader's placeholder (:data:`BLANK_ANSWER`) is blank.

Standard library only and no imports from the course: ``course progress`` and ``course
update`` load it before the course's environment exists.
"""

from __future__ import annotations

import re
from pathlib import Path

NB_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
SIDE_TAGS = ("updated", "fresh", "bak", "mine")
BLANK_ANSWER = "YOUR ANSWER HERE"  # nbgrader's text in a written-answer cell of the release


def is_notebook(name: str) -> bool:
    """``NN_name.ipynb``: a course notebook's file name (side files and others are not)."""
    return bool(NB_NAME.match(name))


def notebooks_in(folder: Path) -> list[Path]:
    """The course notebooks (``NN_name.ipynb``) of ``folder``, sorted."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if is_notebook(p.name))


def is_blank_answer(text: str) -> bool:
    """A written answer with nothing of the student's in it."""
    return not text.strip() or text.strip() == BLANK_ANSWER
