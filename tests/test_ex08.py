"""Tests for the notebook-08 check: the stateful truncated-BPTT training step."""

import pytest
import torch
from torch.nn import functional as F

from course_utils.checks import ex08
from course_utils.checks.checker import ExerciseFailed
from course_utils.reference import nb08

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _verdict(capsys, fn):
    ret = ex08.check_tbptt_train_step(fn)
    return ret, capsys.readouterr().out


def test_reference_passes(capsys):
    ret, out = _verdict(capsys, nb08.tbptt_train_step)
    assert "passed" in out and ret is nb08.tbptt_train_step


def test_correct_variant_written_differently_passes(capsys):
    def tbptt_train_step(model, optimizer, x, y, state, clip):
        if state is not None:  # detach on the way in instead of on the way out
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        optimizer.zero_grad(set_to_none=False)
        logits, new_state = model(x, state)
        logp = F.log_softmax(logits, dim=-1)
        loss = -logp.gather(-1, y[..., None]).mean()
        loss.backward()
        params = [p for p in model.parameters() if p.grad is not None]
        norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
        scale = clip / (norm + 1e-6)
        if scale < 1:
            for p in params:
                p.grad.mul_(scale)
        optimizer.step()
        return loss, new_state  # a tensor loss and a non-detached state are fine

    ret, out = _verdict(capsys, tbptt_train_step)
    assert "passed" in out, out
    assert ret is tbptt_train_step


def test_unanswered_is_not_attempted(capsys):
    def tbptt_train_step(model, optimizer, x, y, state, clip):
        raise NotImplementedError()

    ret, out = _verdict(capsys, tbptt_train_step)
    assert "not attempted yet" in out and "calls" not in out
    assert ret is nb08.tbptt_train_step


def test_no_detach_is_explained(capsys):
    def tbptt_train_step(model, optimizer, x, y, state, clip):
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss.item(), state

    ret, out = _verdict(capsys, tbptt_train_step)
    assert "wrong" in out or "❌" in out
    assert "not detached" in out and ret is nb08.tbptt_train_step


@pytest.mark.parametrize("mistake", ex08.STEP_MISTAKES, ids=lambda m: m.hint[:40])
def test_each_mistake_is_named(capsys, mistake):
    # recover the buggy step function from the runner's closure
    step_fn = mistake.fn.__closure__[0].cell_contents
    ret, out = _verdict(capsys, step_fn)
    assert "❌" in out
    assert mistake.hint in out, out
    assert ret is nb08.tbptt_train_step


def test_returns_none_and_garbage_do_not_crash(capsys):
    _, out = _verdict(capsys, lambda model, optimizer, x, y, state, clip: None)
    assert "❌" in out
    _, out = _verdict(capsys, None)
    assert "expected a function" in out


def test_grading_mode_raises(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_GRADING", "1")
    with pytest.raises(ExerciseFailed):
        ex08.check_tbptt_train_step(ex08._no_clip)
    ex08.check_tbptt_train_step(nb08.tbptt_train_step)  # a correct one does not raise


def _retain_graph(model, optimizer, x, y, state, clip):
    loss, state = ex08._loss(model, x, y, state)
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), state


def _returns_old_state(model, optimizer, x, y, state, clip):
    loss, _ = nb08.tbptt_train_step(model, optimizer, x, y, state, clip)
    return loss, state


def test_retain_graph_instead_of_detach_is_explained(capsys):
    _, out = _verdict(capsys, _retain_graph)
    assert "❌" in out and "retain_graph" in out and "detach" in out


def test_returning_the_given_state_is_named(capsys):
    _, out = _verdict(capsys, _returns_old_state)
    assert "❌" in out and "state it returned is None" in out
