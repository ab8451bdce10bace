"""Numbers that notebook 05 quotes from benchmarks/ equal those in the results files.

The notebook prints the quoted tables from the files (nbval compares those outputs); this
checks the numbers written into its prose, and recomputes the one deterministic quantity,
the bytes torch saves for backward, which does not depend on the machine.
"""


import numpy as np
import pytest
import torch

from course_utils import profiling, provenance, runtime
from course_utils.lessons import truncation_experiments
from course_utils.maths import tbptt

NOTEBOOK = provenance.ROOT / "solutions" / "05_truncated_bptt.ipynb"


def _text(cell_id: str) -> str:
    return provenance.cell_text(NOTEBOOK, cell_id, squash_spaces=True)


@pytest.fixture(scope="module")
def memory():
    return provenance.load_results("tbptt_memory_time")["results"]


def test_memory_numbers_in_the_text_equal_the_results_file(memory):
    saved = {r["method"]: r["peak_bytes"] / 1e6 for r in memory["torch"] if r["T"] == 1600}
    rss = {r["method"]: r["rss_mb"] for r in memory["rss_mb"] if r["T"] == 1600}
    text = _text("c028-8b0e7f52")
    assert (f"for full BPTT, {saved['full BPTT']:.1f} MB of tensors saved for backward against "
            f"{rss['full BPTT']:.1f} MB of resident memory") in text
    assert (f"for TBPTT(50, 50), {saved['truncated']:.1f} MB against "
            f"{rss['truncated']:.1f} MB") in text
    assert memory["setup"]["k"] == 50 and memory["setup"]["N"] == 32
    assert "(batch 32, $D = 16$, $H = 256$)" in _text("c028-049256d0")
    assert (memory["setup"]["D"], memory["setup"]["H"]) == (16, 256)


def test_bytes_saved_for_backward_are_recomputed(memory):
    s = memory["setup"]
    arrays = truncation_experiments._problem(1600, s["N"], s["D"], s["H"], 0, np.float32)
    x, h0, Wxh, Whh, b, dh = (torch.from_numpy(a) for a in arrays)
    params = [w.clone().requires_grad_(True) for w in (Wxh, Whh, b)]
    quoted = {r["method"]: r["peak_bytes"] for r in memory["torch"] if r["T"] == 1600}
    with runtime.torch_threads(1):
        for method in tbptt.METHODS:
            with profiling.SavedTensorTracker() as tracker:
                truncation_experiments.torch_pass(method, x, h0, params, dh, s["k"])
            assert tracker.peak == quoted[method], method


def test_bias_sweep_number_in_the_text_equals_the_results_file():
    res = provenance.load_results("tbptt_bias_sweep")["results"]
    mean = float(np.mean(res["carried"]["8"]["9"]))
    assert f"for $L = 8$, $k = 9$ reaches {mean:.2f} on average" in _text("c032-9c4d2e67")
    assert res["setup"]["updates"] == 300 and len(res["setup"]["seeds"]) == 3
    assert "three lags and three seeds" in _text("c032-bf3dcb35")
