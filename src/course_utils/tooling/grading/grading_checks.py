"""Scoring a submission's code where the student's code cannot reach the verdict.

For each solution notebook a :class:`Plan` is made from ``solutions/`` and the exercise
registry: its setup cell, its answer cells, where each registered exercise's check cell
is (a :class:`Check`: the entry's ``id``, ``function`` and ``binds``; the rest, such as
its reference, is the entry's, ``discovery.find(id)``), and the course functions that are
therefore off limits (the references' modules and the checking code, minus what the
answer key itself uses). The grader sends the plan to its worker as JSON (a worker is
another process); the worker finds each entry in the registry by its id. Grading then

1. starts a :class:`~course_utils.tooling.grading.sandbox.Sandbox` and runs in it the solution's setup
   cell, the submission's answer cells and any cells the student added, in the
   submission's order (a check cell, deleted or not, becomes ``name = <the function>``);
2. asks it what each checked name is: missing, a reference, a wrapper of one, a function;
3. runs each check **in this process** with a proxy that calls the student's function in
   the sandbox on the check's own cases and on held-out ones (other seeds), and scores
   the verdicts. Any call of a course reference, and any change to the checking code
   (``checks.checker``, ``maths.numerics``, the ``checks`` package: :data:`GUARDED`) recorded
   in the sandbox, earns 0 with the reason; a function whose code is the reference's (names
   and comments normalised) is flagged for review.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...checks import discovery, registry
from ...status import NOT_ATTEMPTED, OTHER, PASSED, REUSE, WRONG
from ..exercise_cells import SOLUTION, grade_id, role, source
from . import sandbox
from .grading_reports import ExerciseResult

GUARDED = ("course_utils.checks.checker", "course_utils.maths.numerics", "course_utils.checks")
MIN_COPY_STATEMENTS = 4  # shorter references are written the same way by honest students
UTILITY = {"course_utils", "course_utils.maths.numerics", "course_utils.runtime", "course_utils.plots"}
SUSPICIOUS = re.compile(r"__import__|importlib|sys\.modules|__globals__|__code__|\bgc\.|"
                        r"\bopen\(|\bexec\(|\beval\(|subprocess|os\.system|ctypes|"
                        r"\binspect\.|course_utils|site-packages|\bf_back\b|\btb_frame\b|"
                        r"\bf_locals\b|setprofile|getprofile|settrace")


@dataclass
class Check:
    """Where a code exercise's check cell is in the solution notebook, with the registry
    entry's own ``id``, ``function`` (the student's function the check is given) and
    ``binds`` (the name the check cell assigns); all else is the entry's (:attr:`exercise`)."""

    id: str
    cell: int            # index in the solution notebook
    function: str
    binds: str | None
    answer_id: str | None = None  # the answer cell's grade_id, if the solution has it

    @property
    def exercise(self) -> registry.Exercise:
        """The registry's entry of this exercise (the job's ``entry`` dicts are its
        id, title, points and kind only)."""
        return discovery.find(self.id)


@dataclass
class Plan:
    notebook: str
    setup: list[tuple[int, str]]
    checks: dict[str, Check]
    answer_ids: set[str]
    solution_cell_ids: set[str]
    solution_sources: set[str]
    forbidden: dict[str, list[str]]
    reference_shapes: dict[str, str] = field(default_factory=dict)  # check id -> normalised


def _module_aliases(setup_sources: list[str]) -> dict[str, str]:
    """``{name: course module}`` for the modules the setup cell imports."""
    out = {}
    for src in setup_sources:
        try:
            tree = ast.parse(_strip_magics(src))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("course_utils"):
                        out[a.asname or a.name.split(".")[0]] = a.name if a.asname else "course_utils"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    try:
                        importlib.import_module(full)
                    except ImportError:
                        continue
                    out[a.asname or a.name] = full
    return out


def _strip_magics(src: str) -> str:
    return "\n".join(ln[:len(ln) - len(ln.lstrip())] + "pass"
                     if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines())


def normalised(fn_node: ast.FunctionDef) -> str:
    """The function's shape: no docstring, parameters and local names renamed in order."""
    node = ast.parse(ast.unparse(fn_node)).body[0]
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        node.body = body[1:] or [ast.Pass()]
    names: dict[str, str] = {}
    for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
        names.setdefault(a.arg, f"v{len(names)}")
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.setdefault(sub.id, f"v{len(names)}")
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in names:
            sub.id = names[sub.id]
        elif isinstance(sub, ast.arg) and sub.arg in names:
            sub.arg = names[sub.arg]
    node.name = "f"
    node.returns = None
    for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
        a.annotation = None
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def _statements(fn_node) -> int:
    """Statements in a function, its docstring not counted."""
    n = sum(isinstance(x, ast.stmt) for x in ast.walk(fn_node)) - 1
    first = fn_node.body[0] if fn_node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        n -= 1
    return n


