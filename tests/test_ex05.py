"""Tests of the notebook-05 checks: each classic mistake is named, correct code passes."""

import numpy as np
import pytest

from course_utils.checks import checker, ex05
from course_utils.reference import nb01, nb05


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
