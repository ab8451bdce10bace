"""Every diagnosed mistake has a stable identity: ``<exercise id>/<short name>``.

The grader's class report counts students by it (never by the hint's wording), and
``course progress`` shows the short name next to the reason.
"""

from __future__ import annotations

import re

import numpy as np

from course_utils.checks import checker, discovery, ex03

NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def test_every_mistake_has_a_short_name_unique_to_its_hint():
    for entry in discovery.exercises():
        hints: dict[str, str] = {}
        for m in entry.mistakes:
            assert NAME.match(m.name), (entry.id, m.name, m.hint[:60])
            # one name, one mistake: two entries share a name only when they share the hint
            assert hints.setdefault(m.name, m.hint) == m.hint, (entry.id, m.name)


def _whh_untransposed(x, h_prev, Wxh, Whh, b):
    return np.tanh(x @ Wxh.T + h_prev @ Whh + b)


def _whh_untransposed_other_code(x, h_prev, Wxh, Whh, b):
    return np.tanh(np.dot(x, Wxh.T) + np.einsum("nh,hk->nk", h_prev, Whh) + b)


def test_the_verdict_carries_the_mistake_id():
    entry = discovery.find("ex01_rnn_step_forward")
    v = entry.run_check(_whh_untransposed)
    assert (v.mistake, v.mistake_name) == ("ex01_rnn_step_forward/whh-not-transposed",
                                           "whh-not-transposed")
    d = v.to_dict()
    assert d["mistake"] == v.mistake and d["mistake_name"] == "whh-not-transposed"
    # the same mistake written otherwise, and on held-out cases: the same identity
    assert entry.run_check(_whh_untransposed_other_code, seed=777).mistake == v.mistake
    passed = entry.run_check(lambda x, h_prev, Wxh, Whh, b: np.tanh(x @ Wxh.T + h_prev @ Whh.T + b))
    assert passed.passed and passed.mistake is None and passed.mistake_name is None


def test_a_generic_diagnosis_has_one_name_whatever_the_factor():
    entry = discovery.find("ex01_rnn_forward")
    from course_utils.reference import nb01

    twice = entry.run_check(lambda x, h0, Wxh, Whh, b: 2 * nb01.rnn_forward(x, h0, Wxh, Whh, b))
    half = entry.run_check(lambda x, h0, Wxh, Whh, b: 0.5 * nb01.rnn_forward(x, h0, Wxh, Whh, b))
    assert twice.hint != half.hint  # "times 2" and "times 0.5"
    assert twice.mistake == half.mistake == "ex01_rnn_forward/constant-factor"
    flipped = entry.run_check(lambda x, h0, Wxh, Whh, b: -nb01.rnn_forward(x, h0, Wxh, Whh, b))
    assert flipped.mistake == "ex01_rnn_forward/sign-flipped"


def test_a_shape_diagnosis_and_an_inherited_mistake_are_named():
    from course_utils.reference import nb03

    def transposed(dh_next, x, h_prev, h_next, Wxh, Whh):
        dx, dh, dWxh, dWhh, db = nb03.rnn_step_backward(dh_next, x, h_prev, h_next, Wxh, Whh)
        return dx, dh, dWxh, dWhh.T, db

    v = ex03.EXERCISES[0].run_check(transposed)
    assert v.mistake == "ex03_rnn_step_backward/dwhh-transposed", v
    step_mistake = next(m for m in ex03.STEP_MISTAKES if m.name == "db-averaged")
    v = ex03.EXERCISES[1].run_check(ex03._seq(step=step_mistake.fn))
    assert v.mistake == "ex03_rnn_backward/step-db-averaged", v


def test_no_mistake_is_named_for_other_failures(capsys):
    entry = discovery.find("ex01_rnn_step_forward")
    v = entry.run_check(lambda x, h_prev, Wxh, Whh, b: np.zeros((1, 1)))
    assert v.kind == "shape" and v.mistake is None
    # outside a kernel nothing but the verdict is printed
    checker.report(entry.run_check(_whh_untransposed), _whh_untransposed, None)
    out = capsys.readouterr().out
    assert out.startswith("❌ rnn_step_forward") and "Most likely:" in out
