"""Root pytest configuration, shared by the unit tests and nbval.

* nbval's sanitizer file is set here with an absolute path (nbval only takes a path
  relative to the current directory on the command line).
* Every test gets an ``xdist_group`` so that ``--dist loadgroup`` sends whole notebooks
  (all cells of one notebook, or one student-notebook execution) to one worker.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"


def pytest_configure(config):
    opt = config.option
    if (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)) and not getattr(
        opt, "nbval_sanitize_with", None
    ):
        opt.nbval_sanitize_with = str(SANITIZE)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = Path(str(item.fspath))
        item.add_marker(pytest.mark.xdist_group(f"{path.parent.name}/{path.name}"))
