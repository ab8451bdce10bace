"""The exercise registry is the single source of the check cells, the nbgrader metadata,
the catalogue and what the checks and the grader run."""

from __future__ import annotations

import copy
import importlib
import inspect
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils.checks import checker, discovery, registry
from course_utils.checks.checker import Mistake
from course_utils.tooling import exercise_cells
from course_utils.tooling.publish import build

ROOT = Path(__file__).resolve().parents[1]


def _graded_ids(nb):
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if (c.metadata.get("nbgrader") or {}).get("grade")]


def test_the_registry_holds_every_exercise_in_notebook_order():
    entries = discovery.exercises()
    assert any(e.kind == registry.CODE for e in entries)
    assert len({e.id for e in entries}) == len(entries)
    in_notebooks = []
    for path in build.solution_paths(ROOT):
        in_notebooks += _graded_ids(build.read_notebook(path))
    assert [e.id for e in entries] == in_notebooks
    assert [e.notebook for e in entries] == sorted(e.notebook for e in entries)


def test_every_exercise_of_a_solution_notebook_is_known_to_the_registry():
    """The registry finds the exercise modules from the files (checks/exNN.py): a solution
    notebook with an answer cell (``BEGIN SOLUTION``) or a graded cell the registry does not
    know fails here, so a notebook cannot be left out of the build's exercise adoption."""
    entries = discovery.exercises()
    known = {e.id for e in entries} | {e.answer_id for e in entries if e.kind == registry.CODE}
    with_exercises = set()
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        for i, c in enumerate(nb.cells):
            gid = (c.metadata.get("nbgrader") or {}).get("grade_id")
            if gid or "BEGIN SOLUTION" in c.source:
                with_exercises.add(int(path.name[:2]))
                assert gid in known, f"{path.name}, cell {i}: an exercise the registry lacks ({gid})"
    assert set(discovery.notebooks()) == with_exercises
    assert {e.notebook for e in entries} == with_exercises


def test_no_module_imports_the_exercise_modules_by_name_but_discovery():
    """The exercise modules import the registry; only checks/discovery.py imports them (by
    name, which the import-graph test cannot see), and none of them imports it back."""
    pkg = ROOT / "src" / "course_utils"
    for path in sorted(pkg.rglob("*.py")):
        text = path.read_text()
        if path.name != "discovery.py":
            assert not re.search(r"import_module\([^)]*\.ex\{", text), path
        if path.parent.name == "checks" and path.name.startswith("ex"):
            assert "discovery" not in text, f"{path.name} imports discovery: a cycle"


def test_every_solution_notebook_is_what_the_registry_generates():
    entries = discovery.exercises()
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        text = build.dumps(nb)
        number = int(path.name[:2])
        assert exercise_cells.sync_notebook(nb, number, entries) == [], path.name
        assert build.dumps(nb) == text, path.name
        assert exercise_cells.problems(nb, number, entries) == [], path.name


def test_check_functions_are_derived_from_the_entries():
    for e in discovery.exercises():
        if e.kind != registry.CODE:
            continue
        mod = importlib.import_module(e.module)
        check = getattr(mod, e.check_name)
        assert check.exercise is e and check.__module__ == e.module
        assert check.__name__ == e.check_name and e.function in check.__doc__
        # the default seed is the case builder's own default
        default = inspect.signature(e.cases).parameters["seed"].default
        assert default == e.seed, e.id
        with checker.capture() as found:
            assert check(None) is None
        assert found[0][1] is e.reference and not found[0][0].passed


def test_a_drifted_check_cell_is_regenerated_and_build_check_reports_it(tmp_path):
    (tmp_path / "solutions").mkdir()
    src = ROOT / "solutions" / "01_unrolling_an_rnn.ipynb"
    sol = tmp_path / "solutions" / src.name
    shutil.copy(src, sol)
    nb = nbformat.read(str(sol), as_version=4)
    i = next(i for i, c in enumerate(nb.cells)
             if c.metadata.get("nbgrader", {}).get("grade_id") == "ex01_rnn_forward")
    nb.cells[i].source = nb.cells[i].source.replace("seq_forward =", "h_fn =")
    nb.cells[i].metadata["nbgrader"]["points"] = 7
    nbformat.write(nb, str(sol))
    logs = []
    res = build.build(tmp_path, execute=False, check=True, log=logs.append)
    assert [r.status for r in res] == ["would change"]
    assert any("differ from the registry" in m and "ex01_rnn_forward" in m for m in logs)
    build.build(tmp_path, execute=False, log=logs.append)
    assert sol.read_text() == src.read_text()  # the solution is what the registry says again


