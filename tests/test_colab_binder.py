"""The Binder and Colab routes, tested as far as they can be without those services.

Binder (mybinder.org builds the repository with repo2docker):
* repo2docker reads its configuration from ``binder/`` (or ``.binder/``) if that folder
  exists and then ignores the root; a ``Dockerfile`` overrides everything; with an
  ``environment.yml``, a ``requirements.txt`` is ignored. So: ``environment.yml`` at the
  root, none of the others.
* A pip entry that points into the repository (``-e .``) makes repo2docker copy the whole
  repository *before* creating the environment (it skips its cached "pre-assemble" step),
  and conda runs pip from the directory of ``environment.yml``, so ``.`` is the repository
  root: the course package is installed with no ``postBuild``.

Colab (a notebook opened from GitHub; Colab has its own torch, numpy, matplotlib):
* the first code cell of every notebook installs the course helpers when
  ``google.colab`` is imported, with ``%pip install --no-deps <this repository>``, so
  nothing else (above all not torch) is installed or replaced. The cell's source is run
  through IPython's input transformer with a fake ``google.colab`` module and a fake
  ``get_ipython()`` recording every magic and shell command, in a subprocess (the cell
  seeds and configures numpy/torch, which must not leak into other tests); the rest of
  the cell must then run without the instructor tools (nbgrader, pytest, ...), which
  Colab does not have.
* ``pip install --no-deps`` of this checkout (instead of the GitHub URL), dry run: pip
  would install exactly one distribution, ``course-utils``.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NB_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
REPO_URL = "https://github.com/bptt-course/bptt-course"
COURSE_REQUIREMENT = re.compile(re.escape(f"git+{REPO_URL}.git") + r"(@[\w./-]+)?")
ALLOWED_PIP_FLAGS = {"-q", "--quiet", "--no-deps"}
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

NOTEBOOKS = sorted(p for d in ("solutions", "notebooks") for p in (ROOT / d).glob("*.ipynb")
                   if NB_NAME.match(p.name))


def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def _setup_cell(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{_rel(path)} has no code cell"
    return code[0].source


# ---------------------------------------------------------------------------------------
# Colab: the setup cell, with google.colab faked
# ---------------------------------------------------------------------------------------
RUNNER = textwrap.dedent(r'''
    import json, sys, types
    from IPython.core.inputtransformer2 import TransformerManager

    class FakeShell:
        """Stands in for get_ipython(): records magics and shell commands, runs none."""
        def __init__(self):
            self.calls = []
        def run_line_magic(self, name, line, _stack_depth=1):
            self.calls.append(["line_magic", name, line])
        def run_cell_magic(self, name, line, cell):
            self.calls.append(["cell_magic", name, line])
        def system(self, cmd):
            self.calls.append(["system", "", cmd])
        def getoutput(self, cmd, split=True, depth=0):
            self.calls.append(["getoutput", "", cmd])
            return []

    # The Colab install is --no-deps: whatever the setup cell imports must be on Colab
    # already. Instructor/CI tools are not; block them while "on Colab".
    NOT_ON_COLAB = {"nbgrader", "nbval", "pytest", "xdist", "playwright", "ruff",
                    "jupyterlab"}

    class NotOnColab:
        active = False
        def find_spec(self, name, path=None, target=None):
            if self.active and name.split(".")[0] in NOT_ON_COLAB:
                raise ImportError(f"{name} is not installed on Colab")
            return None

    blocker = NotOnColab()
    sys.meta_path.insert(0, blocker)

    def run(source, colab):
        for mod in ("google", "google.colab"):
            sys.modules.pop(mod, None)
        blocker.active = colab
        if colab:
            google = types.ModuleType("google")
            google.colab = types.ModuleType("google.colab")
            sys.modules["google"], sys.modules["google.colab"] = google, google.colab
        shell = FakeShell()
        result = {"calls": shell.calls, "error": None}
        try:
            code = TransformerManager().transform_cell(source)
            result["transformed"] = code
            exec(compile(code, "<setup cell>", "exec"), {"get_ipython": lambda: shell,
                                                        "__name__": "__main__"})
        except BaseException as exc:  # report, do not crash the runner
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            blocker.active = False
            for mod in ("google", "google.colab"):
                sys.modules.pop(mod, None)
        return result

    sources = json.load(sys.stdin)
    out = {name: {"colab": run(src, True), "local": run(src, False)}
           for name, src in sources.items()}
    print("@@RESULT@@" + json.dumps(out))
''')


@pytest.fixture(scope="module")
def setup_runs():
    """Every notebook's setup cell, run on a fake Colab and locally (one subprocess)."""
    sources = {_rel(p): _setup_cell(p) for p in NOTEBOOKS}
    res = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(sources),
                         capture_output=True, text=True, cwd=ROOT / "notebooks", timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.split("@@RESULT@@", 1)[1])


