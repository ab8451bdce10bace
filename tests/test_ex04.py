"""Checks of notebook 04 recognise correct answers, unanswered ones and classic mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import checker, ex04
from course_utils.maths.numerics import rel_error
from course_utils.reference import nb04


def _verdict_step(fn):
    return checker.run_check(fn, nb04.rnn_step_jacobian, ex04.step_cases(),
                             name="rnn_step_jacobian", outputs=("J",),
                             mistakes=ex04.STEP_MISTAKES)


def _verdict_product(fn):
    return checker.run_check(fn, nb04.jacobian_product, ex04.product_cases(),
                             name="jacobian_product", outputs=("P",),
                             mistakes=ex04.PRODUCT_MISTAKES)


def _hint(mistakes, start):
    matches = [m.hint for m in mistakes if m.hint.startswith(start)]
    assert len(matches) == 1, start
    return matches[0]


# ---------------------------------------------------------------------------------------
# Exercise 1: rnn_step_jacobian
# ---------------------------------------------------------------------------------------
def step_correct_loop(x, h_prev, Wxh, Whh, b):
    """Correct, written differently: one example at a time with np.diag."""
    h_next = np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)
    return np.stack([np.diag(1 - hn**2) @ Whh for hn in h_next])


def step_correct_einsum(x, h_prev, Wxh, Whh, b):
    h_next = np.tanh(np.einsum("nd,hd->nh", x, Wxh) + np.einsum("nj,ij->ni", h_prev, Whh) + b)
    return np.einsum("ni,ij->nij", 1 - h_next**2, Whh)


def _h(x, h_prev, Wxh, Whh, b):
    return np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)


def step_transposed(x, h_prev, Wxh, Whh, b):
    h = _h(x, h_prev, Wxh, Whh, b)
    return np.stack([Whh.T @ np.diag(1 - hn**2) for hn in h])


def step_diag_right(x, h_prev, Wxh, Whh, b):
    h = _h(x, h_prev, Wxh, Whh, b)
    return np.stack([Whh @ np.diag(1 - hn**2) for hn in h])


def step_no_diag(x, h_prev, Wxh, Whh, b):
    return np.stack([Whh.copy() for _ in range(x.shape[0])])


def step_prev_state(x, h_prev, Wxh, Whh, b):
    return np.stack([np.diag(1 - hp**2) @ Whh for hp in h_prev])


def step_preactivation(x, h_prev, Wxh, Whh, b):
    a = x @ Wxh.T + h_prev @ Whh.T + b
    return np.stack([np.diag(1 - an**2) @ Whh for an in a])


def step_not_squared(x, h_prev, Wxh, Whh, b):
    h = _h(x, h_prev, Wxh, Whh, b)
    return np.stack([np.diag(1 - hn) @ Whh for hn in h])


def step_times_h(x, h_prev, Wxh, Whh, b):
    h = _h(x, h_prev, Wxh, Whh, b)
    return h[:, :, None] * Whh


def step_sigmoid_derivative(x, h_prev, Wxh, Whh, b):
    h = _h(x, h_prev, Wxh, Whh, b)
    return np.stack([np.diag(hn * (1 - hn)) @ Whh for hn in h])


STEP_BUGS = [
    (step_transposed, "the Jacobian is transposed"),
    (step_diag_right, "the diagonal is on the wrong side"),
    (step_no_diag, "the diag(tanh') factor is missing"),
    (step_prev_state, "tanh' is taken from the wrong step"),
    (step_preactivation, "you used 1 − a²"),
    (step_not_squared, "tanh' is written as 1 − h_next"),
    (step_times_h, "you multiplied by h_next"),
    (step_sigmoid_derivative, "you used the sigmoid's derivative"),
]


@pytest.mark.parametrize("fn", [step_correct_loop, step_correct_einsum])
def test_step_correct_passes(fn):
    v = _verdict_step(fn)
    assert v.status == checker.PASSED, str(v)


def test_step_unanswered_is_not_attempted():
    def rnn_step_jacobian(x, h_prev, Wxh, Whh, b):
        raise NotImplementedError()

    assert _verdict_step(rnn_step_jacobian).status == checker.NOT_ATTEMPTED


@pytest.mark.parametrize("fn,start", STEP_BUGS, ids=[f.__name__ for f, _ in STEP_BUGS])
def test_step_mistakes_are_named(fn, start):
    v = _verdict_step(fn)
    assert v.status == checker.WRONG
    assert _hint(ex04.STEP_MISTAKES, start) in str(v), str(v)


def test_step_wrong_shape_and_nan_do_not_crash():
    v = _verdict_step(lambda x, h_prev, Wxh, Whh, b: (1 - _h(x, h_prev, Wxh, Whh, b)[0] ** 2)[:, None] * Whh)
    assert v.status == checker.WRONG and "shape" in v.message
    v = _verdict_step(lambda x, h_prev, Wxh, Whh, b: np.full((x.shape[0],) + Whh.shape, np.nan))
    assert v.status == checker.WRONG and "NaN" in v.message


def test_every_step_mistake_differs_from_the_reference():
    for case in ex04.step_cases():
        ref = nb04.rnn_step_jacobian(**case)
        for m in ex04.STEP_MISTAKES:
            assert rel_error(m.fn(**case), ref) > 1e-3, m.hint


def test_check_returns_reference_when_unanswered(capsys):
    def rnn_step_jacobian(x, h_prev, Wxh, Whh, b):
        raise NotImplementedError()

    fn = ex04.check_rnn_step_jacobian(rnn_step_jacobian)
    assert fn is nb04.rnn_step_jacobian
    assert "not attempted yet" in capsys.readouterr().out


def test_grading_mode_raises(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    with pytest.raises(checker.ExerciseFailed):
        ex04.check_rnn_step_jacobian(step_no_diag)
    with pytest.raises(checker.ExerciseFailed):
        ex04.check_jacobian_product(lambda h, Whh, t, k: None)


# ---------------------------------------------------------------------------------------
# Exercise 2: jacobian_product
# ---------------------------------------------------------------------------------------
def _Js(h, Whh, s):
    return np.stack([np.diag(1 - hn**2) @ Whh for hn in h[:, s - 1]])


def prod_correct_forward(h, Whh, t, k):
    """Correct, written differently: build from the left end, P = J_s @ P."""
    N, _, H = h.shape
    P = np.tile(np.eye(H), (N, 1, 1))
    for s in range(k + 1, t + 1):
        P = _Js(h, Whh, s) @ P
    return P


def prod_correct_per_example(h, Whh, t, k):
    out = []
    for n in range(h.shape[0]):
        P = np.eye(Whh.shape[0])
        for s in range(t, k, -1):
            P = P @ (np.diag(1 - h[n, s - 1] ** 2) @ Whh)
        out.append(P)
    return np.array(out)


def prod_reversed(h, Whh, t, k):
    P = np.tile(np.eye(Whh.shape[0]), (h.shape[0], 1, 1))
    for s in range(k + 1, t + 1):
        P = P @ _Js(h, Whh, s)
    return P


def prod_each_transposed(h, Whh, t, k):
    P = np.tile(np.eye(Whh.shape[0]), (h.shape[0], 1, 1))
    for s in range(t, k, -1):
        P = P @ np.swapaxes(_Js(h, Whh, s), 1, 2)
    return P


def prod_whole_transposed(h, Whh, t, k):
    return np.swapaxes(prod_correct_forward(h, Whh, t, k), 1, 2)


def prod_no_diag(h, Whh, t, k):
    return np.tile(np.linalg.matrix_power(Whh, t - k), (h.shape[0], 1, 1))


def prod_diag_right(h, Whh, t, k):
    P = np.tile(np.eye(Whh.shape[0]), (h.shape[0], 1, 1))
    for s in range(t, k, -1):
        P = P @ np.stack([Whh @ np.diag(1 - hn**2) for hn in h[:, s - 1]])
    return P


def prod_tanh_previous(h, Whh, t, k):
    P = np.tile(np.eye(Whh.shape[0]), (h.shape[0], 1, 1))
    for s in range(t, k, -1):
        P = P @ np.stack([np.diag(1 - hn**2) @ Whh for hn in h[:, s - 2]])
    return P


def prod_tanh_next(h, Whh, t, k):
    P = np.tile(np.eye(Whh.shape[0]), (h.shape[0], 1, 1))
    for s in range(t, k, -1):
        P = P @ np.stack([np.diag(1 - hn**2) @ Whh for hn in h[:, s]])
    return P


def prod_one_too_many(h, Whh, t, k):
    P = np.tile(np.eye(Whh.shape[0]), (h.shape[0], 1, 1))
    for s in range(t, k - 1, -1):
        P = P @ _Js(h, Whh, s)
    return P


def prod_one_too_few(h, Whh, t, k):
    P = np.tile(np.eye(Whh.shape[0]), (h.shape[0], 1, 1))
    for s in range(t, k + 1, -1):
        P = P @ _Js(h, Whh, s)
    return P


def prod_elementwise(h, Whh, t, k):
    P = _Js(h, Whh, t)
    for s in range(t - 1, k, -1):
        P = P * _Js(h, Whh, s)
    return P


PRODUCT_BUGS = [
    (prod_reversed, "the product is in the wrong order"),
    (prod_each_transposed, "every factor is transposed"),
    (prod_whole_transposed, "the whole product is transposed"),
    (prod_no_diag, "the diag(1 − h²) factors are missing"),
    (prod_diag_right, "the diagonal is on the wrong side"),
    (prod_tanh_previous, "tanh' comes from the wrong step: J_s needs 1 − h_s², the derivative"),
    (prod_tanh_next, "tanh' comes from the wrong step: J_s needs 1 − h_s², and h_s"),
    (prod_one_too_many, "one factor too many"),
    (prod_one_too_few, "one factor too few"),
    (prod_elementwise, "you multiplied the Jacobians element-wise"),
]


@pytest.mark.parametrize("fn", [prod_correct_forward, prod_correct_per_example])
def test_product_correct_passes(fn):
    v = _verdict_product(fn)
    assert v.status == checker.PASSED, str(v)


def test_product_unanswered_is_not_attempted():
    def jacobian_product(h, Whh, t, k):
        raise NotImplementedError()

    assert _verdict_product(jacobian_product).status == checker.NOT_ATTEMPTED


@pytest.mark.parametrize("fn,start", PRODUCT_BUGS, ids=[f.__name__ for f, _ in PRODUCT_BUGS])
def test_product_mistakes_are_named(fn, start):
    v = _verdict_product(fn)
    assert v.status == checker.WRONG
    assert _hint(ex04.PRODUCT_MISTAKES, start) in str(v), str(v)


def test_product_mistakes_are_distinct_on_the_first_case():
    case = ex04.product_cases()[0]
    ref = nb04.jacobian_product(**case)
    outs = [m.fn(**case) for m in ex04.PRODUCT_MISTAKES]
    for i, out in enumerate(outs):
        assert rel_error(out, ref) > 1e-3, ex04.PRODUCT_MISTAKES[i].hint
        for j in range(i):
            assert rel_error(out, outs[j]) > 1e-3, (i, j)


def test_product_cases_cover_the_edges():
    windows = [(c["t"], c["k"], c["h"].shape[1]) for c in ex04.product_cases()]
    assert any(k == 0 for _, k, _ in windows)
    assert any(t == T for t, _, T in windows)
    assert any(t - k == 1 for t, k, _ in windows)
    assert all(c["h"].shape[0] > 1 for c in ex04.product_cases())
    # tanh' varies: the cases are neither linear nor fully saturated
    d = np.concatenate([(1 - c["h"] ** 2).ravel() for c in ex04.product_cases()])
    assert 0.3 < d.mean() < 0.9 and d.std() > 0.15
