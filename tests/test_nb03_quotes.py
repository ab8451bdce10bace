"""Numbers that notebook 03 quotes from benchmarks/rnn_bptt_speed.py equal the results file.

The notebook prints the file's tables (nbval compares that output); this checks the
numbers written into its prose and the qualitative claims made about the tables.
"""


import pytest
from notebook_cells import cell_text

from course_utils import provenance

NOTEBOOK = provenance.ROOT / "solutions" / "03_coding_bptt.ipynb"


def _text(cell_id: str) -> str:
    return cell_text(NOTEBOOK, cell_id, squash_spaces=True)


@pytest.fixture(scope="module")
def speed():
    res = provenance.load_results("rnn_bptt_speed")["results"]
    return {int(k): {(r["N"], r["T"], r["D"], r["H"]): r for r in rows}
            for k, rows in res["by_threads"].items()}


def test_one_thread_numbers_in_the_text_equal_the_file(speed):
    one = speed[1]
    text = _text("c033-9d2c4e70")
    small_batch, small_layer = one[(8, 64, 128, 128)], one[(64, 32, 32, 64)]
    speedups = [r["naive_ms"] / r["fast_ms"] for r in (small_batch, small_layer)]
    assert (f"the fast version was {speedups[0]:.2f} and {speedups[1]:.2f} times faster "
            "than the naive loop") in text
    ratios = [r["fast_ms"] / r["torch_ms"] for r in one.values()]
    assert f"the fast version took {min(ratios):.2f} to {max(ratios):.2f} of torch's time" in text
    assert max(ratios) < 1.2  # "well within the course's target of 1.2"
    large = [r["naive_ms"] / r["fast_ms"] for (N, T, D, H), r in one.items() if N >= 32 and H >= 128]
    assert len(large) == 3 and all(0.9 < x < 1.1 for x in large)  # "within a few percent"


def test_two_thread_claims_hold_in_the_file(speed):
    one, two = speed[1], speed[2]
    text = _text("c033-9d2c4e70")
    slower = [two[s][f"{m}_ms"] > one[s][f"{m}_ms"] for s in one for m in ("naive", "fast", "torch")]
    assert sum(slower) > len(slower) / 2  # "most of its times are larger"
    factors = [two[s]["torch_ms"] / one[s]["torch_ms"] for s in one]
    assert f"torch's by a factor of {min(factors):.0f} to {max(factors):.0f}" in text


def test_the_file_says_how_it_was_measured():
    rec = provenance.load_results("rnn_bptt_speed")
    assert set(rec["results"]["by_threads"]) == {"1", "2"}
    assert rec["results"]["setup"]["load_average_1min_at_start"] is not None
    assert "benchmarks/rnn_bptt_speed.py" in _text("c033-42e88724")


# ---- issue 21: the review answers and the sampling text say what the notebook computed ----
def _outputs(cell_id: str) -> str:
    import nbformat

    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_review_question_1_quotes_the_per_step_errors_and_the_worst_entry():
    import re

    per_step = [float(v) for v in re.findall(r"relative error (\d\.\d\d)", _outputs("c017-3a912670"))]
    assert len(per_step) == 6 and per_step[-1] == 0.0 and min(per_step[:-1]) > 0.4
    text = _text("c034-8352dc19")
    assert (f"step 6 had relative error 0.00, steps 1 to 5 between {min(per_step[:-1]):.2f} "
            f"and {max(per_step[:-1]):.2f}") in text
    assert "about flat" in text and max(per_step[:-1]) / min(per_step[:-1]) < 1.6
    worst_x = re.search(r"^\s+x\s+TOO LARGE\s+\((\d+), (\d+), (\d+)\)", _outputs("c015-43d36b8f"),
                        re.M)
    step = int(worst_x.group(2)) + 1  # 0-based time index
    assert f"the worst entry of `dx` was at step {step}, not at the first step" in text
    assert step != 1


def test_the_unit_roundoffs_in_the_text_are_the_printed_ones():
    import numpy as np

    out = _outputs("c012-0216450f")
    u64, u32 = np.finfo(np.float64).eps / 2, np.finfo(np.float32).eps / 2
    assert f"float64 {u64:.2e}, float32 {u32:.2e}" in out
    assert u64 == 2.0**-53 and u32 == 2.0**-24
    for cid in ("c011-b0f0704d", "c034-8352dc19"):
        text = _text(cid)
        assert f"u = 2^{{-24}} \\approx {u32 * 1e8:.1f} \\cdot 10^{{-8}}" in text
        assert f"2^{{-23}} \\approx {2 * u32 * 1e7:.1f} \\cdot 10^{{-7}}" in text
        assert "10^{-7}$)" not in text.replace(" ", "")  # the old "u ≈ 1e-7 for float32"


