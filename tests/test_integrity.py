"""Held-out checks for nbgrader's hidden tests (course_utils.checks.integrity), in this process."""

from __future__ import annotations

import numpy as np
import pytest
from grading_students import TORCH_RNN

from course_utils.checks import ex01, integrity
from course_utils.maths import lstm, rnn
from course_utils.reference import nb01


def own_step(x, h_prev, Wxh, Whh, b):
    return np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)


def test_own_work_passes_and_the_references_are_put_back():
    integrity.hidden_check("ex01", "check_rnn_step_forward", own_step)
    assert nb01.rnn_step_forward.__module__ == "course_utils.reference.nb01"  # tripwires removed


def test_the_answer_key_may_use_the_helpers_it_uses():
    def step(x, h_prev, c_prev, Wx, Wh, b):
        H = h_prev.shape[1]
        a = x @ Wx.T + h_prev @ Wh.T + b
        i, f, o = (lstm.sigmoid(a[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
        c = f * c_prev + i * np.tanh(a[:, 2 * H:3 * H])
        return o * np.tanh(c), c

    integrity.hidden_check("ex07", "check_lstm_step_forward", step)


_keep = rnn.rnn_forward_fast


def _kept(x, h0, Wxh, Whh, b):
    return _keep(x, h0, Wxh, Whh, b)


def _calls(x, h0, Wxh, Whh, b):
    return rnn.rnn_forward_fast(x, h0, Wxh, Whh, b)


@pytest.mark.parametrize("fn, why", [
    (nb01.rnn_forward, "it is the course's `course_utils.reference.nb01.rnn_forward`"),
    (_kept, "keeps the course's `course_utils.maths.rnn.rnn_forward_fast` in the global `_keep`"),
    (_calls, "calls the course's `course_utils.maths.rnn.rnn_forward_fast`"),
])
def test_reuse_is_refused(fn, why):
    with pytest.raises(integrity.NotOwnWork, match="not your work") as info:
        integrity.hidden_check("ex01", "check_rnn_forward", fn)
    assert why in str(info.value)


def test_a_replaced_check_changes_nothing(monkeypatch):
    monkeypatch.setattr(ex01, "check_rnn_forward", lambda f, **k: f)

    def wrong(x, h0, Wxh, Whh, b):
        return np.zeros((x.shape[0], x.shape[1], Whh.shape[0]))

    with pytest.raises(AssertionError, match="held-out check"):
        integrity.hidden_check("ex01", "check_rnn_forward", wrong)


# ---------------------------------------------------------------------------------------
# Behaviour (issue 22 item 3): what runs underneath the function, recorded in the kernel
# ---------------------------------------------------------------------------------------
def _notebook_function(src: str, name: str):
    """A function defined as a notebook cell defines it (module ``__main__``), with the
    names notebook 01's setup cell imports."""
    import torch

    from course_utils.lessons import unrolling

    ns = {"__name__": "__main__", "np": np, "torch": torch, "rnn": rnn, "unrolling": unrolling}
    exec(compile(src, "<cell>", "exec"), ns)
    return ns[name]


@pytest.mark.parametrize("check, src, what", [
    ("check_rnn_forward", "def rnn_forward(x, h0, Wxh, Whh, b):\n"
     "    return unrolling.jacobians.forward(x, h0, Wxh, Whh, b)\n",
     "course_utils.maths.jacobians.forward"),
    ("check_rnn_step_forward", "from course_utils.maths import tbptt as _t\n"
     "def rnn_step_forward(x, h_prev, Wxh, Whh, b):\n"
     "    t = [torch.as_tensor(a) for a in (x, h_prev, Wxh, Whh, b)]\n"
     "    return _t.torch_rnn_step(*t).numpy()\n", "course_utils.maths.tbptt.torch_rnn_step"),
])
def test_a_course_function_that_computes_the_answer_is_refused(check, src, what):
    fn = _notebook_function(src, check.removeprefix("check_"))
    with pytest.raises(integrity.NotOwnWork, match="not your work") as info:
        integrity.hidden_check("ex01", check, fn)
    assert f"`{what}` ran inside" in str(info.value)


def test_a_library_the_exercise_does_not_allow_is_printed_for_review(capsys):
    fn = _notebook_function(TORCH_RNN.format(name="rnn_forward"), "rnn_forward")
    integrity.hidden_check("ex01", "check_rnn_forward", fn)  # passes: a flag takes no points
    err = capsys.readouterr().err
    assert "Flagged for review:" in err and "(torch) ran inside `rnn_forward`" in err


def test_an_honest_notebook_function_prints_nothing(capsys):
    fn = _notebook_function("def rnn_step_forward(x, h_prev, Wxh, Whh, b):\n"
                            "    return np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)\n",
                            "rnn_step_forward")
    integrity.hidden_check("ex01", "check_rnn_step_forward", fn)
    assert capsys.readouterr().err == ""