def _function_node(src: str, name: str):
    try:
        tree = ast.parse(_strip_magics(src))
    except SyntaxError:
        return None
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _allowed_calls(cells, answer_ids, aliases) -> set[tuple[str, str]]:
    """``{(course module, name)}`` the answer cells of the solution use (the answer key's
    helpers, allowed to students too)."""
    allowed = set()
    for c in cells:
        if c.cell_type == "code" and grade_id(c) in answer_ids:
            for node in ast.walk(ast.parse(c.source)):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id in aliases):
                    allowed.add((aliases[node.value.id], node.attr))
    return allowed


def _checks(cells, course, number: int, answer_ids) -> dict[str, Check]:
    """Where each registered code exercise of notebook ``number`` is checked."""
    where = {}
    for i, c in enumerate(cells):
        if grade_id(c):
            where.setdefault(grade_id(c), i)
    return {e.id: Check(e.id, where[e.id], e.function, e.binds,
                        e.answer_id if e.answer_id in answer_ids else None)
            for e in course if e.notebook == number and e.kind == registry.CODE and e.id in where}


def _forbidden_modules(checks, course, allowed) -> set[str]:
    """The references' modules, the lesson modules that compute an answer, the modules a
    reference uses (but those the answer key uses and plain utilities) and the checking
    code."""
    used = {m for m, _ in allowed}
    mods = {"course_utils.checks.checker"}
    for e in course:
        mods.add(e.module)
        if e.id not in checks:
            continue
        ref = e.reference
        mods.add(ref.__module__)
        mods.update(e.answer_modules)
        for n in ref.__code__.co_names:
            v = ref.__globals__.get(n)
            if inspect.ismodule(v) and v.__name__.startswith("course_utils") \
                    and v.__name__ not in used and v.__name__ not in UTILITY:
                mods.add(v.__name__)
    return mods


def _reference_shapes(checks) -> dict[str, str]:
    """``{exercise id: normalised code of its reference}`` for references long enough that
    an honest answer is unlikely to be written the same way."""
    shapes = {}
    for chk in checks.values():
        ref = chk.exercise.reference
        try:
            node = ast.parse(inspect.getsource(ref).lstrip()).body[0]
            if isinstance(node, ast.FunctionDef) and _statements(node) >= MIN_COPY_STATEMENTS:
                shapes[chk.id] = normalised(node)
        except (OSError, TypeError, SyntaxError, IndexError):
            pass
    return shapes


@functools.cache
def make_plan(solution_path: str) -> Plan:
    """The grading plan of one solution notebook (see the module docstring); what each
    check cell checks comes from the exercise registry."""
    import nbformat

    nb = nbformat.read(solution_path, as_version=4)
    cells = nb.cells
    setup = [(i, c.source) for i, c in enumerate(cells)
             if c.cell_type == "code" and not grade_id(c) and "course_utils.setup(" in c.source]
    aliases = _module_aliases([s for _, s in setup])
    answer_ids = {grade_id(c) for c in cells if role(c) == SOLUTION and grade_id(c)}
    allowed = _allowed_calls(cells, answer_ids, aliases)
    course = discovery.exercises()
    checks = _checks(cells, course, int(Path(solution_path).name[:2]), answer_ids)
    harness = {(c.exercise.module, c.exercise.harness) for c in checks.values() if c.exercise.harness}
    forbidden = {}
    for name in sorted(_forbidden_modules(checks, course, allowed)):
        mod = importlib.import_module(name)
        forbidden[name] = sorted(
            k for k, v in vars(mod).items()
            if inspect.isfunction(v) and v.__module__ == name
            and (name, k) not in allowed and (name, k) not in harness)
    return Plan(Path(solution_path).name, setup, checks, answer_ids,
                {c.get("id") for c in cells if c.get("id")},
                {c.source.strip() for c in cells}, forbidden, _reference_shapes(checks))


def plan_to_dict(plan: Plan) -> dict:
    """A JSON-able copy of a plan (a worker process gets it instead of making its own;
    its checks name their exercises by the registry's ids and field names)."""
    d = asdict(plan)
    d["answer_ids"], d["solution_cell_ids"] = sorted(plan.answer_ids), sorted(plan.solution_cell_ids)
    d["solution_sources"] = sorted(plan.solution_sources)
    return d


def plan_from_dict(d: dict) -> Plan:
    d = dict(d)
    d["checks"] = {k: Check(**v) for k, v in d["checks"].items()}
    d["setup"] = [tuple(x) for x in d["setup"]]
    for k in ("answer_ids", "solution_cell_ids", "solution_sources"):
        d[k] = set(d[k])
    return Plan(**d)


# ---------------------------------------------------------------------------------------
# Running a submission's code and its checks
# ---------------------------------------------------------------------------------------
def sandbox_cells(plan: Plan, cells: list, student_sources: set[str]) -> tuple[list, dict]:
    """The cells to run in the sandbox, and ``{exercise id: answer cell index}``."""
    out = [{"index": i, "source": src, "kind": "setup"} for i, src in plan.setup]
    by_answer = {c.answer_id: c for c in plan.checks.values() if c.answer_id}
    where, bound = {}, set()
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        gid, src = grade_id(cell), source(cell)
        if gid in by_answer:
            chk = by_answer[gid]
            out.append({"index": i, "source": src, "kind": "answer"})
            where[chk.id] = i
            if chk.binds:
                out.append({"index": i, "kind": "bind", "binds": chk.binds,
                            "function": chk.function})
            bound.add(chk.id)
        elif gid is None and cell.get("id") not in plan.solution_cell_ids \
                and src.strip() not in plan.solution_sources and src.strip() not in student_sources:
            out.append({"index": i, "source": src, "kind": "added"})
    for chk in plan.checks.values():
        if chk.id not in bound and chk.binds:
            out.append({"index": -1, "kind": "bind", "binds": chk.binds, "function": chk.function})
    return out, where


