"""Similar submissions (``course grade``): pairs of students, and the course's own code.

For every code exercise of a graded notebook, each submission's answer (the exercise's
function and the helpers it calls that its cell defines) is compared with every other
submission's in the run, with every module of the installed course package (references,
lessons, maths: all a student has), and with earlier submissions an instructor keeps
(``course grade --compare-with DIR``). A similarity is a review flag, never points.

How. The code is normalised first (:func:`document`): comments, docstrings and other
bare strings, ``pass`` and ``x = x`` are dropped; every name the code binds (parameters,
local variables, its own functions) becomes one symbol, numbers another, strings a third;
the names it uses but does not bind (``np``, ``range``, attributes such as ``.T``) stay;
and each run of simple statements between two compound ones is put in a canonical order,
so reordering statements changes nothing. Each kept token is one character of the
normalised text, which remembers the source line it came from. The fingerprints are
copydetect's (a MOSS-style k-gram detector, Schleimer, Wilkerson and Aiken 2003): every
k-gram of the normalised text, minus those of the exercise's own template (its
signature and docstring: boilerplate), with a winnowing window of 1 (all k-grams kept:
answers are small, and a larger window selects by Python's string hash, which changes
from one process to the next, so the scores would too). The score of a pair is the share
of a submission's fingerprinted tokens found in the other: for two students the larger
of the two shares (who copied may have added lines), for the course's code the
submission's share.

Calibration (:data:`CALIBRATION`, from ``benchmarks/similarity_calibration.py``): per
exercise, a minimum size (fingerprinted tokens) below which an answer is not compared
(short answers are alike by nature: notebook 01's step is one line), and the score at
which a pair is flagged, set above every score of independently written, honest
solutions.
"""

from __future__ import annotations

import ast
import functools
import html
import io
import json
import keyword
import tokenize
import zlib
from dataclasses import dataclass, field
from pathlib import Path

K = 12                 # tokens in a fingerprinted k-gram
DEFAULT_MIN_SIZE = 120  # fingerprinted tokens: an exercise with no calibration (no honest set)
DEFAULT_THRESHOLD = 0.95
TOP = 5                # most similar pairs kept per exercise (flagged ones always)
# Per exercise: (minimum size in fingerprinted tokens, score flagged between two students,
# score flagged against the course's code), as calibrated by
# benchmarks/similarity_calibration.py on the honest implementations in tests/data/honest/
# (tests/test_similarity.py ties these numbers to its results file).
CALIBRATION: dict[str, tuple[int, float, float]] = {
    "ex03_rnn_backward": (91, 0.85, 0.9),
    "ex05_truncated_bptt": (89, 1.0, 1.0),
    "ex07_lstm_step_backward": (125, 0.9, 0.9),
    "ex07_lstm_backward": (109, 0.85, 0.9),
    "ex08_tbptt_train_step": (45, 0.95, 0.8),
}

LOOPS_ALIKE = True    # every loop header is one token (a while loop is a for loop)
_BIND, _NUM, _STR, _LOOP = "V", "N", "S", "L"
_OPEN, _CLOSE, _END = "{", "}", ";"
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
         tokenize.ENCODING, tokenize.ENDMARKER}
_STRING_PARTS = {getattr(tokenize, n) for n in ("FSTRING_MIDDLE", "FSTRING_END",
                                               "TSTRING_MIDDLE", "TSTRING_END")
                 if hasattr(tokenize, n)}
_STRING_STARTS = {tokenize.STRING} | {getattr(tokenize, n) for n in ("FSTRING_START",
                                                                   "TSTRING_START")
                                      if hasattr(tokenize, n)}
_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor,
             ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)  # a match is one statement
_ALIASES = {"np": "numpy"}  # what a setup cell imports, as the course's setup cells do


def _unit(text: str) -> str:
    """One character for a kept token (a keyword, an operator, a name left as it is)."""
    return chr(0xE000 + zlib.crc32(text.encode()) % 6400)


# ---------------------------------------------------------------------------------------
# Normalised documents
# ---------------------------------------------------------------------------------------
@dataclass
class Document:
    """An answer (or a course module) normalised: one character per kept token, and the
    source line (1-based) each came from."""

    label: str                      # who or what: a student, a file, a course module
    source: str                     # the text the lines refer to
    text: str                       # the normalised text
    lines: list[int]                # len(text): the source line of each character
    shown: tuple[int, int] = (1, 1)  # the source lines of the answer (first, last)
    meta: dict = field(default_factory=dict)


