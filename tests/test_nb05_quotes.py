"""Numbers that notebook 05 quotes from benchmarks/ equal those in the results files.

The notebook prints the quoted tables from the files (nbval compares those outputs); this
checks the numbers written into its prose, and recomputes the one deterministic quantity,
the bytes torch saves for backward, which does not depend on the machine.
"""


import numpy as np
import pytest
import torch
from notebook_cells import cell_text

from course_utils import profiling, provenance, runtime
from course_utils.lessons import truncation_experiments
from course_utils.maths import tbptt

NOTEBOOK = provenance.ROOT / "solutions" / "05_truncated_bptt.ipynb"


def _text(cell_id: str) -> str:
    return cell_text(NOTEBOOK, cell_id, squash_spaces=True)


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
    assert "(batch 32, $D = 16$, $H = 256$)" in _text("c028-gd-timing-after")
    assert (memory["setup"]["D"], memory["setup"]["H"]) == (16, 256)


def test_bytes_saved_for_backward_are_recomputed(memory):
    s = memory["setup"]
    arrays = truncation_experiments._problem(1600, s["N"], s["D"], s["H"], 0, dtype=np.float32)
    x, h0, Wxh, Whh, b, dh = (torch.from_numpy(a) for a in arrays)
    params = [w.clone().requires_grad_(True) for w in (Wxh, Whh, b)]
    quoted = {r["method"]: r["peak_bytes"] for r in memory["torch"] if r["T"] == 1600}
    with runtime.torch_threads(1):
        for method in tbptt.METHODS:
            with profiling.SavedTensorTracker() as tracker:
                truncation_experiments.torch_pass(method, x, h0, params, dh, k=s["k"])
            assert tracker.peak == quoted[method], method


def test_bias_sweep_number_in_the_text_equals_the_results_file():
    res = provenance.load_results("tbptt_bias_sweep")["results"]
    mean = float(np.mean(res["carried"]["8"]["9"]))
    assert f"for $L = 8$, $k = 9$ reaches {mean:.2f} on average" in _text("c032-9c4d2e67")
    assert res["setup"]["updates"] == 300 and len(res["setup"]["seeds"]) == 3
    assert "three lags and three seeds" in _text("c032-bf3dcb35")
    assert "three lags and three seeds" in _text("c032-gd-sweep")


def test_review_question_2_quotes_the_sweep():
    """Q2's "at most 0.09 above chance for k <= L: 0.34 against 0.25 at L = 3" is the sweep's
    largest mean accuracy with k <= L, state carried."""
    res = provenance.load_results("tbptt_bias_sweep")["results"]["carried"]
    best = max((float(np.mean(accs)), int(L)) for L, by_k in res.items()
               for k, accs in by_k.items() if int(k) <= int(L))
    text = _text("c036-de1a3b1e")
    assert f"at most {best[0] - 0.25:.2f} above chance" in text
    assert f"{best[0]:.2f} against 0.25 at $L = {best[1]}$" in text


def _python_blocks(cell_id: str) -> list[str]:
    import re

    return re.findall(r"```python\n(.*?)```", cell_text(NOTEBOOK, cell_id), flags=re.S)


@pytest.mark.parametrize("T, k1, k2", [(24, 2, 6), (23, 3, 8), (11, 1, 5), (13, 4, 4), (5, 3, 9)])
def test_the_k1_k2_sketch_in_the_text_runs_and_equals_tbptt_torch(T, k1, k2):
    """Section 5.3's code sketch, executed as printed: its accumulated gradients equal the
    sum of :func:`tbptt.tbptt_torch`'s per-update gradients (windows that would start
    before step 0 included: no negative index)."""
    (sketch,) = _python_blocks("c022-290b491e")
    rng = np.random.default_rng(T + k1 + k2)
    N, D, H = 3, 2, 4
    W = [torch.tensor(rng.normal(size=s) * 0.5, requires_grad=True) for s in ((H, D), (H, H), (H,))]
    x, h0, dh = (torch.tensor(rng.normal(size=s)) for s in ((N, T, D), (N, H), (N, T, H)))

    def step(x_t, h):
        return tbptt.torch_rnn_step(x_t, h, *W)

    def loss_at(h, t):
        return (h * dh[:, t]).sum()

    grads, h_last = tbptt.tbptt_torch(step, W, x, h0, loss_at, k1=k1, k2=k2)
    namespace = dict(torch=torch, x=x, h0=h0, step=step, loss_at=loss_at, k1=k1, k2=k2, T=T)
    exec(sketch, namespace)  # noqa: S102 - the notebook's own sketch
    for i, w in enumerate(W):
        expected = sum(g[i] for g in grads)
        assert torch.allclose(w.grad, expected, rtol=1e-10, atol=1e-12), i
    assert torch.allclose(namespace["states"][-1], h_last)


def test_checkpointing_memory_growth_in_the_text_is_what_the_measurement_gives():
    """§7's prose quotes how checkpointed memory grows from T = 100 to 1600; memory does
    not depend on the machine's load, so it is recomputed here."""
    text = _text("c028-049256d0")
    growth = {}
    for backend in ("numpy", "torch"):
        rows = truncation_experiments.compare_memory_time([100, 1600], backend=backend, k=50,
                                                          methods=("checkpointed",))
        mem = {r["T"]: r["peak_bytes"] for r in rows}
        growth[backend] = mem[1600] / mem[100]
    # torch's saved bytes are exact; numpy's tracemalloc peak varies by a few kB (quoted rounded)
    assert (f"{growth['torch']:.2f} times the bytes saved for backward in torch and about "
            f"{growth['numpy']:.0f} times the numpy peak") in text
