"""Tests of course_utils.maths.tbptt: numpy and torch TBPTT agree, special cases, measurements."""

import numpy as np
import pytest
import torch

from course_utils import profiling, runtime
from course_utils.lessons import tbptt_numpy, truncation, truncation_experiments
from course_utils.maths import rnn, tbptt
from course_utils.maths.numerics import rel_error
from course_utils.reference import nb01, nb03, nb05

N, T, D, H = 3, 11, 4, 5


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    p = rnn.init_rnn_params(D, H, rng, scale=0.6)
    return dict(x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)) * 0.5,
                Wxh=p.Wxh, Whh=p.Whh, b=p.b, dh=rng.normal(size=(N, T, H)))


def _full(c):
    h = nb01.rnn_forward(c["x"], c["h0"], c["Wxh"], c["Whh"], c["b"])
    return nb03.rnn_backward(c["dh"], c["x"], c["h0"], h, c["Wxh"], c["Whh"]), h


def _torch(c):
    W = [torch.tensor(c[k], requires_grad=True) for k in ("Wxh", "Whh", "b")]
    dht = torch.tensor(c["dh"])
    return (W, lambda xt, h: tbptt.torch_rnn_step(xt, h, *W), torch.tensor(c["x"]),
            torch.tensor(c["h0"]), lambda h, t: (h * dht[:, t]).sum())


def test_chunk_bounds_and_update_times():
    assert tbptt.chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert tbptt.update_times(10, 4) == [4, 8, 10]
    assert tbptt.update_times(8, 4) == [4, 8]
    with pytest.raises(ValueError):
        tbptt.chunk_bounds(5, 0)


def test_k_equals_T_is_full_bptt(case):
    (_, _, dWxh, dWhh, db), h = _full(case)
    gx, gh, gb, h_last = nb05.truncated_bptt(**case, k=T)
    assert gx.shape == (1, H, D)
    for a, b in [(gx[0], dWxh), (gh[0], dWhh), (gb[0], db), (h_last, h[:, -1])]:
        assert rel_error(a, b) < 1e-12


def test_chunks_differ_from_full_and_state_is_carried(case):
    (_, _, _, dWhh, _), h = _full(case)
    gx, gh, gb, h_last = nb05.truncated_bptt(**case, k=4)
    assert gh.shape == (3, H, H)
    assert rel_error(h_last, h[:, -1]) < 1e-14  # forward values are not truncated
    assert rel_error(gh.sum(0), dWhh) > 1e-3  # but the gradient is


def test_truncated_gradient_is_exact_gradient_with_frozen_incoming_state(case):
    """Chunk 2's gradient = finite differences of chunk 2's loss with h_in held fixed."""
    c = case
    h = nb01.rnn_forward(c["x"], c["h0"], c["Wxh"], c["Whh"], c["b"])
    h_in = h[:, 3].copy()
    Whh = c["Whh"].copy()

    def loss():
        hh = nb01.rnn_forward(c["x"][:, 4:8], h_in, c["Wxh"], Whh, c["b"])
        return float(np.sum(hh * c["dh"][:, 4:8]))

    from course_utils.maths.gradcheck import numerical_gradient

    num = numerical_gradient(loss, Whh)
    _, gh, _, _ = nb05.truncated_bptt(**c, k=4)
    assert rel_error(gh[1], num) < 1e-7


def test_k1k2_with_k1_equal_k2_equals_chunks(case):
    a = nb05.truncated_bptt(**case, k=4)
    b = tbptt_numpy.tbptt_k1k2_numpy(**case, k1=4, k2=4)
    assert all(rel_error(u, v) < 1e-14 for u, v in zip(a, b))
    with pytest.raises(ValueError):
        tbptt_numpy.tbptt_k1k2_numpy(**case, k1=4, k2=2)


def test_k1k2_one_update_at_end_with_k2_T_is_full(case):
    (_, _, dWxh, dWhh, db), _ = _full(case)
    gx, gh, gb, _ = tbptt_numpy.tbptt_k1k2_numpy(**case, k1=T, k2=T)
    assert rel_error(gh[0], dWhh) < 1e-12


@pytest.mark.parametrize("k1,k2", [(4, 4), (2, 5), (3, 7), (1, 3), (T, T), (5, T)])
def test_torch_matches_numpy(case, k1, k2):
    W, step, x, h0, loss_at = _torch(case)
    grads, h_last = tbptt.tbptt_torch(step, W, x, h0, loss_at, k1, k2)
    ref = tbptt_numpy.tbptt_k1k2_numpy(**case, k1=k1, k2=k2)
    for i in range(3):
        assert rel_error(torch.stack([g[i] for g in grads]), ref[i]) < 1e-10
    assert rel_error(h_last, ref[3]) < 1e-12


