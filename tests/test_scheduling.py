"""The order in which pytest-xdist hands out the test suite's units (the root conftest.py):
the longest first, by the time recorded in the last run, else by a guess from the files."""

from __future__ import annotations

from pathlib import Path

import pytest
from module_files import module_from_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def root_conftest():
    with module_from_file(ROOT / "conftest.py", "course_root_conftest") as mod:
        yield mod


def test_slow_marks_are_read_from_the_source(root_conftest, tmp_path):
    (tmp_path / "test_a.py").write_text(
        "import pytest\n\n@pytest.mark.slow\n@pytest.mark.parametrize('x', [1])\n"
        "def test_long(x):\n    pass\n\ndef test_short():\n    pass\n")
    (tmp_path / "test_b.py").write_text(
        "import pytest\npytestmark = [pytest.mark.browser, pytest.mark.slow]\n\n"
        "def test_any():\n    pass\n")
    assert root_conftest.slow_tests(tmp_path / "test_a.py") == (False, frozenset({"test_long"}))
    assert root_conftest.slow_tests(tmp_path / "test_b.py") == (True, frozenset())
    assert root_conftest.slow_tests(tmp_path / "missing.py") == (False, frozenset())


def test_notebooks_and_slow_tests_go_first_then_the_recorded_times_decide(root_conftest,
                                                                           tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        "import pytest\n\n@pytest.mark.slow\ndef test_long():\n    pass\n\n"
        "def test_short():\n    pass\n")
    (tmp_path / "tests" / "test_many.py").write_text("")
    queue = {
        "tests/test_many.py": {f"tests/test_many.py::test_{i}": False for i in range(50)},
        "tests/test_a.py": {"tests/test_a.py::test_long": False,
                            "tests/test_a.py::test_short": False},
        "solutions/01_x.ipynb": {"solutions/01_x.ipynb::Cell 0": False},
    }
    queue["solutions/02_y.ipynb"] = {"solutions/02_y.ipynb::Cell 0": False}
    order = [s for s, _ in root_conftest.longest_first(queue, {}, tmp_path)]
    assert order == ["solutions/02_y.ipynb", "solutions/01_x.ipynb",  # the later first
                     "tests/test_a.py", "tests/test_many.py"]
    del queue["solutions/02_y.ipynb"]
    recorded = {"solutions/01_x.ipynb": 2.0, "tests/test_many.py": 100.0}
    order = [s for s, _ in root_conftest.longest_first(queue, recorded, tmp_path)]
    assert order == ["tests/test_many.py", "tests/test_a.py", "solutions/01_x.ipynb"]


def test_each_student_notebook_execution_is_its_own_unit(root_conftest):
    a = "tests/test_notebooks.py::test_student_notebook_runs_unanswered[01_unrolling_an_rnn]"
    assert root_conftest.scope_of(a) == a
    assert root_conftest.scope_of("tests/test_ex01.py::test_x[1]") == "tests/test_ex01.py"
    assert root_conftest.scope_of("solutions/01_x.ipynb::Cell 3") == "solutions/01_x.ipynb"


def test_an_xdist_group_is_one_unit_of_its_file(root_conftest, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_g.py").write_text(
        "import pytest\n\n@pytest.mark.xdist_group('built')\n"
        "@pytest.mark.parametrize('x', [1, 2])\ndef test_a(x):\n    pass\n\n"
        "@pytest.mark.xdist_group(name='built')\ndef test_b():\n    pass\n\n"
        "def test_c():\n    pass\n")
    scope = root_conftest.scope_of
    units = {scope(f"tests/test_g.py::{t}", tmp_path) for t in ("test_a[1]", "test_a[2]", "test_b")}
    assert units == {"tests/test_g.py@built"}
    assert scope("tests/test_g.py::test_c", tmp_path) == "tests/test_g.py"
