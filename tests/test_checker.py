"""The checker framework: verdicts, robustness against bad student output, grading mode."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.checks import checker
from course_utils.checks.checker import Mistake, report, run_check


def check_function(student_fn, reference_fn, cases, *, name=None, outputs=("output",),
                   mistakes=(), rtol=1e-7):
    """Check ``student_fn`` against ``reference_fn``, print the verdict and return the
    function later cells should use (what a registry entry's check function does)."""
    verdict = run_check(student_fn, reference_fn, cases, name=name, outputs=outputs,
                        mistakes=mistakes, rtol=rtol)
    return report(verdict, student_fn, reference_fn)


def ref_pair(a, b):
    return a @ b, a.sum(axis=0)


CASES = [dict(a=np.arange(6.0).reshape(2, 3), b=np.ones((3, 4)))]


def verdict(fn, mistakes=(), outputs=("prod", "colsum"), cases=CASES):
    return run_check(fn, ref_pair, cases, name="pair", outputs=outputs, mistakes=mistakes)


def test_passes_a_correct_function_written_differently():
    def other(a, b):
        return np.einsum("ij,jk->ik", a, b), np.array([a[:, j].sum() for j in range(a.shape[1])])

    v = verdict(other)
    assert v.passed and "passed" in str(v)


def test_not_implemented_is_not_attempted():
    def todo(a, b):
        raise NotImplementedError()

    v = verdict(todo)
    assert v.status == checker.NOT_ATTEMPTED and "not attempted yet" in str(v)


def test_not_implemented_in_a_helper_names_the_helper():
    def helper(a):
        raise NotImplementedError()

    def uses_helper(a, b):
        return helper(a), a

    v = verdict(uses_helper)
    assert v.status == checker.NOT_ATTEMPTED and "`helper`" in str(v)


@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda a, b: None, "returned None"),
        (lambda a, b: a @ b, "expected a tuple of 2"),
        (lambda a, b: (a @ b,), "returned 1 values; expected 2"),
        (lambda a, b: (a @ b, a.sum(axis=0), 1), "returned 3 values"),
        (lambda a, b: ((a @ b).T, a.sum(axis=0)), "has shape (4, 2); expected (2, 4)"),
        (lambda a, b: ((a @ b).astype(np.float32), a.sum(axis=0)), "dtype float32"),
        (lambda a, b: (a @ b * np.nan, a.sum(axis=0)), "NaN or inf"),
        (lambda a, b: ((a @ b).tolist(), a.sum(axis=0)), "should be a numpy array"),
        (lambda a, b: (a @ b, "x"), "should be a numpy array"),
        (lambda a, b: (b @ a, a), "raised ValueError"),
        (lambda a, b: (1 / 0, 0), "raised ZeroDivisionError"),
        (lambda a, b: (-(a @ b), a.sum(axis=0)), "sign is flipped"),
        (lambda a, b: (2 * (a @ b), a.sum(axis=0)), "times 2"),
        (lambda a, b: (0 * (a @ b), a.sum(axis=0)), "all zeros"),
    ],
)
def test_bad_outputs_get_one_readable_message(fn, expected):
    v = verdict(fn)
    assert v.status == checker.WRONG
    assert expected in str(v), str(v)
    assert "Traceback" not in str(v)


def test_torch_tensor_output_is_named():
    torch = pytest.importorskip("torch")
    v = verdict(lambda a, b: (torch.from_numpy(a @ b), a.sum(axis=0)))
    assert "torch tensor" in str(v)


def test_in_place_mutation_is_detected():
    def mutates(a, b):
        a *= 2
        return (a / 2) @ b, (a / 2).sum(axis=0)

    v = verdict(mutates)
    assert v.status == checker.WRONG and "modifies its input `a`" in str(v)


