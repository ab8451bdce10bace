"""The honest set: independently written, correct solutions of the long exercises.

Each file under tests/data/honest/<exercise_id>/ was written from the student notebook only
(see tests/data/honest/README.md). Every one must pass the check its notebook's check cell
calls; a check returns the student's function when it passes (and the reference otherwise).
"""

import importlib.util
from pathlib import Path

import pytest

from course_utils.checks import ex03, ex05, ex07, ex08

HONEST = Path(__file__).parent / "data" / "honest"

# exercise id -> (check module, check function, the function the check is given)
CHECKS = {
    "ex03_rnn_backward": (ex03, "check_rnn_backward", "rnn_backward"),
    "ex05_truncated_bptt": (ex05, "check_truncated_bptt", "truncated_bptt"),
    "ex07_lstm_step_backward": (ex07, "check_lstm_step_backward", "lstm_step_backward"),
    "ex07_lstm_backward": (ex07, "check_lstm_backward", "lstm_backward"),
    "ex08_tbptt_train_step": (ex08, "check_tbptt_train_step", "tbptt_train_step"),
}

FILES = sorted(HONEST.glob("ex*/s*.py"))


def _load(path):
    name = f"honest_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_at_least_five_per_exercise():
    for exercise in CHECKS:
        found = sorted(p.name for p in (HONEST / exercise).glob("s*.py"))
        assert len(found) >= 5, f"{exercise}: only {found}, the issue asks for five or more"
    assert {p.parent.name for p in FILES} == set(CHECKS), "a folder without a check, or the reverse"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_honest_solution_passes_its_check(path, capsys):
    module_, check, function = CHECKS[path.parent.name]
    student_fn = getattr(_load(path), function)
    returned = getattr(module_, check)(student_fn)
    out = capsys.readouterr().out
    assert returned is student_fn, f"{path.name} failed {check}:\n{out}"
    assert "✅" in out and "❌" not in out, out
