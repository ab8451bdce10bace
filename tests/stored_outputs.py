"""nbval's comparison of stored outputs, applied to a notebook that was executed elsewhere.

tests/test_notebooks.py executes each *student* notebook once, under another BLAS kernel
family on one thread (a portability pass, see course.py), and compares every cell it shares
with the solution notebook against the solution's stored outputs, exactly as ``pytest
--nbval`` compares them: nbval's own comparison (``IPyNbCell.compare_outputs``), its
streams coalesced, its cell tags and comment markers (``nbval-ignore-output``,
``# NBVAL_SKIP``, …), and the sanitizer file nbval is given (tests/nbval_sanitize.cfg, which
the root conftest.py passes as ``--nbval-sanitize-with``).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

from nbval import plugin as nbval

# nbval 0.11's keys left out of the comparison (IPyNbFile.__init__, without --nbdime)
SKIP_COMPARE = ("metadata", "traceback", "prompt_number", "output_type", "name",
                "execution_count", "application/vnd.jupyter.widget-view+json",
                "image/png", "image/jpeg")


class _Comparison:
    """Just enough of an ``nbval`` cell item to run its comparison methods."""

    compare_outputs = nbval.IPyNbCell.compare_outputs
    sanitize = nbval.IPyNbCell.sanitize
    format_output_compare = nbval.IPyNbCell.format_output_compare
    colors = nbval.nocolors
    config = None  # no pytest assertion rewriting: nbval's plain side-by-side report
    ihook = SimpleNamespace(pytest_assertrepr_compare=lambda **_: [])

    def __init__(self, patterns):
        self.parent = SimpleNamespace(sanitize_patterns=dict(patterns),
                                      skip_compare=SKIP_COMPARE)
        self.comparison_traceback: list[str] = []


def nbval_options(cell) -> dict:
    """The options nbval gives a code cell (``check``, ``skip``, …), from its tags and
    comment markers, as ``IPyNbFile.collect`` computes them under ``--nbval``."""
    options = defaultdict(bool, nbval.find_metadata_tags(cell.metadata))
    options.update(dict(nbval.find_comment_markers(cell.source)))
    options.setdefault("check", True)
    return options


def compared_cells(solution, student) -> list[tuple[int, int]]:
    """``(solution index, student index)`` of the code cells nbval would compare whose source
    the student notebook shares with the solution (found by cell id; the student edition
    only adds text cells): every code cell but the exercises and their graded checks, whose
    outputs are the student's own."""
    at = {c.get("id"): k for k, c in enumerate(student.cells) if c.cell_type == "code"}
    out = []
    for i, sol in enumerate(solution.cells):
        k = at.get(sol.get("id"))
        if sol.cell_type != "code" or k is None or sol.source != student.cells[k].source:
            continue
        options = nbval_options(sol)
        if (options["check"] and not options["skip"] and sol.get("execution_count") is not None
                and not (sol.metadata.get("nbgrader") or {}).get("grade")):
            out.append((i, k))
    return out


def differences(solution, executed, sanitize: str | Path) -> list[str]:
    """One message per compared cell of ``executed`` (a student notebook just run) whose
    outputs differ from the solution's stored ones, with nbval's report of the difference;
    ``sanitize``: nbval's sanitizer file (regexes applied to both sides)."""
    cmp = _Comparison(nbval.get_sanitize_patterns(Path(sanitize).read_text(encoding="utf-8")))
    found = []
    for i, k in compared_cells(solution, executed):
        cmp.comparison_traceback = []
        test = nbval.coalesce_streams(copy.deepcopy(executed.cells[k].outputs))
        ref = nbval.coalesce_streams(copy.deepcopy(solution.cells[i].outputs))
        if not cmp.compare_outputs(test, ref):
            found.append(f"cell {k} (text cells counted): outputs differ from the solution's "
                         "stored ones\n"
                         + "\n".join(cmp.comparison_traceback))
    return found
