"""CONTRIBUTING.md, "Adding a notebook", followed to the letter on a temporary copy of the
course: a throwaway notebook 09 with one graded exercise. Only the guide's steps are taken
(the solution notebook, its reference module, its exercise module, ``course build 09``,
``course exercises --readme``), and then the build, the registry, the catalogue, ``course
progress`` and ``course grade`` all know the new exercise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NAME = "09_a_new_notebook.ipynb"

REFERENCE = '''"""Reference solutions of notebook 09."""


def double(x):
    """Twice ``x`` (any shape)."""
    return 2 * x
'''

EXERCISE_MODULE = '''"""Checks for notebook 09."""

from __future__ import annotations

import numpy as np

from ..reference import nb09 as _nb09
from .checker import Mistake
from .registry import Exercise, check_functions


def double_cases(seed: int = 901):
    rng = np.random.default_rng(seed)
    return [dict(x=rng.normal(size=(3, 4))), dict(x=rng.normal(size=(2, 5)))]


EXERCISES = (
    Exercise("ex09_double", 9, "Double a batch", 2, function="double",
             reference=_nb09.double, cases=double_cases, seed=901, outputs=("y",),
             mistakes=(Mistake("you tripled it.", lambda x: 3 * x, name="tripled"),),
             description="2 random cases against the reference.", binds="double_fn",
             libraries=("numpy",)),
)
(check_double,) = check_functions(EXERCISES)
'''


def _solution_notebook():
    like = nbformat.read(str(ROOT / "solutions" / "01_unrolling_an_rnn.ipynb"), as_version=4)
    nb = nbformat.v4.new_notebook(metadata=like.metadata)
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 09 · A new notebook", id="title"),
        nbformat.v4.new_code_cell("import numpy as np\n\nfrom course_utils.checks import ex09",
                                  id="setup"),
        nbformat.v4.new_code_cell(
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            id="double-solution"),
        nbformat.v4.new_code_cell("print(double_fn(np.ones(2)).sum())", id="after"),
    ]
    return nb


def _course(tmp: Path, *args, check=True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tmp / "src"), "PYTHONNOUSERSITE": "1"}
    env.pop("COURSE_GRADING", None)
    out = subprocess.run([sys.executable, "-m", "course_utils", *args], cwd=tmp, env=env,
                         capture_output=True, text=True, timeout=600)
    assert not check or out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-3000:])
    return out


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course with notebook 09 added by the guide's steps."""
    tmp = tmp_path_factory.mktemp("course") / "course"
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.egg-info")
    for d in ("src", "solutions", "notebooks"):
        shutil.copytree(ROOT / d, tmp / d, ignore=ignore)
    for f in ("course.py", "pyproject.toml", "INSTRUCTORS.md", "README.md"):
        shutil.copy(ROOT / f, tmp / f)
    # 1. the solution notebook
    nbformat.write(_solution_notebook(), str(tmp / "solutions" / NAME))
    # 2. its references, 3. its exercise module
    (tmp / "src/course_utils/reference/nb09.py").write_text(REFERENCE)
    (tmp / "src/course_utils/checks/ex09.py").write_text(EXERCISE_MODULE)
    # 4. build it, 5. the exercise table of INSTRUCTORS.md
    build = _course(tmp, "build", "09")
    _course(tmp, "exercises", "--readme")
    return tmp, build


def test_build_adopts_the_exercise_and_writes_the_student_edition(course):
    tmp, build = course
    sol = nbformat.read(str(tmp / "solutions" / NAME), as_version=4)
    assert [c.id for c in sol.cells][2:4] == ["double-solution", "ex09_double-check"], build.stdout
    assert sol.cells[2].metadata["nbgrader"]["grade_id"] == "ex09_double_code"
    assert any("✅" in o.get("text", "") for o in sol.cells[3].outputs)  # executed
    student = nbformat.read(str(tmp / "notebooks" / NAME), as_version=4)
    assert "raise NotImplementedError()" in student.cells[2].source
    assert _course(tmp, "build", "--check").returncode == 0


def test_the_registry_and_the_catalogue_know_it(course):
    tmp, _ = course
    out = _course(tmp, "exercises", "--json").stdout
    cat = json.loads(out)
    assert [e["id"] for e in cat[NAME]] == ["ex09_double"]
    assert "`ex09_double`" in (tmp / "INSTRUCTORS.md").read_text()
    ids = subprocess.run(
        [sys.executable, "-c", "from course_utils.checks import discovery\n"
         "print(discovery.notebooks(), [e.id for e in discovery.exercises()][-1])"],
        cwd=tmp, env={**os.environ, "PYTHONPATH": str(tmp / "src")}, capture_output=True,
        text=True, check=True).stdout
    assert ids.strip().endswith("ex09_double") and "9)" in ids


def test_progress_and_grade_pick_it_up(course):
    tmp, _ = course
    progress = _course(tmp, "progress").stdout
    assert "09_a_new_notebook" in progress and "ex09_double" in progress
    subs = tmp / "submissions" / "alice"
    subs.mkdir(parents=True)
    shutil.copy(tmp / "solutions" / NAME, subs / NAME)
    _course(tmp, "grade", str(tmp / "submissions"), "--out", str(tmp / "grades"))
    grades = json.loads((tmp / "grades" / "grades.json").read_text())
    (alice,) = grades["submissions"]
    assert [(e["id"], e["status"]) for e in alice["exercises"]] == [("ex09_double", "passed")]
    assert (alice["total"], alice["max_total"]) == (2, 2)
