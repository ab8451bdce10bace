"""No notebook or Markdown file carries control characters.

A LaTeX command written in an ordinary Python string loses its backslash to an escape
(``"\\times"`` becomes a TAB and ``imes``, ``"\\approx"`` a BEL and ``pprox``) and the
notebook renders "0.25 imes 31 pprox 8". This test finds every such character: in the
cell sources and text outputs of every notebook, and in every Markdown file. Allowed:
newline everywhere, and TAB in Markdown files (never in a notebook).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# C0 controls except newline and TAB, DEL, and the C1 controls; with TAB
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONTROL_OR_TAB = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
SKIP_DIRS = {".git", "node_modules", "build", "dist", "__pycache__", ".ipynb_checkpoints"}


def _repo_files(suffix: str) -> list[Path]:
    """Files ending in ``suffix`` under the repository, not descending into hidden folders
    (``.git``, ``.venv-dev``, ...) or build folders."""
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        out += [Path(folder) / f for f in files if f.endswith(suffix)]
    return sorted(out)


def find_control_characters(text: str, *, allow_tab: bool) -> list[str]:
    """Describe each control character in ``text`` (other than newline, and TAB if allowed)
    with a little context, e.g. ``"'\\x07' in '31 \\x07pprox 8'"``."""
    found = []
    for m in (CONTROL if allow_tab else CONTROL_OR_TAB).finditer(text):
        context = text[max(0, m.start() - 15): m.end() + 10]
        found.append(f"{m.group()!r} in {context!r}")
    return found


def _notebook_texts(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        yield f"cell {i} source", "".join(cell["source"])
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            yield f"cell {i} output", text


NOTEBOOKS = _repo_files(".ipynb")
MARKDOWN = _repo_files(".md")


def test_the_files_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in NOTEBOOKS + MARKDOWN}
    assert "solutions/06_gradient_clipping.ipynb" in names
    assert "notebooks/06_gradient_clipping.ipynb" in names
    assert {"README.md", "INSTRUCTORS.md", "GLOSSARY.md", "CONTRIBUTING.md"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_has_no_control_characters(path):
    problems = [f"{where}: {hit}" for where, text in _notebook_texts(path)
                for hit in find_control_characters(text, allow_tab=False)]
    assert not problems, (f"{path.name} contains control characters (a LaTeX backslash eaten "
                          "by a Python escape? write sources as raw strings):\n"
                          + "\n".join(problems))


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_markdown_has_no_control_characters(path):
    problems = find_control_characters(path.read_text(encoding="utf-8"), allow_tab=True)
    assert not problems, f"{path.name} contains control characters:\n" + "\n".join(problems)


def test_the_check_catches_eaten_latex():
    eaten = "$0.25 \times 31 \approx 8$"  # deliberately not a raw string
    assert len(find_control_characters(eaten, allow_tab=False)) == 2
    assert len(find_control_characters(eaten, allow_tab=True)) == 1  # the BEL
    assert find_control_characters(r"$0.25 \times 31 \approx 8$", allow_tab=False) == []
    assert find_control_characters("line\nnext", allow_tab=False) == []