def _pip_args(run: dict) -> list[str]:
    """The arguments of the one `%pip` call in a run, or fail saying what ran instead."""
    calls = run["calls"]
    assert len(calls) == 1, f"expected exactly one `%pip install`, the cell ran {calls}"
    kind, name, line = calls[0]
    assert (kind, name) == ("line_magic", "pip"), (
        f"the install must use the %pip magic (it installs into the kernel's environment), "
        f"got {kind} {name} {line!r}")
    return shlex.split(line)


def _check_install_command(args: list[str]) -> str:
    assert args and args[0] == "install", f"not a pip install: {args}"
    flags = [a for a in args[1:] if a.startswith("-")]
    reqs = [a for a in args[1:] if not a.startswith("-")]
    assert "--no-deps" in flags, f"the install must be --no-deps (keeps Colab's torch): {args}"
    assert set(flags) <= ALLOWED_PIP_FLAGS, (
        f"unexpected pip options {set(flags) - ALLOWED_PIP_FLAGS} (upgrades, extra indexes, "
        f"requirement files could replace Colab's packages): {args}")
    assert len(reqs) == 1, f"exactly one thing may be installed, the course package: {reqs}"
    assert COURSE_REQUIREMENT.fullmatch(reqs[0]), (
        f"the install must be this repository ({REPO_URL}), got {reqs[0]!r}")
    return reqs[0]


@pytest.mark.parametrize("rel", [_rel(p) for p in NOTEBOOKS])
def test_setup_cell_on_colab_installs_only_the_course_package(rel, setup_runs):
    run = setup_runs[rel]["colab"]
    _check_install_command(_pip_args(run))
    assert run["error"] is None, f"{rel}: the setup cell fails after the install: {run['error']}"


@pytest.mark.parametrize("rel", [_rel(p) for p in NOTEBOOKS])
def test_setup_cell_elsewhere_installs_nothing(rel, setup_runs):
    run = setup_runs[rel]["local"]
    assert run["calls"] == [], f"{rel}: outside Colab the setup cell must not install: {run}"
    assert run["error"] is None, f"{rel}: the setup cell fails: {run['error']}"


def test_fake_colab_detection_is_real():
    """The runner's transformation turns the indented %pip into a magic call (so the
    tests above cannot pass vacuously), and a `!pip` or a bare install would be caught."""
    src = 'import sys\nif "google.colab" in sys.modules:\n    !pip install torch\nimport ruff\n'
    res = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps({"x": src}),
                         capture_output=True, text=True, timeout=120)
    run = json.loads(res.stdout.split("@@RESULT@@", 1)[1])["x"]
    assert run["local"]["calls"] == [] and run["local"]["error"] is None
    assert "not installed on Colab" in run["colab"]["error"]
    assert run["colab"]["calls"] == [["system", "", "pip install torch"]]
    with pytest.raises(AssertionError, match="%pip magic"):
        _pip_args(run["colab"])
    for bad in (["install", "-q", "git+https://github.com/bptt-course/bptt-course.git"],
                ["install", "--no-deps", "-U", "git+https://github.com/bptt-course/bptt-course.git"],
                ["install", "--no-deps", "torch"],
                ["install", "--no-deps", "git+https://github.com/bptt-course/bptt-course.git",
                 "torch"]):
        with pytest.raises(AssertionError):
            _check_install_command(bad)


def test_every_notebook_has_the_colab_setup_cell():
    assert NOTEBOOKS, "no notebooks found"
    for p in NOTEBOOKS:
        src = _setup_cell(p)
        assert 'if "google.colab" in sys.modules:' in src, f"{_rel(p)}: no Colab guard"
        assert "course_utils.setup(" in src, f"{_rel(p)}: setup cell does not call setup()"


def _build_requirements_installed() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]:
        req = Requirement(spec)
        try:
            if not req.specifier.contains(version(req.name), prereleases=True):
                return False
        except PackageNotFoundError:
            return False
    return True


def test_colab_install_from_this_checkout_brings_exactly_one_package(tmp_path, setup_runs):
    """The notebooks' install command, pointed at this checkout, resolves to course-utils
    alone (pip --dry-run; nothing is installed)."""
    args = _pip_args(setup_runs[_rel(NOTEBOOKS[0])]["colab"])
    req = _check_install_command(args)
    local_args = [str(ROOT) if a == req else a for a in args]
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *local_args,
           "--dry-run", "--ignore-installed", "--report", str(report)]
    if _build_requirements_installed():
        cmd.append("--no-build-isolation")  # offline and faster: the backend is here
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    installs = json.loads(report.read_text())["install"]
    names = sorted(i["metadata"]["name"] for i in installs)
    assert names == ["course-utils"], f"the Colab install would also install {names}"


