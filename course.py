#!/usr/bin/env python3
"""The course's launcher, needing only Python 3.11 to 3.14 (the standard library).

    python3 course.py help     every command (the table in src/course_utils/tooling/cli.py)

It hands over to the course's one command line (src/course_utils/tooling/cli.py, loaded by path):
``update``, ``fresh`` and ``progress`` run right here, with the standard library; for the
others it first creates the environment they need, next to this file, and re-installs it
only when pyproject.toml or constraints.txt change: .venv (the student environment) for
``lab`` and ``progress --verify``, .venv-dev (adds the instructor and CI tools) for the
rest. torch is installed first, from the exact pin in constraints.txt, so that nothing else
can pull in a different build: on Linux from PyTorch's CPU index (PyPI's Linux torch is a
multi-GB CUDA build; ``--cuda`` or COURSE_TORCH=cuda keeps your configured index), falling
back to your configured index, with one line that says so, when the CPU index cannot be
reached. ``test`` and ``freeze`` live here, since they manage the environments themselves.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"

# The Python versions the course is tested on (the GitHub matrix runs each; constraints.txt
# has wheels for each). An older or newer Python is refused with one line.
PYTHONS = ((3, 11), (3, 14))

# PyTorch's index of CPU-only builds. PyPI's torch for Linux is a CUDA build (several GB with
# its nvidia-* wheels); macOS and Windows wheels on PyPI are CPU builds already.
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_INDEX_PROBE_SECONDS = 5

# The test command that INSTRUCTORS.md documents and .ci/run calls. Every notebook runs in
# one xdist unit, and the longest units start first (see conftest.py), so the CPU cores
# each execute whole notebooks and none idles at the end while one runs a long unit. Three
# workers on two cores: much of the main pass waits rather than computes (the grading
# tests' time limits, nbgrader's and JupyterLab's start-ups, the browser), and a third
# worker keeps both cores busy meanwhile (measured per test with --durations: the slow and
# tooling tests took 545 s of wall time for 222 CPU s).
PYTEST_ARGS = [
    "-n", "3", "--dist", "loadfile",
    "--nbval", "--nbval-current-env",
    "solutions", "tests",
]

# Portability. numpy's OpenBLAS and torch's MKL pick their kernels by CPU, and each family
# rounds differently, so a stored output that shows rounding noise passes on one machine and
# fails on the next; the thread count changes the order of sums too. The main pass compares
# the solutions' stored outputs on this CPU's default kernels and every core (nbval). Its
# student-notebook runs (tests/test_notebooks.py) are the portability pass of the stored
# outputs: each student notebook runs on one thread under another kernel family of
# PORTABILITY_PASSES, dealt out in turn (portability_pass_of: with two, 01, 03, 05, 07 under
# the first and 02, 04, 06, 08 under the second), and every cell it shares with the solution
# (all but the exercises and their checks) must print what the solution stored, compared as
# nbval compares it. So every notebook's stored outputs are compared under two kernel
# families, on every core and on one thread, and each notebook executes twice in all (until
# 2026-12-07 a separate pass re-ran the solutions instead: 174 of the 1,056 s CI took). The
# unit tests then run again under the first family, one thread (PORTABILITY_ARGS), so their
# asserts hold under two families; the browser tests and the tests of the course tooling
# (build, grading, update: marked slow, browser or tooling) are not repeated: they compute
# nothing with BLAS that is compared. Keyed by platform.machine(); elsewhere there are none.
PORTABILITY_PASSES: dict[str, list[tuple[str, dict[str, str]]]] = {
    "x86_64": [
        ("generic x86-64 kernels (Prescott), 1 thread",
         {"OPENBLAS_CORETYPE": "Prescott", "MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"}),
        ("AVX2 kernels (Haswell), 1 thread",
         {"OPENBLAS_CORETYPE": "Haswell", "MKL_CBWR": "AVX2", "OMP_NUM_THREADS": "1"}),
    ],
    "aarch64": [
        ("generic ARMv8 kernels, 1 thread", {"OPENBLAS_CORETYPE": "ARMV8", "OMP_NUM_THREADS": "1"}),
    ],
}
PORTABILITY_ARGS = [
    "-n", "2", "--dist", "loadfile",
    "-m", "not slow and not browser and not tooling",
    "tests",
]
# --portability alone: the student-notebook runs (each under its own family), then the above
STUDENT_RUNS_ARGS = ["-n", "2", "--dist", "loadfile", "--nbval", "--nbval-current-env",
                     "tests/test_notebooks.py"]


def portability_passes(machine: str | None = None) -> list[tuple[str, dict[str, str]]]:
    """The extra (label, environment) passes for this CPU architecture."""
    machine = (machine or platform.machine()).lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return PORTABILITY_PASSES.get(machine, [])


def portability_pass_of(name: str, machine: str | None = None,
                        root: Path = ROOT) -> tuple[str, dict[str, str]] | None:
    """The portability pass (label, environment) that the notebook file ``name`` runs under
    in tests/test_notebooks.py: the passes dealt out over the notebooks in notebook order, in
    turn, so each is compared under exactly one of them; None where there are none."""
    passes = portability_passes(machine)
    names = sorted(p.name for p in (root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not passes or name not in names:
        return None
    return passes[names.index(name) % len(passes)]


def without_nbval(args: list[str]) -> list[str]:
    """pytest arguments with the stored-output comparison (nbval over solutions/) removed."""
    return [a for a in args if a not in {"--nbval", "--nbval-current-env", "solutions"}]


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


def python_problem(version: tuple[int, ...] | None = None) -> str | None:
    """None on a Python the course is tested on; otherwise one line that says which work."""
    version = tuple(sys.version_info if version is None else version)
    (lo_major, lo), (hi_major, hi) = PYTHONS
    if (lo_major, lo) <= tuple(version[:2]) <= (hi_major, hi):
        return None
    return (f"This course runs on Python {lo_major}.{lo} to {hi_major}.{hi}; this is Python "
            f"{version[0]}.{version[1]}. Install one of those and run course.py with it "
            f"(e.g. python3.12 course.py lab).")


def wants_cuda(environ: dict[str, str] | None = None) -> bool:
    """COURSE_TORCH=cuda (what ``--cuda`` sets): torch from the configured index."""
    environ = os.environ if environ is None else environ
    return environ.get("COURSE_TORCH", "").strip().lower() == "cuda"


def torch_index(system: str | None = None, cuda: bool = False) -> str | None:
    """Where torch should come from: PyTorch's CPU index on Linux unless ``cuda``; None
    (the configured index, usually PyPI) on macOS and Windows, whose wheels are CPU builds."""
    system = (system or platform.system()).lower()
    return CPU_INDEX if system == "linux" and not cuda else None


def torch_pip_args(pin: str, index: str | None) -> list[str]:
    """pip's arguments (after ``pip install``) that install the torch ``pin`` from ``index``.

    The CPU index is added to the configured one (whose other packages torch needs), with a
    short time-out and one retry, so an index that answers slowly fails fast. Its wheel is
    ``torch==X+cpu``, which satisfies the pin ``torch==X`` and sorts above PyPI's ``X``.
    """
    args = ["-c", str(CONSTRAINTS), pin]
    if index:
        args = ["--extra-index-url", index, "--timeout", "15", "--retries", "1", *args]
    return args


def index_reachable(url: str, seconds: float = CPU_INDEX_PROBE_SECONDS) -> str | None:
    """None if ``url`` answers within ``seconds``; otherwise the reason, in a few words.
    Uses the same proxy settings as pip (HTTP(S)_PROXY)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/torch/", timeout=seconds) as resp:
            resp.read(1)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means: use the configured index
        reason = getattr(exc, "reason", None) or exc
        return f"{type(exc).__name__}: {reason}"[:120]


