"""Numbers that notebook 03 quotes from benchmarks/rnn_bptt_speed.py equal the results file.

The notebook prints the file's tables (nbval compares that output); this checks the
numbers written into its prose and the qualitative claims made about the tables.
"""


import pytest

from course_utils import provenance

NOTEBOOK = provenance.ROOT / "solutions" / "03_coding_bptt.ipynb"


def _text(cell_id: str) -> str:
    return provenance.cell_text(NOTEBOOK, cell_id, squash_spaces=True)


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
