"""course.py, the stdlib-only launcher: paths on every OS, the test passes, lab as root."""

from __future__ import annotations

import sys
from pathlib import Path, PureWindowsPath

import pytest
from module_files import module_from_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def course():
    with module_from_file(ROOT / "course.py", "course_launcher") as mod:
        yield mod


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
    assert {env["OMP_NUM_THREADS"] for _, env in x86} == {"1"}  # the main pass uses every core
    assert course.portability_passes("arm64") == course.portability_passes("aarch64") != []
    assert course.portability_passes("riscv64") == []
    # the unit tests run again under the first family; the notebooks are dealt out over all
    args = course.PORTABILITY_ARGS
    assert "--nbval" not in args and "solutions" not in args and "tests" in args
    assert "not slow and not browser and not tooling" in args
    assert x86[0][1]["OMP_NUM_THREADS"] == "1" and x86[0][1]["OPENBLAS_CORETYPE"] == "Prescott"
    names = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    dealt = [course.portability_pass_of(n, "x86_64") for n in names]
    assert [d[0] for d in dealt] == [x86[i % len(x86)][0] for i in range(len(names))]
    assert course.portability_pass_of(names[0], "riscv64") is None
    assert course.portability_pass_of("99_not_a_notebook.ipynb", "x86_64") is None


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
    assert len(calls) == 2
    assert "OPENBLAS_CORETYPE" not in calls[0][1]
    assert all(cmd[-2:] == ["-k", "ex01"] for cmd, _ in calls)
    main, unit = (cmd for cmd, _ in calls)
    assert "solutions" in main and "--nbval" in main and "tests" in main  # stored outputs
    assert "solutions" not in unit and "tests" in unit  # the unit tests under generic kernels
    assert calls[1][1]["OMP_NUM_THREADS"] == "1"  # on one thread
    out = capsys.readouterr().out
    assert "FAILED" in out and out.count("ok") >= 1
    assert "numpy's BLAS kernels: Prescott" in out and "shows nothing new" not in out
    calls.clear()
    assert course.run_tests(["--fast"], {}) == 0 and len(calls) == 1
    calls.clear()
    course.run_tests(["--portability"], {})  # the student-notebook runs, then the unit tests
    assert [cmd[-1] for cmd, _ in calls] == ["tests/test_notebooks.py", "tests"]
    calls.clear()
    course.run_tests(["--portability", "--no-nbval"], {})  # nothing compared: unit tests only
    assert len(calls) == 1 and all("--nbval" not in cmd for cmd, _ in calls)


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


# ---------------------------------------------------------------------------------------
# One command line: course.py and the `course` console script share one table and help
# ---------------------------------------------------------------------------------------
def test_course_py_and_the_console_script_print_the_same_help(course, capsys):
    from course_utils.tooling import cli

    assert course.main(["help"]) == 0
    launcher = capsys.readouterr().out
    assert cli.main(["--help"], prog="python3 course.py") == 0
    assert capsys.readouterr().out == launcher
    for c in cli.COMMANDS:
        assert f"python3 course.py {c.name}" in launcher, c.name
    assert set(cli.HANDLERS) == {c.name for c in cli.COMMANDS}


def test_every_command_is_documented_for_its_reader():
    """The student commands in the README; every command in the instructors' guide or there."""
    from course_utils.tooling import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guide = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    students = [c.name for c in cli.COMMANDS if c.who == "student"]
    assert students and not [n for n in students if f"course.py {n}" not in readme], students
    missing = [c.name for c in cli.COMMANDS if f"course.py {c.name}" not in readme + guide]
    assert not missing, f"neither README.md nor INSTRUCTORS.md shows: {missing}"


def test_unknown_command_says_so_and_lists_the_commands(course, capsys):
    assert course.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err and "python3 course.py lab" in err


def test_student_commands_need_only_the_standard_library():
    """course.py runs update, fresh and progress from cli.py loaded by path: nothing
    outside the standard library may be imported on the way (python -S: no site-packages)."""
    import subprocess

    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('course_cli', {str(ROOT / 'src/course_utils/tooling/cli.py')!r})\n"
            "m = importlib.util.module_from_spec(spec); sys.modules['course_cli'] = m\n"
            "spec.loader.exec_module(m)\n"
            "m._sibling('student.update'); m._sibling('student.progress')\n"
            "print(m.help_text().splitlines()[0])\n"
            "bad = [k for k in sys.modules if k.split('.')[0] in ('numpy', 'torch', 'nbformat')]\n"
            "print('third-party:', bad)\n")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage: python3 course.py <command>" in out.stdout
    assert "third-party: []" in out.stdout


def test_the_console_script_says_what_to_do_without_the_instructor_tools(monkeypatch, capsys):
    from course_utils.tooling import cli

    monkeypatch.setattr(cli, "missing_instructor_tools", lambda: ["nbgrader"])
    assert cli.main(["grade", "submitted/"]) == 2
    err = capsys.readouterr().err
    assert "instructor command" in err and "python3 course.py grade" in err
    assert "nbgrader" in err
    assert cli.main(["test"]) == 2  # environments are course.py's job
    assert "python3 course.py test" in capsys.readouterr().err


def test_the_console_script_finds_the_course_folder(tmp_path, monkeypatch):
    from course_utils.tooling import cli

    assert cli.course_root() == ROOT  # this checkout (an editable install)
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages/course_utils/tooling/cli.py"))
    monkeypatch.chdir(tmp_path)
    assert cli.course_root() is None
    (tmp_path / "c" / "solutions").mkdir(parents=True)
    (tmp_path / "c" / "course.py").write_text("")
    (tmp_path / "c" / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "c" / "notebooks")
    assert cli.course_root() == tmp_path / "c"


