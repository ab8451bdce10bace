"""The generator: notebooks/ is exactly what it makes; it is deterministic and safe."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from course_utils.tooling import cli
from course_utils.tooling.publish import build, editions

ROOT = Path(__file__).resolve().parents[1]


def test_student_notebooks_are_exactly_what_the_generator_makes():
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        build.validate_solution(nb, path)
        expected = build.dumps(build.make_student(nb, path))
        target = ROOT / "notebooks" / path.name
        assert target.exists(), f"missing {target}; run `python3 course.py build`"
        assert target.read_text() == expected, (
            f"{target.relative_to(ROOT)} is not what the generator makes from "
            f"{path.relative_to(ROOT)}; run `python3 course.py build {path.name[:2]}`")


def test_generation_is_byte_identical_and_strips_solutions():
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        one = build.dumps(build.make_student(nb, path))
        two = build.dumps(build.make_student(build.read_notebook(path), path))
        assert one == two
        student = nbformat.reads(one, as_version=4)
        for cell in student.cells:
            assert "BEGIN SOLUTION" not in cell.source
            assert "BEGIN HIDDEN TESTS" not in cell.source
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
            assert "execution" not in cell.metadata
        stubs = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("solution")]
        for cell in stubs:
            if cell.cell_type == "code":
                assert "raise NotImplementedError()" in cell.source


def test_solutions_are_executed_with_outputs_and_no_timing_metadata():
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            assert cell.execution_count is not None, f"{path.name} cell {i} was not executed"
            assert "execution" not in cell.metadata, f"{path.name} cell {i} has timing metadata"
            tags = cell.metadata.get("tags", [])
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors or "raises-exception" in tags, f"{path.name} cell {i} stores an error"


def test_every_exercise_has_id_points_and_title():
    cat = build.catalogue(ROOT)
    assert cat, "no notebooks"
    ids = [e["id"] for entries in cat.values() for e in entries]
    assert len(ids) == len(set(ids)), "exercise ids must be unique across the course"
    for nb, entries in cat.items():
        for e in entries:
            assert e["id"].startswith(f"ex{nb[:2]}_"), e
            assert e["points"] > 0 and e["title"] != e["id"], e


def _cell(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _tmp_course(tmp_path):
    (tmp_path / "solutions").mkdir()
    shutil.copy(ROOT / "solutions" / "01_unrolling_an_rnn.ipynb", tmp_path / "solutions")
    return tmp_path


def test_build_writes_then_is_unchanged_then_protects_edits(tmp_path):
    root = _tmp_course(tmp_path)
    logs = []
    res = build.build(root, execute=False, log=logs.append)
    assert [r.status for r in res] == ["written"]
    target = root / "notebooks" / "01_unrolling_an_rnn.ipynb"
    first = target.read_bytes()
    assert [r.status for r in build.build(root, execute=False, log=logs.append)] == ["unchanged"]
    assert target.read_bytes() == first
    assert build.student_status(target) == "generated"

    # a student's edit (a solution typed in) is never overwritten silently
    nb = nbformat.read(str(target), as_version=4)
    i = _cell(nb, "ex01_rnn_step_forward_code")
    nb.cells[i].source = nb.cells[i].source.replace("raise NotImplementedError()", "return 42")
    nbformat.write(nb, str(target))
    assert build.student_status(target) == "edited"
    # the solution changes upstream
    sol = root / "solutions" / "01_unrolling_an_rnn.ipynb"
    snb = nbformat.read(str(sol), as_version=4)
    snb.cells[0].source += "\n\nA new sentence."
    nbformat.write(snb, str(sol))
    res = build.build(root, execute=False, log=logs.append)
    assert [r.status for r in res] == ["kept (edited)"]
    assert "return 42" in target.read_text()
    assert any("NOT overwriting" in m for m in logs)
    # --force replaces it and keeps a backup
    res = build.build(root, execute=False, force=True, log=logs.append)
    assert [r.status for r in res] == ["written"]
    assert "return 42" in (root / "notebooks" / "01_unrolling_an_rnn.bak.ipynb").read_text()
    assert "A new sentence." in target.read_text()


def test_check_mode_writes_nothing(tmp_path):
    root = _tmp_course(tmp_path)
    res = build.build(root, execute=False, check=True, log=lambda m: None)
    assert [r.status for r in res] == ["would change"]
    assert not (root / "notebooks" / "01_unrolling_an_rnn.ipynb").exists()


def _broken(tmp_path, mutate):
    root = _tmp_course(tmp_path)
    path = root / "solutions" / "01_unrolling_an_rnn.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    mutate(nb)
    nbformat.write(nb, str(path))
    return root


def _strip_solution_meta(nb):
    del nb.cells[_cell(nb, "ex01_rnn_step_forward_code")].metadata["nbgrader"]


def _duplicate_id(nb):
    nb.cells[_cell(nb, "ex01_rnn_forward")].metadata["nbgrader"]["grade_id"] = "ex01_rnn_step_forward"


def _unbalanced(nb):
    i = _cell(nb, "ex01_rnn_step_forward_code")
    nb.cells[i].source = nb.cells[i].source.replace("### END SOLUTION", "")


@pytest.mark.parametrize("mutate, message", [
    (_strip_solution_meta, "cell 7 (code: 'def rnn_step_forward(x, h_prev, Wxh, Whh, b):'): has a solution region"),
    (_duplicate_id, "cell 11 "),
    (_unbalanced, "unbalanced"),
])
def test_malformed_notebook_error_names_file_and_cell(tmp_path, mutate, message):
    root = _broken(tmp_path, mutate)
    with pytest.raises(build.NotebookError) as exc:
        build.build(root, execute=False, log=lambda m: None)
    assert "01_unrolling_an_rnn.ipynb" in str(exc.value) and message in str(exc.value)


def test_unreadable_notebook_is_a_clear_error(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "09_broken.ipynb").write_text("{not json")
    with pytest.raises(build.NotebookError, match="09_broken.ipynb: not a readable notebook"):
        build.build(tmp_path, execute=False, log=lambda m: None)


def test_cli_check_passes_on_the_repository(capsys):
    from course_utils.tooling import cli

    assert cli.main(["build", "--check", "--no-execute"]) == 0
    assert cli.main(["exercises"]) == 0
    out = capsys.readouterr().out
    assert "ex01_rnn_step_forward" in out and "One RNN step, forward" in out


# ---------------------------------------------------------------------------------------
# The two editions: self-study (notebooks/) and assignment (for graded written answers)
# ---------------------------------------------------------------------------------------
def _written_answer_ids(nb):
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if editions.is_written_answer(c)]


def test_self_study_edition_reveals_each_model_answer_collapsed_after_its_answer_cell():
    seen = 0
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source.strip()
                   for c in nb.cells if editions.is_written_answer(c)}
        student = build.make_student(nb, path)
        for i, cell in enumerate(student.cells):
            if not editions.is_written_answer(cell):
                continue
            gid = cell.metadata["nbgrader"]["grade_id"]
            assert "YOUR ANSWER HERE" in cell.source  # the student's cell is still blank
            nxt = student.cells[i + 1]
            assert nxt.cell_type == "markdown"
            assert nxt.metadata["course"]["model_answer_for"] == gid
            assert nxt.source.startswith(f"<details><summary>{editions.MODEL_ANSWER_SUMMARY}</summary>")
            assert nxt.source.rstrip().endswith("</details>")
            assert answers[gid] in nxt.source
            seen += 1
        ids = [c.get("id") for c in student.cells]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate cell ids"
        nbformat.validate(student)
    assert seen >= 4  # NB02 x3, NB04 x1


def test_assignment_edition_has_no_model_answers_and_no_further_exercise_hints():
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        assignment = build.make_assignment(nb, path)
        assert assignment.metadata["course"]["edition"] == "assignment"
        assert assignment.metadata["course"]["generated_from"] == f"solutions/{path.name}"
        text = build.dumps(assignment)
        assert editions.MODEL_ANSWER_SUMMARY not in text
        assert not any("model_answer_for" in c.metadata.get("course", {}) for c in assignment.cells)
        for cell in assignment.cells:
            if cell.cell_type == "markdown" and "## Further exercises" in cell.source:
                assert editions.strip_further_exercise_hints(cell.source) == cell.source
        # the same exercises, in the same order, as the self-study edition
        assert _written_answer_ids(assignment) == _written_answer_ids(build.make_student(nb, path))
        student_cells = [c for c in build.make_student(nb, path).cells
                         if "model_answer_for" not in c.metadata.get("course", {})]
        assert [c.cell_type for c in student_cells] == [c.cell_type for c in assignment.cells]


def test_strip_further_exercise_hints_only_touches_hints_in_that_section():
    src = ("## Review questions\n**1.** Why?\n<details><summary>Show answer</summary>\n\nBecause.\n"
           "</details>\n\n## Further exercises\n1. Do this.\n   <details><summary>Hint</summary>\n\n"
           "   Use $\\tanh'$.\n   </details>\n2. And that.\n<details>\n<summary>Hint 2</summary>\nx\n"
           "</details>\n<details><summary>Background</summary>kept</details>\n\n## References\n"
           "<details><summary>Hint</summary>not in the section</details>\n")
    out = editions.strip_further_exercise_hints(src)
    assert "Use $\\tanh'$" not in out and "Hint 2" not in out
    assert "1. Do this.\n2. And that.\n" in out
    assert "Because." in out and "Background" in out and "not in the section" in out
    assert editions.strip_further_exercise_hints("no such section <details><summary>Hint</summary>"
                                              "x</details>") .endswith("x</details>")


def test_make_student_rejects_an_unknown_edition():
    path = build.solution_paths(ROOT)[0]
    with pytest.raises(ValueError, match="edition"):
        build.make_student(build.read_notebook(path), path, edition="teacher")


def test_build_writes_both_editions_of_a_notebook_with_a_written_answer_and_a_hint(tmp_path):
    (tmp_path / "course").mkdir()
    root = _tmp_course(tmp_path / "course")
    sol = root / "solutions" / "01_unrolling_an_rnn.ipynb"
    snb = nbformat.read(str(sol), as_version=4)
    # give the notebook a written exercise and a Further-exercise hint
    i = next(i for i, c in enumerate(snb.cells) if "## Further exercises" in c.source)
    snb.cells[i].source = snb.cells[i].source.replace(
        "## Further exercises\n", "## Further exercises\n<details><summary>Hint</summary>\n\n"
        "SECRET HINT\n</details>\n", 1)
    answer = nbformat.v4.new_markdown_cell("THE MODEL ANSWER", metadata={
        "nbgrader": {"grade": True, "grade_id": "ex01_why", "locked": False, "points": 1,
                     "schema_version": 3, "solution": True, "task": False},
        "course": {"title": "Why"}})
    answer.id = "answer-cell"
    snb.cells.insert(i, answer)
    nbformat.write(snb, str(sol))

    build.build(root, execute=False, log=lambda m: None)
    self_study = (root / "notebooks" / sol.name).read_text()
    assert "THE MODEL ANSWER" in self_study and "SECRET HINT" in self_study

    out = tmp_path / "handout"
    written = build.write_assignment(out, root, log=lambda m: None)
    assert [p.name for p in written] == [sol.name]
    text = written[0].read_text()
    assert "THE MODEL ANSWER" not in text and "SECRET HINT" not in text and "YOUR ANSWER HERE" in text
    src = build.write_nbgrader_source(tmp_path / "nbsrc", root, log=lambda m: None)[0].read_text()
    assert "THE MODEL ANSWER" in src and "SECRET HINT" not in src and "BEGIN SOLUTION" in src
    # notebooks/ was not touched by writing the assignment edition
    assert (root / "notebooks" / sol.name).read_text() == self_study


def test_cli_assignment_option_on_the_repository(tmp_path):
    from course_utils.tooling import cli

    out = tmp_path / "assignment"
    assert cli.main(["build", "02", "--assignment", str(out), "--nbgrader-source",
                     str(tmp_path / "source")]) == 0
    assert [p.name for p in out.iterdir()] == ["02_deriving_bptt.ipynb"]
    text = (out / "02_deriving_bptt.ipynb").read_text()
    assert editions.MODEL_ANSWER_SUMMARY not in text and '"edition": "assignment"' in text
    assert "BEGIN SOLUTION" in (tmp_path / "source" / "02_deriving_bptt.ipynb").read_text()
    assert cli.main(["build", "--assignment", str(tmp_path / "x"), "99"]) == 1


def test_the_guide_s_exercise_table_is_the_generated_one():
    guide = (ROOT / cli.TABLE_FILE).read_text(encoding="utf-8")
    assert cli.TABLE_FILE == "INSTRUCTORS.md"
    assert cli.readme_table(guide) == cli.markdown_table(build.catalogue()), (
        "INSTRUCTORS.md's exercise table is stale: run `python3 course.py exercises --readme`")