def test_mistake_is_recognised_and_correct_outputs_listed():
    wrong_sum = Mistake("summed over the wrong axis", lambda a, b: (a @ b, a.sum(axis=1)))
    v = verdict(lambda a, b: (a @ b, a.sum(axis=1)), mistakes=[wrong_sum])
    # shapes differ here (2 vs 3), so it is a shape message, not the mistake
    assert "has shape (2,)" in str(v)
    square = [dict(a=np.arange(9.0).reshape(3, 3) ** 1.5, b=np.ones((3, 4)))]
    v = verdict(lambda a, b: (a @ b, a.sum(axis=1)), mistakes=[wrong_sum], cases=square)
    assert "Most likely: summed over the wrong axis" in str(v)
    assert "Correct: `prod`" in str(v)


def test_a_raising_mistake_function_is_ignored():
    def bad_mistake(a, b):
        raise RuntimeError("bug in the mistake itself")

    v = verdict(lambda a, b: (a @ b + 1, a.sum(axis=0)), mistakes=[Mistake("x", bad_mistake)])
    assert v.status == checker.WRONG and "output `prod` is wrong" in str(v)


def test_not_a_function():
    v = verdict(None)
    assert v.status == checker.WRONG and "expected a function" in str(v)


def test_check_function_returns_reference_on_failure_and_student_on_success(capsys):
    def good(a, b):
        return ref_pair(a, b)

    assert check_function(good, ref_pair, CASES, outputs=("p", "s")) is good
    assert check_function(lambda a, b: None, ref_pair, CASES, outputs=("p", "s")) is ref_pair
    out = capsys.readouterr().out
    assert "✅" in out and "❌" in out and "reference implementation" in out


def test_grading_mode_raises(monkeypatch):
    monkeypatch.setenv(checker.GRADING_ENV, "1")
    with pytest.raises(checker.ExerciseFailed, match="not attempted"):
        check_function(lambda a, b: (_ for _ in ()).throw(NotImplementedError()), ref_pair,
                       CASES, outputs=("p", "s"))
    with pytest.raises(checker.ExerciseFailed):
        check_function(lambda a, b: None, ref_pair, CASES, outputs=("p", "s"))
    assert check_function(ref_pair, ref_pair, CASES, outputs=("p", "s")) is ref_pair


@pytest.mark.parametrize("value, expected", [("", False), ("0", False), ("false", False),
                                             ("1", True), ("yes", True)])
def test_grading_mode_parsing(monkeypatch, value, expected):
    monkeypatch.setenv(checker.GRADING_ENV, value)
    assert checker.grading_mode() is expected


def test_scalar_outputs():
    def ref(a):
        return float(a.sum())

    cases = [dict(a=np.ones(3))]
    assert run_check(lambda a: 3.0, ref, cases).passed
    assert "should be a number" in str(run_check(lambda a: [3.0], ref, cases))
    assert "is nan" in str(run_check(lambda a: float("nan"), ref, cases))
    assert run_check(lambda a: 4.0, ref, cases).status == checker.WRONG


def test_checker_bug_is_reported_not_raised():
    def broken_reference(a):
        raise RuntimeError("reference broke")

    v = run_check(lambda a: a, broken_reference, [dict(a=np.ones(2))])
    assert v.status == checker.WRONG and "checker could not evaluate" in str(v)


