"""The course's language rules (tests/course_language.py): GLOSSARY.md's notation table and
concepts before their use, checked on every notebook, and shown to catch each kind of
mistake they exist for (planted in cells no notebook holds)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import course_language as CL
import pytest
from course_language import fake_cell

ROOT = Path(__file__).resolve().parents[1]


def _rules(source: str, **kw) -> set[str]:
    return {v.rule for v in CL.notation_violations([fake_cell(source, **kw)])}


# ----------------------------------------------------------------------------- notation
# Each example of issue 27 item 1, as the notebooks wrote it (LaTeX) and as the issue
# quotes it (plain text), with the rule that must catch it.
PLANTED_NOTATION = [
    # nb03 cell 3, Hint 2 and key fact 1: code names written as maths, row order
    (r"$dx_t = \delta_t\, W_{xh}$", {"no-code-names-in-maths", "columns-in-maths"}),
    ("dx_t = δ_t W_{xh}", {"no-code-names-in-maths", "columns-in-maths"}),
    (r"$dh_{t-1} = \delta_t\, W_{hh}$", {"no-code-names-in-maths", "columns-in-maths"}),
    ("dh_{t-1} = δ_t W_{hh}", {"no-code-names-in-maths", "columns-in-maths"}),
    (r"$dW_{xh} = \delta_t^\top x_t$", {"no-code-names-in-maths", "columns-in-maths"}),
    ("dW_{xh} = δ_tᵀ x_t", {"no-code-names-in-maths", "columns-in-maths"}),
    (r"$db = \sum_n \delta_t$", {"no-code-names-in-maths"}),
    # nb03 cell 38: dh for the per-step loss gradient, the total gradient in row order
    (r"$g_t = dh_t + \delta_{t+1} W_{hh}$", {"no-code-names-in-maths", "columns-in-maths"}),
    ("g_t = dh_t + δ_{t+1} W_{hh}", {"no-code-names-in-maths", "columns-in-maths"}),
    # nb07 cell 11: δ for gradients that are not pre-activation gradients
    (r"Write $\delta z$ for $\partial L/\partial z$.", {"delta-only-on-pre-activations"}),
    ("Write δz for ∂L/∂z", {"delta-only-on-pre-activations"}),
    (r"$\delta h_t$", {"delta-only-on-pre-activations"}),
    (r"$\delta c = \delta c_t^{\text{next}} + \delta h_t \odot o$", {"delta-only-on-pre-activations"}),
    (r"$\delta x = \delta a\, W_x$", {"delta-only-on-pre-activations", "columns-in-maths"}),
    (r"$\delta W_x = \delta a^\top x$", {"delta-only-on-pre-activations", "columns-in-maths"}),
    ("call it δc", {"delta-only-on-pre-activations"}),
    ("δh, δc, δx, δW_x", {"delta-only-on-pre-activations"}),
    (r"$\delta_h$", {"delta-only-on-pre-activations"}),
    # a code operator in maths; another symbol for the total hidden-state gradient
    (r"$W_{hh}^\top @ \delta_t$", {"no-code-operators-in-maths"}),
    (r"$\nabla_{h_t} L$", {"one-symbol-per-quantity"}),
    # nb05 cell 8: a code array in maths
    (r"$L = \sum_t \langle dh_{n,t}, h_{n,t}\rangle$", {"no-code-names-in-maths"}),
]


@pytest.mark.parametrize("source, rules", PLANTED_NOTATION, ids=[s for s, _ in PLANTED_NOTATION])
def test_the_notation_check_catches_each_planted_mistake(source, rules):
    assert rules <= _rules(source), (source, _rules(source))


CORRECT_NOTATION = [
    r"$g_t = dL/dh_t$, $\frac{dL}{dh_k}$, $\frac{dh_t}{dw}$, $dh_t/dw$, $dL/dW_{hh}$, $dL/db$",
    r"$g_t = \partial L_t/\partial h_t + W_{hh}^\top\delta_{t+1}$",
    r"$\delta_t = (1-h_t^2)\odot g_t$, $\delta_k$, $\delta_{t,n}$, $\delta_1\,w$, $\delta_T$",
    r"$\dfrac{\partial L}{\partial W_{hh}} = \sum_t \delta_t\, h_{t-1}^\top$ and $\delta_t x_t^\top$",
    r"a column gradient $W^\top \delta$ becomes `delta @ W`, and $\sum \delta\, h^\top$ becomes `delta.T @ h`",
    r"the LSTM's pre-activation gradient $\delta a$ (`da`), then `dx = da @ Wx`",
    "`dh_prev`, `dWxh` and `dc_next` are code, in backticks\n```python\ndh = da @ Whh\n```",
    r"$\partial L/\partial h_k = \partial L/\partial h_T\, J_T \cdots J_{k+1}$ (a row on the left)",
    "[link](02_deriving_bptt.ipynb#dh-and-dx) and <a id=\"dx\"></a>",
]


@pytest.mark.parametrize("source", CORRECT_NOTATION)
def test_the_notation_check_passes_the_notation_the_glossary_prescribes(source):
    assert CL.notation_violations([fake_cell(source)]) == []


def test_the_notation_check_reads_only_markdown_outside_code():
    prose, maths = CL.split_text("a `dx_t` b $dx_t$ c\n```\ndh_t\n```\n$$ dW $$")
    assert "dx_t" not in prose and "dh_t" not in prose and "dW" not in prose
    assert maths.count("dx_t") == 1 and "dW" in maths


def test_every_notebook_follows_the_notation():
    found = CL.notation_violations(CL.markdown_cells(ROOT))
    assert not found, "\n".join(map(str, found))


# -------------------------------------------------------------------------- concepts
TEACHING = CL.glossary_teaching(ROOT)


def _order(*cells) -> set[str]:
    return {v.rule.split(":", 1)[1] for v in CL.concept_order_violations(cells, TEACHING)}


def test_every_checked_term_records_where_it_is_taught_and_every_record_is_checked():
    assert set(CL.TERM_PATTERNS) == set(TEACHING), set(CL.TERM_PATTERNS) ^ set(TEACHING)
    names = {p.name[:2] for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")}
    for t in TEACHING.values():
        assert t.notebook in names and set(t.used_in) <= names, t


def test_each_term_is_used_where_the_glossary_says_it_is_taught():
    """A record is true: the teaching notebook (and section) uses the term; for a term from
    outside the course, that place links its glossary entry."""
    cells = CL.markdown_cells(ROOT)
    wrong = []
    for anchor, t in TEACHING.items():
        here = [c for c in cells if c.notebook == t.notebook
                and (t.section is None or c.section == t.section)]
        if not CL.first_uses(here, CL.TERM_PATTERNS[anchor]):
            wrong.append(f"{anchor}: not used in {t.notebook} §{t.section}")
    assert not wrong, "\n".join(wrong)


def test_each_record_lists_the_notebooks_that_use_the_term():
    """`python tests/course_language.py records . --write` brings the lists up to date."""
    stale = CL.stale_records(ROOT)
    assert not stale, "\n".join(f"#{a}: {o} -> {n}" for a, (o, n) in stale.items())


@pytest.mark.parametrize("guide", ["GLOSSARY.md", "README.md", "INSTRUCTORS.md", "CONTRIBUTING.md"])
def test_the_guides_follow_the_notation_too(guide):
    found = CL.notation_violations([fake_cell((ROOT / guide).read_text())])
    assert not found, "\n".join(f"{v.rule}: {v.excerpt}" for v in found)


def test_the_glossary_says_where_singular_values_are_first_taught():
    assert (TEACHING["singular-values"].notebook, TEACHING["singular-values"].section) == ("02", 7)
    text = (ROOT / "GLOSSARY.md").read_text()
    echo = text.split('<a id="echo-state-network"></a>')[1].split("<a id=")[0]
    assert "not proof" in echo and "little above chance" in echo


# Each kind of early use issue 27 item 2 names, planted: (notebook, section, text, terms)
PLANTED_ORDER = [
    # nb01: the backward pass before notebook 02 derives it
    ("01", 2, r"The figure shows $\delta_t = (1-h_t^2)\odot g_t$ and $W_{hh}^\top\delta_t$.",
     {"backward-gradients"}),
    # nb01: eigenvalues, spectral radius, chaotic regime, Lyapunov exponents, before §6
    ("01", 2, "the eigenvalues of W_hh set its spectral radius", {"spectral-radius"}),
    ("01", 2, "a chaotic regime with a positive Lyapunov exponent", {"chaotic-regime"}),
    # nb03: TBPTT(k1 = 32, k2 = 1) and k2 >= k1, defined in notebook 05
    ("03", 6, r"this is not TBPTT($k_1 = 32$, $k_2 = 1$): TBPTT requires $k_2 \ge k_1$",
     {"tbptt", "k1-k2"}),
    ("03", CL.AFTER_SECTIONS, "7. TBPTT(k₁, k₂) with k₂ ≥ k₁", {"tbptt", "k1-k2"}),
    # nb04: gamma in section 4, taught in section 5; clipping, taught in notebook 06
    ("04", 4, r"the per-step bound $\gamma\,\sigma_{\max}$ (section 5)", {"gamma"}),
    ("04", 8, "Adam, gradient norm clipped at 1", {"clipping"}),
    # nb05: clipping (06) and an LSTM (07)
    ("05", 8, "chunks, `detach`, clipping at 1, a progress bar", {"clipping"}),
    ("05", 10, "an LSTM with state (h, c) forecasts the CO₂ series", {"lstm"}),
    ("05", 0, "7. train a small LSTM with stateful TBPTT on a real series", {"lstm"}),
    # a section before the teaching one, inside the teaching notebook
    ("05", 1, "TBPTT cuts the backward pass", {"tbptt"}),
    ("07", 9, '("chrono initialisation", section 11)', {"chrono-initialisation"}),
]


@pytest.mark.parametrize("nb, section, text, terms", PLANTED_ORDER,
                         ids=[f"{nb}-{text[:30]}" for nb, _, text, _ in PLANTED_ORDER])
def test_the_concept_order_check_catches_each_planted_early_use(nb, section, text, terms):
    assert terms <= _order(fake_cell(text, notebook=nb, section=section))


def test_adam_comes_from_outside_the_course_and_is_explained_where_first_used():
    t = TEACHING["adam"]
    assert t.outside and t.notebook == "03"
    bare = fake_cell("ordinary mini-batch training with the Adam update rule", "03", 6)
    linked = fake_cell("with [Adam](../GLOSSARY.md#adam) (an optimiser that …)", "03", 6)
    assert _order(bare) == {"adam"} and _order(linked) == set()
    # a link to a notebook does not explain a term no notebook teaches
    assert _order(fake_cell("Adam, as in [03](03_coding_bptt.ipynb)", "02", 3)) == {"adam"}


def test_a_preview_in_the_same_cell_makes_an_early_use_right():
    for text in ("[TBPTT](../GLOSSARY.md#tbptt) (truncated BPTT, notebook 05: the gradient is "
                 "cut after k₂ steps)",
                 "TBPTT ([notebook 05](05_truncated_bptt.ipynb) defines it: …)"):
        assert _order(fake_cell(text, "03", 6)) == set(), text
    # inside the teaching notebook, a link to its own section will do
    assert _order(fake_cell(r"$\gamma$ ([section 5](#5.-The-theory,-with-numbers))", "04", 4)) == set()
    # the wrong entry, or a preview in another cell, does not
    assert _order(fake_cell("TBPTT ([glossary](../GLOSSARY.md#bptt))", "03", 6)) == {"tbptt"}
    first = fake_cell("[TBPTT](../GLOSSARY.md#tbptt)", "03", 6, index=1)
    later = fake_cell("TBPTT again", "03", 7, index=2)
    assert {v.cell.index for v in CL.concept_order_violations([first, later], TEACHING)} == {2}


def test_uses_in_or_after_the_teaching_place_need_no_preview():
    assert _order(fake_cell("TBPTT($k_1$, $k_2$) with `detach`", "05", 2)) == set()
    assert _order(fake_cell("TBPTT, an LSTM, clipping and Adam", "08", 7)) == set()
    # the title cell of the teaching notebook names what it will teach
    assert _order(fake_cell("# 05 · Truncated BPTT: TBPTT($k_1$, $k_2$)", "05", 0)) == set()
    # code and reference lists do not count as uses
    assert _order(fake_cell("call `clip_grad_norm_(...)`", "04", 4)) == set()


def test_every_notebook_uses_each_term_only_after_it_is_taught_or_previews_it():
    found = CL.concept_order_violations(CL.markdown_cells(ROOT), TEACHING)
    assert not found, "\n".join(map(str, found))


def test_cells_are_numbered_as_in_solutions_and_in_the_student_notebooks():
    """A violation names the cell's index in solutions/ and in notebooks/ (the student
    notebooks of 02 and 04 have extra cells, so the two differ there)."""
    differ = 0
    for c in CL.markdown_cells(ROOT):
        student = json.loads((ROOT / "notebooks" / c.name).read_text())["cells"]
        assert c.student_index is not None, (c.name, c.index)
        assert student[c.student_index].get("id") == c.cell_id, (c.name, c.index)
        differ += c.student_index != c.index
    assert differ > 0


# ------------------------------------------------------------------------ main line
def _notebook(path: Path, sources: list[str]) -> None:
    cells = [{"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": s.splitlines(True)}
             for i, s in enumerate(sources)]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_main_line_words_stop_at_key_facts_and_leave_out_going_deeper(tmp_path):
    (tmp_path / "solutions").mkdir()
    _notebook(tmp_path / "solutions" / "01_a.ipynb",
              ["# 01 · Title\n\nfour words here <b>x</b>", "## 1. Two words",
               "text before\n## Key facts\n1. not counted", "## Going deeper\nnot counted"])
    _notebook(tmp_path / "solutions" / "02_b.ipynb",
              ["one two", '<a id="going-deeper"></a>\n## Going deeper\nno', "## Key facts\nno"])
    assert CL.main_line_words(tmp_path) == {"01_a.ipynb": 6 + 3 + 2, "02_b.ipynb": 2}
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "course_language.py"), "words",
                          str(tmp_path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"01_a\.ipynb\t11\n02_b\.ipynb\t2\ntotal\t13", out), out


def test_the_command_line_check_names_notebook_cell_rule_and_fix(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "GLOSSARY.md").write_text((ROOT / "GLOSSARY.md").read_text())
    _notebook(tmp_path / "solutions" / "03_c.ipynb", ["# 03\n", "## 6. x\nWe train with Adam: $dx_t$."])
    res = subprocess.run([sys.executable, str(ROOT / "tests" / "course_language.py"), "check",
                          str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 1
    assert "03_c.ipynb cell 1 (student cell None) [no-code-names-in-maths]" in res.stdout
    assert "[outside-term-unexplained:adam]" in res.stdout and "fix:" in res.stdout


def test_the_checks_messages_keep_delta_for_pre_activations():
    """The exercise checks' messages talk about the student's code (`da @ Whh` is right
    there), so only the δ rule applies to them."""
    import ast

    found = []
    for path in sorted((ROOT / "src" / "course_utils" / "checks").glob("ex*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found += [f"{path.name}:{node.lineno}: {v.excerpt}"
                          for v in CL.notation_violations([fake_cell(node.value)])
                          if v.rule == "delta-only-on-pre-activations"]
    assert not found, "\n".join(found)
