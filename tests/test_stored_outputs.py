"""tests/stored_outputs.py: the student run's comparison finds what nbval would find."""

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from stored_outputs import compared_cells, differences

SANITIZE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"  # the one nbval is given


def _solution():
    cells = [
        new_markdown_cell("# title"),
        new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")]),
        new_code_cell("def f():\n    return 2", outputs=[]),
        new_code_cell("check(f)", outputs=[new_output("stream", name="stdout", text="✅ f\n")],
                      metadata={"nbgrader": {"grade": True, "grade_id": "ex"}}),
        new_code_cell("print(time)", outputs=[new_output("stream", name="stdout", text="3 s\n")],
                      metadata={"tags": ["nbval-ignore-output"]}),
        new_code_cell("print('a')\nprint('b')", outputs=[
            new_output("stream", name="stdout", text="a\n"),
            new_output("stream", name="stdout", text="b\n")]),
        new_code_cell("x", outputs=[new_output("execute_result", data={"text/plain": "<Figure "
                      "size 640x480 with 1 Axes>"}, execution_count=1)]),
    ]
    for i, c in enumerate(cells):
        c["id"] = f"c{i}"
        if c.cell_type == "code":
            c["execution_count"] = i
    return new_notebook(cells=cells)


def _student(solution):
    nb = copy.deepcopy(solution)
    nb.cells[2].source = "def f():\n    raise NotImplementedError"
    nb.cells[3].outputs = [new_output("stream", name="stdout", text="⏳ f: not attempted yet\n")]
    nb.cells.insert(3, new_markdown_cell("model answer"))  # the student edition adds text
    nb.cells[3]["id"] = "c2-model"
    return nb


def test_only_shared_compared_cells_are_compared():
    sol = _solution()
    assert compared_cells(sol, _student(sol)) == [(1, 1), (5, 6), (6, 7)]


def test_the_same_outputs_pass_and_streams_are_coalesced_as_nbval_does():
    sol = _solution()
    stu = _student(sol)
    stu.cells[6].outputs = [new_output("stream", name="stdout", text="a\nb\n")]
    stu.cells[5].outputs = [new_output("stream", name="stdout", text="0 s\n")]  # ignored
    stu.cells[7].outputs[0]["data"]["text/plain"] = "<Figure size 700x400 with 1 Axes>"
    assert differences(sol, nbformat.from_dict(stu), SANITIZE) == []


def test_a_changed_output_is_reported_with_its_cell():
    sol = _solution()
    stu = _student(sol)
    stu.cells[1].outputs = [new_output("stream", name="stdout", text="2\n")]
    stu.cells[7].outputs = []
    found = differences(sol, stu, SANITIZE)
    assert len(found) == 2
    assert found[0].startswith("cell 1 ") and "2" in found[0]
    assert found[1].startswith("cell 7 ") and "Missing output fields" in found[1]