def test_nbgrader_autograde_is_grading_mode(monkeypatch, capsys):
    monkeypatch.delenv(checker.GRADING_ENV, raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert checker.grading_mode()
    with pytest.raises(checker.ExerciseFailed) as info:
        check_function(lambda a, b: None, ref_pair, CASES, outputs=("p", "s"))
    # in grading mode nothing is said about later cells using the reference
    assert "reference implementation" not in str(info.value)
    assert "reference implementation" not in capsys.readouterr().out
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert not checker.grading_mode()


def test_renamed_parameters_are_called_positionally_or_explained():
    def renamed(mat, other):  # same order, other names: called positionally, passes
        return ref_pair(mat, other)

    assert verdict(renamed).passed

    def swapped(b, c):  # positional call, wrong numbers: the names are pointed out
        return ref_pair(c.T, b.T)

    v = verdict(swapped)
    assert not v.passed and "your function's parameters are (b, c)" in str(v)

    def star_args(*args):  # called positionally: the note shows the parameters as written
        return ref_pair(args[1].T, args[0].T)

    v = verdict(star_args)
    assert not v.passed and v.details[-1] == ("Note: your function's parameters are (*args); the "
                                              "exercise calls it with (a, b), so they were "
                                              "passed in that order.")

    def too_few(a):
        return ref_pair(a, a)

    v = verdict(too_few)
    assert v.status == checker.WRONG
    assert v.message.startswith("your function's parameters are (a); the exercise calls it "
                                "with (a, b).")


def test_capture_collects_verdicts_without_printing_or_raising(monkeypatch, capsys):
    monkeypatch.setenv(checker.GRADING_ENV, "1")
    with checker.capture() as found:
        got = check_function(lambda a, b: None, ref_pair, CASES, outputs=("p", "s"))
    assert got is not ref_pair and capsys.readouterr().out == ""
    assert len(found) == 1 and found[0][1] is ref_pair and not found[0][0].passed


def test_remote_frames_name_the_student_function():
    exc = NotImplementedError()
    import traceback

    exc.remote_frames = [traceback.FrameSummary("<cell 7>", 3, "helper", line="raise")]
    v = checker._not_implemented("pair", ref_pair, exc)
    assert "calls `helper`" in v.message


# ---------------------------------------------------------------------------------------
# Structured verdicts: the fields say what the wording says
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, kind, output, shapes", [
    (lambda a, b: None, "returned-none", None, None),
    (lambda a, b: a @ b, "structure", None, None),
    (lambda a, b: ((a @ b).T, a.sum(axis=0)), "shape", "prod", ((4, 2), (2, 4))),
    (lambda a, b: ((a @ b).astype(np.float32), a.sum(axis=0)), "dtype", "prod", None),
    (lambda a, b: (a @ b * np.nan, a.sum(axis=0)), "non-finite", "prod", None),
    (lambda a, b: ((a @ b).tolist(), a.sum(axis=0)), "type", "prod", None),
    (lambda a, b: (a @ b, a.sum(axis=0) * 2), "values", "colsum", None),
    (lambda a, b: 1 / 0, "raised", None, None),
])
def test_verdict_fields(fn, kind, output, shapes):
    v = verdict(fn)
    assert (v.status, v.kind, v.output, v.case) == (checker.WRONG, kind, output, 1)
    if shapes:
        assert (v.got_shape, v.expected_shape) == shapes
    d = v.to_dict()
    assert d["kind"] == kind and d["message"] == v.message and d["status"] == "wrong"
    assert kind in checker.KINDS


def test_verdict_fields_of_the_other_outcomes():
    def mutates(a, b):
        a += 1
        return ref_pair(a, b)

    def todo(a, b):
        raise NotImplementedError()

    v = verdict(mutates)
    assert (v.kind, v.case) == ("mutated", 1)
    v = verdict(todo)
    assert (v.status, v.kind, v.error) == (checker.NOT_ATTEMPTED, "not-implemented",
                                           "NotImplementedError")
    assert verdict(None).kind == "not-callable"
    assert verdict(lambda a: a).kind == "renamed-parameters"
    v = verdict(lambda a, b: 1 / 0)
    assert v.error == "ZeroDivisionError"
    v = verdict(lambda a, b: (a @ b, a.sum(axis=0) * 2))
    assert v.hint == "it is the right answer times 2: a missing or extra factor."
    passed = verdict(ref_pair)
    assert passed.kind is None and passed.to_dict()["status"] == "passed"

    def broken_reference(a, b):
        raise RuntimeError("oops")

    v = run_check(ref_pair, broken_reference, CASES)
    assert v.kind == "checker-error" and "could not evaluate" in v.message