def _strip_magics(src: str) -> str:
    return "\n".join(ln[:len(ln) - len(ln.lstrip())] + "pass"
                     if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines())


def _noop(s: ast.stmt, read: set[str] = frozenset()) -> bool:
    """A statement that computes nothing the answer uses: ``pass``, a bare constant (a
    docstring), ``x = x``, ``assert``, ``del``, ``print(…)``, ``if False:``, and a store
    with no call in it to names the answer never reads (``read``)."""
    if isinstance(s, (ast.Pass, ast.Assert, ast.Delete)):
        return True
    if isinstance(s, ast.Expr):
        v = s.value
        return isinstance(v, ast.Constant) or (isinstance(v, ast.Call) and isinstance(
            v.func, ast.Name) and v.func.id == "print")
    if isinstance(s, ast.If) and isinstance(s.test, ast.Constant) and not s.test.value \
            and not s.orelse:
        return True
    if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) \
            and isinstance(s.value, ast.Name) and s.targets[0].id == s.value.id:
        return True
    targets = s.targets if isinstance(s, ast.Assign) else [s.target] if isinstance(
        s, (ast.AugAssign, ast.AnnAssign)) else None
    if targets and getattr(s, "value", None) is not None:
        names = [n for t in targets for n in ast.walk(t)]
        return (all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.expr_context))
                    for n in names)
                and not any(isinstance(n, ast.Name) and n.id in read for n in names)
                and not any(isinstance(n, ast.Call) for n in ast.walk(s.value)))
    return False


def _bound_names(nodes) -> set[str]:
    """The names the code binds (but what imports bind: those are the libraries)."""
    out = set()
    for top in nodes:
        for n in ast.walk(top):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                out.add(n.id)
            elif isinstance(n, ast.arg):
                out.add(n.arg)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(n.name)
            elif isinstance(n, ast.ExceptHandler) and n.name:
                out.add(n.name)
    return out


def _import_aliases(tree: ast.AST) -> dict[str, str]:
    out = dict(_ALIASES)
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            for a in n.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(n, ast.ImportFrom):
            for a in n.names:
                out[a.asname or a.name] = f"{n.module}.{a.name}"
    return out


class _Normaliser:
    """Statements as normalised tokens, each with the source line it came from. Each
    statement is written out by ``ast.unparse`` first, so layout, brackets and quotes
    are the same however the student wrote them."""

    def __init__(self, tree: ast.AST, bound: set[str], read: set[str]):
        self.bound, self.read = bound, read
        self.aliases = _import_aliases(tree)

    def tokens(self, code: str, first: int, last: int) -> list[tuple[str, int]]:
        out, prev = [], ""
        try:
            for t in tokenize.generate_tokens(io.StringIO(code).readline):
                unit = self._map(t, prev)
                if t.type in (tokenize.OP, tokenize.NAME):
                    prev = t.string
                if unit:
                    out.append((unit, min(last, first + t.start[0] - 1)))
        except (tokenize.TokenError, SyntaxError):
            pass
        return out

    def _map(self, t, prev: str) -> str:
        if t.type in _SKIP or t.type in _STRING_PARTS:
            return ""
        if t.type in _STRING_STARTS:
            return _STR
        if t.type == tokenize.NUMBER:
            return _NUM
        if t.type == tokenize.NAME:
            if keyword.iskeyword(t.string) or prev == ".":
                return _unit(t.string)
            if t.string in self.bound:
                return _BIND
            return _unit(self.aliases.get(t.string, t.string))
        return _unit(t.string) if t.string.strip() else ""

    def code(self, node, text: str) -> list[tuple[str, int]]:
        return self.tokens(text, node.lineno, getattr(node, "end_lineno", node.lineno))

    def block(self, stmts: list) -> list[tuple[str, int]]:
        out, run = [], []

        def flush():
            run.sort(key=lambda piece: "".join(u for u, _ in piece))
            for piece in run:
                out.extend(piece)
            run.clear()

        for s in stmts:
            if _noop(s, self.read):
                continue
            if isinstance(s, _COMPOUND):
                flush()
                out.extend(self.compound(s))
            else:
                piece = self.code(s, ast.unparse(s))
                if piece:
                    run.append(piece + [(_END, piece[-1][1])])
        flush()
        return out

    def _body(self, stmts, line) -> list[tuple[str, int]]:
        inner = self.block(stmts) if stmts else []
        return [(_OPEN, inner[0][1] if inner else line), *inner,
                (_CLOSE, inner[-1][1] if inner else line)]

    def compound(self, node) -> list[tuple[str, int]]:
        line = node.lineno
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            if LOOPS_ALIKE:  # a loop is a loop: ``for`` made ``while`` keeps its body
                head = [(_LOOP, line)]
            elif isinstance(node, ast.While):
                head = self.code(node, "while " + ast.unparse(node.test))
            else:
                head = self.code(node, f"for {ast.unparse(node.target)} in "
                                 f"{ast.unparse(node.iter)}")
            return head + self._body(node.body, line) + (
                self._body(node.orelse, line) if node.orelse else [])
        if isinstance(node, ast.If):
            out = self.code(node, "if " + ast.unparse(node.test)) + self._body(node.body, line)
            return out + (self._body(node.orelse, line) if node.orelse else [])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            head = self.code(node, f"def {node.name}({ast.unparse(node.args)})")
            return head + self._body(node.body, line)
        if isinstance(node, ast.ClassDef):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            return self.code(node, f"class {node.name}({bases})") + self._body(node.body, line)
        if isinstance(node, (ast.With, ast.AsyncWith)):
            items = ", ".join(ast.unparse(i) for i in node.items)
            return self.code(node, "with " + items) + self._body(node.body, line)
        # try: its body, each handler, else, finally
        out = self.code(node, "try") + self._body(node.body, line)
        for h in node.handlers:
            what = f"except {ast.unparse(h.type)}" if h.type is not None else "except"
            out += self.code(h, what) + self._body(h.body, h.lineno)
        for b in (node.orelse, node.finalbody):
            if b:
                out += self._body(b, b[0].lineno)
        return out


