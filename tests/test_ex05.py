"""Tests of the notebook-05 checks: each classic mistake is named, correct code passes."""

import numpy as np
import pytest

from course_utils.checks import checker, ex05
from course_utils.reference import nb01, nb03, nb05


def _verdict(fn):
    return checker.run_check(fn, nb05.truncated_bptt, ex05.cases(), name="truncated_bptt",
                             outputs=ex05.OUTPUTS, mistakes=ex05.MISTAKES)


def correct_step_by_step(x, h0, Wxh, Whh, b, dh, k):
    """A correct implementation written differently: explicit step loops, no rnn_backward."""
    N, T, D = x.shape
    gx, gh, gb = [], [], []
    h_prev = h0
    for s in range(0, T, k):
        e = min(s + k, T)
        hs = [h_prev]
        for t in range(s, e):
            hs.append(np.tanh(x[:, t] @ Wxh.T + hs[-1] @ Whh.T + b))
        dWxh, dWhh, db = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(b)
        g = np.zeros_like(h0)
        for t in range(e - 1, s - 1, -1):
            i = t - s + 1
            da = (dh[:, t] + g) * (1 - hs[i] ** 2)
            dWxh += da.T @ x[:, t]
            dWhh += da.T @ hs[i - 1]
            db += da.sum(0)
            g = da @ Whh
        gx.append(dWxh)
        gh.append(dWhh)
        gb.append(db)
        h_prev = hs[-1]
    return np.stack(gx), np.stack(gh), np.stack(gb), h_prev


def test_correct_alternative_passes():
    assert _verdict(correct_step_by_step).passed


def test_reference_passes_and_is_returned(capsys):
    fn = ex05.check_truncated_bptt(nb05.truncated_bptt)
    assert fn is nb05.truncated_bptt
    assert "passed" in capsys.readouterr().out


def test_not_attempted():
    def unanswered(x, h0, Wxh, Whh, b, dh, k):
        raise NotImplementedError()

    v = _verdict(unanswered)
    assert v.status == checker.NOT_ATTEMPTED
    assert "not attempted" in str(v)


@pytest.mark.parametrize("mistake", ex05.MISTAKES, ids=lambda m: m.hint[:30])
def test_each_mistake_is_named(mistake):
    v = _verdict(lambda **kw: mistake.fn(**kw))
    assert v.status == checker.WRONG
    assert mistake.hint in str(v)


# The classic bugs, written as a student would write them (not with the catalogue's code).
def state_not_carried(x, h0, Wxh, Whh, b, dh, k):
    """Each chunk starts from h0: the state is never carried to the next chunk."""
    gx, gh, gb = [], [], []
    for s in range(0, x.shape[1], k):
        e = min(s + k, x.shape[1])
        h = nb01.rnn_forward(x[:, s:e], h0, Wxh, Whh, b)
        _, _, dWxh, dWhh, db = nb03.rnn_backward(dh[:, s:e], x[:, s:e], h0, h, Wxh, Whh)
        gx.append(dWxh), gh.append(dWhh), gb.append(db)
    return np.stack(gx), np.stack(gh), np.stack(gb), h[:, -1]


def state_reset_to_zeros(x, h0, Wxh, Whh, b, dh, k):
    """The state is reset to zeros at every chunk, the first one included."""
    gx, gh, gb = [], [], []
    for s in range(0, x.shape[1], k):
        e = min(s + k, x.shape[1])
        h_prev = np.zeros_like(h0)
        h = nb01.rnn_forward(x[:, s:e], h_prev, Wxh, Whh, b)
        _, _, dWxh, dWhh, db = nb03.rnn_backward(dh[:, s:e], x[:, s:e], h_prev, h, Wxh, Whh)
        gx.append(dWxh), gh.append(dWhh), gb.append(db)
    return np.stack(gx), np.stack(gh), np.stack(gb), h[:, -1]


def one_forward_then_h0_everywhere(x, h0, Wxh, Whh, b, dh, k):
    """One full forward pass, then h0 used as every chunk's previous state in the backward."""
    h = nb01.rnn_forward(x, h0, Wxh, Whh, b)
    gx, gh, gb = [], [], []
    for s in range(0, x.shape[1], k):
        e = min(s + k, x.shape[1])
        _, _, dWxh, dWhh, db = nb03.rnn_backward(dh[:, s:e], x[:, s:e], h0, h[:, s:e], Wxh, Whh)
        gx.append(dWxh), gh.append(dWhh), gb.append(db)
    return np.stack(gx), np.stack(gh), np.stack(gb), h[:, -1]


@pytest.mark.parametrize("wrong, name, words", [
    (state_not_carried, "chunks-restart-from-h0", "every chunk starts again from h0"),
    (state_reset_to_zeros, "chunks-restart-from-zeros", "every chunk starts from a zero state"),
    (one_forward_then_h0_everywhere, "backward-uses-h0-for-every-chunk",
     "every chunk's backward pass is given `h0`"),
])
def test_classic_bugs_are_named_with_their_fix(wrong, name, words):
    v = _verdict(wrong)
    assert v.status == checker.WRONG
    [mistake] = [m for m in ex05.MISTAKES if m.name == name]
    assert mistake.hint in str(v) and words in str(v)
    assert "last state of chunk c" in mistake.hint  # the fix, in the exercise's words
    others = [m.hint for m in ex05.MISTAKES if m.name != name]
    assert not any(h in str(v) for h in others)


def test_missing_last_chunk_is_a_shape_error():
    def drop_last(x, h0, Wxh, Whh, b, dh, k):
        T = x.shape[1]
        g = nb05.truncated_bptt(x[:, : T - T % k], h0, Wxh, Whh, b, dh[:, : T - T % k], k)
        return g[:3] + (nb01.rnn_forward(x, h0, Wxh, Whh, b)[:, -1],)

    v = _verdict(drop_last)
    assert v.status == checker.WRONG
    assert "one entry too few" in str(v)


def test_fallback_to_reference_when_wrong(capsys):
    fn = ex05.check_truncated_bptt(ex05.MISTAKES[0].fn)
    assert fn is nb05.truncated_bptt
    assert "reference" in capsys.readouterr().out


def test_grading_mode_raises(monkeypatch):
    monkeypatch.setenv(checker.GRADING_ENV, "1")
    with pytest.raises(checker.ExerciseFailed):
        ex05.check_truncated_bptt(ex05.MISTAKES[0].fn)


def test_cases_have_uneven_chunks_and_nonsquare_shapes():
    cs = ex05.cases()
    assert any(c["x"].shape[1] % c["k"] for c in cs)
    assert all(c["x"].shape[0] > 1 and c["x"].shape[1] > 1 for c in cs)
    assert any(c["x"].shape[2] != c["h0"].shape[1] for c in cs)