# ---------------------------------------------------------------------------------------
# Mistakes are matched across every case, whatever their order in the list
# ---------------------------------------------------------------------------------------
TWO_CASES = [dict(a=np.arange(6.0).reshape(2, 3) + 1, b=np.ones((3, 4))),
             dict(a=np.arange(12.0).reshape(4, 3) - 5, b=np.arange(12.0).reshape(3, 4) / 7)]


def test_the_mistake_that_fits_every_case_wins_not_the_first_that_fits_case_one():
    # both mistakes give the same numbers on case 1 (its first row sum is 6), not on case 2
    first_rows = Mistake("A: you added 6 to every product.", lambda a, b: (a @ b + 6, a.sum(axis=0)))
    row_sums = Mistake("B: you added the first row's sum.",
                       lambda a, b: (a @ b + a[0].sum(), a.sum(axis=0)))

    def student(a, b):  # mistake B
        return a @ b + a[0].sum(), a.sum(axis=0)

    for mistakes in ([first_rows, row_sums], [row_sums, first_rows]):
        v = verdict(student, mistakes, cases=TWO_CASES)
        assert v.hint == "B: you added the first row's sum.", mistakes
        assert "Most likely: B:" in str(v)


def test_the_mistake_with_the_students_set_of_wrong_outputs_wins():
    broad = Mistake("broad: everything is doubled.", lambda a, b: (2 * (a @ b), 2 * a.sum(axis=0)))
    narrow = Mistake("narrow: the product is doubled.", lambda a, b: (2 * (a @ b), a.sum(axis=0)))

    def student(a, b):
        return 2 * (a @ b), a.sum(axis=0)

    for mistakes in ([broad, narrow], [narrow, broad]):
        assert verdict(student, mistakes, cases=TWO_CASES).hint == "narrow: the product is doubled."


def test_a_later_case_that_raises_gives_no_evidence_and_a_raising_mistake_is_skipped_there():
    calls = []

    def student(a, b):
        calls.append(a.shape)
        if a.shape[0] == 4:
            raise ValueError("only on case 2")
        return a @ b + 1, a.sum(axis=0)

    off_by_one = Mistake("plus one.", lambda a, b: (a @ b + 1, a.sum(axis=0)))
    v = verdict(student, [off_by_one], cases=TWO_CASES)
    assert v.kind == "values" and v.case == 1 and v.hint == "plus one." and len(calls) == 2

    def picky(a, b):  # a mistake that cannot run on case 2: judged on case 1 alone
        if a.shape[0] == 4:
            raise IndexError
        return a @ b + 1, a.sum(axis=0)

    v = verdict(lambda a, b: (a @ b + 1, a.sum(axis=0)), [Mistake("picky.", picky)], cases=TWO_CASES)
    assert v.hint == "picky."


def test_no_grading_or_checking_code_parses_the_printed_wording():
    """The grader, the held-out checks and the exercise modules read verdict fields."""
    from pathlib import Path

    import course_utils

    pkg = Path(course_utils.__file__).parent
    files = [*(pkg / "tooling" / "grading").glob("grading*.py"), pkg / "checks" / "integrity.py",
             pkg / "checks" / "registry.py", *(pkg / "checks").glob("ex*.py")]
    assert len(files) >= 14, files
    for f in files:
        text = f.read_text(encoding="utf-8")
        for icon in checker.ICONS.values():
            assert icon not in text, f"{f.name} mentions {icon}"
        assert "import re\n" not in text or f.name.startswith("grading"), f.name
        assert "in verdict.message" not in text and "in v.message" not in text, f.name


# ---------------------------------------------------------------------------------------
# Per-output comparators
# ---------------------------------------------------------------------------------------
class _NanAware(checker.Comparator):
    """A number that may rightly be NaN."""

    def problem(self, got, ref, label, where):
        return None if isinstance(got, float) else checker.Problem("type", f"{label} is no number.")

    def error(self, got, ref):
        if np.isnan(ref):
            return 0.0 if np.isnan(got) else float("inf")
        return abs(got - ref) / max(abs(got), abs(ref), 1e-300)


