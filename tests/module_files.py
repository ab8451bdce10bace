"""Loading a Python file that is not an installed module (course.py, the root conftest.py)."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path


@contextlib.contextmanager
def module_from_file(path: Path, name: str):
    """The module run from ``path`` under ``name`` (in ``sys.modules`` while in use, as
    dataclasses and pickling need), removed from ``sys.modules`` afterwards."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(name, None)
