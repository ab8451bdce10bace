"""Project files: dependencies named consistently, pins exact, lint clean."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _env_pip_lines():
    lines, in_pip = [], False
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if re.match(r"^\s*-\s*pip:\s*$", line):
            in_pip = True
            continue
        if in_pip and re.match(r"^\s{6,}-\s+", line):
            lines.append(line.strip()[2:].strip())
    return lines


def _constraints():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    return pins


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    deps = {_name(d) for d in project["dependencies"] + project["optional-dependencies"]["validate"]}
    env = {_name(x) for x in _env_pip_lines() if not x.startswith("-")}
    assert {"nbval", "pytest"} <= env, "conda/Binder users must be able to validate notebooks"
    assert "nbgrader" not in env, "nbgrader adds JupyterLab extensions: keep it out"
    assert env == deps, f"only in environment.yml: {env - deps}; only in pyproject: {deps - env}"
    assert "-e ." in _env_pip_lines(), "environment.yml must install the course package itself"
    assert re.search(r"^\s*-\s*python=3\.11\s*$", (ROOT / "environment.yml").read_text(), re.M)


def test_environment_yml_pins_match_constraints():
    pins = _constraints()
    for line in _env_pip_lines():
        if "==" in line:
            name, version = line.split("==")
            assert pins[_name(name)] == version, f"{line} vs constraints.txt {pins[_name(name)]}"


def test_every_dependency_is_pinned_exactly_and_torch_is_2_13():
    pins = _constraints()
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    for dep in project["dependencies"] + extras["dev"] + extras["validate"]:
        assert _name(dep) in pins, f"{dep} has no exact pin in constraints.txt"
    assert pins["torch"] == "2.13.0"
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", v) for v in pins.values())


def test_student_environment_has_no_instructor_tools():
    deps = {_name(d) for d in _pyproject()["project"]["dependencies"]}
    assert not deps & {"nbgrader", "ruff", "pytest-xdist", "nbval", "pytest"}


def test_ci_runs_the_guide_s_test_command():
    guide = (ROOT / "INSTRUCTORS.md").read_text()
    assert "## Running the tests\n\n```bash\npython3 course.py test\n```" in guide
    # the README gives the same command, and .ci/run says it runs the README's command
    assert "```bash\npython3 course.py test\n```" in (ROOT / "README.md").read_text()
    assert "README's test command" in (ROOT / ".ci" / "run").read_text()
    assert "course.py test" in (ROOT / ".ci" / "run").read_text()
    assert "set -e" in (ROOT / ".ci" / "run").read_text()


def test_ruff_is_clean_on_code_tests_and_notebooks():
    targets = ["src", "tests", "solutions", "notebooks", "course.py", "conftest.py"]
    if (ROOT / "benchmarks").exists():
        targets.append("benchmarks")
    res = subprocess.run([sys.executable, "-m", "ruff", "check", *targets],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_notebook_links_point_at_existing_notebooks_files_and_glossary_entries():
    import json

    anchors = set(re.findall(r'<a id="([^"]+)"', (ROOT / "GLOSSARY.md").read_text()))
    bad = []
    for folder in ("solutions", "notebooks"):
        for nb_path in sorted((ROOT / folder).glob("*.ipynb")):
            cells = json.loads(nb_path.read_text())["cells"]
            text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
            for link in re.findall(r"\]\(([^)\s]+)\)", text):
                if link.startswith(("http://", "https://", "#")):
                    continue
                target, _, anchor = link.partition("#")
                if not (nb_path.parent / target).exists():
                    bad.append(f"{nb_path.name}: {link} (no such file)")
                elif target.endswith("GLOSSARY.md") and anchor and anchor not in anchors:
                    bad.append(f"{nb_path.name}: {link} (no such glossary entry)")
    assert not bad, "\n".join(bad)


def test_github_actions_matrix_mirrors_the_local_test_command():
    import yaml

    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text())
    assert wf.get("on", wf.get(True)) is not None, "the workflow must say when it runs"
    job = wf["jobs"]["test"]
    rows = job["strategy"]["matrix"]["include"]
    by_os = {r["os"]: r for r in rows}
    linux_x86 = [r for r in rows if r["os"].startswith("ubuntu") and not r["os"].endswith("-arm")]
    linux_arm = [r for r in rows if r["os"].startswith("ubuntu") and r["os"].endswith("-arm")]
    # macos-13 is the last Intel image; later ones (and macos-latest) are Apple silicon
    mac = [r for r in rows if r["os"].startswith("macos") and r["os"] != "macos-13"]
    win = [r for r in rows if r["os"].startswith("windows")]
    assert len(linux_arm) == len(mac) == len(win) == 1, by_os
    # Linux x86-64 runs once per supported Python (course.py's PYTHONS: 3.11 to 3.14)
    pythons = sorted(str(r["python"]) for r in linux_x86)
    assert pythons == ["3.11", "3.12", "3.13", "3.14"], pythons
    setup = [s for s in job["steps"] if "setup-python" in str(s.get("uses", ""))]
    assert setup and setup[0]["with"]["python-version"] == "${{ matrix.python }}"
    assert job["strategy"].get("fail-fast") is False, "one platform's failure must not hide others"
    run_steps = [s for s in job["steps"] if "course.py test" in str(s.get("run", ""))]
    assert len(run_steps) == 1 and "${{ matrix.args }}" in run_steps[0]["run"]
    # every platform runs the unit tests and the student notebooks: nothing deselects them
    for r in rows:
        assert "-m" not in r["args"].split() and "-k" not in r["args"].split(), r
    # both Linux runners compare stored outputs strictly (solutions, and the student notebooks
    # under other kernel families) and run the portability pass
    for r in linux_x86 + linux_arm:
        assert "--no-nbval" not in r["args"] and "--fast" not in r["args"], r
    # the browser test runs (and is required) on Linux x86-64 only, once
    assert [r["browser"] for r in linux_x86].count("1") == 1
    assert all(r["browser"] == "0" for r in linux_arm + mac + win)
    deps = [s for s in job["steps"] if "system-deps" in str(s.get("run", ""))]
    assert deps and "matrix.browser == '1'" in deps[0].get("if", "")


def test_the_project_stands_alone_no_reference_to_team_files_outside_it():
    """Every convention lives in CONTRIBUTING.md; no file points at documents that are not in
    the repository (the team's blueprint file, a shared folder beside the checkout)."""
    names = ("COURSE" + ".md", "../" + "shared")
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        import pytest

        pytest.skip("not a git checkout")
    bad = []
    for rel in listed.stdout.splitlines():
        path = ROOT / rel
        if path.suffix not in {".py", ".md", ".ipynb", ".toml", ".yml", ".yaml", ".txt", ".cfg",
                               ""} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        bad += [f"{rel}: {n}" for n in names if n in text]
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------------------------------
# The answers stay out of the namespaces a student's notebook has open
# ---------------------------------------------------------------------------------------
def _course_modules():
    import importlib
    import pkgutil

    import course_utils

    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        name = info.name
        if name.startswith(("course_utils.reference", "course_utils._")) or "._" in name:
            continue
        yield importlib.import_module(name)


def test_no_lesson_module_shows_a_reference_solution():
    """Tab completion on `rnn.`, `lstm.`, `ex07.`, … never shows an exercise's answer: no
    public name of a course module (other than course_utils.reference) is a reference
    solution, a reference module, or carries an exercise's function name."""
    import inspect

    import course_utils.reference.nb01  # noqa: F401  (the package's modules are loaded)
    from course_utils import reference  # noqa: F401

    ref_names = set()
    for nb in sorted((ROOT / "src/course_utils/reference").glob("nb*.py")):
        text = nb.read_text(encoding="utf-8")
        ref_names |= set(re.findall(r"^def (\w+)", text, re.M))
    assert {"rnn_forward", "lstm_step_backward", "tbptt_train_step"} <= ref_names
    leaks = []
    for mod in _course_modules():
        for name, value in vars(mod).items():
            if name.startswith("_"):
                continue
            where = getattr(value, "__module__", None) if callable(value) else None
            if inspect.ismodule(value) and value.__name__.startswith("course_utils.reference"):
                leaks.append(f"{mod.__name__}.{name} is the module {value.__name__}")
            elif isinstance(where, str) and where.startswith("course_utils.reference"):
                leaks.append(f"{mod.__name__}.{name} is {where}.{value.__name__}")
            elif name in ref_names and inspect.isfunction(value):
                leaks.append(f"{mod.__name__}.{name} carries an exercise's name")
    assert not leaks, "\n".join(leaks)


def test_a_notebook_imports_only_the_references_of_earlier_notebooks():
    import json

    seen = 0
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        number = int(path.name[:2])
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "code")
        for m in re.finditer(r"course_utils\.reference(?:\.(nb\d\d)| import ([\w, ]+))", code):
            names = [m.group(1)] if m.group(1) else [n.strip() for n in m.group(2).split(",")]
            for n in names:
                seen += 1
                assert re.fullmatch(r"nb\d\d", n) and int(n[2:]) < number, (
                    f"{path.name} imports reference {n}: a notebook may only use the "
                    "references of earlier notebooks")
    assert seen >= 3  # notebooks 03, 04 and 05 build on earlier references


