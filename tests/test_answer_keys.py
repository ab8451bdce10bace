"""Answer keys stay out of students' hands by default.

Nothing a student runs (the notebooks in ``notebooks/``, the modules of ``course_utils``
they import, ``course.py lab/update/fresh``) reads or imports anything from
``solutions/``, so an instructor can publish the student repository without that folder.
Only the instructor tools (``build``, ``grading``, ``cli``) read it.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from course_utils.tooling.publish import build

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "course_utils"
# Everything but the tooling (the instructor's side) is student-facing.
STUDENT_MODULES = sorted(p for p in PKG.rglob("*.py") if "tooling" not in p.relative_to(PKG).parts
                         and p.name != "__main__.py")
SOLUTIONS_RE = re.compile(r"\bsolutions\b")


def _docstring_nodes(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_student_modules_never_touch_solutions():
    assert STUDENT_MODULES
    offenders = []
    for path in STUDENT_MODULES:
        tree = ast.parse(path.read_text(), filename=str(path))
        docs = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docs):
                names = [node.value] if SOLUTIONS_RE.search(node.value) else []
            else:
                continue
            if any(SOLUTIONS_RE.search(n) for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {names}")
    assert not offenders, "student-facing code refers to solutions/:\n" + "\n".join(offenders)


def test_student_notebooks_never_refer_to_solutions():
    paths = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if build.NB_NAME.match(p.name))
    assert paths
    for path in paths:
        nb = json.loads(path.read_text())
        for i, cell in enumerate(nb["cells"]):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code":
                assert not SOLUTIONS_RE.search(src), f"{path.name}, cell {i} refers to solutions"
            assert "BEGIN SOLUTION" not in src and "### END SOLUTION" not in src, (
                f"{path.name}, cell {i} still holds a solution region")


def test_importing_the_student_modules_opens_nothing_in_solutions(tmp_path):
    """Import every student-facing module with an audit hook on open(): no solutions/ path."""
    mods = []
    for p in STUDENT_MODULES:
        rel = p.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] != "__main__":
            mods.append(".".join(parts))
    code = (
        "import sys, importlib\n"
        "seen = []\n"
        "def hook(event, args):\n"
        "    if event == 'open' and args and 'solutions' in str(args[0]).replace('\\\\', '/').split('/'):\n"
        "        seen.append(str(args[0]))\n"
        "sys.addaudithook(hook)\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "assert not seen, seen\n"
        "print('ok', len(sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(PKG.parent), "MPLBACKEND": "Agg",
                              "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_the_installed_package_ships_no_solutions():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'where = ["src"]' in text
    pkg_data = text.split("[tool.setuptools.package-data]", 1)[-1].split("\n[", 1)[0]
    assert "solutions" not in pkg_data
    assert not (PKG / "solutions").exists()