def _parse(source: str):
    try:
        return ast.parse(_strip_magics(source))
    except (SyntaxError, ValueError):
        return None


def _calls(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def document(source: str, function: str | None, label: str, *,
             exclude: frozenset[str] | set[str] = frozenset(), meta=None) -> Document | None:
    """The normalised document of ``function`` in ``source`` (a cell, a file) with the
    helpers it calls that ``source`` defines at its top level (but those in ``exclude``:
    other exercises' functions); with ``function=None``, the whole source (a module).
    None when ``source`` does not parse or does not define ``function``."""
    tree = _parse(source)
    if tree is None:
        return None
    source = _strip_magics(source)
    if function is None:
        nodes = list(tree.body)
    else:
        defs = {n.name: n for n in tree.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if function not in defs:
            return None
        keep, todo = [], [function]
        while todo:
            name = todo.pop()
            if name in defs and name not in keep and (name == function or name not in exclude):
                keep.append(name)
                todo.extend(sorted(_calls(defs[name]) - set(keep)))
        nodes = sorted((defs[n] for n in keep), key=lambda n: n.lineno)
    read = {n.id for top in nodes for n in ast.walk(top)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    norm = _Normaliser(tree, _bound_names(nodes), read)
    units = norm.block(nodes)
    if not nodes:
        return None
    first = min(getattr(n, "decorator_list", None) and n.decorator_list[0].lineno or n.lineno
                for n in nodes)
    last = max(n.end_lineno for n in nodes)
    return Document(label, source, "".join(u for u, _ in units), [ln for _, ln in units],
                    (first, last), dict(meta or {}))


# ---------------------------------------------------------------------------------------
# Fingerprints and scores (copydetect)
# ---------------------------------------------------------------------------------------
class Fingerprinted:
    """A document's copydetect fingerprints (every k-gram, boilerplate removed)."""

    def __init__(self, doc: Document, boilerplate=(), k: int | None = None):
        from copydetect import CodeFingerprint

        self.doc = doc
        self.fp = CodeFingerprint(doc.label, k or K, 1, boilerplate=list(boilerplate),
                                  filter=False, fp=io.StringIO(doc.text))

    @property
    def size(self) -> int:
        """Fingerprinted tokens: the normalised tokens in some k-gram not boilerplate."""
        return int(self.fp.token_coverage)


def boilerplate(template_source: str, function: str, k: int | None = None) -> list:
    """The fingerprints of an exercise's template (the student edition's answer cell)."""
    from copydetect import CodeFingerprint

    k = k or K
    doc = document(template_source, function, "template")
    if doc is None or len(doc.text) < k:
        return []
    return sorted(CodeFingerprint("template", k, 1, filter=False,
                                  fp=io.StringIO(doc.text)).hashes)


@dataclass
class Match:
    """How much of ``a`` is found in ``b`` and the other way round, with the source lines
    of the shared fragments on each side."""

    share_a: float
    share_b: float
    lines_a: list[int]
    lines_b: list[int]

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)


def _lines(doc: Document, slices) -> list[int]:
    out = set()
    for s, e in zip(*slices):
        out.update(doc.lines[int(s):int(e)])
    return sorted(out)


def compare(a: Fingerprinted, b: Fingerprinted) -> Match:
    from copydetect import compare_files

    if not a.fp.hashes & b.fp.hashes or not a.size or not b.size:
        return Match(0.0, 0.0, [], [])
    _, (sa, sb), (slices_a, slices_b) = compare_files(a.fp, b.fp)
    return Match(float(sa), float(sb), _lines(a.doc, slices_a), _lines(b.doc, slices_b))


def ranges(lines: list[int]) -> str:
    """``[3, 4, 5, 9]`` → ``3–5, 9``."""
    out, start, prev = [], None, None
    for n in lines:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}–{prev}" if prev != start else f"{start}")
            start = prev = n
    if start is not None:
        out.append(f"{start}–{prev}" if prev != start else f"{start}")
    return ", ".join(out)


def settings(exercise_id: str) -> tuple[int, float, float]:
    """``(minimum size, threshold between students, threshold against the course)`` of an
    exercise (its calibration, else the defaults)."""
    return CALIBRATION.get(exercise_id, (DEFAULT_MIN_SIZE, DEFAULT_THRESHOLD,
                                         DEFAULT_THRESHOLD))


# ---------------------------------------------------------------------------------------
# The corpora: the run's submissions, earlier ones, the course package
# ---------------------------------------------------------------------------------------
def code_cells(path: Path) -> list[tuple[int, str]]:
    """``[(cell index, source)]`` of a notebook's code cells ([] when unreadable)."""
    from ..exercise_cells import source

    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = nb.get("cells", []) if isinstance(nb, dict) else []
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    if not isinstance(cells, list):
        return []
    return [(i, source(c)) for i, c in enumerate(cells)
            if isinstance(c, dict) and c.get("cell_type") == "code"]


def answer(cells: list[tuple[int, str]], function: str, label: str, exclude=frozenset(),
           meta=None) -> Document | None:
    """The document of ``function`` in the last code cell that defines it (``cells``:
    ``[(cell index, source)]``)."""
    for index, src in reversed(cells):
        if f"def {function}" in src:
            doc = document(src, function, label, exclude=exclude,
                           meta=dict(meta or {}, cell=index))
            if doc is not None:
                return doc
    return None


def package_documents(package_dir: Path) -> list[Document]:
    """Every module of the installed course package, whole (its own ``tooling`` too)."""
    return list(_package_documents(str(Path(package_dir).resolve())))


@functools.lru_cache(maxsize=4)
def _package_documents(package_dir: str) -> tuple[Document, ...]:
    out = []
    for p in sorted(Path(package_dir).rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        rel = p.relative_to(Path(package_dir).parent).as_posix()
        try:
            doc = document(p.read_text(encoding="utf-8"), None, rel, meta={"course": rel})
        except (OSError, UnicodeDecodeError):
            doc = None
        if doc is not None and doc.text:
            doc.shown = (1, len(doc.source.splitlines()))
            out.append(doc)
    return tuple(out)


@dataclass
class Exercise:
    """What one exercise's comparison needs: its id, function, the other exercises'
    functions of its notebook (not helpers), its template's fingerprints, calibration."""

    id: str
    function: str
    others: frozenset
    template: list
    min_size: int
    threshold: float         # two students (or an earlier submission)
    course_threshold: float  # a module of the course package


def exercises_of(root: Path, notebook: str, ids: set[str] | None = None) -> list[Exercise]:
    from ...checks import discovery
    from ..exercise_cells import grade_id, source

    number = int(notebook[:2])
    course = [e for e in discovery.exercises() if e.notebook == number and e.function
              and e.kind == "code"]
    templates = {}
    student = Path(root) / "notebooks" / notebook
    try:
        for c in json.loads(student.read_text(encoding="utf-8")).get("cells", []):
            if grade_id(c):
                templates[grade_id(c)] = source(c)
    except (OSError, ValueError):
        pass
    out = []
    for e in course:
        if ids is not None and e.id not in ids:
            continue
        tpl = templates.get(e.answer_id or "", "")
        out.append(Exercise(e.id, e.function, frozenset(x.function for x in course) - {e.function},
                            boilerplate(tpl, e.function) if tpl else [], *settings(e.id)))
    return out


# ---------------------------------------------------------------------------------------
# A grading run: every pair, per exercise
# ---------------------------------------------------------------------------------------
@dataclass
class Pair:
    """Two answers to one exercise and how alike they are. ``a`` is a submission of the
    run; ``b`` another, an earlier one (``--compare-with``) or a course module."""

    exercise: str
    a: Document
    b: Document
    match: Match
    score: float      # for two students the larger share, else the share of ``a``
    threshold: float
    line: str = ""    # the one-line flag (also for pairs below the threshold)

    @property
    def flagged(self) -> bool:
        return self.score >= self.threshold

    @property
    def kind(self) -> str:
        return "course" if "course" in self.b.meta else \
            "earlier" if self.b.meta.get("earlier") else "submission"

    def to_dict(self) -> dict:
        def side(doc, lines):
            d = {k: v for k, v in doc.meta.items() if k in ("student", "file", "course", "cell",
                                                              "earlier")}
            return dict(d, lines=lines, shared_lines=ranges(lines))
        return {"exercise": self.exercise, "kind": self.kind, "score": round(self.score, 3),
                "shares": [round(self.match.share_a, 3), round(self.match.share_b, 3)],
                "threshold": self.threshold, "flagged": self.flagged,
                "a": side(self.a, self.match.lines_a), "b": side(self.b, self.match.lines_b),
                "flag": self.line}


@dataclass
class ExerciseReport:
    id: str
    function: str
    min_size: int
    threshold: float
    course_threshold: float
    compared: list[str] = field(default_factory=list)   # submissions compared
    too_small: list[str] = field(default_factory=list)  # below the minimum size
    missing: list[str] = field(default_factory=list)    # no answer found (not defined)
    earlier: int = 0
    pairs: list[Pair] = field(default_factory=list)     # the most similar, flagged ones all
    scores: list[float] = field(default_factory=list)   # every pair's score (submissions)

    def to_dict(self) -> dict:
        return {"function": self.function, "min_size": self.min_size,
                "threshold": self.threshold, "course_threshold": self.course_threshold,
                "compared": len(self.compared),
                "too_small": self.too_small, "no_answer": self.missing,
                "earlier_submissions": self.earlier, "pairs_scored": len(self.scores),
                "pairs": [p.to_dict() for p in self.pairs]}


@dataclass
class Report:
    """Every exercise's comparison in a run (``grades.json``'s ``similarity``)."""

    notebooks: dict[str, list[ExerciseReport]] = field(default_factory=dict)
    problem: str = ""

    def to_dict(self) -> dict:
        return {"method": {"library": "copydetect " + _version(), "k": K, "window": 1,
                           "normalised": "names bound by the answer, numbers, strings, "
                           "comments, docstrings, no-op statements, whitespace, the order of "
                           "simple statements, loop headers"},
                "problem": self.problem,
                "notebooks": {nb: {e.id: e.to_dict() for e in exs}
                              for nb, exs in self.notebooks.items()}}

    def flagged(self) -> list[Pair]:
        return [p for exs in self.notebooks.values() for e in exs for p in e.pairs if p.flagged]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("copydetect")
    except Exception:
        return "(not installed)"


def _who(doc: Document) -> str:
    m = doc.meta
    if "course" in m:
        return f"the course's own `{m['course']}`"
    who = m.get("student") or m.get("file") or doc.label
    return f"{who} (an earlier submission, {m['file']})" if m.get("earlier") else who


def _where(doc: Document, lines: list[int]) -> str:
    at = f"lines {ranges(lines)}" if lines else "no line"
    return f"{at} of cell {doc.meta['cell']}" if "cell" in doc.meta else at


def flag_line(p: Pair, this: str = "a") -> str:
    """One line an instructor can check: whom it matches, how much, where on each side."""
    mine, other = (p.a, p.b) if this == "a" else (p.b, p.a)
    lm, lo = (p.match.lines_a, p.match.lines_b) if this == "a" else (p.match.lines_b,
                                                                       p.match.lines_a)
    share = p.match.share_a if this == "a" else p.match.share_b
    if p.kind == "course":
        return (f"similar to {_who(other)}: {share:.0%} of this answer's normalised code is "
                f"found there (flagged from {p.threshold:.0%}); compare {_where(mine, lm)} "
                f"with its {_where(other, lo)}")
    return (f"similar to the answer of {_who(other)}: {p.score:.0%} shared once names, comments, "
            f"literals and statement order are normalised (flagged from {p.threshold:.0%}); "
            f"compare {_where(mine, lm)} with {_where(other, lo)} of theirs")


def _fingerprinted(docs, template) -> list[Fingerprinted]:
    return [Fingerprinted(d, template) for d in docs]


def find(results, paths, *, root: Path, compare_with=(), package_dir: Path | None = None,
         top: int = TOP) -> Report:
    """Compare the run's submissions per exercise (see the module docstring); add a review
    flag (:func:`flag_line`) to each exercise result of a flagged pair. Never points."""
    from .grading_select import discover, identify, student_of

    names = sorted({r.notebook for r in results if r.notebook})
    by_file = {r.file: r for r in results}
    subs: dict[str, list] = {}  # notebook -> [(result, cells)]
    for path, base in discover(list(paths)):
        display = str(path.relative_to(base)) if base is not None else path.name
        r = by_file.get(display)
        if r is not None and r.notebook:
            subs.setdefault(r.notebook, []).append((r, code_cells(path)))
    earlier: dict[str, list] = {}
    if compare_with:
        for path, base in discover(list(compare_with)):
            try:
                meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
            except Exception:
                continue
            nb = identify(path, meta if isinstance(meta, dict) else {}, names)
            if nb:
                display = str(path.relative_to(base)) if base is not None else path.name
                earlier.setdefault(nb, []).append(
                    (student_of(path, base, nb), display, code_cells(path)))
    package_dir = Path(package_dir) if package_dir else Path(__file__).resolve().parents[2]
    package = None
    report = Report()
    for nb in names:
        ids = {e.id for r, _ in subs.get(nb, []) for e in r.exercises if e.kind == "code"}
        for ex in exercises_of(root, nb, ids):
            er = ExerciseReport(ex.id, ex.function, ex.min_size, ex.threshold,
                                ex.course_threshold)
            report.notebooks.setdefault(nb, []).append(er)
            mine = []
            for r, cells in subs.get(nb, []):
                doc = answer(cells, ex.function, r.file, ex.others,
                             {"student": r.student, "file": r.file})
                if doc is None:
                    er.missing.append(r.file)
                    continue
                fp = Fingerprinted(doc, ex.template)
                (mine if fp.size >= ex.min_size else er.too_small).append(
                    fp if fp.size >= ex.min_size else r.file)
            er.compared = [f.doc.meta["file"] for f in mine]
            if not mine:
                continue
            old = []
            for student, display, cells in earlier.get(nb, []):
                doc = answer(cells, ex.function, display, ex.others,
                             {"student": student, "file": display, "earlier": True})
                if doc is not None:
                    fp = Fingerprinted(doc, ex.template)
                    if fp.size >= ex.min_size:
                        old.append(fp)
            er.earlier = len(old)
            if package is None:
                package = package_documents(package_dir)
            course = _fingerprinted(package, ex.template)
            pairs = []
            for i, a in enumerate(mine):
                for b in mine[i + 1:] + old:
                    m = compare(a, b)
                    er.scores.append(m.score)
                    pairs.append(Pair(ex.id, a.doc, b.doc, m, m.score, ex.threshold))
                best = None
                for c in course:
                    m = compare(a, c)
                    if best is None or m.share_a > best.score:
                        best = Pair(ex.id, a.doc, c.doc, m, m.share_a, ex.course_threshold)
                if best is not None and best.score > 0:
                    pairs.append(best)
            pairs.sort(key=lambda p: (-p.score, p.a.label, p.b.label))
            er.pairs = [p for k, p in enumerate(pairs) if p.flagged or k < top]
            for p in er.pairs:
                p.line = flag_line(p)
            _add_flags(er, by_file)
    return report


def _add_flags(er: ExerciseReport, by_file: dict) -> None:
    for p in er.pairs:
        if not p.flagged:
            continue
        sides = [("a", p.a)] + ([("b", p.b)] if p.kind == "submission" else [])
        for this, doc in sides:
            r = by_file.get(doc.meta.get("file"))
            e = next((x for x in r.exercises if x.id == er.id), None) if r else None
            if e is not None:
                e.review.append(flag_line(p, this))


# ---------------------------------------------------------------------------------------
# The class report's section: the most similar pairs, side by side
# ---------------------------------------------------------------------------------------
CSS = """
.sbs{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:.75rem}.sbs pre{margin:0;overflow-x:auto;
 border:1px solid #767676;padding:.25rem;font-size:.85em;line-height:1.3}
.sbs mark{background:#fbe3a6;color:#1a1a1a;display:inline-block;min-width:100%}
.sbs .ln{color:#4d4d4d;user-select:none}
"""


def _code(doc: Document, lines: list[int], context: int = 3) -> str:
    src = doc.source.splitlines()
    lo, hi = doc.shown
    if "course" in doc.meta and lines:  # a module: the shared part and a little around it
        lo, hi = max(1, min(lines) - context), min(len(src), max(lines) + context)
    marked = set(lines)
    out = []
    for n in range(lo, hi + 1):
        text = html.escape(src[n - 1] if n - 1 < len(src) else "")
        sign = "▶" if n in marked else " "
        row = f'<span class="ln">{n:>4} {sign} </span>{text}'
        out.append(f"<mark>{row}</mark>" if n in marked else row)
    return "\n".join(out)


def _title(doc: Document) -> str:
    m = doc.meta
    if "course" in m:
        return f"course module <code>{html.escape(m['course'])}</code>"
    what = "earlier submission" if m.get("earlier") else "submission"
    cell = f", cell {m['cell']}" if "cell" in m else ""
    return f"{what} <strong>{html.escape(str(m.get('student', '')))}</strong> " \
           f"(<code>{html.escape(str(m.get('file', '')))}</code>{cell})"


def section(report: Report | None, notebook: str) -> str:
    """The class report's similarity section of one notebook ("" when nothing ran)."""
    if report is None:
        return ""
    exs = report.notebooks.get(notebook, [])
    out = ['<h3 id="similarity-' + html.escape(notebook) + '">Similar answers '
           "(flags for review, never points)</h3>"]
    if report.problem:
        out.append(f"<p>Not compared: {html.escape(report.problem)}</p>")
    out.append("<p>Each answer (the exercise's function and the helpers its cell defines) "
               "is compared with every other submission's, with earlier submissions given "
               "with <code>--compare-with</code>, and with every module of the course "
               "package, once names, comments, docstrings, literals, whitespace and the order "
               "of simple statements are normalised. Shared lines are marked ▶ and "
               "highlighted.</p>")
    for er in exs:
        head = (f"<h4><code>{html.escape(er.id)}</code>: {len(er.compared)} compared "
                f"(flagged from {er.threshold:.0%} between students, from "
                f"{er.course_threshold:.0%} against the course; answers under {er.min_size} "
                f"normalised tokens are not compared: {len(er.too_small)})</h4>")
        if not er.pairs:
            out += [head, "<p>No pair to show.</p>"]
            continue
        rows, blocks = [], []
        for k, p in enumerate(er.pairs):
            state = "⚑ flagged" if p.flagged else "not flagged"
            rows.append(f'<tr data-flagged="{str(p.flagged).lower()}"><td class="num">'
                        f"{p.score:.0%}</td><td>{_title(p.a)}</td><td>{_title(p.b)}</td>"
                        f"<td>{state}</td></tr>")
            blocks.append(
                f'<details{" open" if p.flagged and k < 3 else ""} data-pair="{k}">'
                f"<summary>{p.score:.0%}: {_title(p.a)} and {_title(p.b)} ({state})"
                f'</summary><p>{html.escape(p.line)}</p><div class="sbs">'
                f"<div><p>{_title(p.a)}</p><pre>{_code(p.a, p.match.lines_a)}</pre></div>"
                f"<div><p>{_title(p.b)}</p><pre>{_code(p.b, p.match.lines_b)}</pre></div>"
                "</div></details>")
        out += [head, f"<table><caption>The most similar pairs in <code>{html.escape(er.id)}"
                "</code></caption><thead><tr><th scope=\"col\">score</th><th scope=\"col\">"
                "answer</th><th scope=\"col\">similar to</th><th scope=\"col\">flag</th></tr>"
                f"</thead><tbody>{''.join(rows)}</tbody></table>", *blocks]
    return "\n".join(out)