# The floors, lowest first: a module may import from its own floor and the floors below,
# never from one above. The folders of course_utils are floors; its top-level modules are
# two: the small shared primitives ("base": setup, thread control, timers, the record of a
# run, figure style, provenance) at the bottom, and the training loop with its updates
# ("training"), which builds on the maths, one floor above the solved exercises.
FLOORS = ("base", "maths", "reference", "training", "data", "lessons", "checks", "tooling")
RANK = {floor: rank for rank, floor in enumerate(FLOORS)}
BASE = {"runtime", "plots", "profiling", "history", "provenance", "status"}
TRAINING = {"training", "updates"}


def _layer_of(module: str) -> str:
    """'course_utils.maths.rnn' -> 'maths'; a top-level module -> 'base' or 'training'."""
    parts = module.split(".")
    if len(parts) > 2:
        return parts[1]
    return "training" if parts[1] in TRAINING else "base"


def _imports(path: Path, module: str) -> set[str]:
    """The course_utils modules (or packages) a module imports, as absolute names."""
    import ast

    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            if mod.startswith("course_utils"):
                found |= {f"{mod}.{a.name}" if f"{mod}.{a.name}" in _MODULES else mod
                          for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("course_utils.")}
    return found


_PKG = ROOT / "src" / "course_utils"
_MODULES = {".".join(["course_utils", *p.relative_to(_PKG).with_suffix("").parts])
            .removesuffix(".__init__"): p for p in _PKG.rglob("*.py")}