def _ratio(a, b):
    with np.errstate(all="ignore"):
        return a @ b, float(a.sum() / b.sum())


def _inverted(a, b):
    with np.errstate(all="ignore"):
        return a @ b, float(b.sum() / a.sum())


NAN_CASES = [dict(a=np.full((2, 3), 2.0), b=np.ones((3, 2))),  # ratio 2
             dict(a=np.zeros((2, 3)), b=np.array([[1.0, -1], [-1, 1], [0, 0]]))]  # 0 / 0


def test_a_comparator_decides_an_outputs_structure_and_error():
    comparators = {"ratio": _NanAware()}

    def run(fn):
        return run_check(fn, _ratio, NAN_CASES, outputs=("prod", "ratio"), comparators=comparators,
                         mistakes=[Mistake("inverted.", _inverted)])

    assert run(_ratio).passed  # NaN is the right answer in case 2
    v = run(lambda a, b: (a @ b, "x"))
    assert (v.kind, v.output, v.message) == ("type", "ratio", "`ratio` is no number.")
    v = run(_inverted)
    assert (v.kind, v.output, v.case, v.hint) == ("values", "ratio", 1, "inverted.")
    v = run(lambda a, b: (a @ b, 2.0))  # right in case 1, not NaN in case 2
    assert (v.kind, v.output, v.case) == ("values", "ratio", 2)
    # the default comparator would have rejected the right NaN answer
    v = run_check(_ratio, _ratio, NAN_CASES, outputs=("prod", "ratio"))
    assert v.kind == "non-finite" and v.case == 2


def test_the_rename_note_describes_the_call_the_check_made():
    """A function called with keywords gets no note (ex08's harness `run(**case)` got "your
    function's parameters are ()" with the harness's names); one called positionally gets
    its own parameters and the check's names."""
    def harness(**case):
        raise ValueError("wrong")

    assert checker.call_plan(harness, CASES[0]) == checker.KEYWORDS
    assert checker.rename_note(harness, CASES[0]) is None
    v = verdict(harness)
    assert v.status == checker.WRONG and not [d for d in v.details if d.startswith("Note:")]

    def renamed(x, y):
        raise ValueError("wrong")

    assert checker.call_plan(renamed, CASES[0]) == checker.POSITIONAL
    v = verdict(renamed)
    assert v.details[-1] == ("Note: your function's parameters are (x, y); the exercise calls it "
                             "with (a, b), so they were passed in that order.")
    assert checker.rename_note(lambda a, b: None, CASES[0]) is None
    assert checker.rename_note(max, CASES[0]) is None  # no signature to read


@pytest.mark.parametrize("fn, status", [
    (lambda a: a + 1, checker.PASSED), (lambda a: a, checker.WRONG),
    (lambda a: 1 / 0, checker.WRONG), (lambda a: (_ for _ in ()).throw(NotImplementedError()),
                                        checker.NOT_ATTEMPTED)])
def test_every_verdict_is_published_in_the_check_cells_metadata(monkeypatch, capsys, fn, status):
    """In a kernel, a check cell publishes its verdict (pass, fail, error, blank) in an
    output's metadata, for `course progress` to read instead of the printed line."""
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": 1})())
    monkeypatch.setattr(IPython.display, "display",
                        lambda data, raw, metadata: shown.append((data, metadata)))
    monkeypatch.delenv(checker.GRADING_ENV, raising=False)
    v = run_check(fn, lambda a: a + 1, [dict(a=np.ones(2))], name="f")
    checker.report(v, fn, lambda a: a + 1)
    [(data, meta)] = shown
    info = meta[checker.OUTPUT_METADATA_KEY]
    assert data == {"text/plain": ""} and info["status"] == status == v.status
    assert info["reason"] == f"f: {v.message}" and info["kind"] == v.kind