def test_torch_on_update_called(case):
    W, step, x, h0, loss_at = _torch(case)
    seen = []
    tbptt.tbptt_torch(step, W, x, h0, loss_at, 2, 5, on_update=lambda g, t: seen.append(t))
    assert seen == [2, 4, 6, 8, 10, 11]


@pytest.mark.parametrize("seg", [1, 3, 4, T])
def test_checkpointed_equals_full(case, seg):
    (_, _, dWxh, dWhh, db), _ = _full(case)
    got = tbptt_numpy.checkpointed_bptt_numpy(**case, segment=seg)
    assert all(rel_error(a, b) < 1e-12 for a, b in zip(got, (dWxh, dWhh, db)))
    W, step, x, h0, loss_at = _torch(case)
    tbptt.bptt_checkpointed_torch(step, x, h0, loss_at, seg).backward()
    g = [w.grad for w in W]
    assert all(rel_error(a, b) < 1e-10 for a, b in zip(g, (dWxh, dWhh, db)))


def test_contributions_sum_to_gradient_and_randomized_is_unbiased(case):
    c = case
    dl = np.zeros_like(c["dh"])
    dl[:, -1] = c["dh"][:, -1]
    h = nb01.rnn_forward(c["x"], c["h0"], c["Wxh"], c["Whh"], c["b"])
    full = nb03.rnn_backward(dl, c["x"], c["h0"], h, c["Wxh"], c["Whh"])[3]
    contrib = tbptt_numpy.contributions_by_lag(c["x"], c["h0"], c["Wxh"], c["Whh"], c["b"],
                                           dh_last=c["dh"][:, -1])
    assert contrib.shape == (T, H, H)
    assert rel_error(contrib.sum(0), full) < 1e-12
    surv = 0.7 ** np.arange(T)
    est, K = tbptt.randomized_truncation_estimate(contrib, surv, np.random.default_rng(1), 100_000)
    assert est.shape == (100_000, H, H) and K.min() >= 1 and K.max() <= T
    assert rel_error(est.mean(0), full) < 0.02
    assert rel_error(contrib[:3].sum(0), full) > 0.01  # fixed truncation at 3 is biased


def test_saved_tensor_tracker_sees_graph_growth_and_release():
    W = torch.randn(8, 8, requires_grad=True)
    sizes = []
    for n in (10, 40):
        with profiling.SavedTensorTracker() as tr:
            h = torch.zeros(4, 8)
            for _ in range(n):
                h = torch.tanh(h @ W.T + 1.0)
            h.sum().backward()
        sizes.append(tr.peak)
        assert tr.live == 0  # graph freed after backward
    assert sizes[1] > 3 * sizes[0]
    with profiling.SavedTensorTracker() as tr:
        h = torch.tanh(torch.zeros(4, 8) @ W.T)
    assert tr.live > 0  # the graph is still referenced by h
    del h


def test_measure_numpy_and_torch():
    m = profiling.measure_numpy(lambda: np.ones(100_000).sum())
    assert 700_000 < m["peak_bytes"] < 1_000_000 and m["wall_s"] >= 0
    W = torch.randn(8, 8, requires_grad=True)
    mt = profiling.measure_torch(lambda: torch.tanh(torch.ones(4, 8) @ W).sum().backward())
    assert mt["peak_bytes"] > 0 and mt["live_after"] == 0


def test_path_grid_and_figure():
    g = tbptt.path_grid(8, 2, 5)
    assert g.shape == (4, 8)
    assert (g == 2).sum() == 8  # every loss injected exactly once
    assert list((g > 0).sum(1)) == [2, 4, 5, 5]
    assert (tbptt.path_grid(6, 6, 6) == 2).all()
    import matplotlib

    matplotlib.use("Agg")
    axes = truncation.draw_tbptt_paths(T=8, variants=((8, 8), (4, 4), (2, 4)))
    assert len(axes) == 3 and axes[0].get_title()
    assert tbptt.sqrt_segment(100) == 10


