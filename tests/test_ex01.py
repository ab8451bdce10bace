"""Notebook 01's checks: each classic mistake gets its diagnosis."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.checks import checker, ex01
from course_utils.maths import rnn
from course_utils.maths.numerics import rel_error
from course_utils.reference import nb01


def _verdict(check, fn, capsys):
    returned = check(fn)
    return returned, capsys.readouterr().out


def test_reference_passes(capsys):
    fn, out = _verdict(ex01.check_rnn_step_forward, nb01.rnn_step_forward, capsys)
    assert fn is nb01.rnn_step_forward and "✅ rnn_step_forward: passed" in out
    fn, out = _verdict(ex01.check_rnn_forward, nb01.rnn_forward, capsys)
    assert fn is nb01.rnn_forward and "✅ rnn_forward: passed" in out


def test_alternative_correct_implementations_pass(capsys):
    def step(x, h_prev, Wxh, Whh, b):
        a = np.einsum("hd,nd->nh", Wxh, x) + (Whh @ h_prev.T).T + b[None, :]
        return (np.exp(2 * a) - 1) / (np.exp(2 * a) + 1)

    def forward(x, h0, Wxh, Whh, b):
        states, h = [], h0
        for x_t in np.moveaxis(x, 1, 0):
            h = step(x_t, h, Wxh, Whh, b)
            states.append(h)
        return np.stack(states, axis=1)

    assert _verdict(ex01.check_rnn_step_forward, step, capsys)[0] is step
    assert _verdict(ex01.check_rnn_forward, forward, capsys)[0] is forward


@pytest.mark.parametrize("mistake", ex01.STEP_MISTAKES, ids=lambda m: m.hint[:30])
def test_step_mistakes_are_diagnosed(mistake, capsys):
    fn, out = _verdict(ex01.check_rnn_step_forward, mistake.fn, capsys)
    assert fn is nb01.rnn_step_forward
    assert mistake.hint in out


@pytest.mark.parametrize("mistake", ex01.SEQ_MISTAKES, ids=lambda m: m.hint[:30])
def test_sequence_mistakes_are_diagnosed(mistake, capsys):
    fn, out = _verdict(ex01.check_rnn_forward, mistake.fn, capsys)
    assert fn is nb01.rnn_forward
    assert mistake.hint in out


def test_transposed_input_weight_fails_on_non_square_cases():
    # even without the square case, a transposed Wxh cannot pass
    wrong = ex01.STEP_MISTAKES[1].fn
    cases = ex01.step_cases()[1:]
    v = checker.run_check(wrong, nb01.rnn_step_forward, cases)
    assert v.status == checker.WRONG and "raised ValueError" in str(v)


def test_time_major_and_h0_included_get_shape_hints(capsys):
    _, out = _verdict(ex01.check_rnn_forward,
                      lambda x, h0, Wxh, Whh, b: nb01.rnn_forward(x, h0, Wxh, Whh, b).swapaxes(0, 1),
                      capsys)
    assert "batch-first" in out

    def with_h0(x, h0, Wxh, Whh, b):
        return np.concatenate([h0[:, None], nb01.rnn_forward(x, h0, Wxh, Whh, b)], axis=1)

    _, out = _verdict(ex01.check_rnn_forward, with_h0, capsys)
    assert "initial state" in out


def test_unanswered_forward_calling_unanswered_step(capsys):
    def rnn_step_forward(x, h_prev, Wxh, Whh, b):
        raise NotImplementedError()

    def rnn_forward(x, h0, Wxh, Whh, b):
        return rnn_step_forward(x[:, 0], h0, Wxh, Whh, b)

    fn, out = _verdict(ex01.check_rnn_forward, rnn_forward, capsys)
    assert fn is nb01.rnn_forward
    assert "not attempted yet" in out and "`rnn_step_forward`" in out


def test_cases_are_non_square_batched_and_long():
    for case in ex01.step_cases()[1:]:
        H, D = case["Wxh"].shape
        assert H != D and case["x"].shape[0] > 1
    for case in ex01.seq_cases():
        N, T, D = case["x"].shape
        assert N > 1 and T > 1
    assert any(c["Wxh"].shape[0] != c["Wxh"].shape[1] for c in ex01.seq_cases())


def test_reference_forward_matches_torch_rnn_in_float64():
    torch.manual_seed(0)
    N, T, D, H = 3, 20, 4, 7
    net = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    p = rnn.params_from_torch(net)
    rng = np.random.default_rng(0)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    with torch.no_grad():
        out, h_last = net(torch.from_numpy(x), torch.from_numpy(h0)[None])
    h = nb01.rnn_forward(x, h0, *p.as_tuple())
    assert rel_error(h, out) < 1e-12
    assert rel_error(h[:, -1], h_last[0]) < 1e-12


def test_params_from_torch_sums_biases_and_rejects_other_layouts():
    net = torch.nn.RNN(2, 3, dtype=torch.float64)
    p = rnn.params_from_torch(net)
    assert np.allclose(p.b, (net.bias_ih_l0 + net.bias_hh_l0).detach().numpy())
    assert p.Wxh.shape == (3, 2) and p.Whh.shape == (3, 3)
    with pytest.raises(ValueError):
        rnn.params_from_torch(torch.nn.RNN(2, 3, num_layers=2))
    no_bias = rnn.params_from_torch(torch.nn.RNN(2, 3, bias=False))
    assert not no_bias.b.any()


def test_init_rnn_params_shapes_and_range():
    p = rnn.init_rnn_params(4, 6, np.random.default_rng(0))
    assert p.Wxh.shape == (6, 4) and p.Whh.shape == (6, 6) and p.b.shape == (6,)
    k = 1 / np.sqrt(6)
    assert np.abs(p.Whh).max() <= k and np.abs(p.Whh).max() > 0.5 * k