def test_the_folder_tree_shows_the_layers_and_imports_respect_them():
    top = {p.stem for p in _PKG.glob("*.py")} - {"__init__", "__main__"}
    assert top <= BASE | TRAINING, (
        f"a module at the top of course_utils that is not shared: {sorted(top)}")
    assert {p.name for p in _PKG.iterdir() if (p / "__init__.py").is_file()} == set(FLOORS) - {
        "base", "training"}
    problems = []
    for module, dep in _edges():
        mine, theirs = _layer_of(module), _layer_of(dep)
        if RANK[theirs] > RANK[mine]:
            problems.append(f"{module} ({mine}) imports {dep} ({theirs})")
    assert not problems, "\n".join(problems)


def _edges() -> list[tuple[str, str]]:
    """Every import of one course_utils module by another, anywhere in the module (also
    inside functions), but the package's own ``__init__`` (the flat names of old versions)
    and ``__main__``."""
    edges = []
    for module, path in sorted(_MODULES.items()):
        if module in {"course_utils", "course_utils.__main__"}:
            continue
        for dep in sorted(_imports(path, module)):
            if dep in _MODULES and dep != "course_utils" and dep != module:
                edges.append((module, dep))
    return edges


def _cycle(edges) -> list[str]:
    """One cycle of the directed graph ``edges`` (as its modules, first repeated at the
    end), or [] if it has none. A depth-first search that meets a module still on its path."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


# The rooms of the tooling floor, lowest first: the rules every room shares (top-level
# modules of tooling/), the student commands (standard library only), what an instructor
# publishes (build, editions, site), grading with its sandbox, and the command line. A
# tooling module imports from its own room and the rooms below it, never from one above.
TOOLING_ROOMS = ("shared", "student", "publish", "grading", "cli")
TOOLING_SHARED = {"course_files", "exercise_cells", "headless"}


def _room_of(module: str) -> str:
    """'course_utils.tooling.grading.sandbox' -> 'grading'; a top-level tooling module ->
    'cli' or 'shared'."""
    parts = module.split(".")
    if len(parts) > 3 or parts[2] in TOOLING_ROOMS:
        return parts[2]
    return "shared"


def test_the_tooling_folders_are_its_rooms_and_imports_respect_them():
    tooling = _PKG / "tooling"
    assert {p.name for p in tooling.iterdir() if (p / "__init__.py").is_file()} == set(
        TOOLING_ROOMS) - {"shared", "cli"}
    top = {p.stem for p in tooling.glob("*.py")} - {"__init__"}
    assert top <= TOOLING_SHARED | {"cli"}, (
        f"a module at the top of tooling/ that is not shared: {sorted(top - TOOLING_SHARED)}")
    rank = {room: i for i, room in enumerate(TOOLING_ROOMS)}
    problems = [f"{a} ({_room_of(a)}) imports {b} ({_room_of(b)})" for a, b in _edges()
                if a.startswith("course_utils.tooling.") and b.startswith("course_utils.tooling.")
                and rank[_room_of(b)] > rank[_room_of(a)]]
    assert not problems, "\n".join(problems)


def test_the_cycle_finder_finds_a_planted_cycle():
    assert _cycle([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == ["a", "b", "c", "a"]
    assert _cycle([("a", "b"), ("a", "c"), ("b", "c")]) == []
    planted = [*_edges(), ("course_utils.reference.nb07", "course_utils.maths.lstm"),
               ("course_utils.maths.lstm", "course_utils.reference.nb07")]
    assert _cycle(planted)


def test_the_import_graph_has_no_cycle():
    """No module imports (at the top or inside a function) a module that imports it back,
    directly or through others."""
    cycle = _cycle(_edges())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_no_notebook_imports_the_tooling():
    for nb in sorted([*ROOT.glob("solutions/*.ipynb"), *ROOT.glob("notebooks/*.ipynb")]):
        text = nb.read_text(encoding="utf-8")
        assert "course_utils.tooling" not in text and "course_utils import tooling" not in text, nb


def test_the_flat_names_of_earlier_versions_still_import_as_the_moved_modules():
    """A notebook saved before the layers keeps running: ``course_utils.rnn`` is
    ``course_utils.maths.rnn`` (the same module object), in every import form."""
    import importlib

    import course_utils

    assert course_utils._MOVED, "the table of moved modules is empty"
    for old, new in course_utils._MOVED.items():
        assert (_PKG / Path(*new.split("."))).with_suffix(".py").is_file() or (
            _PKG / Path(*new.split(".")) / "__init__.py").is_file(), (old, new)
        assert not (_PKG / Path(*old.split("."))).with_suffix(".py").exists(), old
        moved = importlib.import_module(f"course_utils.{old}")
        assert moved is importlib.import_module(f"course_utils.{new}"), old
    from course_utils.exercises import ex01
    from course_utils.rnn import rnn_forward_fast

    from course_utils import rnn, vanishing  # noqa: F401  (the old forms, on purpose)

    assert rnn.__name__ == "course_utils.maths.rnn" and ex01.__name__ == "course_utils.checks.ex01"
    assert rnn_forward_fast.__module__ == "course_utils.maths.rnn"


def test_the_course_itself_uses_only_the_layered_names():
    """The flat names are for students' old notebooks only: no file of the course uses one."""
    import course_utils

    flat = sorted((k for k in course_utils._MOVED if "." not in k), key=len, reverse=True)
    names = "|".join(map(re.escape, flat))
    pattern = re.compile(rf"course_utils\.({names})\b(?!\.py)|from course_utils import "
                         rf"(?:[\w ,]+, )?({names})\b")
    found = []
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for rel in files:
        if rel.startswith(("benchmarks/results/", "artifacts/")) or rel == "src/course_utils/__init__.py" \
                or rel == "tests/test_project.py" or not rel.endswith((".py", ".md", ".ipynb", ".toml", ".yml")):
            continue
        for i, line in enumerate((ROOT / rel).read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{rel}:{i}: {line.strip()[:120]}")
    assert not found, "\n".join(found)


def _sanitize(text: str) -> str:
    """Apply tests/nbval_sanitize.cfg the way nbval does (every section's regex, in order)."""
    import configparser
    import re

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "tests" / "nbval_sanitize.cfg")
    for section in cfg.sections():
        text = re.sub(cfg[section]["regex"], cfg[section]["replace"], text)
    return text