def install_torch(pip: list, cuda: bool | None = None, reinstall: bool = False,
                  log=print) -> str:
    """Install the pinned torch with ``pip`` (a command list); returns the index used
    ("configured" or the CPU index's URL). Falls back to the configured index, saying so in
    one line, when the CPU index cannot be reached or its install fails. ``reinstall``
    replaces an installed torch of the other build (after switching to or from ``--cuda``)."""
    pin = _torch_pin()
    index = torch_index(cuda=wants_cuda() if cuda is None else cuda)
    pip = pip + ["--force-reinstall"] if reinstall else pip
    if index:
        why = index_reachable(index)
        if why is None:
            try:
                _run(pip + torch_pip_args(pin, index))
                return index
            except subprocess.CalledProcessError as exc:
                why = f"pip exited with {exc.returncode}"
        log(f"PyTorch's CPU index ({index}) could not be used ({why}); installing {pin} from "
            f"your configured index instead (on Linux, PyPI's is the larger CUDA build).")
    _run(pip + torch_pip_args(pin, None))
    return "configured"


def ensure_env(dev: bool) -> Path:
    """Create (or refresh) .venv or .venv-dev and return its python executable."""
    env_dir = ROOT / (".venv-dev" if dev else ".venv")
    py = _python(env_dir)
    cuda = wants_cuda()
    stamp_src = CONSTRAINTS.read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    stamp = hashlib.sha256(stamp_src + (b"dev" if dev else b"") + (b"cuda" if cuda else b"")
                           ).hexdigest()
    stamp_file = env_dir / ".course-stamp"
    if py.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return py
    if not py.exists():
        print(f"Creating {env_dir.name} with {sys.executable} …", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(env_dir)
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if dev:  # CI's fresh clone: compile only the modules that are imported, when they are:
        pip.append("--no-compile")  # byte-compiling all 11,000 files took ~26 CPU s here
    build_file, build = env_dir / ".course-torch", "cuda" if cuda else "cpu"
    switched = build_file.exists() and build_file.read_text() != build
    install_torch(pip, cuda, reinstall=switched)
    build_file.write_text(build)
    _run(pip + ["-c", CONSTRAINTS, "-e", f"{ROOT}[dev]" if dev else str(ROOT)])
    stamp_file.write_text(stamp)
    return py


def _cli():
    """src/course_utils/tooling/cli.py, loaded by path: it needs only the standard library, so it
    works before any environment exists."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "course_cli", ROOT / "src" / "course_utils" / "tooling" / "cli.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod


def in_container() -> bool:
    """True inside a Docker/Podman/Kubernetes container (where running as root is normal)."""
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    if os.environ.get("KUBERNETES_SERVICE_HOST") or os.environ.get("container"):
        return True
    try:
        cgroup = Path("/proc/1/cgroup").read_text()
    except OSError:
        return False
    return any(word in cgroup for word in ("docker", "kubepods", "containerd", "libpod"))


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_args(rest: list[str]) -> list[str]:
    """JupyterLab's arguments. JupyterLab refuses to start as root; inside a container,
    where root is the normal user, pass --allow-root (and say so); elsewhere stop with one
    line that says what to do."""
    if not is_root() or "--allow-root" in rest:
        return rest
    if in_container():
        print("Running as root inside a container: starting JupyterLab with --allow-root.")
        return [*rest, "--allow-root"]
    raise SystemExit(
        "JupyterLab will not run as root: run `python3 course.py lab` as a normal user "
        "(or, if you accept the risk, `python3 course.py lab --allow-root`).")


def blas_kernel(py: Path, env: dict[str, str]) -> str:
    """The kernel family numpy's OpenBLAS picks under ``env`` (see course_utils.runtime)."""
    code = "from course_utils.runtime import blas_kernel; print(blas_kernel())"
    try:
        out = subprocess.run([str(py), "-c", code], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def run_tests(rest: list[str], env: dict[str, str]) -> int:
    """The guide's test command: the main pass (its student-notebook runs compare the stored
    outputs under other kernel families), then the unit tests under the first family."""
    fast, only_portability, nbval = "--fast" in rest, "--portability" in rest, "--no-nbval" not in rest
    rest = [a for a in rest if a not in {"--fast", "--portability", "--no-nbval"}]
    py = ensure_env(dev=True)
    runs: list[tuple[str, dict[str, str], list[str]]] = []
    if not only_portability:
        runs.append(("main pass (this machine's default kernels; the student notebooks under "
                     "the portability passes' kernels, one thread)", {},
                     PYTEST_ARGS if nbval else without_nbval(PYTEST_ARGS)))
    elif nbval:
        runs.append(("the student notebooks under the portability passes' kernels, one thread",
                     {}, STUDENT_RUNS_ARGS))
    passes = portability_passes()
    if passes and not fast:
        label, extra = passes[0]
        runs.append((f"unit tests again: {label}", extra, PORTABILITY_ARGS))
    summary, default_kernel = [], blas_kernel(py, env)
    for label, extra, args in runs:
        kernel = blas_kernel(py, {**env, **extra})
        print(f"\n=== {label}" + "".join(f" {k}={v}" for k, v in extra.items()), flush=True)
        print(f"numpy's BLAS kernels: {kernel}"
              + (" (the same as this CPU's default: this pass shows nothing new)"
                 if extra and kernel == default_kernel != "unknown" else ""), flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([str(py), "-m", "pytest", *args, *rest], cwd=ROOT,
                               env={**env, **extra})
        summary.append((label, code, time.perf_counter() - t0))
    print("\n=== test passes")
    for label, code, seconds in summary:
        print(f"  {'ok    ' if code == 0 else 'FAILED'} {seconds:6.0f} s  {label}")
    return next((code for _, code, _ in summary if code != 0), 0)


def freeze() -> int:
    py = ensure_env(dev=True)
    out = subprocess.run([str(py), "-m", "pip", "freeze", "--exclude-editable"],
                         check=True, capture_output=True, text=True).stdout
    header = [ln for ln in CONSTRAINTS.read_text().splitlines() if ln.startswith("#")]
    pins = [ln.split("+")[0] if ln.lower().startswith("torch==") else ln
            for ln in out.splitlines() if ln and not ln.startswith("#")]
    CONSTRAINTS.write_text("\n".join(header + pins) + "\n")
    print(f"wrote {len(pins)} pins to {CONSTRAINTS.name}")
    return 0


def main(argv: list[str]) -> int:
    problem = python_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if "--cuda" in argv[1:]:  # torch from the configured index (CUDA on Linux)
        argv = [a for a in argv if a != "--cuda"]
        os.environ["COURSE_TORCH"] = "cuda"
    cli = _cli()
    prog = "python3 course.py"
    cmd, code = cli.command_of(argv, prog)
    if cmd is None:
        return code
    rest = argv[1:]
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    env.pop("COURSE_GRADING", None)
    if cmd.name == "progress" and "--verify" in rest:  # re-running needs Jupyter: .venv
        py = ensure_env(dev=False)
        return subprocess.call([str(py), "-m", "course_utils", *argv], cwd=Path.cwd(), env=env)
    if cmd.env == "none":
        return cli.main(argv, root=ROOT, prog=prog)
    if cmd.name == "lab":
        try:
            rest = lab_args(rest)
        except SystemExit as exc:
            print(exc, file=sys.stderr)
            return 2
        py = ensure_env(dev=False)
        return subprocess.call([str(py), "-m", "jupyter", "lab", *rest, str(ROOT / "notebooks")],
                               cwd=ROOT, env=env)
    if cmd.name == "test":
        return run_tests(rest, env)
    if cmd.name == "freeze":
        return freeze()
    py = ensure_env(dev=cmd.env == "dev")
    # grade and build --assignment/--nbgrader-source DIR take paths relative to where
    # they are run; build, exercises and site otherwise work on ROOT.
    takes_paths = cmd.name == "grade" or any(
        a.startswith(("--assignment", "--nbgrader-source")) for a in rest)
    cwd = Path.cwd() if takes_paths else ROOT
    return subprocess.call([str(py), "-m", "course_utils", *argv], cwd=cwd, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
