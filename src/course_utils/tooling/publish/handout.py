"""Handouts that hold no answers: what the assignment edition leaves out, and the handout
of only some exercises (``course build --assignment DIR --only SELECTORS``).

**Answer leaks.** A cell of a handout *reveals* a graded answer when its source, or the
output the solution notebook stored for it (what the student sees once they run it),
shares a long run of code tokens with that answer's code (:func:`reveals`). An answer's
code (:func:`answer_code`) is, for each assigned code exercise:

* the answer key: the solution region of its cell in ``solutions/``;
* the registry's reference (and ``truth``) function's body;
* the body of every other function of the course (``course_utils.reference``, ``maths``,
  ``lessons``) with the reference's parameters that passes the exercise's own check:
  found by behaviour, not by a list (``maths.rnn.rnn_backward_fast`` answers
  ``ex03_rnn_backward``; printing its source would give the answer away).

Tokens are normalised (comments, docstrings, layout and string contents dropped; names
kept), and a function that only calls another with its own parameters counts as no code.
A run is long when it covers :data:`SHORT_SHARE` of a short answer, or :data:`LONG_RUN`
tokens of a long one. :func:`leave_out_leaks` replaces each revealing cell by a short note.

**Only some exercises.** :func:`only_assigned` turns the exercises not selected into
ordinary cells that keep the answer key (so later cells that use them still run) before
the assignment edition is made; their check cells are no longer graded.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import inspect
import pkgutil
import re
import textwrap

from ..exercise_cells import SOLUTION, WRITTEN_ANSWER, grade_id, role
from .editions import NotebookError

SHORT_SHARE = 0.8   # a run over 80% of a short answer's tokens reveals it
LONG_RUN = 40       # ... or 40 tokens of a longer one (about three lines of code)
MIN_TOKENS = 8      # code shorter than this is not an answer (a bare `return x`)
LEFT_OUT = ("*This cell is left out of the assignment edition: it shows the answer to a "
            "graded exercise ({ids}). It is in the course's self-study edition.*")
NOT_ASSIGNED = ("# Not part of this assignment: the course's answer is filled in, so the "
                "cells below run.\n")
NOT_ASSIGNED_MD = "*Not part of this assignment; the course's model answer:*\n\n"

_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\*\*|//|==|!=|<=|>=|->|\S")
_SOLUTION = re.compile(r"### BEGIN SOLUTION[^\n]*\n(.*?)### END SOLUTION", re.S)
_STRING = re.compile(r"(\"\"\".*?\"\"\"|'''.*?'''|\"[^\"\n]*\"|'[^'\n]*')", re.S)


def tokens(text: str) -> list[str]:
    """Code tokens of ``text`` (code, or an output that prints code): names, numbers and
    operators; comments dropped, every string literal one token ``S``."""
    text = _STRING.sub(" S ", text)
    text = re.sub(r"#[^\n]*", "", text)
    return _TOKEN.findall(text)


def _body(fn) -> str:
    """The function's body without its docstring ("" when it only calls another function
    with its own parameters, or cannot be read)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return ""
    node = tree.body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    params = {a.arg for a in node.args.args + node.args.kwonlyargs}
    if (len(body) == 1 and isinstance(body[0], ast.Return)
            and isinstance(body[0].value, ast.Call)
            and all(isinstance(a, ast.Name) and a.id in params for a in body[0].value.args)):
        return ""  # a wrapper: the code it calls is looked at on its own
    return "\n".join(ast.unparse(s) for s in body)


@functools.lru_cache(maxsize=1)
def _course_functions() -> tuple:
    """``(qualified name, function)`` of every function defined in the course's
    reference, maths and lessons modules."""
    found = []
    for sub in ("reference", "maths", "lessons"):
        pkg = importlib.import_module(f"course_utils.{sub}")
        for info in pkgutil.iter_modules(pkg.__path__):
            mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
            found += [(f"{mod.__name__}.{n}", f) for n, f in vars(mod).items()
                      if inspect.isfunction(f) and f.__module__ == mod.__name__]
    return tuple(found)


def _params(fn) -> tuple | None:
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None


@functools.cache
def _functions_answering(exercise_id: str) -> tuple:
    """``(name, body)`` of the course functions that answer a code exercise: its
    reference (and truth), and any function with the reference's parameters that passes
    the exercise's check."""
    from ...checks import discovery

    entry = discovery.find(exercise_id)
    out = {}
    for fn in (entry.reference, entry.truth):
        if fn is not None:
            out[f"{fn.__module__}.{fn.__qualname__}"] = _body(fn)
    want = _params(entry.reference)
    for name, fn in _course_functions():
        if name in out or _params(fn) != want or fn in (entry.reference, entry.truth):
            continue
        try:
            passed = entry.run_check(fn).passed
        except Exception:
            passed = False
        if passed:
            out[name] = _body(fn)
    return tuple((k, v) for k, v in out.items() if len(tokens(v)) >= MIN_TOKENS)


def answer_code(solution_nb, exercise_ids) -> dict[str, list[tuple[str, list[str]]]]:
    """``{exercise id: [(where the code is, its tokens)]}`` for the code exercises among
    ``exercise_ids`` (see the module docstring)."""
    from ...checks import discovery

    keys = {}
    for cell in solution_nb.cells:
        if role(cell) == SOLUTION:
            keys[(grade_id(cell) or "").removesuffix("_code")] = "\n".join(
                _SOLUTION.findall(cell.source))
    out = {}
    for eid in exercise_ids:
        entry = discovery.find(eid)
        if entry is None or entry.kind != "code":
            continue
        code = [("the answer key", keys.get(eid, "")), *_functions_answering(eid)]
        out[eid] = [(where, tokens(src)) for where, src in code if len(tokens(src)) >= MIN_TOKENS]
    return out