def test_compare_memory_time_shapes_of_growth():
    Ts = [100, 400]
    for backend in ("numpy", "torch"):
        rows = truncation_experiments.compare_memory_time(Ts, backend=backend, N=8, D=4, H=32, k=10)
        mem = {(r["T"], r["method"]): r["peak_bytes"] for r in rows}
        assert mem[(400, "full BPTT")] > 3 * mem[(100, "full BPTT")]  # grows like T
        assert mem[(400, "truncated")] < 1.3 * mem[(100, "truncated")]  # flat
        ck = mem[(400, "checkpointed")] / mem[(100, "checkpointed")]
        assert 1.2 < ck < 3.0  # about sqrt(4) = 2 (plus a constant)
        assert mem[(400, "checkpointed")] < mem[(400, "full BPTT")] / 2
    assert "full BPTT" in truncation_experiments.format_table(rows)


def test_torch_threads_restores():
    old = torch.get_num_threads()
    with runtime.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == old


def test_delayed_recall_vs_k_small():
    r = truncation_experiments.delayed_recall_vs_k([2, 5], lag=3, n_symbols=3, hidden=12, n_updates=120)
    assert r["chance"] == pytest.approx(1 / 3)
    assert r["accuracy"][1] > 0.9 and r["accuracy"][0] < 0.7


def _k1k2_setup(seed=0, T_=24, N_=4, n_sym=3, H_=6):
    from course_utils import training
    from course_utils.data import tasks

    x, y, _ = tasks.delayed_recall(N_, T_, 2, n_sym, np.random.default_rng(seed))
    torch.manual_seed(seed)
    model = training.SequenceModel(n_sym, H_, n_sym, cell="rnn").double()
    return torch.from_numpy(x).double(), torch.from_numpy(y), model


def test_train_k1k2_with_k1_equal_k2_is_chunked_training():
    from course_utils import training

    losses = []
    for use_k1k2 in (True, False):
        x, y, model = _k1k2_setup()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        if use_k1k2:
            hist = truncation_experiments.train_k1k2(model, x, y, loss_fn=training.cross_entropy_loss,
                                    optimizer=opt, k1=5, k2=5, clip=1.0)
        else:
            hist = training.train_tbptt(model, [(x, y)], loss_fn=training.cross_entropy_loss,
                                        optimizer=opt, k=5, clip=1.0, progress=False)
        losses.append(np.array(hist.losses))
    assert len(losses[0]) == 5  # updates after steps 5, 10, 15, 20, 24
    assert np.allclose(losses[0], losses[1], rtol=1e-12, atol=0)
    with pytest.raises(ValueError):
        truncation_experiments.train_k1k2(model, x, y, loss_fn=training.cross_entropy_loss, optimizer=opt,
                         k1=4, k2=3)


@pytest.mark.parametrize("k1, k2", [(2, 5), (3, 7), (1, 4)])
def test_train_k1k2_gradients_equal_tbptt_torch(k1, k2):
    # With lr = 0 the weights stay put, so every update's gradient must equal the
    # independent implementation tbptt_torch (same window, same losses, same cut).
    from course_utils import training

    x, y, model = _k1k2_setup(T_=21)
    seen = []

    class Record(torch.optim.SGD):
        def step(self, closure=None):
            seen.append([p.grad.detach().clone() for p in model.parameters()])
            return super().step(closure)

    truncation_experiments.train_k1k2(model, x, y, loss_fn=training.cross_entropy_loss,
                     optimizer=Record(model.parameters(), lr=0.0), k1=k1, k2=k2)
    r = model.rnn
    params = (r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0,
              model.head.weight, model.head.bias)
    step = lambda xt, h: torch.tanh(xt @ params[0].T + h @ params[1].T + params[2] + params[3])
    times = tbptt.update_times(x.shape[1], k1)
    width = {t: t - p for p, t in zip([0] + times[:-1], times)}  # losses per update

    def loss_at(h, t):  # the mean over the update's targets, as cross_entropy_loss takes it
        t_upd = next(u for u in times if u > t)
        out = h @ params[4].T + params[5]
        mask = y[:, t] != -1
        n_targets = int((y[:, t_upd - width[t_upd]:t_upd] != -1).sum())
        if not bool(mask.any()):
            return out.sum() * 0.0
        return torch.nn.functional.cross_entropy(out[mask], y[mask, t], reduction="sum") / n_targets

    ref, _ = tbptt.tbptt_torch(step, params, x, torch.zeros(x.shape[0], r.hidden_size,
                                                            dtype=x.dtype), loss_at, k1, k2)
    assert len(seen) == len(ref) == len(times)
    for mine, theirs in zip(seen, ref):
        names = ["Wxh", "Whh", "b_ih", "b_hh", "Why", "c"]
        for name, a, b in zip(names, mine, theirs):
            b = torch.zeros_like(a) if b is None else b
            assert rel_error(a, b) < 1e-10 or float(torch.abs(a - b).max()) < 1e-14, name


