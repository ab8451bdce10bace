"""Notebook 06's check: clip_grad_norm against torch, edge cases, and each classic mistake."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import checker, ex06
from course_utils.lessons import clipping
from course_utils.reference import nb06


def _verdict(fn, capsys):
    returned = ex06.check_clip_grad_norm(fn)
    return returned, capsys.readouterr().out


def test_reference_passes(capsys):
    fn, out = _verdict(nb06.clip_grad_norm, capsys)
    assert fn is nb06.clip_grad_norm
    assert "✅ clip_grad_norm: passed" in out


def test_reference_matches_torch_on_every_case_exactly():
    for case in ex06.clip_cases():
        got, total = nb06.clip_grad_norm(case["grads"], case["max_norm"])
        ref, ref_total = ex06.torch_clip(case["grads"], case["max_norm"])
        assert ex06._same_clipped(got, ref, 1e-12), case["label"]
        assert ex06._total_error(total, ref_total) <= 1e-12, case["label"]


def test_edge_cases_are_in_the_check():
    labels = " | ".join(c["label"] for c in ex06.clip_cases())
    for word in ("zero", "NaN", "inf", "max_norm = 0", "single array", "tuple", "below"):
        assert word in labels


def test_edge_case_semantics_follow_torch():
    cases = {c["label"]: c for c in ex06.clip_cases()}
    zero = next(c for k, c in cases.items() if "zero" in k)
    clipped, total = ex06.torch_clip(zero["grads"], zero["max_norm"])
    assert total == 0.0 and all(not g.any() for g in clipped)
    nan = next(c for k, c in cases.items() if "NaN" in k)
    clipped, total = ex06.torch_clip(nan["grads"], nan["max_norm"])
    assert np.isnan(total) and all(np.isnan(g).all() for g in clipped)
    inf = next(c for k, c in cases.items() if "inf" in k)
    clipped, total = ex06.torch_clip(inf["grads"], inf["max_norm"])
    flat = np.concatenate([g.ravel() for g in clipped])
    assert np.isinf(total) and np.isnan(flat).sum() == 1 and not flat[~np.isnan(flat)].any()
    m0 = next(c for k, c in cases.items() if "max_norm = 0" in k)
    clipped, total = ex06.torch_clip(m0["grads"], m0["max_norm"])
    assert total > 0 and all(not g.any() for g in clipped)
    single = next(c for k, c in cases.items() if "single" in k)
    clipped, total = ex06.torch_clip(single["grads"], single["max_norm"])
    assert isinstance(clipped, np.ndarray) and abs(np.linalg.norm(clipped) - 0.5) < 1e-5


def test_alternative_correct_implementation_passes(capsys):
    def clip_grad_norm(grads, max_norm):
        single = isinstance(grads, np.ndarray)
        gs = [grads] if single else grads
        total = np.sqrt(sum(float(np.vdot(g, g)) for g in gs))
        scale = np.clip(max_norm / (total + 1e-6), None, 1.0)
        out = [scale * g for g in gs]
        return (out[0] if single else out), total

    fn, out = _verdict(clip_grad_norm, capsys)
    assert fn is clip_grad_norm and "passed" in out


@pytest.mark.parametrize("mistake", ex06.MISTAKES, ids=lambda m: m.hint[:30])
def test_mistakes_are_diagnosed(mistake, capsys):
    fn, out = _verdict(mistake.fn, capsys)
    assert fn is nb06.clip_grad_norm
    assert "❌" in out and mistake.hint in out


def test_unanswered_is_not_attempted(capsys):
    def clip_grad_norm(grads, max_norm):
        raise NotImplementedError()

    fn, out = _verdict(clip_grad_norm, capsys)
    assert fn is nb06.clip_grad_norm and "not attempted yet" in out


def test_in_place_modification_is_caught(capsys):
    def clip_grad_norm(grads, max_norm):
        single = isinstance(grads, np.ndarray)
        gs = [grads] if single else list(grads)
        total = clipping.global_norm(gs)
        scale = np.minimum(1.0, max_norm / (total + 1e-6))
        for g in gs:
            g *= scale
        return (gs[0] if single else gs), total

    _, out = _verdict(clip_grad_norm, capsys)
    assert "in place" in out


def test_torch_style_return_of_the_norm_only(capsys):
    _, out = _verdict(lambda grads, max_norm: clipping.global_norm(grads), capsys)
    assert "expected a pair (clipped, total_norm)" in out


def test_single_array_returned_as_list_is_explained(capsys):
    def clip_grad_norm(grads, max_norm):
        gs = [grads] if isinstance(grads, np.ndarray) else grads
        clipped, total = nb06.clip_grad_norm(list(gs), max_norm)
        return clipped, total

    _, out = _verdict(clip_grad_norm, capsys)
    assert "single array" in out


def test_division_by_zero_gets_a_hint(capsys):
    def clip_grad_norm(grads, max_norm):
        single = isinstance(grads, np.ndarray)
        gs = [grads] if single else list(grads)
        total = float(np.sqrt(sum(float(np.sum(g * g)) for g in gs)))
        scale = min(1.0, max_norm / total) if not np.isnan(total) else float("nan")
        out = [g * scale for g in gs]
        return (out[0] if single else out), total

    _, out = _verdict(clip_grad_norm, capsys)
    assert "ZeroDivisionError" in out or "1e-6" in out


def run_clip_check(student_fn):
    """Run the check and return the verdict (nothing printed)."""
    entry = ex06.EXERCISES[0]
    return checker.run_check(student_fn, ex06.torch_clip, ex06.clip_cases(), name=ex06.NAME,
                             outputs=entry.outputs, mistakes=entry.mistakes, rtol=ex06.RTOL,
                             comparators=dict(entry.comparators), text=entry.text)


def test_bad_outputs_never_crash_the_check(capsys):
    for bad in (None, 3, "x", (1, 2, 3), ([1, 2], 1.0), (np.zeros(2), "norm")):
        v = run_clip_check(lambda grads, max_norm, bad=bad: bad)
        assert v.status == checker.WRONG
    v = run_clip_check(lambda grads, max_norm: 1 / 0)
    assert v.status == checker.WRONG and "ZeroDivisionError" in str(v)
    assert run_clip_check(None).status == checker.WRONG


def test_grading_mode_raises(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_GRADING", "1")
    with pytest.raises(checker.ExerciseFailed):
        ex06.check_clip_grad_norm(ex06.MISTAKES[0].fn)
    assert ex06.check_clip_grad_norm(nb06.clip_grad_norm) is nb06.clip_grad_norm