def longest_run(a: list[str], b: list[str]) -> int:
    """The length of the longest run of tokens ``a`` and ``b`` share."""
    if not a or not b:
        return 0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(
        0, len(a), 0, len(b)).size


def reveals(text: str, answer: list[str]) -> bool:
    """Does ``text`` share a long run of tokens with the answer's (see the module)?"""
    need = min(LONG_RUN, max(MIN_TOKENS, int(SHORT_SHARE * len(answer) + 0.999)))
    return longest_run(tokens(text), answer) >= need


def output_text(cell) -> str:
    """The text a code cell's stored outputs show (streams, plain text, errors)."""
    parts = []
    for out in cell.get("outputs", []) or []:
        if out.get("output_type") == "stream":
            parts.append(_text(out.get("text", "")))
        elif out.get("output_type") == "error":
            parts.append("\n".join(out.get("traceback", []) or []))
        else:
            data = out.get("data", {}) or {}
            parts += [_text(data.get(k, "")) for k in ("text/plain", "text/markdown", "text/html")]
    return "\n".join(parts)


def _text(x) -> str:
    return "".join(x) if isinstance(x, list) else str(x)


def revealing_cells(student_nb, solution_nb, exercise_ids) -> list[tuple[int, list[str], str]]:
    """``(index, exercise ids, "source" or "output")`` of each cell of ``student_nb`` that
    reveals an answer of ``exercise_ids``: its source, or the output the solution stored
    for the same cell (matched by cell id)."""
    answers = answer_code(solution_nb, exercise_ids)
    stored = {c.get("id"): c for c in solution_nb.cells if c.cell_type == "code"}
    found = []
    for i, cell in enumerate(student_nb.cells):
        texts = [("source", cell.source)]
        if cell.cell_type == "code" and cell.get("id") in stored:
            texts.append(("output", output_text(stored[cell.get("id")])))
        for what, text in texts:
            ids = [eid for eid, codes in answers.items()
                   if any(reveals(text, toks) for _, toks in codes)]
            if ids:
                found.append((i, ids, what))
                break
    return found


def leave_out_leaks(student_nb, solution_nb, exercise_ids, path, log=print):
    """Replace every cell of ``student_nb`` that reveals an answer of ``exercise_ids`` by a
    markdown note (in place); returns the indexes left out. A revealing cell that the
    notebook needs (an exercise's own cell) raises :class:`NotebookError`."""
    import nbformat

    left = []
    for i, ids, what in revealing_cells(student_nb, solution_nb, exercise_ids):
        cell = student_nb.cells[i]
        if grade_id(cell) is not None:  # an exercise's own cell: the notebook needs it
            raise NotebookError(f"{path.name}, cell {i}: the cell of exercise "
                                f"{grade_id(cell)} shows the answer to {', '.join(ids)}; "
                                "assign them together")
        note = nbformat.v4.new_markdown_cell(LEFT_OUT.format(ids=", ".join(ids)),
                                             metadata={"course": {"left_out": ids}})
        note.id = cell.get("id") or f"left-out-{i}"
        student_nb.cells[i] = note
        left.append(i)
        log(f"{path.name}: cell {i} left out of the assignment edition (its {what} shows "
            f"the answer to {', '.join(ids)})")
    return left


def only_assigned(nb, assigned: set[str]):
    """The solution notebook ``nb`` (changed in place) with the exercises not in
    ``assigned`` made ordinary cells: a code exercise's answer key stays (without its
    solution markers) and its check cell is no longer graded; a written exercise keeps
    its model answer, marked as not part of the assignment. Check cells stay as they are
    (they pass on the answer key); grade with the same selection (``course grade --only``)."""
    for cell in nb.cells:
        gid = grade_id(cell) or ""
        kind = role(cell)
        if kind is None or gid.removesuffix("_code") in assigned:
            continue
        nbg = cell.metadata["nbgrader"]
        if kind == SOLUTION:
            cell.source = NOT_ASSIGNED + re.sub(r"[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", "",
                                                cell.source)
            nbg.update(solution=False, locked=True)
        elif kind == WRITTEN_ANSWER:
            cell.source = NOT_ASSIGNED_MD + re.sub(
                r"[ \t]*=== (BEGIN|END) MARK SCHEME ===[^\n]*\n?", "", cell.source)
            nbg.update(solution=False, grade=False, locked=True)
            nbg.pop("points", None)
    return nb


def exercise_ids(path) -> list[str]:
    """The ids of the exercises of the solution notebook at ``path`` (from the registry)."""
    from ...checks import discovery

    number = int(path.name[:2])
    return [e.id for e in discovery.exercises() if e.notebook == number]


def make_handout(nb, path, only: set[str] | None = None, log=print):
    """The assignment edition of the solution notebook ``nb`` with no cell that reveals an
    answer of its assigned exercises (all of the notebook's, or those in ``only``); the
    exercises not assigned keep their answer keys (:func:`only_assigned`)."""
    import copy

    from .editions import make_assignment, sources_hash

    ids = exercise_ids(path)
    assigned = [i for i in ids if only is None or i in only]
    if ids and not assigned:
        raise NotebookError(f"{path.name}: none of its exercises is selected by --only")
    source = copy.deepcopy(nb)
    if only is not None:
        only_assigned(source, set(assigned))
    student = make_assignment(source, path)
    leave_out_leaks(student, nb, assigned, path, log)
    course = student.metadata["course"]
    if only is not None:
        course["assigned"] = assigned
    course["sources_sha256"] = sources_hash(student)
    return student
