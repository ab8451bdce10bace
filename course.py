#!/usr/bin/env python3
"""One entry point for the course, needing only Python 3.11 (the standard library).

    python3 course.py lab      set up .venv (student environment) and open JupyterLab on notebooks/
    python3 course.py test     set up .venv-dev (adds instructor/CI tools) and run the whole test suite
    python3 course.py build    regenerate notebooks/ from solutions/ and re-execute solutions/
    python3 course.py grade …  grade submitted notebooks (see README, "For instructors")
    python3 course.py freeze   rewrite constraints.txt from .venv-dev (after an upgrade)
    python3 course.py update   get the course's latest version; your edited notebooks are kept
                               (a changed notebook's new version is put next to yours as
                               NN_name.updated.ipynb)
    python3 course.py fresh NN write a fresh copy of notebook NN next to yours
                               (NN_name.fresh.ipynb); yours is not touched

Environments are created next to this file and re-installed only when pyproject.toml or
constraints.txt change. torch is installed first, from the exact pin in constraints.txt, so
that nothing else can pull in a different (multi-GB CUDA) build.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"

# The test command that the README documents and .ci/run calls. Every notebook runs in
# one xdist unit (see conftest.py), so the two CPU cores each execute whole notebooks.
PYTEST_ARGS = [
    "-n", "2", "--dist", "loadfile",
    "--nbval", "--nbval-current-env",
    "tests", "solutions",
]


def _python(env_dir: Path) -> Path:
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return env_dir / sub


def _run(cmd: list[str | Path], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def _torch_pin() -> str:
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip().lower().startswith("torch=="):
            return line.strip()
    raise SystemExit("constraints.txt has no torch== pin")


def ensure_env(dev: bool) -> Path:
    """Create (or refresh) .venv or .venv-dev and return its python executable."""
    env_dir = ROOT / (".venv-dev" if dev else ".venv")
    py = _python(env_dir)
    stamp_src = CONSTRAINTS.read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    stamp = hashlib.sha256(stamp_src + (b"dev" if dev else b"")).hexdigest()
    stamp_file = env_dir / ".course-stamp"
    if py.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return py
    if not py.exists():
        print(f"Creating {env_dir.name} with {sys.executable} …", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(env_dir)
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    _run(pip + ["-c", CONSTRAINTS, _torch_pin()])
    _run(pip + ["-c", CONSTRAINTS, "-e", f"{ROOT}[dev]" if dev else str(ROOT)])
    stamp_file.write_text(stamp)
    return py


def _update_module():
    """src/course_utils/update.py, loaded by path: it needs only the standard library."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "course_update", ROOT / "src" / "course_utils" / "update.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    env.pop("COURSE_GRADING", None)
    if cmd == "lab":
        py = ensure_env(dev=False)
        return subprocess.call([str(py), "-m", "jupyter", "lab", *rest, str(ROOT / "notebooks")],
                               cwd=ROOT, env=env)
    if cmd == "test":
        py = ensure_env(dev=True)
        return subprocess.call([str(py), "-m", "pytest", *PYTEST_ARGS, *rest], cwd=ROOT, env=env)
    if cmd in {"build", "grade", "exercises"}:
        py = ensure_env(dev=True)
        # grade and build --assignment/--nbgrader-source DIR take paths relative to where
        # they are run; build and exercises otherwise work on ROOT.
        takes_paths = cmd == "grade" or any(
            a.startswith(("--assignment", "--nbgrader-source")) for a in rest)
        cwd = Path.cwd() if takes_paths else ROOT
        return subprocess.call([str(py), "-m", "course_utils", cmd, *rest], cwd=cwd, env=env)
    if cmd in {"update", "fresh"}:
        return _update_module().main([cmd, *rest], ROOT)
    if cmd == "freeze":
        py = ensure_env(dev=True)
        out = subprocess.run([str(py), "-m", "pip", "freeze", "--exclude-editable"],
                             check=True, capture_output=True, text=True).stdout
        header = [ln for ln in CONSTRAINTS.read_text().splitlines() if ln.startswith("#")]
        pins = [ln.split("+")[0] if ln.lower().startswith("torch==") else ln
                for ln in out.splitlines() if ln and not ln.startswith("#")]
        CONSTRAINTS.write_text("\n".join(header + pins) + "\n")
        print(f"wrote {len(pins)} pins to {CONSTRAINTS.name}")
        return 0
    print(f"unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