def verdict_text(v) -> str:
    return "\n".join([v.message, *v.details])


def _reference_events(events: list) -> list[str]:
    return sorted({e["what"] for e in events if e.get("kind") in ("call", "use")})


def tampering(events: list) -> list[str]:
    return sorted({e["what"] for e in events
                   if e.get("kind") == "set" and e.get("what", "").startswith(GUARDED)})


def score_check(sandbox: sandbox.Sandbox, entry: dict, chk: Check, info: dict, *, seeds,
                timeout: float) -> ExerciseResult:
    """Run one check (its own cases, then each held-out seed) on the sandboxed function;
    ``entry``: the job's entry of the exercise (its id, title, points, kind)."""
    result = functools.partial(ExerciseResult.of, entry)
    name, exercise = chk.function, chk.exercise
    kind = info.get("kind")
    if kind == "missing":
        return result(WRONG, f"`{name}` is not defined: was the function renamed, or its "
                      "cell deleted or left with an error?", cause=OTHER)
    if kind == "reference" or info.get("wraps"):
        what = info.get("what") or info.get("wraps")
        return result(WRONG, f"not your work: `{name}` is the course's reference `{what}` "
                      "(or wraps it); 0 points for this exercise.", cause=REUSE)
    if kind != "function":
        return result(WRONG, f"`{name}` is not a function (it is a {info.get('type')}).",
                      cause=OTHER)
    events: list = []
    proxy = sandbox.proxy(name, info, timeout=timeout, log=events)
    if exercise.harness:
        proxy.sandbox_harness = sandbox.proxy(
            name, info, timeout=timeout, log=events, harness=[exercise.module, exercise.harness])
    for seed in [None, *seeds]:
        verdict = exercise.run_check(proxy, seed)
        used = _reference_events(events)
        if used:
            return result(WRONG, f"not your work: `{name}` uses the course's reference "
                          f"{', '.join(f'`{u}`' for u in used)}; 0 points for this exercise.",
                          cause=REUSE)
        zero, flags = behaviour_verdict(exercise, name, events)
        if zero:
            return result(WRONG, str(zero), flags, cause=zero.cause)
        if sandbox.dead:
            return result(WRONG, f"{sandbox.dead} (while checking `{name}`)", cause=sandbox.cause)
        if not verdict.passed:
            break
    fields = dict(verdict.to_dict(), seed=seed)
    if verdict.passed:
        return result(PASSED, f"{verdict.message} Held-out cases (seeds {', '.join(map(str, seeds))}) "
                      "passed too." if seeds else verdict.message, flags, verdict=fields)
    text = verdict_text(verdict)
    if seed is not None:
        text = (f"passed its own cases but not the held-out ones (seed {seed}): "
                + text)
    return result(NOT_ATTEMPTED if verdict.status == NOT_ATTEMPTED else WRONG, text,
                  flags, verdict=fields)


def behaviour_verdict(exercise: registry.Exercise, name: str,
                      events: list) -> tuple[str | None, list[str]]:
    """What ran underneath the student's function (recorded in the sandbox, see
    :mod:`course_utils.checks.behaviour`), judged by the exercise's registry entry: a
    course function outside its ``helpers`` earns 0, a library outside its
    ``libraries`` is flagged."""
    from ...checks import behaviour

    return behaviour.judge(events, function=name, libraries=exercise.libraries or (),
                           helpers=exercise.helper_names)


def review_flags(plan: Plan, chk: Check, cells: list, where: dict, added=()) -> list[str]:
    """Reasons to look at this exercise by hand (never points by themselves): from its
    answer cell, from another exercise's answer cell that defines its function too, and
    from every cell the student added (``added``: their indices)."""
    i = where.get(chk.id)
    flags = []
    shape = plan.reference_shapes.get(chk.id)
    own = [(i, "the answer cell")] if i is not None else []
    own += [(j, f"the answer cell of {cid}") for cid, j in sorted(where.items())
            if j != i and _function_node(source(cells[j]), chk.function) is not None]
    for j, label in own + [(j, f"cell {j} (added)") for j in added if j != i]:
        src = source(cells[j])
        node = _function_node(src, chk.function)
        if node is not None and shape is not None and normalised(node) == shape:
            ref = chk.exercise.reference
            flags.append(f"`{chk.function}` in {label} is a copy of the course's reference "
                         f"`{ref.__module__}.{ref.__name__}` (same code once names, comments and docstring "
                         "are normalised)")
        hits = sorted(set(SUSPICIOUS.findall(src)))
        if hits:
            flags.append(f"{label} uses {', '.join(f'`{h}`' for h in hits)}: look at how")
    return flags
