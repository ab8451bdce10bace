"""The one training loop (training.fit), its History and its hooks; the updates and clipping."""

import math
import time

import numpy as np
import pytest
import torch

from course_utils import training, updates
from course_utils.history import History


class _Count:
    """A fake update: the loss of batch b is b; records the states it was given."""

    def __init__(self):
        self.seen = []

    def forward(self, batch, state):
        self.seen.append(state)
        value = float(getattr(batch, "x", batch))
        return value, torch.tensor([value])

    def backward(self):
        return 2.0

    def step(self):
        return True


def test_fit_records_logs_evaluations_and_stops_at_max_steps():
    upd = _Count()
    evals = iter([10.0, 20.0, 30.0, 40.0])
    h = training.fit(upd, iter(range(1, 100)), schedule=training.Schedule(steps=7, eval_every=3),
                     evaluation=training.Evaluation(lambda: next(evals), first=True, last=True),
                     progress=training.Progress(log_every=3), items=lambda b: 5)
    assert h.losses == [1, 2, 3, 4, 5, 6, 7] and h.grad_norms == [2.0] * 7 and h.clipped == [True] * 7
    assert h.n_steps == 7 and h.items_seen == 35
    assert h.log_steps == [3, 6] and h.log_losses == [2.0, 5.0]
    assert h.eval_steps == [0, 3, 6, 7] and h.evals == [10.0, 20.0, 30.0, 40.0]
    assert h.stopped_at is None and not h.diverged and h.seconds >= 0 and h.cpu_seconds >= 0


def test_fit_carries_detached_state_and_resets_on_chunk_reset():
    upd = _Count()
    chunks = [training.Chunk(1, None, reset=True), training.Chunk(2, None), training.Chunk(3, None, reset=True)]
    training.fit(upd, chunks)
    assert upd.seen[0] is None and upd.seen[2] is None
    assert torch.equal(upd.seen[1], torch.tensor([1.0])) and not upd.seen[1].requires_grad


def test_fit_diverged_stops_before_the_step_and_solved_after_the_evaluation():
    upd = _Count()
    h = training.fit(upd, iter(range(1, 100)), diverged=lambda h: "big" if h.losses[-1] > 4 else None)
    assert h.stopped_at == 4 and h.diverged and h.message == "big" and h.n_steps == 4
    assert h.losses == [1, 2, 3, 4, 5] and len(h.clipped) == 4  # no step for the fifth
    assert h.final_loss() == math.inf
    evals = iter([0.9, 0.4, 0.1])
    h = training.fit(_Count(), iter(range(1, 100)), evaluation=training.Evaluation(lambda: next(evals)),
                     schedule=training.Schedule(eval_every=2, stop_below=0.5))
    assert h.stopped_at == 4 and not h.diverged and h.eval_steps == [2, 4]
    assert h.message == "evaluation below 0.5"


def test_fit_draws_no_batch_for_zero_steps_and_uses_the_time_budget():
    drawn = []

    def source():
        for i in range(1, 10**6):
            drawn.append(i)
            yield i

    h = training.fit(_Count(), source(), schedule=training.Schedule(steps=0))
    assert h.n_steps == 0 and drawn == []
    h = training.fit(_Count(), source(), schedule=training.Schedule(seconds=0.05, clock="cpu"))
    assert h.n_steps > 0 and h.seconds >= 0.05 and h.clock == "cpu"
    with pytest.raises(ValueError, match="clock"):
        training.fit(_Count(), [1], schedule=training.Schedule(clock="sundial"))


def test_fit_counts_evaluation_time_only_when_asked_and_skips_a_repeated_last_evaluation(
        monkeypatch):
    now = [0.0]  # a fake CPU clock: only the evaluations take time
    monkeypatch.setattr(time, "process_time", lambda: now[0])

    def evaluate():
        now[0] += 1.0
        return 1.0

    plain = training.Schedule(steps=3, clock="cpu", eval_every=2)
    h = training.fit(_Count(), iter(range(1, 9)), schedule=plain,
                     evaluation=training.Evaluation(evaluate, last=True))
    assert h.eval_steps == [2, 3] and h.seconds == 0.0
    h = training.fit(_Count(), iter(range(1, 9)), schedule=training.Schedule(steps=2, clock="cpu", eval_every=2),
                     evaluation=training.Evaluation(evaluate, first=True, last=True, counted=True))
    assert h.eval_steps == [0, 2] and h.seconds == 2.0  # no repeat of step 2's evaluation


def test_adam_cosine_decay_goes_from_lr_to_lr_over_20_along_the_schedule():
    w = torch.nn.Parameter(torch.zeros(1))
    adam = training.Adam(lr=2.0, cosine=True)
    opt = adam.optimizer([w])
    decay = adam.lr_decay(opt, training.Schedule(steps=10, seconds=100.0))
    lrs = []
    for step, elapsed in [(0, 0.0), (5, 1.0), (10, 1.0), (1, 100.0)]:
        decay(step, elapsed)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([2.0, 1.05, 0.1, 0.1])  # the larger of the two fractions
    assert training.Adam(lr=2.0).lr_decay(opt, training.Schedule(steps=10)) is None


