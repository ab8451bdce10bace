"""Tests for course_utils.lessons.charlm: model, detach, TBPTT step, evaluation, training, sampling."""

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from course_utils.data import text
from course_utils.lessons import charlm
from course_utils.reference import nb08

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
def test_model_shapes_and_state(cell):
    torch.manual_seed(0)
    m = charlm.CharLM(11, 8, num_layers=2, cell=cell)
    x = torch.randint(0, 11, (3, 5))
    logits, state = m(x)
    assert logits.shape == (3, 5, 11)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 8)
    # carrying the state = running the concatenated sequence at once
    full, _ = m(torch.cat([x, x], 1))
    second, _ = m(x, state)
    torch.testing.assert_close(second, full[:, 5:])


def test_detach_state_keeps_values_and_cuts_graph():
    h = torch.ones(2, 3, requires_grad=True) * 2
    for s in (h, (h, h + 1)):
        d = charlm.detach_state(s)
        parts = [d] if isinstance(d, torch.Tensor) else list(d)
        assert all(p.grad_fn is None and not p.requires_grad for p in parts)
    assert charlm.detach_state(None) is None
    torch.testing.assert_close(charlm.detach_state((h,))[0], h.detach())


def test_train_step_matches_manual_and_clips():
    torch.manual_seed(0)
    m = charlm.CharLM(6, 5, cell="lstm").double()
    m2 = charlm.CharLM(6, 5, cell="lstm").double()
    m2.load_state_dict(m.state_dict())
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    x, y = torch.randint(0, 6, (2, 4)), torch.randint(0, 6, (2, 4))
    loss, state = nb08.tbptt_train_step(m, opt, x, y, None, clip=1e-3)
    assert all(s.grad_fn is None for s in state)
    # manual: same loss, and the update has norm exactly lr * clip
    logits, _ = m2(x)
    ref = F.cross_entropy(logits.reshape(-1, 6), y.reshape(-1))
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    delta = torch.cat([(a - b).ravel() for a, b in zip(m.parameters(), m2.parameters())])
    assert delta.norm().item() == pytest.approx(1e-3, rel=1e-5)


def test_evaluate_bpc_matches_sequential_evaluation():
    torch.manual_seed(1)
    m = charlm.CharLM(5, 6, cell="lstm").double()
    ids = np.random.default_rng(0).integers(0, 5, 700)
    with torch.no_grad():
        inputs = torch.as_tensor(np.concatenate([[0], ids[:-1]]))[None]
        logits, _ = m(inputs)
        exact = F.cross_entropy(logits[0], torch.as_tensor(ids)).item() / math.log(2)
    # batch 1, no warm-up: the first character is predicted from input 0 and a zero state
    assert charlm.evaluate_bpc(m, ids, batch_size=1, warmup=0, seq_len=64) == pytest.approx(exact, rel=1e-10)
    # parallel windows with a warm-up give nearly the same number
    par = charlm.evaluate_bpc(m, ids, batch_size=4, warmup=100, seq_len=64)
    assert par == pytest.approx(exact, rel=0.02)
    # with a history, the first character is predicted from its real predecessor
    hist = np.array([3, 1, 4])
    with torch.no_grad():
        # the window starts 3 targets early; the first of them has no input in history (0)
        lg, _ = m(torch.as_tensor(np.concatenate([[0], hist, ids[:-1]]))[None])
        e = F.cross_entropy(lg[0, 3:], torch.as_tensor(ids), reduction="mean").item() / math.log(2)
    assert charlm.evaluate_bpc(m, ids, hist, batch_size=1, warmup=3, seq_len=50) == pytest.approx(e, rel=1e-10)


