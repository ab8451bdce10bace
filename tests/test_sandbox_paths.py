"""The allow-list sandbox wherever the course lives (issue 29 item 3): bubblewrap's view
(:func:`course_utils.tooling.grading.sandbox_view.bwrap_view`) gives the code a fresh ``/tmp``, so
a course (and its ``.venv-dev``) checked out under ``/tmp``, or on a path with spaces,
must still be bound into it. The clone is this working tree seen at another path: a bind
mount inside a user and mount namespace of the test's own (util-linux ``unshare``), so its
Python runs with ``sys.prefix`` under ``/tmp``, in a folder whose name has spaces.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from grading_students import NAME

from course_utils.tooling.grading import sandbox_view

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-dev"

needs_bwrap = pytest.mark.skipif(
    not (sandbox_view.can_bwrap() and sandbox_view.can_hide() and VENV.is_dir()),
    reason="needs bubblewrap, Linux user namespaces and the course's .venv-dev")


def _in_clone_at(clone: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``script`` (a shell command line, ``"$@"`` its arguments) in a mount namespace
    where this working tree is also at ``clone``, from ``clone``."""
    clone.mkdir(parents=True)
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           'mount --bind "$0" "$1" && cd "$1" && shift && ' + script,
                           str(ROOT), str(clone), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@needs_bwrap
def test_a_clone_under_tmp_on_a_path_with_spaces_grades_in_bubblewrap(tmp_path):
    assert str(tmp_path).startswith("/tmp/") or pytest.skip("the temporary folder is not /tmp")
    clone = tmp_path / "my course clone"
    sub = tmp_path / "submitted" / "ann"
    sub.mkdir(parents=True)
    shutil.copyfile(ROOT / "notebooks" / NAME, sub / NAME)  # nothing answered: quick
    probe = ("import sys\nfrom course_utils.tooling.grading import sandbox_view as v\n"
             "print(sys.prefix)\nprint(v.view())\nprint(v.bwrap_problem())\n")
    r = _in_clone_at(clone, '.venv-dev/bin/python -c "$1" && '
                     '.venv-dev/bin/python -m course_utils grade "$2" --only 01 --heldout 0 '
                     '--out "$3"', probe, str(sub.parent), str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr[-2000:]
    prefix, view, problem = r.stdout.splitlines()[:3]
    assert prefix == str(clone / ".venv-dev")  # the clone's Python, under /tmp
    assert (view, problem) == ("bwrap", "None"), r.stdout
    assert "warning: no bubblewrap" not in r.stderr, r.stderr
    report = (tmp_path / "out" / "report.html").read_text()
    assert "bubblewrap: an allow-list view of the disk" in report
    grades = json.loads((tmp_path / "out" / "grades.json").read_text())
    assert len(grades["submissions"] if isinstance(grades, dict) else grades) == 1


def test_the_view_mounts_a_fresh_tmp_before_what_it_binds(tmp_path):
    """The tmpfs over /tmp comes before every bind (a bind under /tmp stays visible)."""
    cmd = sandbox_view.bwrap_view(tmp_path)
    tmp = cmd.index("/tmp", cmd.index("--tmpfs"))
    assert cmd[tmp - 1] == "--tmpfs"
    binds = [i for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind", "--ro-bind-try")]
    assert binds and tmp < min(binds)
    assert cmd.count("/tmp") == 1  # the fresh /tmp, nothing else there


def test_bwrap_s_failure_is_said_in_one_line(monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("COURSE_NO_BWRAP", raising=False)
    sandbox_view.bwrap_problem.cache_clear()
    try:
        why = sandbox_view.bwrap_problem()
        warning = sandbox_view.bwrap_warning()
    finally:
        sandbox_view.bwrap_problem.cache_clear()
    assert why == "bwrap could not run Python here: bwrap: setting up uid map: Permission denied"
    assert "\n" not in warning and why in warning
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    try:
        assert "not installed" in sandbox_view.bwrap_warning()
        assert "install bubblewrap" in sandbox_view.bwrap_warning()
    finally:
        sandbox_view.bwrap_problem.cache_clear()