# ---------------------------------------------------------------------------------------
# A new exercise: one registry entry plus a solution cell
# ---------------------------------------------------------------------------------------
def _double(x):
    """The reference of the fake exercise: x: (N, D) -> (N, D)."""
    return 2 * x


def _cases(seed: int = 9901):
    rng = np.random.default_rng(seed)
    return [dict(x=rng.normal(size=(2, 3))), dict(x=rng.normal(size=(4, 5)))]


FAKE = registry.Exercise(
    "ex01_double", 1, "Double it", 2, function="double", reference=_double, cases=_cases,
    seed=9901, outputs=("y",), description="2 random cases.", binds="double_fn",
    libraries=("numpy",), mistakes=(Mistake("you tripled it.", lambda x: 3 * x),))


def _tiny_notebook():
    title = nbformat.v4.new_markdown_cell("# 01 · A title", id="title")
    setup = nbformat.v4.new_code_cell("from course_utils.checks import ex01", id="setup")
    solution = nbformat.v4.new_code_cell(
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
        id="sol")
    after = nbformat.v4.new_code_cell("double_fn(np.ones(2))", id="after")
    return nbformat.v4.new_notebook(cells=[title, setup, solution, after])


def test_a_new_exercise_needs_only_an_entry_and_a_solution_cell(tmp_path):
    nb = _tiny_notebook()
    changed = exercise_cells.sync_notebook(nb, 1, [FAKE])
    assert changed == ["ex01_double_code: metadata", "ex01_double: check cell added"]
    sol, check = nb.cells[2], nb.cells[3]
    assert sol.metadata["nbgrader"] == {"grade": False, "grade_id": "ex01_double_code",
                                        "locked": False, "schema_version": 3,
                                        "solution": True, "task": False}
    assert check.source == (
        "# Check: 2 random cases.\n"
        "double_fn = ex01.check_double(double)\n"
        "### BEGIN HIDDEN TESTS\n"
        "from course_utils.checks import integrity\n"
        'integrity.hidden_check("ex01", "check_double", double)\n'
        "### END HIDDEN TESTS")
    assert check.metadata["nbgrader"] == {"grade": True, "grade_id": "ex01_double",
                                          "locked": True, "points": 2, "schema_version": 3,
                                          "solution": False, "task": False}
    assert check.metadata["course"] == {"title": "Double it"} and check.id == "ex01_double-check"
    assert exercise_cells.problems(nb, 1, [FAKE]) == []
    assert exercise_cells.sync_notebook(nb, 1, [FAKE]) == []  # stable: a second run changes nothing
    # nbgrader accepts it and the student version hides the solution and the hidden tests
    path = tmp_path / "01_tiny.ipynb"
    assert build.validate_solution(nb, path) == [
        {"id": "ex01_double", "title": "Double it", "points": 2, "kind": "code", "cell": 3}]
    student = build.make_student(nb, path)
    assert "raise NotImplementedError()" in student.cells[2].source
    assert student.cells[3].source.strip() == (
        "# Check: 2 random cases.\ndouble_fn = ex01.check_double(double)")
    # the catalogue lists it
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_tiny.ipynb").write_text(build.dumps(nb))
    assert exercise_cells.catalogue(tmp_path, [FAKE]) == {"01_tiny.ipynb": [
        {"id": "ex01_double", "title": "Double it", "points": 2, "kind": "code", "notebook": 1}]}


def test_the_derived_check_of_a_new_exercise_works(capsys):
    (check_double,) = registry.check_functions([FAKE])
    assert check_double(lambda x: x + x) is not _double
    assert "✅ double: passed (2 random cases" in capsys.readouterr().out
    assert check_double(lambda x: 3 * x) is _double
    out = capsys.readouterr().out
    assert "❌ double" in out and "Most likely: you tripled it." in out
    assert check_double(lambda x: 2 * x + 1, seed=5) is _double


def test_a_new_written_exercise_gets_its_metadata():
    entry = registry.Exercise("ex01_why", 1, "Why?", 1, kind=registry.WRITTEN)
    nb = _tiny_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("Because.", metadata={
        "nbgrader": {"grade_id": "ex01_why"}}))
    assert exercise_cells.sync_notebook(nb, 1, [entry]) == ["ex01_why: metadata"]
    assert nb.cells[-1].metadata == {
        "nbgrader": {"grade": True, "grade_id": "ex01_why", "locked": False, "points": 1,
                     "schema_version": 3, "solution": True, "task": False},
        "course": {"title": "Why?"}}