def test_tbptt_chunks_resets_and_records_epoch_means():
    x = torch.zeros(2, 10, 1)
    hist = History()
    it = training.tbptt_chunks([(x, x), (x, x)], 4, epochs=2, history=hist)
    chunks = []
    for c in it:
        chunks.append(c)
        hist.losses.append(float(len(chunks)))
    assert [c.x.shape[1] for c in chunks] == [4, 4, 2] * 4
    assert [c.reset for c in chunks] == [True, False, False] * 4
    assert hist.epoch_losses == [3.5, 9.5]
    stateful = list(training.tbptt_chunks([(x, x), (x, x)], 4, stateful=True))
    assert [c.reset for c in stateful] == [True, False, False, False, False, False]
    whole = list(training.tbptt_chunks([(x, x[:, 0])], None))
    assert len(whole) == 1 and whole[0].y.shape == (2, 1)


def test_history_views_are_the_records():
    h = History(losses=[1.0, 3.0], grad_norms=[2.0], eval_steps=[5], evals=[0.25],
                         log_times=[0.1], log_losses=[2.0], items_seen=7, result="m")
    assert h.loss is h.losses and h.grad_norm is h.grad_norms and h.params == h.model == "m"
    assert h.steps is h.eval_steps and h.eval_mse is h.evals and h.final_mse == 0.25
    assert h.val_bpc is h.evals and h.final_val_bpc == h.final_eval == 0.25
    assert h.times is h.log_times and h.train_bpc is h.log_losses and h.chars_seen == 7
    assert h.final_loss(1) == 3.0 and math.isnan(History().final_eval)


def test_clip_torch_by_norm_value_and_callable():
    def params():
        p = torch.nn.Parameter(torch.zeros(3))
        p.grad = torch.tensor([3.0, -4.0, 0.5])
        return [p]

    p = params()
    assert updates.clip_torch(p, 1.0, norm=5.0) is True
    ref = torch.tensor([3.0, -4.0, 0.5])
    torch.testing.assert_close(p[0].grad, ref * (1.0 / (ref.norm() + 1e-6)))
    p = params()
    assert updates.clip_torch(p, ("value", 1.0)) is True
    assert torch.equal(p[0].grad, torch.tensor([1.0, -1.0, 0.5]))
    p = params()
    assert updates.clip_torch(p, lambda ps: [q.grad.mul_(0) for q in ps]) is None
    assert not p[0].grad.any()
    assert updates.clip_torch(params(), None) is False
    with pytest.raises(ValueError, match="clip must be"):
        updates.clip_torch(params(), ("angle", 1.0))


def test_clip_numpy_by_norm_value_and_callable():
    g = [np.array([3.0, -4.0])]
    out, shortened = updates.clip_numpy(g, ("value", 1.0), 5.0)
    assert np.array_equal(out[0], [1.0, -1.0]) and shortened
    out, shortened = updates.clip_numpy(g, 10.0, 5.0, clip_norm=lambda gs, c: ([x * 0 for x in gs], 5.0))
    assert not out[0].any() and shortened is False
    out, shortened = updates.clip_numpy(g, lambda gs: [x / 2 for x in gs], 5.0)
    assert np.array_equal(out[0], [1.5, -2.0]) and shortened is None
    assert updates.clip_numpy(g, None, 5.0) == (g, False)


def test_torch_update_matches_a_hand_written_step():
    torch.manual_seed(0)
    a = torch.nn.Linear(3, 1)
    b = torch.nn.Linear(3, 1)
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    opt_a, opt_b = (torch.optim.SGD(m.parameters(), lr=0.1) for m in (a, b))
    loss = torch.mean((a(x) - y) ** 2)
    opt_a.zero_grad()
    loss.backward()
    norm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in a.parameters())))
    torch.nn.utils.clip_grad_norm_(a.parameters(), 0.1)
    opt_a.step()
    upd = updates.TorchUpdate(b, opt_b, lambda xy, _: (torch.mean((b(xy[0]) - xy[1]) ** 2), None), clip=0.1)
    h = training.fit(upd, [(x, y)])
    assert h.losses == [float(loss.detach())] and h.grad_norms[0] == pytest.approx(norm, rel=1e-6)
    assert h.clipped == [norm > 0.1]
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_sgd_update_steps_against_the_gradient():
    upd = updates.SGDUpdate([np.array([1.0, 2.0])], lambda p, b: (float(p[0] @ p[0]), [2 * p[0]]),
                            lr=0.25, norm_of=lambda g: float(np.linalg.norm(g[0])))
    h = training.fit(upd, [None, None])
    assert h.losses == [5.0, 1.25] and h.clipped == [False, False]
    assert np.array_equal(upd.params[0], [0.25, 0.5])
