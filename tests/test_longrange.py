"""Tests of the adding problem and its trainer (course_utils.lessons.longrange)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.lessons import longrange


def test_adding_problem_structure():
    x, y = longrange.adding_problem(500, 40, np.random.default_rng(0))
    assert x.shape == (500, 40, 2) and y.shape == (500,) and x.dtype == np.float32
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    pos = np.argwhere(markers == 1).reshape(500, 2, 2)[:, :, 1]  # (n, 2) marker positions
    assert pos.min() >= 0 and pos.max() < 20  # both in the first half
    assert np.all(pos.min(axis=1) < longrange.FIRST_MARKER_WINDOW)
    assert np.allclose(y, (x[:, :, 0] * markers).sum(axis=1), atol=1e-6)
    assert 0 <= x[:, :, 0].min() and x[:, :, 0].max() <= 1


def test_baseline_mse_is_one_sixth():
    _, y = longrange.adding_problem(200_000, 10, np.random.default_rng(1), dtype=np.float64)
    assert abs(np.mean(y) - 1.0) < 0.005
    assert abs(np.mean((y - 1.0) ** 2) - longrange.BASELINE_MSE) < 0.003
    assert abs(longrange.BASELINE_MSE - 0.1667) < 1e-4


def test_adding_problem_is_seeded_and_rejects_short():
    a = longrange.adding_problem(5, 12, np.random.default_rng(3))
    b = longrange.adding_problem(5, 12, np.random.default_rng(3))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    with pytest.raises(ValueError):
        longrange.adding_problem(5, 3, np.random.default_rng(0))


def test_make_model_forget_bias():
    m = longrange.make_model("lstm", 8, forget_bias=3.0)
    b = (m.rec.bias_ih_l0 + m.rec.bias_hh_l0).detach()
    assert torch.allclose(b[8:16], torch.full((8,), 3.0))
    assert not torch.allclose(b[:8], torch.full((8,), 3.0))
    out = m(torch.zeros(4, 7, 2))
    assert out.shape == (4,)
    assert longrange.make_model("rnn", 8)(torch.zeros(3, 5, 2)).shape == (3,)


def test_make_model_irnn_is_relu_with_identity_recurrence():
    m = longrange.make_model("irnn", 6)
    assert m.rec.nonlinearity == "relu"
    assert torch.equal(m.rec.weight_hh_l0.detach(), torch.eye(6))
    assert not (m.rec.bias_ih_l0 + m.rec.bias_hh_l0).any()
    assert longrange.make_model("rnn", 6).rec.nonlinearity == "tanh"
    with pytest.raises(ValueError, match="unknown cell"):
        longrange.make_model("gru", 6)


def test_training_is_reproducible_and_learns_short_sequences():
    threads = torch.get_num_threads()
    kw = dict(T=8, hidden=16, schedule=longrange.Schedule(steps=300, eval_every=100),
              adam=longrange.Adam(lr=1e-2), n_eval=500, forget_bias=1.0)
    h1 = longrange.train_adding("lstm", **kw)
    h2 = longrange.train_adding("lstm", **kw)
    assert torch.get_num_threads() == threads  # restored
    assert h1.steps == [0, 100, 200, 300]
    assert h1.eval_mse == h2.eval_mse
    assert h1.final_mse < 0.05 < longrange.BASELINE_MSE  # an easy (short) instance is solved
    assert h1.seconds > 0 and h1.cpu_seconds > 0


def test_eval_data_is_fixed_and_separate_from_training_stream():
    x1, y1 = longrange.eval_data(20, seed=0, n=50)
    x2, y2 = longrange.eval_data(20, seed=0, n=50)
    xt, _ = longrange.adding_problem(50, 20, np.random.default_rng(0))
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, xt)


def test_lstm_gate_trace_reproduces_the_torch_model():
    hist = longrange.train_adding("lstm", T=8, hidden=5, n_eval=50, forget_bias=2.0,
                                  schedule=longrange.Schedule(steps=20, eval_every=10))
    model = hist.model
    x, _ = longrange.adding_problem(3, 8, np.random.default_rng(4))
    tr = longrange.lstm_gate_trace(model, x)
    assert set(tr) == {"i", "f", "g", "o", "c", "h"} and tr["f"].shape == (3, 8, 5)
    with torch.no_grad():
        h_torch, (_, c_n) = model.rec(torch.from_numpy(x))
    assert np.allclose(tr["h"], h_torch.numpy(), atol=1e-5)
    assert np.allclose(tr["c"][:, -1], c_n[0].numpy(), atol=1e-5)
    assert np.all((tr["f"] > 0) & (tr["f"] < 1))
    assert np.allclose(tr["c"][:, 1], tr["f"][:, 1] * tr["c"][:, 0] + tr["i"][:, 1] * tr["g"][:, 1])
    with pytest.raises(ValueError, match="needs an LSTM"):
        longrange.lstm_gate_trace(longrange.make_model("rnn", 4), x)


def test_summarise_runs_groups_by_model_in_order():
    runs = [dict(part="main", T=50, steps=10, model=m, seed=s, final_mse=f, first_below=fb,
                 solved=f < 0.01, cpu_s=c)
            for m, s, f, fb, c in [("RNN", 0, 0.17, None, 1.0), ("RNN", 1, 0.16, None, 3.0),
                                   ("LSTM", 0, 0.001, 400, 2.0), ("LSTM", 1, 0.15, None, 2.0)]]
    rows = longrange.summarise_runs(runs)
    assert [r["model"] for r in rows] == ["RNN", "LSTM"]
    assert rows[0]["final_mse"] == [0.17, 0.16] and rows[0]["solved"] == 0
    assert rows[0]["cpu_s"] == 2.0 and rows[0]["runs"] == 2 and rows[0]["seeds"] == [0, 1]
    assert rows[1]["solved"] == 1 and rows[1]["first_below"] == [400, None]


def test_make_model_chrono_init():
    import torch

    from course_utils.maths import lstm

    H, T_max = 12, 100
    m = longrange.make_model("lstm", H, seed=3, chrono_T_max=T_max)
    b = (m.rec.bias_ih_l0 + m.rec.bias_hh_l0).detach().double().numpy()
    expected = lstm.chrono_forget_bias(H, T_max, np.random.default_rng(3))
    np.testing.assert_allclose(b[H:2 * H], expected, rtol=1e-6)
    np.testing.assert_allclose(b[:H], -b[H:2 * H], rtol=0, atol=0)
    m2 = longrange.make_model("lstm", H, seed=3, chrono_T_max=T_max)
    for a, c in zip(m.parameters(), m2.parameters()):
        torch.testing.assert_close(a, c)
    plain = longrange.make_model("lstm", H, seed=3, forget_bias=1.0)
    torch.testing.assert_close(plain.rec.weight_hh_l0, m.rec.weight_hh_l0)  # only biases differ


def test_train_adding_stops_at_the_first_evaluation_below_stop_below():
    kw = dict(T=8, hidden=16, adam=longrange.Adam(lr=1e-2), n_eval=500, forget_bias=1.0)
    full = longrange.train_adding("lstm", schedule=longrange.Schedule(steps=600, eval_every=50), **kw)
    below = [s for s, m in zip(full.steps, full.eval_mse) if m < 0.05]
    assert below and below[0] < 600  # this easy instance gets below 0.05 early
    stopped = longrange.train_adding(
        "lstm", schedule=longrange.Schedule(steps=600, eval_every=50, stop_below=0.05), **kw)
    assert stopped.steps[-1] == below[0]
    assert stopped.steps == full.steps[:len(stopped.steps)]
    assert stopped.eval_mse == full.eval_mse[:len(stopped.eval_mse)]
    assert stopped.final_mse < 0.05 and all(m >= 0.05 for m in stopped.eval_mse[:-1])


def test_marked_positions_and_single_trace_mse():
    x, y = longrange.adding_problem(300, 20, np.random.default_rng(1), dtype=np.float64)
    pos = longrange.marked_positions(x)
    assert pos.shape == (300, 2) and np.all(pos[:, 0] < pos[:, 1])
    np.testing.assert_allclose(x[np.arange(300)[:, None], pos, 0].sum(axis=1), y)
    assert longrange.single_trace_mse(x, y, 1.0) < 1e-20         # f = 1 keeps the sum exactly
    m = [longrange.single_trace_mse(x, y, f) for f in (0.99, 0.9, 0.7)]
    assert m[0] < m[1] < m[2] < longrange.BASELINE_MSE + 0.03


def test_storage_analysis_of_a_cell_with_a_constant_forget_gate():
    """A hand-built LSTM whose unit 0 writes the marked values (input gate open only at a
    marker) and keeps them with a constant forget gate f = σ(2): its effective decay per
    step must be f, what the direct path keeps ∏ f, and no path through h exists."""
    import torch

    H = 3
    model = longrange.make_model("lstm", H, seed=0)
    f = 1 / (1 + np.exp(-2.0))
    with torch.no_grad():
        rec = model.rec
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(rec, name).zero_()
        rec.weight_ih_l0[0, 1] = 20.0       # input gate of unit 0 opens at a marker ...
        rec.bias_ih_l0[0] = -10.0           # ... and is closed elsewhere
        rec.bias_ih_l0[H:2 * H] = 2.0       # constant forget gates σ(2)
        rec.weight_ih_l0[2 * H, 0] = 0.01   # candidate g = tanh(0.01 value): nearly linear
        rec.bias_ih_l0[3 * H:] = 10.0       # output gates open
        model.out.weight.zero_()
        model.out.weight[0, 0] = 1.0
    x, y = longrange.adding_problem(200, 20, np.random.default_rng(2), dtype=np.float32)
    st = longrange.storage_analysis(model, x, y)
    np.testing.assert_allclose(st["eff_decay"][0], f, rtol=1e-4)
    np.testing.assert_allclose(st["f_after"][0], f, rtol=1e-6)
    n2 = st["n"][:, 1]
    np.testing.assert_allclose(st["direct_kept"][0], np.mean(f ** n2), rtol=1e-6)
    assert st["dc_dx"].shape == (200, 2, H) and st["dy_dx"].shape == (200, 2)
    assert st["corr"].shape == st["mse_without"].shape == st["mse_alone"].shape == (H,)
    # only unit 0 is read: removing another unit changes nothing
    np.testing.assert_allclose(st["mse_without"][1:], st["mse"], rtol=1e-9)
    assert st["mse_without"][0] > st["mse"]