def test_problems_name_what_does_not_fit():
    nb = _tiny_notebook()
    nb.cells[2].source = "def other(x):\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION"
    assert exercise_cells.sync_notebook(nb, 1, [FAKE]) == []
    assert exercise_cells.problems(nb, 1, [FAKE]) == [
        "ex01_double: no solution cell (a code cell defining `def double(` with a "
        "### BEGIN SOLUTION region)"]
    nb = _tiny_notebook()
    exercise_cells.sync_notebook(nb, 1, [FAKE])
    nb.cells.insert(3, nbformat.v4.new_code_cell("1"))
    assert exercise_cells.problems(nb, 1, [FAKE]) == [
        "ex01_double: the check cell must come right after the solution cell (cell 2)"]
    assert exercise_cells.problems(nb, 1, []) == [
        "cell 2: grade_id 'ex01_double_code' is not in the exercise registry",
        "cell 4: grade_id 'ex01_double' is not in the exercise registry"]


def test_entries_are_validated():
    with pytest.raises(ValueError, match="starts with ex02_"):
        registry.Exercise("ex01_x", 2, "X", 1, kind=registry.WRITTEN)
    with pytest.raises(ValueError, match="needs function, reference"):
        registry.Exercise("ex01_x", 1, "X", 1)
    with pytest.raises(KeyError):
        discovery.find("ex99_nothing")
    assert discovery.find("ex05_truncated_bptt").binds == "tbptt_fn"


def test_a_renamed_parameter_gets_a_hint_not_a_type_error(capsys):
    from course_utils.checks import ex01
    from course_utils.reference import nb01

    def rnn_step_forward(x, prev_h, Wxh, Whh, b):  # CS231n's name: called positionally
        return nb01.rnn_step_forward(x, prev_h, Wxh, Whh, b)

    assert ex01.check_rnn_step_forward(rnn_step_forward) is rnn_step_forward

    def fewer(x, prev_h, Wxh, Whh):  # a different count: the names are pointed out
        return np.tanh(x @ Wxh.T + prev_h @ Whh.T)

    capsys.readouterr()
    assert ex01.check_rnn_step_forward(fewer) is nb01.rnn_step_forward
    out = capsys.readouterr().out
    assert "TypeError" not in out
    assert ("your function's parameters are (x, prev_h, Wxh, Whh); the exercise calls it "
            "with (x, h_prev, Wxh, Whh, b). Use the names (or the order) of the template."
            in out)


def test_the_entries_are_frozen():
    e = copy.copy(discovery.find("ex01_rnn_forward"))
    with pytest.raises(AttributeError):
        e.points = 9


# (an exercise run through a harness, ex08's, checks its mistakes inside it: not here)
@pytest.mark.parametrize("exercise_id", [e.id for e in discovery.exercises()
                                         if e.kind == registry.CODE and not e.harness])
def test_every_mistake_is_named_whatever_the_order_of_the_list(exercise_id):
    import dataclasses

    e = discovery.find(exercise_id)
    for order in (e.mistakes, e.mistakes[::-1]):
        entry = dataclasses.replace(e, mistakes=tuple(order))
        for m in e.mistakes:
            v = entry.run_check(m.fn)
            # an overflow (ex03's loss without the max-subtraction) is a NaN output, named
            # before any value is compared
            kind = "non-finite" if "overflows" in m.hint else "values"
            assert v.kind == kind and v.hint == m.hint, (m.hint, v.hint)


