"""course.py, the stdlib-only launcher: paths on every OS, the test passes, lab as root."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path, PureWindowsPath

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def course():
    spec = importlib.util.spec_from_file_location("course_launcher", ROOT / "course.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def test_venv_python_is_scripts_python_exe_on_windows(course, monkeypatch):
    monkeypatch.setattr(course.os, "name", "nt")
    py = course._python(PureWindowsPath(r"C:\Users\ana\bptt-course\.venv"))
    assert str(py) == r"C:\Users\ana\bptt-course\.venv\Scripts\python.exe"
    monkeypatch.setattr(course.os, "name", "posix")
    assert course._python(Path("/home/ana/c/.venv")) == Path("/home/ana/c/.venv/bin/python")


def test_portability_passes_use_other_kernel_families_and_one_thread(course):
    x86 = course.portability_passes("x86_64")
    assert course.portability_passes("AMD64") == x86  # Windows' name for the same CPUs
    assert len(x86) >= 2
    cores = [env["OPENBLAS_CORETYPE"] for _, env in x86]
    assert len(set(cores)) == len(cores) >= 2
    assert all("MKL_CBWR" in env for _, env in x86)
    assert {env["OMP_NUM_THREADS"] for _, env in x86} >= {"1"}
    assert course.portability_passes("arm64") == course.portability_passes("aarch64") != []
    assert course.portability_passes("riscv64") == []
    # the passes compare the stored outputs and run the unit tests
    args = course.PORTABILITY_ARGS
    assert "--nbval" in args and "solutions" in args and "tests" in args
    assert "not slow and not browser and not tooling" in args


def test_no_nbval_drops_only_the_stored_output_comparison(course):
    args = course.without_nbval(course.PYTEST_ARGS)
    assert "--nbval" not in args and "solutions" not in args
    assert "tests" in args and "-n" in args


def test_test_command_runs_every_pass_and_fails_if_any_fails(course, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(course, "ensure_env", lambda dev: Path("py"))
    monkeypatch.setattr(course.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(course, "blas_kernel",
                        lambda py, env: env.get("OPENBLAS_CORETYPE", "SkylakeX"))

    def fake_call(cmd, cwd, env):
        calls.append((cmd, env))
        return 1 if env.get("OPENBLAS_CORETYPE") == "Prescott" else 0

    monkeypatch.setattr(course.subprocess, "call", fake_call)
    assert course.run_tests(["-k", "ex01"], {"PATH": "/bin"}) == 1
    assert len(calls) == 3
    assert "OPENBLAS_CORETYPE" not in calls[0][1]
    assert all(cmd[-2:] == ["-k", "ex01"] for cmd, _ in calls)
    out = capsys.readouterr().out
    assert "FAILED" in out and out.count("ok") >= 2
    assert "numpy's BLAS kernels: Prescott" in out and "shows nothing new" not in out
    calls.clear()
    assert course.run_tests(["--fast"], {}) == 0 and len(calls) == 1
    calls.clear()
    course.run_tests(["--portability", "--no-nbval"], {})
    assert len(calls) == 2 and all("--nbval" not in cmd for cmd, _ in calls)


def test_lab_as_root_in_a_container_passes_allow_root(course, monkeypatch, capsys):
    monkeypatch.setattr(course, "is_root", lambda: True)
    monkeypatch.setattr(course, "in_container", lambda: True)
    assert course.lab_args(["--port", "8890"]) == ["--port", "8890", "--allow-root"]
    assert "--allow-root" in capsys.readouterr().out


def test_lab_as_root_outside_a_container_says_what_to_do_in_one_line(course, monkeypatch, capsys):
    monkeypatch.setattr(course, "is_root", lambda: True)
    monkeypatch.setattr(course, "in_container", lambda: False)
    monkeypatch.setattr(course, "ensure_env", lambda dev: pytest.fail("must stop before setup"))
    assert course.main(["lab"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "normal user" in err and "--allow-root" in err
    # saying --allow-root yourself is respected, and a normal user gets no extra flag
    assert course.lab_args(["--allow-root"]) == ["--allow-root"]
    monkeypatch.setattr(course, "is_root", lambda: False)
    assert course.lab_args([]) == []