def test_the_stored_output_comparison_runs_on_a_gpu_machine():
    """The setup line says which device the notebook uses; on a GPU machine (Colab) it says
    cuda. The sanitizer treats that like cpu, so nbval can compare the rest there."""
    cpu, gpu = "Setup done: seed 0, device cpu.\n", "Setup done: seed 0, device cuda.\n"
    assert cpu != gpu and _sanitize(cpu) == _sanitize(gpu)
    assert _sanitize(cpu) != _sanitize("Setup done: seed 1, device cuda.\n")
    assert _sanitize("<Figure size 640x480 with 2 Axes>") == _sanitize(
        "<Figure size 700x300 with 2 Axes>")


def test_one_helper_reads_a_cell_s_grade_id():
    """What a cell is (its grade_id, check, solution or written answer) is read in one
    place, ``tooling/exercise_cells``; every other module asks it."""
    readers = sorted(p.name for p in _PKG.rglob("*.py")
                     if p.name != "exercise_cells.py"
                     and re.search(r"""get\(\s*["']grade_id["']|\[\s*["']grade_id["']\s*\]""",
                                   p.read_text(encoding="utf-8")))
    assert not readers, f"modules reading a cell's grade_id themselves: {readers}"


def test_the_recorded_time_budgets_hold_and_no_test_asserts_a_time():
    """The budgets (CONTRIBUTING.md, "Budget") are measured by benchmarks/time_budgets.py with
    the machine's load and checked here from its results file; no test reads a clock to
    assert a duration, so a busy machine cannot fail the test command."""
    import json

    record = json.loads((ROOT / "benchmarks" / "results" / "time_budgets.json").read_text())
    res = record["results"]
    explorers = {p.stem.split("_")[0] for p in (ROOT / "solutions").glob("*.ipynb")
                 if '"explorer"' in p.read_text(encoding="utf-8")}
    assert explorers <= set(res["explorers"]["entries"]), "an explorer is not benchmarked"
    for part in ("explorers", "progress", "notebooks"):
        for name, e in res.get(part, {}).get("entries", {}).items():
            cpu = e.get("cpu_s", e.get("kernel_cpu_s"))
            assert cpu < res[part]["budget_s"], (part, name, e)
    clock = re.compile(r"(perf_counter|monotonic|process_time|time\.time)\(\)\s*-\s*t0\s*<"
                       r"|\b(elapsed|seconds|took)\s*<\s*[\d.]+")
    for path in sorted((ROOT / "tests").glob("*.py")):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("assert"):
                assert not clock.search(line), f"{path.name}:{i} asserts a time: {line.strip()}"