def test_build_adds_a_new_exercises_check_cell_and_metadata(tmp_path, monkeypatch):
    """End to end: one entry (here monkeypatched in) plus a solution cell, then `build`."""
    real = discovery.exercises()
    monkeypatch.setattr(discovery, "exercises", lambda: [*real, FAKE])
    (tmp_path / "solutions").mkdir()
    sol = tmp_path / "solutions" / "01_unrolling_an_rnn.ipynb"
    shutil.copy(ROOT / "solutions" / sol.name, sol)
    nb = nbformat.read(str(sol), as_version=4)
    nb.cells.insert(12, nbformat.v4.new_code_cell(
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
        id="double-solution"))
    nbformat.write(nb, str(sol))
    logs = []
    assert [r.status for r in build.build(tmp_path, execute=False, check=True,
                                          log=logs.append)] == ["would change"]
    assert nbformat.read(str(sol), as_version=4).cells[13].id != "ex01_double-check"
    build.build(tmp_path, execute=False, log=logs.append)
    assert any("check cell added" in m for m in logs)
    nb = nbformat.read(str(sol), as_version=4)
    assert nb.cells[12].metadata["nbgrader"]["grade_id"] == "ex01_double_code"
    assert nb.cells[13].id == "ex01_double-check"
    assert nb.cells[13].source == FAKE.check_cell_source()
    student = nbformat.read(str(tmp_path / "notebooks" / sol.name), as_version=4)
    assert "raise NotImplementedError()" in student.cells[12].source
    assert student.cells[13].source.strip().endswith("double_fn = ex01.check_double(double)")
    assert [r.status for r in build.build(tmp_path, execute=False, log=logs.append)] == ["unchanged"]
    cat = exercise_cells.catalogue(tmp_path)
    assert [e["id"] for e in cat[sol.name]] == ["ex01_rnn_step_forward", "ex01_rnn_forward",
                                                "ex01_double"]


# ---- the renamed-parameter note describes the student's function and the real call -------
def _answer(params, body):
    """A function with exactly these positional ``params`` that returns ``body(*args)``."""
    names = ", ".join(params)
    scope = {"body": body}
    exec(f"def answer({names}):\n    return body({names})\n", scope)
    return scope["answer"]


def _raise_value_error(*args):
    raise ValueError("a bug in the student's code")


def _wrong_values(entry):
    """A wrong implementation with the exercise's parameters: a declared mistake, or (for
    an exercise whose check runs a harness around the student's function) a wrong step."""
    if entry.runner is not None:
        from course_utils.checks import ex08
        return {"ex08_tbptt_train_step": ex08._no_clip}[entry.id]
    return entry.mistakes[0].fn


CODE_ENTRIES = [e for e in discovery.exercises() if e.kind == registry.CODE]


@pytest.mark.parametrize("exercise_id", [e.id for e in CODE_ENTRIES])
def test_a_failing_verdict_notes_only_a_real_rename(exercise_id):
    """Issue 21: ex08's verdicts said "your function's parameters are (); the exercise calls
    it with (cell, V, H, B, T, n_chunks, clip, seed)": the harness's, not the student's.
    On failing answers of every exercise: with the template's names there is no note; with
    renamed parameters, a note (where the check gives one) names the student's own
    parameters and the call the check made."""
    entry = discovery.find(exercise_id)
    case = entry.case_list()[0]
    called = list(entry.text.arguments(case) if entry.text else case)
    params = [p for p in inspect.signature(entry.reference).parameters if p in called]
    for body in (_raise_value_error, _wrong_values(entry)):
        for names in (params, [f"my_{p}" for p in params]):
            v = entry.run_check(_answer(names, body))
            assert v.status == checker.WRONG, (names, str(v))
            notes = [d for d in v.details if d.startswith("Note:")]
            renamed = names != params
            if not renamed or entry.runner is not None:
                # the harness (ex08) calls the step positionally itself: nothing was renamed
                assert notes == [], str(v)
                assert "your function's parameters are ()" not in str(v)
                continue
            if entry.text is not None and not entry.text.rename_notes:
                assert notes == [], str(v)
                continue
            assert notes == [f"Note: your function's parameters are ({', '.join(names)}); the "
                             f"exercise calls it with ({', '.join(called)}), so they were "
                             "passed in that order."], str(v)
            assert called == params  # the check calls it with the template's names


def test_what_an_answer_may_use_is_declared_once_on_its_entry():
    """Libraries, helpers and the modules that compute the answer live on the `Exercise`
    only: no exercise module declares them a second time (as the old `ALLOWED_HELPERS` and
    `ANSWER_MODULES` did), and the hidden tests' tripwires spare exactly the helpers."""
    for e in discovery.exercises():
        if e.kind != registry.CODE:
            continue
        mod = importlib.import_module(e.module)
        assert not hasattr(mod, "ALLOWED_HELPERS") and not hasattr(mod, "ANSWER_MODULES"), e.id
        assert e.answer_modules, f"{e.id}: which lesson modules compute its answer?"
        for name in e.answer_modules:
            importlib.import_module(name)
        for h in e.helpers:
            assert callable(h) and h.__module__.startswith("course_utils."), (e.id, h)
        assert [n.split(".", 1)[1] for n in e.helper_short_names] == \
            [h.__qualname__ for h in e.helpers]
