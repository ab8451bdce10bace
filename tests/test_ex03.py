"""Notebook 03's checks: every classic BPTT mistake gets its diagnosis."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import checker, ex03
from course_utils.maths import rnn
from course_utils.reference import nb03


def _verdict(check, fn, capsys):
    returned = check(fn)
    return returned, capsys.readouterr().out


# ---- correct implementations, written differently, pass --------------------------------
def _step_einsum(dh_next, x, h_prev, h_next, Wxh, Whh):
    da = dh_next - dh_next * h_next * h_next
    return (np.einsum("nh,hd->nd", da, Wxh), np.einsum("nh,hk->nk", da, Whh),
            np.einsum("nh,nd->hd", da, x), np.einsum("nh,nk->hk", da, h_prev),
            np.einsum("nh->h", da))


def _backward_cached_prev(dh, x, h0, h, Wxh, Whh):
    """Other caching (a stacked h_prev array) and other loop bookkeeping (a list of da)."""
    N, T, D = x.shape
    h_prevs = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    das, carry = [], np.zeros_like(h0)
    for t in reversed(range(T)):
        da = (dh[:, t] + carry) * (1 - h[:, t] ** 2)
        carry = da @ Whh
        das.append(da)
    da = np.stack(das[::-1], axis=1)  # (N, T, H)
    dWxh = np.einsum("nth,ntd->hd", da, x)
    dWhh = np.einsum("nth,ntk->hk", da, h_prevs)
    return da @ Wxh, carry, dWxh, dWhh, da.sum(axis=(0, 1))


def test_reference_and_fast_versions_pass(capsys):
    fn, out = _verdict(ex03.check_rnn_step_backward, nb03.rnn_step_backward, capsys)
    assert fn is nb03.rnn_step_backward and "✅ rnn_step_backward: passed" in out
    fn, out = _verdict(ex03.check_rnn_backward, nb03.rnn_backward, capsys)
    assert fn is nb03.rnn_backward and "✅ rnn_backward: passed" in out
    fn, out = _verdict(ex03.check_rnn_backward, rnn.rnn_backward_fast, capsys)
    assert fn is rnn.rnn_backward_fast and "passed" in out


def test_alternative_correct_implementations_pass(capsys):
    assert _verdict(ex03.check_rnn_step_backward, _step_einsum, capsys)[0] is _step_einsum
    assert _verdict(ex03.check_rnn_backward, _backward_cached_prev, capsys)[0] is _backward_cached_prev


def test_the_mistake_helper_with_default_switches_is_correct(capsys):
    fn = ex03._seq()
    assert _verdict(ex03.check_rnn_backward, fn, capsys)[0] is fn


# ---- every listed mistake is diagnosed --------------------------------------------------
@pytest.mark.parametrize("mistake", ex03.STEP_MISTAKES, ids=lambda m: m.hint[:40])
def test_step_mistakes_are_diagnosed(mistake, capsys):
    fn, out = _verdict(ex03.check_rnn_step_backward, mistake.fn, capsys)
    assert fn is nb03.rnn_step_backward
    assert "❌" in out and mistake.hint in out


@pytest.mark.parametrize("mistake", ex03.SEQ_MISTAKES, ids=lambda m: m.hint[:60])
def test_sequence_mistakes_are_diagnosed(mistake, capsys):
    fn, out = _verdict(ex03.check_rnn_backward, mistake.fn, capsys)
    assert fn is nb03.rnn_backward
    assert "❌" in out and mistake.hint in out


# ---- the issue's list, written as a student would write them ------------------------------
def _student_bptt(step, *, carry=True, first_prev=None, deriv=None, sum_weights=True):
    def rnn_backward(dh, x, h0, h, Wxh, Whh):
        N, T, D = x.shape
        dx = np.zeros_like(x)
        dWxh, dWhh, db = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros(Whh.shape[0])
        dh_prev = np.zeros_like(h0)
        for t in range(T - 1, -1, -1):
            h_prev = h[:, t - 1] if first_prev is None or t > 0 else first_prev(h0, h)
            h_next = h[:, t] if deriv is None else deriv(h, h0, t)
            g = dh[:, t] + dh_prev if carry else dh[:, t]
            dx[:, t], dh_prev, a, b_, c = step(g, x[:, t], h_prev, h_next, Wxh, Whh)
            if sum_weights:
                dWxh += a
                dWhh += b_
                db += c
            else:
                dWxh, dWhh, db = a, b_, c
        return dx, dh_prev, dWxh, dWhh, db
    return rnn_backward


def _correct_h_prev(h0, h):
    return h0


ISSUE_CASES = {
    "no carried gradient": (_student_bptt(nb03.rnn_step_backward, carry=False,
                                          first_prev=_correct_h_prev),
                            "gradient flowing in from the next time step is missing"),
    "h0 mixed up (negative index)": (_student_bptt(nb03.rnn_step_backward),
                                     "Python wraps negative indices"),
    "h0 replaced by zeros": (_student_bptt(nb03.rnn_step_backward,
                                           first_prev=lambda h0, h: np.zeros_like(h0)),
                             "previous state is taken as zeros instead of h0"),
    "tanh' from previous step": (_student_bptt(nb03.rnn_step_backward, first_prev=_correct_h_prev,
                                               deriv=lambda h, h0, t: h[:, t - 1] if t else h0),
                                 "wrong time step"),
    "weights not summed over time": (_student_bptt(nb03.rnn_step_backward,
                                                   first_prev=_correct_h_prev, sum_weights=False),
                                     "not summed over time"),
}


@pytest.mark.parametrize("name", list(ISSUE_CASES))
def test_issue_mistakes_written_as_a_student_would(name, capsys):
    fn, expected = ISSUE_CASES[name]
    returned, out = _verdict(ex03.check_rnn_backward, fn, capsys)
    assert returned is nb03.rnn_backward
    assert expected in out, out


def test_tanh_derivative_from_recomputed_preactivation(capsys):
    def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
        a = x @ Wxh.T + h_prev @ Whh.T  # the student has no b here
        da = dh_next * (1 - a**2)
        return da @ Wxh, da @ Whh, da.T @ x, da.T @ h_prev, da.sum(0)

    _, out = _verdict(ex03.check_rnn_step_backward, rnn_step_backward, capsys)
    assert "pre-activation" in out


def test_weight_gradients_not_summed_over_batch_get_a_shape_diagnosis(capsys):
    def per_sample(dh_next, x, h_prev, h_next, Wxh, Whh):
        da = dh_next * (1 - h_next**2)
        return da @ Wxh, da @ Whh, da.T @ x, da.T @ h_prev, da  # db: (N, H)

    fn, out = _verdict(ex03.check_rnn_step_backward, per_sample, capsys)
    assert fn is nb03.rnn_step_backward
    assert "must be summed over the batch" in out

    def per_sample_dW(dh_next, x, h_prev, h_next, Wxh, Whh):
        da = dh_next * (1 - h_next**2)
        return (da @ Wxh, da @ Whh, da[:, :, None] * x[:, None, :], da.T @ h_prev, da.sum(0))

    _, out = _verdict(ex03.check_rnn_step_backward, per_sample_dW, capsys)
    assert "`dWxh` has extra leading axes (" in out


def test_transposed_weights_on_non_square_cases():
    # the non-square cases alone reject every transposed weight (shape error or diagnosis)
    cases = ex03.step_cases()[1:]
    wrong_dx = next(m.fn for m in ex03.STEP_MISTAKES if m.hint.startswith("`dx` uses Wxh"))
    v = checker.run_check(wrong_dx, nb03.rnn_step_backward, cases, outputs=ex03.STEP_OUTPUTS)
    assert v.status == checker.WRONG and "raised ValueError" in str(v)

    def transposed_dWxh(dh_next, x, h_prev, h_next, Wxh, Whh):
        da = dh_next * (1 - h_next**2)
        return da @ Wxh, da @ Whh, x.T @ da, da.T @ h_prev, da.sum(0)

    v = checker.run_check(transposed_dWxh, nb03.rnn_step_backward, cases, outputs=ex03.STEP_OUTPUTS)
    v = ex03._shape_diagnosis(v, ex03.STEP_OUTPUTS)
    assert "`dWxh` is transposed" in str(v)


def test_transposed_weights_inside_rnn_backward(capsys):
    def step(dh_next, x, h_prev, h_next, Wxh, Whh):
        da = dh_next * (1 - h_next**2)
        return da @ Wxh, da @ Whh.T, da.T @ x, da.T @ h_prev, da.sum(0)

    _, out = _verdict(ex03.check_rnn_backward, _student_bptt(step, first_prev=_correct_h_prev),
                      capsys)
    assert "`dh_prev` uses Whh transposed" in out


def test_in_place_mutation_is_rejected(capsys):
    def step_in_place(dh_next, x, h_prev, h_next, Wxh, Whh):
        dh_next *= 1 - h_next**2
        return nb03.rnn_step_backward(dh_next / (1 - h_next**2), x, h_prev, h_next, Wxh, Whh)

    fn, out = _verdict(ex03.check_rnn_step_backward, step_in_place, capsys)
    assert fn is nb03.rnn_step_backward and "modifies its input `dh_next` in place" in out

    def backward_in_place(dh, x, h0, h, Wxh, Whh):
        N, T, D = x.shape
        dx, dWxh, dWhh, db = np.zeros_like(x), 0, 0, 0
        dh_prev = np.zeros_like(h0)
        for t in range(T - 1, -1, -1):
            dh[:, t] += dh_prev  # mutates the caller's dh
            h_prev = h[:, t - 1] if t > 0 else h0
            dx[:, t], dh_prev, a, b_, c = nb03.rnn_step_backward(dh[:, t], x[:, t], h_prev,
                                                                h[:, t], Wxh, Whh)
            dWxh, dWhh, db = dWxh + a, dWhh + b_, db + c
        return dx, dh_prev, dWxh, dWhh, db

    fn, out = _verdict(ex03.check_rnn_backward, backward_in_place, capsys)
    assert fn is nb03.rnn_backward and "modifies its input `dh` in place" in out


def test_unanswered(capsys):
    def rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh):
        raise NotImplementedError()

    def rnn_backward(dh, x, h0, h, Wxh, Whh):
        return rnn_step_backward(dh[:, -1], x[:, -1], h[:, -2], h[:, -1], Wxh, Whh)

    fn, out = _verdict(ex03.check_rnn_step_backward, rnn_step_backward, capsys)
    assert fn is nb03.rnn_step_backward and "not attempted yet" in out
    fn, out = _verdict(ex03.check_rnn_backward, rnn_backward, capsys)
    assert fn is nb03.rnn_backward
    assert "not attempted yet" in out and "`rnn_step_backward`" in out


def test_grading_mode_raises(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_GRADING", "1")
    with pytest.raises(checker.ExerciseFailed):
        ex03.check_rnn_backward(ex03.SEQ_MISTAKES[0].fn)


def test_cases_are_batched_long_non_square_and_consistent():
    for case in ex03.step_cases():
        assert case["x"].shape[0] > 1
        h_next = np.tanh(np.arctanh(case["h_next"]))
        assert np.allclose(h_next, case["h_next"])
    assert sum(c["Wxh"].shape[0] != c["Wxh"].shape[1] for c in ex03.step_cases()) >= 3
    for case in ex03.seq_cases():
        N, T, D = case["x"].shape
        assert N > 1 and T > 1
    assert sum(c["Wxh"].shape[0] != c["Wxh"].shape[1] for c in ex03.seq_cases()) >= 2


def test_mistakes_are_distinct_from_the_reference():
    for case in ex03.seq_cases():
        ref = nb03.rnn_backward(**case)
        for m in ex03.SEQ_MISTAKES:
            try:
                out = m.fn(**{k: v.copy() for k, v in case.items()})
            except ValueError:  # a transposed weight in a non-square case
                continue
            assert any(o.shape != r.shape or not np.allclose(o, r) for o, r in zip(out, ref)), m.hint


# ---- the read-out's loss: softmax cross-entropy over time ---------------------------------
def _rows(targets):
    N, T = targets.shape
    return np.arange(N)[:, None], np.arange(T)[None, :]


def _loss_logsumexp(scores, targets):
    """Correct, written otherwise: log-sum-exp, a loop over positions for the gradient."""
    N, T, V = scores.shape
    m = scores.max(axis=2)
    lse = m + np.log(np.exp(scores - m[..., None]).sum(axis=2))          # (N, T)
    n, t = _rows(targets)
    loss = np.mean(lse - scores[n, t, targets])
    d = np.exp(scores - lse[..., None])
    for i in range(N):
        for j in range(T):
            d[i, j, targets[i, j]] -= 1
    return loss, d / (N * T)


def _student_loss(*, stable=True, axis=2, divide="NT", grad_divide=True, one_hot=True):
    """temporal_softmax_loss as a student would write it, with one of the classic slips."""
    def temporal_softmax_loss(scores, targets):
        N, T, V = scores.shape
        z = scores - np.max(scores, axis=axis, keepdims=True) if stable else scores
        p = np.exp(z)
        p = p / np.sum(p, axis=axis, keepdims=True)
        n, t = _rows(targets)
        total = -np.sum(np.log(p[n, t, targets]))
        count = {"NT": N * T, "N": N, "none": 1}[divide]
        dscores = p.copy()
        if one_hot:
            dscores[n, t, targets] -= 1
        return total / count, dscores / count if grad_divide else dscores
    return temporal_softmax_loss


def _student_log_softmax_no_max(scores, targets):
    """Log-softmax without the max: log(sum exp) = inf; finite dscores, infinite loss."""
    N, T, V = scores.shape
    log_p = scores - np.log(np.exp(scores).sum(axis=-1, keepdims=True))
    n, t = _rows(targets)
    d = np.exp(log_p)
    d[n, t, targets] -= 1
    return -log_p[n, t, targets].mean(), d / (N * T)


def _hint(start):
    return next(m.hint for m in ex03.LOSS_MISTAKES if m.hint.startswith(start))


HELD_OUT_LOSS_MISTAKES = {
    "no max-subtraction (NaN)": (_student_loss(stable=False), _hint("exp of a large score")),
    "no max-subtraction (log-softmax, inf)": (_student_log_softmax_no_max,
                                              _hint("exp of a large score")),
    "sum, not mean": (_student_loss(divide="none"), _hint("the loss is summed")),
    "mean over N only": (_student_loss(divide="N"), _hint("you divided by N only")),
    "gradient not divided": (_student_loss(grad_divide=False), _hint("`dscores` is not divided")),
    "softmax over time": (_student_loss(axis=1), _hint("the softmax is taken over the time")),
    "softmax over the batch": (_student_loss(axis=0), _hint("the softmax is taken over the batch")),
    "no one-hot subtracted": (_student_loss(one_hot=False), _hint("`dscores` lacks")),
}


def test_the_loss_reference_and_other_correct_versions_pass(capsys):
    for fn in (nb03.temporal_softmax_loss, _loss_logsumexp, _student_loss(), ex03._loss_mistake()):
        returned, out = _verdict(ex03.check_temporal_softmax_loss, fn, capsys)
        assert returned is fn and "✅ temporal_softmax_loss: passed" in out, out


def test_the_loss_reference_equals_torch_and_finite_differences():
    import torch

    from course_utils.maths.gradcheck import numerical_gradient

    for case in ex03.loss_cases(7):
        loss, d = nb03.temporal_softmax_loss(**case)
        s = torch.tensor(case["scores"], requires_grad=True)
        lt = torch.nn.functional.cross_entropy(s.reshape(-1, s.shape[-1]),
                                               torch.from_numpy(case["targets"]).reshape(-1))
        lt.backward()
        assert abs(loss - lt.item()) <= 1e-12 * abs(loss)
        assert np.abs(d - s.grad.numpy()).max() <= 1e-12
        num = numerical_gradient(lambda c=case: nb03.temporal_softmax_loss(**c)[0], case["scores"])
        assert np.abs(num - d).max() < 1e-7 * np.abs(d).max()


@pytest.mark.parametrize("name", list(HELD_OUT_LOSS_MISTAKES))
def test_held_out_loss_mistakes_are_named(name, capsys):
    fn, hint = HELD_OUT_LOSS_MISTAKES[name]
    v = ex03.EXERCISES[2].run_check(fn)
    assert v.status == checker.WRONG and v.hint == hint, str(v)
    returned, out = _verdict(ex03.check_temporal_softmax_loss, fn, capsys)
    assert returned is nb03.temporal_softmax_loss and hint in out
    assert "RuntimeWarning" not in out


def test_every_declared_loss_mistake_has_a_held_out_student_version():
    named = {hint for _, hint in HELD_OUT_LOSS_MISTAKES.values()}
    assert named == {m.hint for m in ex03.LOSS_MISTAKES}


def test_loss_cases_tell_the_axes_apart_and_overflow_at_the_end():
    cases = ex03.loss_cases()
    for c in cases:
        N, T, V = c["scores"].shape
        assert len({N, T, V}) == 3 and N > 1 and T > 1 and c["targets"].shape == (N, T)
        assert c["targets"].dtype.kind == "i" and c["targets"].max() < V
    big = [np.abs(c["scores"]).max() > 709.8 for c in cases]
    assert big == [False] * (len(cases) - 1) + [True]
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(np.exp(cases[-1]["scores"])))


def test_an_overflow_in_a_case_with_small_scores_is_not_called_a_missing_max(capsys):
    def log_of_zero(scores, targets):
        loss, d = nb03.temporal_softmax_loss(scores, targets)
        return loss + np.log(0.0), d

    with np.errstate(divide="ignore"):
        v = ex03.EXERCISES[2].run_check(log_of_zero)
    assert v.kind == "non-finite" and v.hint is None and v.case == 1


# ---- issue 31: a weight gradient whose product does not fit says what is wrong ---------
def _step_dwxh_no_transpose(dh_next, x, h_prev, h_next, Wxh, Whh):
    da = dh_next * (1 - h_next**2)
    dWxh = da @ x
    return da @ Wxh, da @ Whh, dWxh, da.T @ h_prev, da.sum(axis=0)


def _step_dwhh_no_transpose(dh_next, x, h_prev, h_next, Wxh, Whh):
    da = dh_next * (1 - h_next**2)
    dWhh = da @ h_prev
    return da @ Wxh, da @ Whh, da.T @ x, dWhh, da.sum(axis=0)


@pytest.mark.parametrize("fn, param", [(_step_dwxh_no_transpose, "Wxh"),
                                       (_step_dwhh_no_transpose, "Whh")])
def test_a_weight_gradient_product_that_raises_is_named_precisely(fn, param, capsys):
    returned, out = _verdict(ex03.check_rnn_step_backward, fn, capsys)
    assert returned is nb03.rnn_step_backward and "raised ValueError" in out
    assert ex03.weight_product_hint(param) in out
    assert "needs a transpose" not in out        # the weight is not what needs it
    assert "da.T" not in out and ".T @" not in out  # and no code is dictated


def test_a_transposed_input_weight_is_still_named_as_such(capsys):
    def step(dh_next, x, h_prev, h_next, Wxh, Whh):
        da = dh_next * (1 - h_next**2)
        dx = da @ Wxh.T
        return dx, da @ Whh, da.T @ x, da.T @ h_prev, da.sum(axis=0)
    out = _verdict(ex03.check_rnn_step_backward, step, capsys)[1]
    assert "`dx` uses Wxh transposed" in out and "Whh itself" not in out


def test_no_step_mistake_text_dictates_a_line_of_code():
    import re

    for m in ex03.STEP_MISTAKES + ex03.SEQ_MISTAKES[:11]:
        assert not re.search(r"da\.T @|da @ W|@ Whh|\+= |\.sum\(axis", m.hint), m.hint
