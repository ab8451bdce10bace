"""pytest configuration for tests/ (the root conftest.py is shared with nbval).

Makes each test's outcome available to its fixtures (``request.node.rep_call``), so the
browser fixtures can save a screenshot and JupyterLab's log when a test fails.
"""

import pytest


def pytest_configure(config):
    # Also registered in pyproject.toml; repeated here so `pytest tests/...` run from
    # another directory (without the ini file) still knows the marker.
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in headless Chromium (skipped without a "
        "browser unless COURSE_REQUIRE_BROWSER=1)")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch code on one thread (robust and deterministic on a busy
    machine); restores the previous setting afterwards."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
