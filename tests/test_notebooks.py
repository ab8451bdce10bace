"""Execute every *student* notebook top to bottom, as a student would, unanswered.

Strict nbval over ``solutions/`` (with stored outputs) is run by the same pytest command
(``--nbval solutions``). Here the student versions must run without any error, and each
check cell must report "not attempted yet" (no exercise is answered). The time each
notebook takes is recorded (printed and in the junit report), never asserted: the 90 s budget
is measured by ``benchmarks/time_budgets.py`` with the machine's load, and
tests/test_project.py holds the recorded numbers to it.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from course_utils.tooling.publish import build

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
STUDENT = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if build.NB_NAME.match(p.name))


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream")


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.stem) for p in STUDENT],
)
def test_student_notebook_runs_unanswered(path, record_property, pytestconfig):
    nb = nbformat.read(str(path), as_version=4)
    t0 = time.perf_counter()
    # one thread: the two test workers each run a notebook at once on a 2-core machine, so
    # two threads per kernel would only compete (nothing printed here is compared; the
    # stored outputs are compared on one thread, and on the default count, by nbval).
    # The time limit per cell only catches a hang: nbval's (2,000 s), not the build's
    # 180 s, which a training cell overran on a machine at load 20 (a wall-clock limit
    # that work done slowly must not fail)
    timeout = int(pytestconfig.getoption("nbval_cell_timeout", default=None) or 2000)
    build.execute_notebook(nb, path.parent, timeout=timeout,
                           env_updates=ONE_THREAD)  # raises on any error
    elapsed = time.perf_counter() - t0
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            out = _stdout(cell)
            assert "not attempted yet" in out, (
                f"{path.name}, cell {i} ({meta.get('grade_id')}): expected a 'not attempted "
                f"yet' verdict in the unanswered student notebook, got: {out!r}")
    record_property("wall_s", round(elapsed, 1))
    print(f"{path.name}: {elapsed:.0f} s wall")


def test_every_solution_has_a_student_version():
    sols = {p.name for p in build.solution_paths(ROOT)}
    assert sols, "no solution notebooks found"
    assert sols == {p.name for p in STUDENT}