# ---------------------------------------------------------------------------------------
# Which Pythons, and where torch comes from
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [(3, 11, 7), (3, 12, 1), (3, 13, 0), (3, 14, 0)])
def test_every_tested_python_is_accepted(course, version):
    assert course.python_problem(version) is None


@pytest.mark.parametrize("version", [(3, 10, 13), (3, 15, 0), (2, 7, 18)])
def test_another_python_gets_one_line_naming_the_versions_that_work(course, version):
    line = course.python_problem(version)
    assert line and "\n" not in line
    assert "3.11 to 3.14" in line and f"Python {version[0]}.{version[1]}" in line


def test_the_launcher_stops_on_another_python_before_doing_anything(course, monkeypatch, capsys):
    monkeypatch.setattr(course.sys, "version_info", (3, 10, 13, "final", 0))
    monkeypatch.setattr(course, "_cli", lambda: pytest.fail("must stop before loading the CLI"))
    assert course.main(["lab"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Python 3.10" in err and "3.11 to 3.14" in err


def test_the_tested_pythons_are_the_readme_s_and_the_matrix_s(course):
    import yaml

    (lo_major, lo), (hi_major, hi) = course.PYTHONS
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Python {lo_major}.{lo} to {hi_major}.{hi}" in readme
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text())
    rows = wf["jobs"]["test"]["strategy"]["matrix"]["include"]
    tested = {str(r["python"]) for r in rows}
    assert tested == {f"{lo_major}.{m}" for m in range(lo, hi + 1)}


@pytest.mark.parametrize("system, cuda, cpu_index", [
    ("Linux", False, True), ("Linux", True, False),
    ("Darwin", False, False), ("Windows", False, False), ("Windows", True, False),
])
def test_pip_command_for_torch_per_platform(course, system, cuda, cpu_index):
    """Linux takes the CPU build from PyTorch's CPU index (added to the configured index,
    with a short time-out); macOS and Windows, and --cuda, use the configured index."""
    pin = course._torch_pin()
    assert pin.startswith("torch==") and "+" not in pin
    index = course.torch_index(system, cuda=cuda)
    args = course.torch_pip_args(pin, index)
    assert args[-3:] == ["-c", str(course.CONSTRAINTS), pin]
    if cpu_index:
        assert index == "https://download.pytorch.org/whl/cpu"
        assert args[:2] == ["--extra-index-url", index]
        assert args[args.index("--timeout") + 1] == "15" and "--retries" in args
        assert "--index-url" not in args  # torch's own needs still come from the configured one
    else:
        assert index is None and args == ["-c", str(course.CONSTRAINTS), pin]


def test_cuda_is_asked_for_by_flag_or_environment(course, monkeypatch):
    assert course.wants_cuda({"COURSE_TORCH": "cuda"}) and course.wants_cuda({"COURSE_TORCH": "CUDA "})
    assert not course.wants_cuda({}) and not course.wants_cuda({"COURSE_TORCH": "cpu"})
    seen = {}

    class StopAtTheCommandLine:
        def command_of(self, argv, prog):
            seen["COURSE_TORCH"], seen["name"] = course.os.environ.get("COURSE_TORCH"), argv[0]
            raise SystemExit(0)

    monkeypatch.delenv("COURSE_TORCH", raising=False)
    monkeypatch.setattr(course, "_cli", StopAtTheCommandLine)
    with pytest.raises(SystemExit):
        course.main(["lab", "--cuda"])
    assert seen == {"COURSE_TORCH": "cuda", "name": "lab"}
    monkeypatch.delenv("COURSE_TORCH", raising=False)


def test_an_unreachable_cpu_index_falls_back_in_one_line(course, monkeypatch):
    calls, lines = [], []
    monkeypatch.setattr(course, "_run", lambda cmd, **kw: calls.append([str(c) for c in cmd]))
    monkeypatch.setattr(course, "index_reachable", lambda url, seconds=5: "URLError: no DNS")
    used = course.install_torch(["pip", "install"], cuda=False, log=lines.append)
    if course.torch_index(cuda=False) is None:  # not Linux: nothing to fall back from
        assert used == "configured" and not lines
        return
    assert used == "configured" and len(calls) == 1 and "--extra-index-url" not in calls[0]
    assert len(lines) == 1 and "\n" not in lines[0] and "no DNS" in lines[0]
    assert "configured index" in lines[0]


def test_a_failing_cpu_index_install_falls_back_and_a_switch_reinstalls(course, monkeypatch):
    calls, lines = [], []

    def run(cmd, **kw):
        calls.append([str(c) for c in cmd])
        if "--extra-index-url" in calls[-1]:
            raise course.subprocess.CalledProcessError(1, cmd)

    monkeypatch.setattr(course, "_run", run)
    monkeypatch.setattr(course, "index_reachable", lambda url, seconds=5: None)
    monkeypatch.setattr(course.platform, "system", lambda: "Linux")
    assert course.install_torch(["pip"], cuda=False, reinstall=True, log=lines.append) == "configured"
    assert len(calls) == 2 and all("--force-reinstall" in c for c in calls)
    assert len(lines) == 1 and "exited with 1" in lines[0]


def test_the_probe_of_an_index_that_never_answers_gives_up_in_seconds(course):
    """A server that accepts the connection and never answers (a stuck proxy) costs the
    probe's time-out, not pip's minutes of retries; a closed port answers at once."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        why = course.index_reachable(f"http://127.0.0.1:{port}/whl/cpu", seconds=1)
        assert why and "timed out" in why, why  # its own time-out ended it, not a retry loop
    why = course.index_reachable(f"http://127.0.0.1:{port}/whl/cpu", seconds=1)
    assert why and "refused" in why, why
