"""Disguised copies of an answer, for the similarity tests and its calibration benchmark.

:func:`disguise` rewrites the source of a file or cell that defines an exercise's function
the ways a student hides a copy: local names renamed, comments and docstrings rewritten,
independent statements reordered, no-op lines added, a ``for`` loop turned into a
``while`` loop, or all of these at once (:data:`KINDS`). The copy computes what the
original computes (``benchmarks/similarity_calibration.py`` runs each through the
exercise's check). Deterministic for a given ``seed``.
"""

from __future__ import annotations

import ast
import random

KINDS = ("rename", "comments", "reorder", "noop", "while", "all")

_WORDS = ("acc", "tmp", "grad", "val", "buf", "res", "cur", "nxt", "part", "tot", "state",
          "step", "out", "piece", "carry", "delta_h", "gx", "gw", "gb", "z", "q", "m")
_COMMENTS = ("# compute the gradient here", "# accumulate", "# go backwards in time",
             "# shapes: see the docstring", "# my own implementation", "# chain rule",
             "# loop over the sequence", "# TODO tidy up", "# update the running sums")


def _names_bound(fn: ast.FunctionDef) -> set[str]:
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    if fn.args.vararg:
        params.add(fn.args.vararg.arg)
    if fn.args.kwarg:
        params.add(fn.args.kwarg.arg)
    stored = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}
    return stored - params


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):
        if node.id in self.mapping:
            node.id = self.mapping[node.id]
        return node


def _rename(fn: ast.FunctionDef, rng: random.Random) -> None:
    names = sorted(_names_bound(fn))
    used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} | set(names)
    mapping = {}
    for k, n in enumerate(names):
        new = f"{rng.choice(_WORDS)}_{k}"
        while new in used:
            new += "x"
        mapping[n] = new
        used.add(new)
    _Rename(mapping).visit(fn)


def _reads_writes(s: ast.stmt) -> tuple[set[str], set[str]]:
    reads, writes = set(), set()
    for n in ast.walk(s):
        if isinstance(n, ast.Name):
            (writes if isinstance(n.ctx, (ast.Store, ast.Del)) else reads).add(n.id)
    if isinstance(s, ast.AugAssign):
        for n in ast.walk(s.target):
            if isinstance(n, ast.Name):
                writes.add(n.id)
                reads.add(n.id)
    for n in ast.walk(s):  # x[...] = v and x.attr = v change x
        if isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, ast.Store):
            base = n.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                writes.add(base.id)
    if any(isinstance(n, ast.Call) for n in ast.walk(s)):
        writes.add("<call>")  # a call may change anything: keep calls in their order
        reads.add("<call>")
    return reads, writes


def _independent(a: ast.stmt, b: ast.stmt) -> bool:
    simple = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)
    if not isinstance(a, simple) or not isinstance(b, simple):
        return False
    ra, wa = _reads_writes(a)
    rb, wb = _reads_writes(b)
    return not (wa & (rb | wb)) and not (wb & ra)


def _reorder_block(body: list, rng: random.Random) -> None:
    for _ in range(len(body) * 2):
        if len(body) < 2:
            return
        i = rng.randrange(len(body) - 1)
        if _independent(body[i], body[i + 1]):
            body[i], body[i + 1] = body[i + 1], body[i]


def _blocks(fn):
    for n in ast.walk(fn):
        for attr in ("body", "orelse", "finalbody"):
            b = getattr(n, attr, None)
            if isinstance(b, list) and b and isinstance(b[0], ast.stmt):
                yield b


def _reorder(fn, rng):
    for b in list(_blocks(fn)):
        _reorder_block(b, rng)


def _noop_statements(fn, rng) -> list[ast.stmt]:
    param = fn.args.args[0].arg if fn.args.args else None
    pool = ["pass", "_unused = 0", "_dbg = False", "assert True", "_n_calls = 1 + 0",
            f"{param} = {param}" if param else "pass", "if False:\n    print('debug')",
            "_seen = []", "_ = len([])", "_eps = 1e-12"]
    return [ast.parse(rng.choice(pool)).body[0] for _ in range(2)]


def _noop(fn, rng):
    for b in list(_blocks(fn)):
        if rng.random() < 0.7:
            for s in _noop_statements(fn, rng):
                b.insert(rng.randrange(len(b) + 1), s)


def _range_while(node: ast.For, rng) -> list[ast.stmt] | None:
    """``for i in range(a[, b[, c]])`` as a while loop (None when it cannot be)."""
    it = node.iter
    reverse = False
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "reversed" \
            and len(it.args) == 1:
        it, reverse = it.args[0], True
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
            and isinstance(node.target, ast.Name) and not it.keywords and not node.orelse):
        return None
    if any(isinstance(n, (ast.Continue, ast.Break)) for n in ast.walk(node)):
        return None
    args = [ast.unparse(a) for a in it.args]
    start, stop, step = (("0", args[0], "1") if len(args) == 1 else
                         (args[0], args[1], "1") if len(args) == 2 else tuple(args))
    try:
        step_v = ast.literal_eval(step)
    except ValueError:
        return None
    i = node.target.id
    if reverse:
        if step_v != 1:
            return None
        start, stop, step_v = f"({stop}) - 1", f"({start}) - 1", -1
    cmp = "<" if step_v > 0 else ">"
    head = ast.parse(f"{i} = {start}\nwhile {i} {cmp} {stop}:\n    pass").body
    head[1].body = list(node.body) + [ast.parse(f"{i} += {step_v}" if step_v > 0
                                                else f"{i} -= {-step_v}").body[0]]
    return head


def _while(fn, rng):
    for b in list(_blocks(fn)):
        for k in range(len(b) - 1, -1, -1):
            if isinstance(b[k], ast.For):
                new = _range_while(b[k], rng)
                if new is not None:
                    b[k:k + 1] = new


def _function(tree, name):
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def _with_comments(src: str, rng: random.Random) -> str:
    out = []
    for line in src.splitlines():
        if line.strip() and rng.random() < 0.3:
            indent = line[:len(line) - len(line.lstrip())]
            out.append(indent + rng.choice(_COMMENTS))
        out.append(line)
    return "\n".join(out) + "\n"


def disguise(source: str, function: str, kind: str, seed: int = 0) -> str:
    """``source`` with ``function`` (and the helpers it defines) disguised by ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    rng = random.Random(f"{seed}:{kind}:{function}")
    tree = ast.parse(source)
    fn = _function(tree, function)
    steps = {"rename": [_rename], "comments": [], "reorder": [_reorder], "noop": [_noop],
             "while": [_while], "all": [_while, _reorder, _noop, _rename]}[kind]
    for step in steps:
        step(fn, rng)
    if kind in ("comments", "all"):
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body[0].value.value = "My implementation of " + function.replace("_", " ") + "."
    ast.fix_missing_locations(tree)
    out = ast.unparse(tree)
    return _with_comments(out, rng) if kind in ("comments", "all") else out + "\n"