def test_training_learns_a_periodic_text_and_records_history():
    ids = np.tile(np.arange(7), 600)
    torch.manual_seed(0)
    m = charlm.CharLM(7, 16, cell="lstm")
    h = charlm.train(m, ids[:3500], ids[3500:], batch_size=8, seq_len=20,
                     adam=charlm.Adam(lr=1e-2, clip=1.0),
                     schedule=charlm.Schedule(steps=60, eval_every=30), progress=False)
    assert h.val_steps[-1] == 60 and len(h.val_bpc) == 2
    assert h.final_val_bpc < 0.5 < math.log2(7)
    per_epoch = 8 * (3500 // 8 - 1)  # 8 streams of 437 ids: 436 targets each
    chunks_per_epoch = -(-(3500 // 8 - 1) // 20)  # 22 chunks, the last one shorter
    assert chunks_per_epoch == 22
    assert h.log_steps[-1] == 60 and len(h.train_bpc) == 6
    assert h.chars_seen == 2 * per_epoch + (60 - 44) * 8 * 20
    assert all(np.diff(h.times) >= 0)


def test_training_time_budget_and_cosine():
    c = text.load_corpus()
    m = charlm.CharLM(len(c.vocab), 16)
    h = charlm.train(m, c.train[:20000], c.val[:2000], batch_size=8, seq_len=20,
                     adam=charlm.Adam(lr=3e-3, cosine=True), schedule=charlm.Schedule(seconds=0.5),
                     progress=False)
    assert h.seconds >= 0.5 and h.val_bpc


def test_sample_is_seeded_and_temperature_sharpens():
    v = text.Vocab.from_text("abcdefgh")
    torch.manual_seed(0)
    m = charlm.CharLM(len(v), 8)
    a = charlm.sample(m, v, "ab", 50, temperature=1.0, seed=1)
    assert a == charlm.sample(m, v, "ab", 50, temperature=1.0, seed=1) and len(a) == 50
    cold = charlm.sample(m, v, "ab", 50, temperature=0.01, seed=1)
    assert len(set(cold)) <= len(set(a))


def test_plot_history_labels():
    import matplotlib
    matplotlib.use("Agg")
    h = charlm.History(name="lstm", log_steps=[1, 2], log_times=[0.1, 0.2], log_losses=[3, 2],
                       eval_steps=[2], eval_times=[0.2], evals=[2.5])
    ax = charlm.plot_history([h], {"5-gram": 1.8})
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert len(ax.get_legend().get_texts()) == 3
    assert "wall clock" in ax.get_xlabel()
    h.clock = "cpu"
    assert "CPU" in charlm.plot_history([h]).get_xlabel()


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    m = charlm.CharLM(9, 8, dropout=0.5)
    x = torch.randint(0, 9, (2, 6))
    assert not torch.equal(m(x)[0], m(x)[0])  # train mode: random masks
    m.eval()
    torch.testing.assert_close(m(x)[0], m(x)[0])


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_param_count_formula_matches_the_model(cell, layers):
    m = charlm.CharLM(11, 7, num_layers=layers, cell=cell)
    assert charlm.n_params(m) == charlm.param_count(11, 7, cell, num_layers=layers)
    m = charlm.CharLM(103, 256, cell=cell, emb_dim=64)
    assert charlm.n_params(m) == charlm.param_count(103, 256, cell)


def test_equal_param_hidden_is_the_smallest_size_reaching_the_target():
    target = charlm.param_count(103, 256, "lstm")
    assert target == 362_791  # notebook 08's LSTM
    assert charlm.param_count(103, 256, "rnn") == 115_495
    H = charlm.equal_param_hidden(103, target, "rnn")
    assert charlm.param_count(103, H, "rnn") >= target > charlm.param_count(103, H - 1, "rnn")
    assert charlm.equal_param_hidden(103, target, "lstm") == 256


def test_history_counts_every_step():
    ids = np.tile(np.arange(5), 200)
    torch.manual_seed(0)
    m = charlm.CharLM(5, 4, cell="rnn")
    h = charlm.train(m, ids[:800], ids[800:], batch_size=4, seq_len=10,
                     schedule=charlm.Schedule(steps=23), progress=False)
    assert h.n_steps == 23 and h.log_steps[-1] == 20 and h.clock == "wall"
    h = charlm.train(m, ids[:800], ids[800:], batch_size=4, seq_len=10,
                     schedule=charlm.Schedule(seconds=0.2, clock="cpu"), progress=False)
    assert h.clock == "cpu" and h.seconds >= 0.2 and h.n_steps > 0


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
@pytest.mark.parametrize("kw", [dict(), dict(tie_weights=True), dict(num_layers=2),
                                dict(tie_weights=True, num_layers=2, emb_dim=5)])
def test_param_count_formula_matches_tied_and_stacked_models(cell, kw):
    m = charlm.CharLM(13, 7, cell=cell, **kw)
    kw.pop("emb_dim", None)  # tied weights: the embedding is H wide whatever emb_dim says
    assert charlm.n_params(m) == charlm.param_count(13, 7, cell, **kw)


def test_tied_weights_share_one_matrix():
    torch.manual_seed(0)
    m = charlm.CharLM(9, 6, tie_weights=True)
    assert m.head.weight is m.embed.weight and m.embed.weight.shape == (9, 6)
    logits, _ = m(torch.randint(0, 9, (2, 3)))
    logits.sum().backward()
    # the one matrix collects the gradient of both uses: embedding rows and read-out
    assert m.embed.weight.grad is not None and m.embed.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("where,in_drop,out_drop", [("io", True, True), ("input", True, False),
                                                    ("output", False, True)])
def test_dropout_placement(where, in_drop, out_drop):
    torch.manual_seed(0)
    m = charlm.CharLM(9, 6, dropout=0.5, dropout_where=where).train()
    seen = []
    m.rnn.register_forward_hook(lambda mod, inp, out: seen.append((inp[0], out[0])))
    m.head.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    m(torch.randint(0, 9, (4, 5)))
    (rnn_in, rnn_out), head_in = seen
    emb = m.embed.weight[0]  # any row: dropout zeroes entries of the embedded input
    assert ((rnn_in == 0).any().item()) == in_drop and emb.abs().min() > 0
    assert (not torch.equal(head_in, rnn_out)) == out_drop
    # in eval mode every placement is the identity
    m.eval()
    x = torch.randint(0, 9, (2, 3))
    torch.testing.assert_close(m(x)[0], m.head(m.rnn(m.embed(x))[0]))
    with pytest.raises(ValueError):
        charlm.CharLM(9, 6, dropout_where="between")