def test_the_one_step_control_is_described_by_what_it_sums():
    import re

    src = _text("c025-2ac2c4e2")
    assert re.search(r"def train_char_model\(.*\bT=32\b", src)
    text = _text("c027-02d97287")
    assert "sums these 32 one-step gradients" in text
    # truncated BPTT is taught in notebook 05: previewed in one line with a link, and
    # TBPTT(k1, k2) is not used before it is defined
    assert "[truncated BPTT](../GLOSSARY.md#tbptt) (notebook [05](05_truncated_bptt.ipynb):" in text
    for cid in ("c027-02d97287", "c034-8352dc19"):
        assert "k_1" not in _text(cid) and "k_2" not in _text(cid) and "TBPTT(" not in _text(cid)


def test_the_samples_say_what_the_text_says():
    import re

    out = _outputs("c027-e6c8d0f2")
    blocks = re.split(r"^--- temperature ", out, flags=re.M)[1:]
    assert [b.split(":")[0] for b in blocks] == ["0.5", "1.0"]
    known = [tuple(map(int, re.match(r"[\d.]+: (\d+) of (\d+) words", b).groups())) for b in blocks]
    cold, warm = (b.split("---\n", 1)[1] for b in blocks)
    assert cold.count(" the ") >= 5 > warm.count(" the ")          # "the" over and over
    assert " " * 5 in cold                                         # runs of spaces
    assert known[0][0] / known[0][1] > known[1][0] / known[1][1]   # more invented words
    assert warm.count("\n") > cold.count("\n")                     # line breaks
    gaps = [float(g) for g in re.findall(r"closest draw to a boundary (\S+) ---", out)]
    assert min(gaps) > 1e-6  # the draws are robust to rounding (the cell asserts > 1e-9)


# ---- issues 27, 28 and 31: the lesson text before an exercise does not hold its answer --
def _cells():
    import nbformat

    return nbformat.read(str(NOTEBOOK), as_version=4).cells


def _markdown_before(cell_id: str) -> str:
    cells = _cells()
    i = next(k for k, c in enumerate(cells) if c.get("id") == cell_id)
    return "\n".join(c.source for c in cells[:i] if c.cell_type == "markdown")


def test_the_text_before_the_step_exercise_holds_no_code_answer():
    before = _markdown_before("c004-d21a4faa")  # the rnn_step_backward solution cell
    for answer in ("da @ W", "delta @ W", ".T @ h", ".T @ x", "delta.T", "da.T"):
        assert answer not in before, answer
    hints = _text("c003-b8b22f66")
    assert hints.count("<details><summary>Hint") == 3
    assert hints.index("Hint 1") < hints.index("Hint 2") < hints.index("Hint 3")


def test_the_sequence_hints_give_the_relation_not_the_code():
    hints = _text("c006-cb41162a")
    assert hints.count("<details><summary>Hint") == 3
    hints = hints[hints.index("<details>"):]
    assert "+=" not in hints and "rnn_step_backward(" not in hints


def test_no_code_name_is_written_as_maths():
    import re

    for c in _cells():
        if c.cell_type != "markdown":
            continue
        text = re.sub(r"`[^`]*`", "", c.source)  # code spans may hold code names
        for maths in re.findall(r"\$\$.+?\$\$|\$[^$]+\$", text, flags=re.S):
            assert not re.search(r"(?<![\\a-zA-Z])d(h|x|W|b|a)(_|\b|\{)", maths), (c.get("id"), maths)


def test_adam_is_explained_with_its_reference():
    text = _text("c024-a0bd01f3")
    assert "[**Adam**](../GLOSSARY.md#adam)" in text and "(Kingma and Ba, 2015)" in text
    assert "Kingma, J. Ba" in _text("c034-references")


def test_the_handout_prints_no_bptt_implementation():
    sources = "\n".join(c.source for c in _cells() if c.cell_type == "code")
    assert "getsource" not in sources and "rnn_backward_fast)" not in sources.replace(" ", "")


def test_benchmark_detail_is_in_going_deeper_after_further_exercises():
    ids = [c.get("id") for c in _cells()]
    deeper = ids.index("c034-going-deeper")
    assert _text("c034-going-deeper").startswith('<a id="going-deeper"></a> ## Going deeper')
    assert ids.index("c034-8352dc19") < deeper < ids.index("c034-references")  # after Further exercises
    for cid in ("c031-d1c6e4e0", "c032-b03da086", "c033-42e88724", "c033-6a1f0b35", "c033-9d2c4e70"):
        assert deeper < ids.index(cid) < ids.index("c034-references"), cid
    assert "## Further exercises" in _text("c034-8352dc19")
    assert "[Going deeper](#going-deeper)" in _text("c030-b-fast-gain")


def test_every_assert_in_a_lesson_cell_has_a_message():
    import ast

    for c in _cells():
        if c.cell_type != "code":
            continue
        src = "\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                        if line.lstrip().startswith(("%", "!")) else line
                        for line in c.source.splitlines())  # IPython magics
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Assert):
                assert node.msg is not None, (c.get("id"), ast.unparse(node.test))
