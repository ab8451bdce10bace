"""The course's language rules as functions: notation, concepts before their use, and the
length of each notebook's main line.

* :func:`notation_violations`: GLOSSARY.md's notation table, checked mechanically on every
  markdown cell of ``solutions/`` (the student notebooks have the same markdown).
* :func:`concept_order_violations`: a term is used only in or after the notebook (and
  section) that teaches it, as GLOSSARY.md records it (``→ taught in 05 §2; used in …``),
  unless its first use in each section before that place carries a preview in the same
  cell: a link to the term's glossary entry or to the notebook that teaches it.
* :func:`main_line_words`: words of the markdown before ``## Key facts`` (and before any
  ``## Going deeper``).

``tests/test_course_language.py`` runs them in the test suite. From the command line::

    python tests/course_language.py check ROOT      # every violation, exit status 1 if any
    python tests/course_language.py notation ROOT   # only the notation rules
    python tests/course_language.py order ROOT      # only the concept-order rule
    python tests/course_language.py words ROOT      # main-line words per notebook
    python tests/course_language.py records ROOT [--write]  # GLOSSARY "used in" lists
    python tests/course_language.py student ROOT    # phrases untrue in the student edition

Each violation names the notebook, the cell (0-based, in ``solutions/`` and in
``notebooks/``), the rule, an excerpt and how to fix it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class Cell:
    notebook: str            # "03"
    name: str                # "03_coding_bptt.ipynb"
    index: int               # 0-based in solutions/
    student_index: int | None  # 0-based in notebooks/ (None: not in the student notebook)
    section: float           # the number of the last "## N." heading (0 before "## 1.")
    source: str
    uses_end: int = -1       # where "## References" starts in it (uses are not looked for
                             # in the references); -1: nowhere
    cell_id: str | None = None


@dataclass(frozen=True)
class Violation:
    cell: Cell
    rule: str
    excerpt: str
    fix: str

    def __str__(self) -> str:
        c = self.cell
        where = f"{c.name} cell {c.index} (student cell {c.student_index})"
        return f"{where} [{self.rule}] …{self.excerpt}…\n    fix: {self.fix}"


AFTER_SECTIONS = 1000.0   # Key facts, review questions, further exercises, references …
_SECTION = re.compile(r"^##\s+(\d+)\.", re.M)
_H2 = re.compile(r"^##\s+(?!#)(.*)$", re.M)


def markdown_cells(root: Path = ROOT, comments: bool = False) -> list[Cell]:
    """Every markdown cell of ``root/solutions/*.ipynb``, in notebook then cell order (with
    ``comments``, also each code cell's comments, as a cell of their own)."""
    cells = []
    for path in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text())
        student = root / "notebooks" / path.name
        ids = {}
        if student.exists():
            ids = {c.get("id"): i for i, c in enumerate(json.loads(student.read_text())["cells"])}
        section, in_refs = 0.0, False
        for i, c in enumerate(nb["cells"]):
            src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            if c["cell_type"] != "markdown":
                if comments and c["cell_type"] == "code":
                    text = "\n".join(m.group(1) for m in re.finditer(r"#(.*)$", src, re.M))
                    cells.append(Cell(path.name[:2], path.name, i, ids.get(c.get("id")),
                                      section, text))
                continue
            start = 0 if in_refs else -1
            for m in _H2.finditer(src):
                num = re.match(r"(\d+)\.", m.group(1))
                section = float(num.group(1)) if num else AFTER_SECTIONS
                if m.group(1).strip().lower().startswith("references"):
                    in_refs, start = True, m.start() if start < 0 else start
                elif in_refs:
                    in_refs = False
                    if start == m.start():   # a new section (an appendix) opens the cell
                        start = -1
            cells.append(Cell(path.name[:2], path.name, i, ids.get(c.get("id")), section, src,
                              start, c.get("id")))
    return cells


def fake_cell(source: str, notebook: str = "03", section: float = 1.0, index: int = 0) -> Cell:
    """A markdown cell that no notebook holds, for the tests' planted examples."""
    return Cell(notebook, f"{notebook}_planted.ipynb", index, index, section, source)


# ------------------------------------------------------------------ segmentation
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)|(?:href|src|id)=\"[^\"]*\"")
_DISPLAY = re.compile(r"\$\$.+?\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(?:\\.|[^$\\])+?(?<!\\)\$", re.S)


def _blank(text: str, spans) -> str:
    out = list(text)
    for a, b in spans:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "
    return "".join(out)


def split_text(source: str) -> tuple[str, str]:
    """(prose, maths) of a markdown cell: two strings as long as the source, each with
    the other kind of text, code (fenced and inline), HTML comments and link targets
    blanked out, so a match's position is its position in the source."""
    text = _blank(source, [m.span() for m in _COMMENT.finditer(source)])
    text = _blank(text, [m.span() for m in _FENCE.finditer(text)])
    text = _blank(text, [m.span() for m in _INLINE_CODE.finditer(text)])
    text = _blank(text, [m.span() for m in _LINK_TARGET.finditer(text)])
    maths = [m.span() for m in _DISPLAY.finditer(text)]
    rest = _blank(text, maths)
    maths += [m.span() for m in _INLINE_MATH.finditer(rest)]
    prose = _blank(text, maths)
    keep = [False] * len(text)
    for a, b in maths:
        keep[a:b] = [True] * (b - a)
    math_only = "".join(ch if keep[k] or ch == "\n" else " " for k, ch in enumerate(text))
    return prose, math_only


def _excerpt(source: str, a: int, b: int, width: int = 30) -> str:
    s = source[max(0, a - width): min(len(source), b + width)]
    return " ".join(s.split())


# ----------------------------------------------------------------- notation rules
DELTA = r"(?:\\delta(?![A-Za-z])|δ)"
TOP = r"(?:\^\s*\\top|\^\s*\{\\top\}|\^T\b|\^\{T\}|ᵀ)"
SPACE = r"(?:\s|\\[,;:! ]|~)*"
_SUB = r"(?:_\s*\{[^{}]*\}|_\s*[A-Za-z0-9]+)"   # a subscript: _t, _{t+1}
# a subscript that names a variable, not a time step or a batch row: δ_h, δ_{c}, δ_W …
_NON_INDEX_SUB = r"_\s*\{?\s*(?:[hcxWzyLb]|\\theta)(?![A-Za-z0-9])"

# a code-style gradient name: dW, dWxh, dWh, dh, dx, da, dc, dz, db (with a subscript or not)
_CODE_NAME = re.compile(r"(?<![A-Za-z0-9\\])d(?:W[a-z]{0,3}|h|x|a|c|z|b)(?![A-Za-z(])")
_SUBSUP = r"(?:_\s*\{[^{}]*\}|_\s*\\?[A-Za-z0-9]+|\^\s*\{[^{}]*\}|\^\s*\\?[A-Za-z0-9]+|[_a-z]+)*"


def _is_fraction_part(text: str, a: int, b: int) -> bool:
    """$dL/dh_t$, $dh_t/dw$, \\frac{dL}{dh_t}: a total derivative, not a code name."""
    before = text[max(0, a - 8):a]
    if re.search(r"(?:/|\\frac\s*\{|\}\s*\{)\s*$", before):
        return True
    after = re.match(_SUBSUP + r"\s*(?:/|\}\s*\{)", text[b:])
    return after is not None


NOTATION_RULES = {
    "delta-only-on-pre-activations": (
        "δ is the gradient with respect to a pre-activation only (δ_t = (1−h_t²)⊙g_t); "
        "write ∂L/∂z for any other gradient (∂L/∂h_{t-1}, ∂L/∂c_t, ∂L/∂W_x)"),
    "no-code-names-in-maths": (
        "a code name (dW…, dh…, dx…, da…, dc…, dz…, db) is code: put it in backticks, or "
        "write the maths: g_t, ∂L/∂x_t, ∂L/∂W_{xh}, dL/dh_t"),
    "no-code-operators-in-maths": "`@` is code: in maths write the product (W_{hh}^⊤δ_t)",
    "columns-in-maths": (
        "vectors in the maths are columns: W_{hh}^⊤δ_t (not δ_t W_{hh}), "
        "δ_t x_t^⊤ (not δ_tᵀ x_t); the row form is code (`da @ Whh`) in backticks"),
    "one-symbol-per-quantity": (
        "the total gradient at a hidden state is g_t = dL/dh_t in every notebook; "
        "do not introduce another symbol (∇_{h_t}L, \\bar h_t, δh_t, dh_t) for it"),
}

_NOTATION_PATTERNS = [
    # δh, δc, δx, δW, δz, \delta h, \delta W_x, δ_h … (δa, δ_t, δ_k, δ_{t+1} are fine)
    ("delta-only-on-pre-activations", "maths",
     re.compile(DELTA + r"\s*(?:\\(?:mathbf|boldsymbol|mathrm|bm)\s*\{\s*)?(?![a])[A-Za-z]")),
    ("delta-only-on-pre-activations", "prose", re.compile(r"δ(?![a])[A-Za-z]")),
    ("delta-only-on-pre-activations", "both", re.compile(DELTA + _NON_INDEX_SUB)),
    ("no-code-names-in-maths", "both", _CODE_NAME),
    ("no-code-operators-in-maths", "maths", re.compile(r"@")),
    ("columns-in-maths", "both",
     re.compile(r"(?:" + DELTA + r"(?:\s*a(?![A-Za-z])|\s*" + _SUB + r"|(?=\s*\\[,;: !]))|(?<![A-Za-z\\])g\s*"
                + _SUB + r")" + SPACE + r"W(?![a-z])")),
    ("columns-in-maths", "both",
     re.compile(DELTA + r"\s*(?:a(?![A-Za-z])\s*)?(?:" + _SUB + r")?\s*" + TOP + SPACE
                + r"(?:[xh](?![A-Za-z])|\\mathbf\{[xh]\})")),
    ("one-symbol-per-quantity", "maths", re.compile(r"\\nabla\s*_\s*\{?\s*h|\\(?:bar|overline)\s*\{?\s*h")),
]


def notation_violations(cells) -> list[Violation]:
    """Every breach of the notation table's mechanical rules in these markdown cells."""
    found = []
    for cell in cells:
        prose, maths = split_text(cell.source)
        seen = set()
        for rule, where, pattern in _NOTATION_PATTERNS:
            texts = {"maths": [maths], "prose": [prose], "both": [maths, prose]}[where]
            for text in texts:
                for m in pattern.finditer(text):
                    a, b = m.span()
                    if pattern is _CODE_NAME and _is_fraction_part(text, a, b):
                        continue
                    if (rule, a) in seen:
                        continue
                    seen.add((rule, a))
                    found.append(Violation(cell, rule, _excerpt(cell.source, a, b),
                                           NOTATION_RULES[rule]))
    return found


# ------------------------------------------------------ student edition (report only)
# Lesson text must be true in the student edition, which has no outputs until it is run.
# Not part of `check` nor of the test suite: `python tests/course_language.py student ROOT`
# lists the phrases to look at.
_STUDENT_EDITION = re.compile(
    r"(?i)\bstored\s+(?:run|result|here|figure)s?\b|\bthe\s+stored\s+outputs?\s+(?:is|are|show)|\bthe\s+stored\s+ones\b"
    r"|\b(?:run|output|number)s?\s+stored\s+here\b|\bcompared\s+in\s+(?:the\s+)?tests?\b"
    r"|\boutput\s+is\s+(?:not\s+)?compared\b|\btests?/test_\w+|\bthe\s+test\s+suite\b|\bnbval\b"
    r"|\b(?:portability|unit)\s+tests\b|\bthe\s+course's\s+(?:\w+\s+)?tests\b")


def student_edition_phrases(cells) -> list[Violation]:
    found = []
    for cell in cells:
        src = cell.source if cell.uses_end < 0 else cell.source[:cell.uses_end]
        for m in _STUDENT_EDITION.finditer(src):
            found.append(Violation(cell, "student-edition", _excerpt(cell.source, *m.span()),
                                   "say what is true in both editions: 'the run above', "
                                   "'when you run this cell'; no notes about the tests"))
    return found


# --------------------------------------------------------------- concept order
# The patterns that signal a use of each glossary term (key: the entry's anchor). The
# glossary records where each is taught ("→ taught in NN §S; used in …"). A term
# written "→ outside the course; used in …" is taught nowhere: each notebook's first use
# links to its glossary entry, which says what it is.
TERM_PATTERNS: dict[str, list[str]] = {
    "bptt": [r"\bBPTT\b", r"(?i)back-?propagation through time"],
    "unrolling": [r"(?i)\bunroll"],
    "hidden-state": [r"(?i)hidden state"],
    "backward-gradients": [DELTA, r"\bg_(?:t|k|\{t|\{k)"],
    "tbptt": [r"\bTBPTT", r"(?i)truncated (?:BPTT|backprop)",
              r"(?i)truncat\w* (?:the |its )?(?:backward|gradient)"],
    "k1-k2": [r"\bk_\{?[12]\b", r"k[₁₂]", r"\bk[12]\b"],
    "detach": [r"(?i)\bdetach"],
    "echo-state-network": [r"(?i)echo[- ]state"],
    "checkpointing": [r"(?i)checkpoint"],
    "jacobian": [r"(?i)Jacobian"],
    "singular-values": [r"(?i)singular value", r"\\sigma_\{?\\(?:max|text\{max\})",
                        r"σ_?(?:max|\{max\})"],
    "spectral-radius": [r"(?i)spectral radius", r"(?i)eigenvalue"],
    "chaotic-regime": [r"(?i)\bchao", r"(?i)Lyapunov"],
    "circular-law": [r"(?i)circular law"],
    "gelfand": [r"Gelfand"],
    "normal-matrix": [r"(?i)non-?normal", r"(?i)normal matri"],
    "gamma": [r"\\gamma(?![A-Za-z])", r"γ"],
    "vanishing-gradients": [r"(?i)\bvanish"],
    "irnn": [r"\bIRNN\b"],
    "exploding-gradients": [r"(?i)\bexplod"],
    "clipping": [r"(?i)\bclip"],
    "divergence": [r"(?i)\bdiverg"],
    "normalised-gradient-descent": [r"(?i)normali[sz]ed gradient descent"],
    "gradient-check": [r"(?i)gradient[- ]check", r"(?i)finite[- ]difference"],
    "relative-error": [r"(?i)relative error", r"\brel_error"],
    "lstm": [r"\bLSTM", r"(?i)long short-term memory", r"(?i)cell state"],
    "gates": [r"(?i)\bgate[sd]?\b"],
    "forget-gate": [r"(?i)forget[- ]gate", r"\bb_f\b", r"\bb_\{f\}"],
    "chrono-initialisation": [r"(?i)\bchrono"],
    "cec": [r"\bCEC\b", r"(?i)carousel"],
    "language-model": [r"(?i)language model"],
    "n-gram": [r"(?i)\bn-gram", r"(?i)\bbigram", r"(?i)\bunigram"],
    "teacher-forcing": [r"(?i)teacher[- ]forc"],
    "bits-per-character": [r"\bbpc\b", r"(?i)bits per character"],
    "perplexity": [r"(?i)perplexit"],
    "temperature": [r"(?i)temperature"],
    "cosine-decay": [r"(?i)\bcosine\b"],
    "dropout": [r"(?i)\bdropout"],
    "papermill": [r"(?i)papermill"],
    "adam": [r"\bAdam\b"],
}


@dataclass(frozen=True)
class Teaching:
    anchor: str
    notebook: str           # "05": the notebook that teaches (or explains) the term
    section: float | None   # 2.0 for "§2"; None: the whole notebook, from its title cell on
    outside: bool           # a term from outside the course, explained where it is first used
    used_in: tuple[str, ...]


_TAUGHT = re.compile(
    r"→\s*(?:(?P<outside>outside the course; explained)|taught) in (?P<nb>\d\d)"
    r"(?:\s*§(?P<sec>\d+))?(?:;\s*used in (?P<used>\d\d(?:,\s*\d\d)*))?")


def glossary_teaching(root: Path = ROOT) -> dict[str, Teaching]:
    """Anchor → where GLOSSARY.md says the term is taught (its ``→ taught in …`` record)."""
    text = (root / "GLOSSARY.md").read_text()
    out = {}
    parts = re.split(r'<a id="([^"]+)"></a>', text)
    for anchor, body in zip(parts[1::2], parts[2::2]):
        m = _TAUGHT.search(body)
        if m is None:
            continue
        sec = m.group("sec")
        out[anchor] = Teaching(anchor, m.group("nb"), float(sec) if sec else None,
                               bool(m.group("outside")),
                               tuple(re.findall(r"\d\d", m.group("used") or "")))
    return out


def _links(cell: Cell) -> list[str]:
    return [a or b for a, b in re.findall(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"", cell.source)]


def _links_glossary(cell: Cell, anchor: str) -> bool:
    return any(re.search(r"GLOSSARY\.md#" + re.escape(anchor) + r"$", t) for t in _links(cell))


# a link to one of these entries previews the term too (the entry leads the reader to it)
PREVIEW_ALIASES = {
    "k1-k2": ("tbptt",), "tbptt": ("k1-k2",),
    "gates": ("lstm",), "forget-gate": ("lstm", "gates"), "cec": ("lstm",),
}


def has_preview(cell: Cell, anchor: str, t: Teaching) -> bool:
    """The cell links the term's glossary entry (or an entry of PREVIEW_ALIASES), or the
    notebook that teaches it (in that notebook itself: a link to one of its own sections,
    ``(#…)``)."""
    if any(_links_glossary(cell, a) for a in (anchor, *PREVIEW_ALIASES.get(anchor, ()))):
        return True
    if t.outside:
        return False
    for target in _links(cell):
        if re.search(r"(?:^|/)" + t.notebook + r"_[^/]*\.ipynb(?:#.*)?$", target):
            return True
        if cell.notebook == t.notebook and target.startswith("#"):
            return True
    return False


def _place(cell: Cell, t: Teaching) -> str:
    """'early', 'teaching' (the notebook and section that teach it) or 'after'."""
    if cell.notebook != t.notebook:
        return "early" if cell.notebook < t.notebook else "after"
    if t.section is None:
        return "teaching"
    # the title cell (before "## 1.") may name what the notebook will teach
    if cell.section == 0 or cell.section > t.section:
        return "after"
    return "early" if cell.section < t.section else "teaching"


def first_uses(cells, pattern_list, key=lambda c: c.notebook) -> dict:
    """key(cell) → (cell, start, end) of the first use in the cells sharing that key (prose
    or maths; code and link targets do not count). The default key is the notebook."""
    pats = [re.compile(p) for p in pattern_list]
    found = {}
    for cell in cells:
        k = key(cell)
        if k in found:
            continue
        prose, maths = split_text(cell.source)
        text = "".join(m if m != " " else p for p, m in zip(prose, maths))
        if cell.uses_end >= 0:
            text = text[:cell.uses_end]
        hits = [m.span() for p in pats for m in p.finditer(text)]
        if hits:
            a, b = min(hits)
            found[k] = (cell, a, b)
    return found


def _where(t: Teaching) -> str:
    sec = f" §{t.section:g}" if t.section else ""
    return (f"from outside the course, explained in {t.notebook}{sec}" if t.outside
            else f"taught in {t.notebook}{sec}")


def concept_order_violations(cells, teaching: dict[str, Teaching] | None = None,
                             root: Path = ROOT) -> list[Violation]:
    """Concepts before their use. For each glossary term with a ``→ taught in`` record:

    * in every section of a notebook (its title cell, each ``## N.`` section, the closing
      sections) that comes before the place teaching the term, the section's first use
      carries a preview: a link to the term's glossary entry or to the teaching notebook;
    * a term from outside the course (``→ outside the course; explained in NN §S``): the
      first use at that place links its glossary entry, which says what it is.
    """
    teaching = glossary_teaching(root) if teaching is None else teaching
    cells = list(cells)
    found = []
    for anchor, patterns in TERM_PATTERNS.items():
        t = teaching.get(anchor)
        if t is None:
            continue
        early = [c for c in cells if _place(c, t) == "early"]
        uses = first_uses(early, patterns, key=lambda c: (c.notebook, c.section))
        for _, (cell, a, b) in sorted(uses.items()):
            if has_preview(cell, anchor, t):
                continue
            found.append(Violation(
                cell, f"concept-before-use:{anchor}", _excerpt(cell.source, a, b),
                f"'{cell.source[a:b]}' is {_where(t)}: say here in one line what it is and "
                f"link [its glossary entry](../GLOSSARY.md#{anchor})"
                + ("" if t.outside else f" or [notebook {t.notebook}]({t.notebook}_….ipynb)")
                + ", or move the use after that place"))
        if t.outside:
            here = [c for c in cells if _place(c, t) == "teaching"]
            first = first_uses(here, patterns)
            if t.notebook in first:
                cell, a, b = first[t.notebook]
                if not _links_glossary(cell, anchor):
                    found.append(Violation(
                        cell, f"outside-term-unexplained:{anchor}", _excerpt(cell.source, a, b),
                        f"'{cell.source[a:b]}' comes from outside the course: where it is "
                        f"first used, say in one line what it is and link "
                        f"[its glossary entry](../GLOSSARY.md#{anchor})"))
    return found


def stale_records(root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """anchor → (record in GLOSSARY.md, record it should have) for each entry whose
    "used in" list is not the notebooks (other than the teaching one) that use the term."""
    text = (root / "GLOSSARY.md").read_text()
    cells = markdown_cells(root)
    out = {}
    parts = re.split(r'<a id="([^"]+)"></a>', text)
    for anchor, body in zip(parts[1::2], parts[2::2]):
        m = _TAUGHT.search(body)
        if m is None or anchor not in TERM_PATTERNS:
            continue
        used = sorted(k for k in first_uses(cells, TERM_PATTERNS[anchor]) if k != m.group("nb"))
        head = re.sub(r";\s*used in .*$", "", m.group(0))
        want = head + (f"; used in {', '.join(used)}" if used else "")
        if want != m.group(0):
            out[anchor] = (m.group(0), want)
    return out


def write_records(root: Path = ROOT) -> int:
    """Bring every entry's "used in" list up to date; return how many changed."""
    path = root / "GLOSSARY.md"
    text = path.read_text()
    stale = stale_records(root)
    parts = re.split(r'(<a id="[^"]+"></a>)', text)
    for i in range(1, len(parts), 2):
        anchor = re.match(r'<a id="([^"]+)"', parts[i]).group(1)
        if anchor in stale:
            old, new = stale[anchor]
            parts[i + 1] = parts[i + 1].replace(old, new, 1)
    path.write_text("".join(parts))
    return len(stale)


# ----------------------------------------------------------------- main line
def main_line_words(root: Path = ROOT) -> dict[str, int]:
    """Words of each notebook's main line: its markdown cells before ``## Key facts``,
    stopping at a ``## Going deeper`` heading if one comes first. A word is a
    whitespace-separated token with a letter or digit in it, after HTML tags are removed
    (a heading's ``##`` does not count; an equation's tokens do)."""
    counts = {}
    for path in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        words = 0
        for c in json.loads(path.read_text())["cells"]:
            if c["cell_type"] != "markdown":
                continue
            src = "".join(c["source"])
            stop = re.search(r"^##\s+(Key facts|Going deeper)\b", src, re.M)
            text = src[:stop.start()] if stop else src
            text = re.sub(r"<[^>]+>", " ", _COMMENT.sub(" ", text))
            words += sum(1 for w in text.split() if re.search(r"\w", w))
            if stop:
                break
        counts[path.name] = words
    return counts


# ----------------------------------------------------------------------- CLI
def _main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] not in {"check", "notation", "order", "words", "records",
                                        "student"}:
        print(__doc__)
        return 2
    root = Path(argv[1]).resolve() if len(argv) > 1 and not argv[1].startswith("-") else ROOT
    if argv[0] == "records":
        if "--write" in argv:
            print(f"{write_records(root)} record(s) updated in {root / 'GLOSSARY.md'}")
            return 0
        stale = stale_records(root)
        for anchor, (old, new) in stale.items():
            print(f"#{anchor}: {old}  should be  {new}")
        return 1 if stale else 0
    if argv[0] == "words":
        counts = main_line_words(root)
        for name, n in counts.items():
            print(f"{name}\t{n}")
        print(f"total\t{sum(counts.values())}")
        return 0
    cells = markdown_cells(root)
    found = []
    if argv[0] == "student":
        found += student_edition_phrases(markdown_cells(root, comments=True))
    if argv[0] in {"check", "notation"}:
        found += notation_violations(cells)
    if argv[0] in {"check", "order"}:
        teaching = glossary_teaching(root)
        if not teaching:   # a tree whose GLOSSARY.md has no "→ taught in" records yet
            print(f"(no '→ taught in' records in {root / 'GLOSSARY.md'}: "
                  f"using {ROOT / 'GLOSSARY.md'})")
            teaching = glossary_teaching(ROOT)
        found += concept_order_violations(cells, teaching)
    found.sort(key=lambda v: (v.cell.name, v.cell.index, v.rule))
    for v in found:
        print(v)
    print(f"{len(found)} violation(s) in {root}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