# ---------------------------------------------------------------------------------------
# Binder: repo2docker's rules for environment.yml
# ---------------------------------------------------------------------------------------
def _env() -> dict:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert isinstance(env, dict), "environment.yml must be a mapping"
    return env


def _pip_section(env: dict) -> list[str]:
    sections = [d["pip"] for d in env.get("dependencies", []) if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1 and isinstance(sections[0], list), "one `- pip:` list expected"
    return [str(x) for x in sections[0]]


def _points_into_repo(line: str) -> bool:
    """Does a pip requirement line refer to a path in the repository (e.g. `-e .`)?"""
    line = line.split("#", 1)[0].strip()
    for opt in ("-e", "--editable"):
        if line.startswith(opt + " ") or line.startswith(opt + "="):
            line = line[len(opt) + 1:].strip()
    return line == "." or line.startswith(("./", "file:"))


def test_binder_reads_the_root_environment_yml():
    for folder in ("binder", ".binder"):
        assert not (ROOT / folder).exists(), (
            f"{folder}/ exists: repo2docker would read it and ignore the root environment.yml")
    assert not (ROOT / "Dockerfile").exists(), "a Dockerfile would override environment.yml"
    assert not (ROOT / "requirements.txt").exists(), (
        "requirements.txt next to environment.yml is ignored by repo2docker (confusing)")
    assert (ROOT / "environment.yml").is_file()


def test_environment_yml_builds_on_binder():
    env = _env()
    deps = env["dependencies"]
    strings = [d for d in deps if isinstance(d, str)]
    py = [d for d in strings if re.match(r"python\s*=", d)]
    assert py, "pin python in environment.yml (repo2docker picks its base image from it)"
    assert re.fullmatch(r"python\s*=+\s*3\.(1[0-3])", py[0]), f"unsupported {py[0]!r}"
    assert "pip" in strings, "conda needs `pip` in dependencies to install the pip section"
    assert "conda-forge" in env.get("channels", []), "use conda-forge (Binder's default)"

    pip = _pip_section(env)
    local = [line for line in pip if _points_into_repo(line)]
    assert local == ["-e ."], (
        f"the pip section must install this repository once, as `-e .`: got {local}")
    # -e . is resolved from environment.yml's folder, which must be the repository root
    assert (ROOT / "environment.yml").parent == (ROOT / "pyproject.toml").parent
    opts = [line for line in pip if line.startswith("-") and line != "-e ."]
    assert opts == [f"--extra-index-url {CPU_TORCH_INDEX}"], (
        f"the only pip option should be the CPU torch index (no multi-GB CUDA build): {opts}")
    pkgs = {re.split(r"[=<>!~ ]", line, maxsplit=1)[0].lower()
            for line in pip if not line.startswith("-")}
    # JupyterLab 4 and ipywidgets 8 ship prebuilt extensions: no `jupyter lab build` needed
    assert {"jupyterlab", "ipywidgets", "ipykernel", "torch"} <= pkgs, pkgs
    assert all("==" in line for line in pip if not line.startswith("-")), (
        "pin every pip package exactly, as in constraints.txt")


def test_pip_line_detector():
    assert _points_into_repo("-e .") and _points_into_repo("--editable=.")
    assert _points_into_repo("./src") and not _points_into_repo("torch==2.13.0")
    assert not _points_into_repo(f"--extra-index-url {CPU_TORCH_INDEX}")


# ---------------------------------------------------------------------------------------
# README and guide links (badges, Binder, Colab) point at notebooks that exist
# ---------------------------------------------------------------------------------------
BINDER_LINK = re.compile(r"https://mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/[\w.-]+"
                         r"(?:\?urlpath=(?:lab/tree|tree|doc/tree)/([^\s)\"']+))?")
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/"
                        r"[\w.-]+/([^\s)\"']+)")


@pytest.mark.parametrize("doc", ["README.md", "INSTRUCTORS.md"])
def test_readme_binder_and_colab_links_point_at_existing_notebooks(doc):
    readme = (ROOT / doc).read_text()
    repo = REPO_URL.removeprefix("https://github.com/")
    for m in BINDER_LINK.finditer(readme):
        assert m.group(1) == repo, f"Binder link to another repository: {m.group(0)}"
        if m.group(2):
            path = m.group(2).split("%3F")[0].split("?")[0].replace("%2F", "/")
            assert (ROOT / path).exists(), f"Binder link to a missing path: {m.group(0)}"
    for m in COLAB_LINK.finditer(readme):
        assert m.group(1) == repo, f"Colab link to another repository: {m.group(0)}"
        assert (ROOT / m.group(2)).is_file(), f"Colab link to a missing notebook: {m.group(0)}"
