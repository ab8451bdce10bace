"""Root pytest configuration, shared by the unit tests and nbval.

* nbval's sanitizer file is set here with an absolute path (nbval only takes a path
  relative to the current directory on the command line).
* With pytest-xdist, tests are sent to workers one *file* at a time (like
  ``--dist loadfile``), so all cells of one notebook run in one kernel on one worker;
  the parametrized executions of the student notebooks (tests/test_notebooks.py) are
  the exception: each notebook is its own unit, so the workers share that work.
  (``--dist loadgroup`` would be the usual tool, but with pytest 9.2 xdist's group
  suffix on node ids is lost, so we pick the scopes ourselves.)
* The longest units go first, so that no worker starts a long one while the others run
  out of work: a unit's cost is its time in the last run on this machine (kept in
  pytest's cache), and, for a unit never timed here (a fresh clone, as in CI), a guess
  read from the test files: a notebook, or a test marked ``@pytest.mark.slow`` (in its
  decorators or the module's ``pytestmark``), counts as long. So mark a test that takes
  more than a few seconds ``slow``: it is then started early (and left out of the
  portability passes, see course.py).
"""

import ast
import functools
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


# nbval waits 60 s for a kernel to start by default; a start slowed down by a busy machine
# is not a failure of the notebook (the limit only has to catch a kernel that never starts)
KERNEL_STARTUP_TIMEOUT_S = 600


def pytest_configure(config):
    opt = config.option
    if (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)) and not getattr(
        opt, "nbval_sanitize_with", None
    ):
        opt.nbval_sanitize_with = str(SANITIZE)
    if getattr(opt, "nbval_kernel_startup_timeout", None) == 60:  # nbval's default
        opt.nbval_kernel_startup_timeout = KERNEL_STARTUP_TIMEOUT_S


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in TOOLING_MODULES:
            item.add_marker(pytest.mark.tooling)


def scope_of(nodeid: str, root: Path = ROOT) -> str:
    """The unit of work an xdist worker gets: the file, or the test for heavy modules; tests
    marked ``@pytest.mark.xdist_group("name")`` form one unit of their file (tests that
    share an expensive module fixture, which each worker would otherwise build again)."""
    path = nodeid.split("::", 1)[0]
    if path.endswith(".py"):
        group = xdist_groups(root / path).get(nodeid.split("::")[-1].split("[", 1)[0])
        if group:
            return f"{path}@{group}"
    if nodeid.startswith(PER_TEST_MODULES):
        return nodeid
    return path


@functools.cache
def xdist_groups(path: Path) -> dict[str, str]:
    """Test function name -> the name in its ``xdist_group`` mark, read from the source
    (the controller of an xdist run collects nothing, so it cannot see the marks)."""
    groups = {}
    for f in ast.walk(_parse(path)):
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in f.decorator_list:
                if isinstance(d, ast.Call) and getattr(d.func, "attr", None) == "xdist_group":
                    args = [*d.args, *(k.value for k in d.keywords if k.arg == "name")]
                    if args and isinstance(args[0], ast.Constant):
                        groups[f.name] = str(args[0].value)
    return groups


@functools.cache
def _parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return ast.Module(body=[], type_ignores=[])


# Cost guesses (seconds) for a unit never timed on this machine; only their order matters.
# A test marked slow itself takes about 30 s (a notebook run, a grading round); in a module
# marked slow as a whole (a browser session, the red-team class), about 10 s each.
GUESS_NOTEBOOK_S, GUESS_SLOW_S, GUESS_SLOW_MODULE_S, GUESS_TEST_S = 60.0, 30.0, 10.0, 0.3
CACHE_KEY = "course/xdist-unit-seconds"


@functools.cache
def slow_tests(path: Path) -> tuple[bool, frozenset[str]]:
    """(whether the whole module is marked slow, the names of its test functions marked
    slow), read from the source of the test module at ``path``."""
    tree = _parse(path)

    def says_slow(node) -> bool:
        return any(isinstance(n, ast.Attribute) and n.attr == "slow" for n in ast.walk(node))

    module = any(isinstance(st, ast.Assign) and says_slow(st.value)
                 and any(getattr(t, "id", None) == "pytestmark" for t in st.targets)
                 for st in tree.body)
    funcs = frozenset(f.name for f in ast.walk(tree)
                      if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and any(says_slow(d) for d in f.decorator_list))
    return module, funcs


def guessed_cost(scope: str, nodeids, root: Path = ROOT) -> float:
    """A unit's cost guess from its files: notebooks and slow tests are long."""
    path = scope.split("::", 1)[0]
    if path.endswith(".ipynb"):
        return GUESS_NOTEBOOK_S
    module, funcs = slow_tests(root / path)
    cost = 0.0
    for nodeid in nodeids:
        name = nodeid.split("::")[-1].split("[", 1)[0]
        cost += (GUESS_SLOW_S if name in funcs else GUESS_SLOW_MODULE_S if module
                 else GUESS_TEST_S)
    return cost


def longest_first(workqueue: dict, recorded: dict[str, float], root: Path = ROOT) -> list:
    """The units of ``workqueue`` (scope -> node ids), longest first: the time recorded in
    the last run where there is one, else the guess. Equal guesses go in reverse collection
    order: the later notebooks of the course, and the later tests of a file (the end-to-end
    ones, usually), are the longer."""
    def cost(item):
        scope, nodeids = item
        return recorded[scope] if scope in recorded else guessed_cost(scope, nodeids, root)

    return sorted(reversed(list(workqueue.items())), key=cost, reverse=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    cache = getattr(config, "cache", None)
    recorded = (cache.get(CACHE_KEY, {}) if cache is not None else {}) or {}

    class NotebookAwareScheduling(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid):
            return scope_of(nodeid)

        def _assign_work_unit(self, node):
            if not self.ordered:  # the first call: the queue holds every unit
                items = longest_first(self.workqueue, recorded)
                self.workqueue.clear()
                self.workqueue.update(items)
                self.ordered = True
            super()._assign_work_unit(node)

        def _reschedule(self, node):
            # xdist queues one more unit on a worker while it still has two tests to run;
            # here a worker gets its next unit only on its last test, so a long unit is not
            # queued behind another while a worker idles at the end
            if not node.shutting_down and self.workqueue \
                    and self._pending_of(self.assigned_work[node]) > 1:
                return
            super()._reschedule(node)

    return NotebookAwareScheduling(config, log)


def pytest_runtest_logreport(report):
    if _UNIT_SECONDS is not None:  # the controller of an xdist run: time each unit
        scope = scope_of(report.nodeid)
        _UNIT_SECONDS[scope] = _UNIT_SECONDS.get(scope, 0.0) + report.duration


_UNIT_SECONDS: dict[str, float] | None = None


def pytest_sessionstart(session):
    global _UNIT_SECONDS
    config = session.config
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        _UNIT_SECONDS = {}


def pytest_sessionfinish(session):
    cache = getattr(session.config, "cache", None)
    if _UNIT_SECONDS and cache is not None:  # keep the units of earlier runs not run now
        cache.set(CACHE_KEY, {**(cache.get(CACHE_KEY, {}) or {}), **_UNIT_SECONDS})
