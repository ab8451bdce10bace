"""Execute every *student* notebook top to bottom, as a student would, unanswered, under
another BLAS kernel family on one thread, and compare its outputs with the solution's.

Strict nbval over ``solutions/`` (with stored outputs) is run by the same pytest command
(``--nbval solutions``), on this CPU's default kernels and every core. Here the student
versions must run without any error, each check cell must report "not attempted yet" (no
exercise is answered), and, when pytest runs with ``--nbval``, every cell the student
notebook shares with the solution (all but the exercises and their checks) must print what
the solution stored, compared as nbval compares it (tests/stored_outputs.py). This run is
the test command's portability pass for the stored outputs (course.py): the notebooks are
dealt out over the kernel families of ``PORTABILITY_PASSES`` in turn (on x86-64, generic
Prescott kernels for 01, 03, 05, 07 and AVX2 kernels for 02, 04, 06, 08), each on one
thread, so every notebook's stored outputs are compared on every core under the default
kernels (nbval) and on one thread under another family (here), and each notebook executes
twice in all. The time each notebook takes is recorded (printed and in the junit report),
never asserted: the 90 s budget is measured by ``benchmarks/time_budgets.py`` with the
machine's load, and tests/test_project.py holds the recorded numbers to it.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from module_files import module_from_file
from stored_outputs import differences

from course_utils.tooling.publish import build

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
STUDENT = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if build.NB_NAME.match(p.name))


def kernel_family(path: Path) -> tuple[str, dict[str, str]]:
    """(label, environment) of the portability pass that ``path`` runs under (course.py's
    ``portability_pass_of``), on one thread; on a CPU with none, its default kernels."""
    with module_from_file(ROOT / "course.py", "course_launcher") as course:
        found = course.portability_pass_of(path.name)
    label, env = found or ("this CPU's default kernels, 1 thread", {})
    return label, {**ONE_THREAD, **env}


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream")


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.stem) for p in STUDENT],
)
def test_student_notebook_runs_unanswered(path, record_property, pytestconfig):
    nb = nbformat.read(str(path), as_version=4)
    family, env = kernel_family(path)
    t0 = time.perf_counter()
    # One thread: a portability pass (nbval compares the solutions on every core), and the
    # test workers each run a notebook at once on a 2-core machine. The time limit per cell
    # only catches a hang: nbval's (2,000 s), not the build's 180 s, which a training cell
    # overran on a machine at load 20 (a wall-clock limit that work done slowly must not fail)
    timeout = int(pytestconfig.getoption("nbval_cell_timeout", default=None) or 2000)
    build.execute_notebook(nb, path.parent, timeout=timeout,
                           env_updates=env)  # raises on any error
    elapsed = time.perf_counter() - t0
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            out = _stdout(cell)
            assert "not attempted yet" in out, (
                f"{path.name}, cell {i} ({meta.get('grade_id')}): expected a 'not attempted "
                f"yet' verdict in the unanswered student notebook, got: {out!r}")
    # the comparison is what --nbval asks for (not on macOS and Windows: `test --no-nbval`)
    compare = pytestconfig.getoption("nbval", default=False)
    solution = nbformat.read(str(ROOT / "solutions" / path.name), as_version=4)
    found = (differences(solution, nb, pytestconfig.getoption("nbval_sanitize_with"))
             if compare else [])
    assert not found, (f"{path.name}, run with {family}: {len(found)} cell(s) print what the "
                       "solution did not store:\n\n" + "\n\n".join(found))
    record_property("wall_s", round(elapsed, 1))
    print(f"{path.name}: {elapsed:.0f} s wall ({family})")


def test_every_solution_has_a_student_version():
    sols = {p.name for p in build.solution_paths(ROOT)}
    assert sols, "no solution notebooks found"
    assert sols == {p.name for p in STUDENT}
