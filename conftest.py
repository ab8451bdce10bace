"""Root pytest configuration, shared by the unit tests and nbval.

* nbval's sanitizer file is set here with an absolute path (nbval only takes a path
  relative to the current directory on the command line).
* With pytest-xdist, tests are sent to workers one *file* at a time (like
  ``--dist loadfile``), so all cells of one notebook run in one kernel on one worker;
  the parametrized executions of the student notebooks (tests/test_notebooks.py) are
  the exception: each notebook is its own unit, so the workers share that work.
  (``--dist loadgroup`` would be the usual tool, but with pytest 9.2 xdist's group
  suffix on node ids is lost, so we pick the scopes ourselves.)
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
PER_TEST_MODULES = ("tests/test_notebooks.py::", "tests/test_nbgrader_roundtrip.py::")
# Tests of the course tooling (build, grading, updates, launcher, project files, Colab and
# Binder routes). They compute nothing with BLAS, so the test command's portability passes
# (other kernel families, one thread) leave them out: `-m "not tooling"`.
TOOLING_MODULES = {
    "test_answer_keys.py", "test_browser.py", "test_build.py", "test_colab_binder.py",
    "test_grading.py", "test_launcher.py", "test_nbgrader_roundtrip.py", "test_project.py",
    "test_update.py", "test_site.py", "test_site_browser.py", "test_headless.py",
    "test_adding_a_notebook.py",
}


def pytest_configure(config):
    opt = config.option
    if (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)) and not getattr(
        opt, "nbval_sanitize_with", None
    ):
        opt.nbval_sanitize_with = str(SANITIZE)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in TOOLING_MODULES:
            item.add_marker(pytest.mark.tooling)


def scope_of(nodeid: str) -> str:
    """The unit of work an xdist worker gets: the file, or the test for heavy modules."""
    if nodeid.startswith(PER_TEST_MODULES):
        return nodeid
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class NotebookAwareScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return scope_of(nodeid)

    return NotebookAwareScheduling(config, log)