def test_delayed_recall_with_k1_below_k2_small():
    r = truncation_experiments.delayed_recall_vs_k([3, 4], lag=3, n_symbols=3, hidden=12, n_updates=150, k1=2)
    assert r["k"] == [3, 4] and len(r["histories"][0].losses) == 150
    assert r["accuracy"][1] > 0.9 and r["accuracy"][0] < 0.7  # k2 = 4 > L learns, 3 does not
    with pytest.raises(ValueError):
        truncation_experiments.delayed_recall_vs_k([4], k1=2, carry_state=False)


def test_format_bias_sweep_means_per_lag_sorted_by_k():
    res = {"carried": {"3": {"4": [1.0, 0.98, 1.0], "10": [1.0, 1.0, 1.0], "2": [0.3, 0.36, 0.33]}},
           "reset": {"3": {"2": [0.25, 0.25, 0.26]}}}
    assert truncation_experiments.format_bias_sweep(res) == "L = 3 |  k=2  0.33  k=4  0.99  k=10 1.00"
    assert truncation_experiments.format_bias_sweep(res, "reset") == "L = 3 |  k=2  0.25"
    with pytest.raises(ValueError):
        truncation_experiments.format_bias_sweep(res, "other")


def test_format_memory_quote_one_T():
    res = {"setup": {"k": 50},
           "torch": [{"T": T, "method": m, "peak_bytes": b * T, "wall_s": 1.0, "cpu_s": c}
                     for T in (100, 1600) for m, b, c in
                     (("full BPTT", 1000, 2.0), ("truncated", 10, 2.2), ("checkpointed", 30, 3.0))],
           "rss_mb": [{"T": 1600, "method": m, "rss_mb": v} for m, v in
                      (("full BPTT", 1.55), ("truncated", 0.02), ("checkpointed", 0.06))]}
    lines = truncation_experiments.format_memory_quote(res, 1600).splitlines()
    assert len(lines) == 5 and "saved for backward" in lines[0]
    assert lines[2].split() == ["full", "BPTT", "|", "1.6", "MB", "|", "1.6", "MB", "|", "1.00"]
    assert lines[3].split()[:1] == ["TBPTT(50,"] and lines[3].split()[-1] == "1.10"
    assert "segments of 40" in lines[4] and lines[4].split()[-1] == "1.50"
    with pytest.raises(KeyError):
        truncation_experiments.format_memory_quote(res, 100)  # no RSS rows for T = 100


def test_format_memory_quote_columns_line_up():
    res = {"setup": {"k": 50},
           "torch": [{"T": 1600, "method": m, "peak_bytes": 1e6, "wall_s": 1.0, "cpu_s": 1.0}
                     for m in tbptt.METHODS],
           "rss_mb": [{"T": 1600, "method": m, "rss_mb": 1.0} for m in tbptt.METHODS]}
    lines = truncation_experiments.format_memory_quote(res, 1600).splitlines()
    assert len({line.index("|") for line in lines if "|" in line}) == 1


def test_windows_start_k2_minus_k1_before_their_first_loss():
    from course_utils.maths import tbptt as tb

    assert tb.windows(10, 3, 5) == [(0, 0, 3), (1, 3, 6), (4, 6, 9), (7, 9, 10)]
    assert tb.windows(6, 2, 2) == [(0, 0, 2), (2, 2, 4), (4, 4, 6)]
    assert [s for s, _, t in tb.windows(12, 3, 5)[1:]] == [t - 5 for _, _, t in tb.windows(12, 3, 5)[1:]]
    assert tb.window_start(1, 2, 7) == 0


def test_detach_state_has_one_home_and_cuts_the_graph():
    from course_utils import training
    from course_utils.lessons import charlm

    a = torch.ones(2, requires_grad=True) * 2
    assert tbptt.detach_state(None) is None
    assert not tbptt.detach_state(a).requires_grad
    h, c = tbptt.detach_state((a, a + 1))
    assert not h.requires_grad and not c.requires_grad
    assert charlm.detach_state is tbptt.detach_state  # notebook 08's name for it
    assert "detach_state" not in training.__all__
