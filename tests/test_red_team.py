"""Red-team suite of the grader (issue 22): submissions of notebook 01 with otherwise empty
or wrong work that attack the grader. Each must score 0 or be flagged for review under
``course grade`` (called through the grader's Python entry point, as the grading tests do),
and none may change another submission's grade.

An attack the grader does not stop yet is marked ``xfail(strict=True)`` with the reason, so
the day it is stopped the mark must go (and the threat model be updated).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
import pytest
from grading_students import FWD, NAME, STEP, _cell, load

from course_utils.tooling import grading, sandbox

ROOT = Path(__file__).resolve().parents[1]
SEED = 4242
pytestmark = pytest.mark.slow

needs_namespaces = pytest.mark.skipif(not sandbox.can_hide(),
                                      reason="needs Linux user namespaces (unshare)")


@pytest.fixture(scope="module")
def nb01():
    return load()


def _save(folder: Path, student: str, nb) -> Path:
    (folder / student).mkdir(parents=True, exist_ok=True)
    path = folder / student / NAME
    nbformat.write(nb, str(path))
    return path


def _added(stu, source: str, *, after: str = FWD):
    """The student notebook with a code cell the student added after ``after``'s cell."""
    nb = copy.deepcopy(stu)
    i = nb.cells.index(_cell(nb, after))
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(source))
    return nb


def _grade(folder: Path, **kw) -> dict:
    res = grading.grade([folder], seeds=[SEED], timeout=120, cell_timeout=60, **kw)
    return {r.student: r for r in res}


# ---------------------------------------------------------------------------------------
# Cross-submission writes
# ---------------------------------------------------------------------------------------
# An added cell that, for 25 s, rewrites every file it can find under the grader's
# temporary folders and the other submissions: job files get 50 points per exercise and a
# notebook path of its choosing (the honest solution it plants), result files full marks,
# notebooks the honest solution.
_REWRITE_EVERYTHING = r'''
import json, os, tempfile, time
_HONEST = "@HONEST@"
_TARGETS = "@TARGETS@"

def _forge(path):
    name = os.path.basename(path)
    try:
        if name.endswith(".ipynb"):
            open(path, "w").write(_HONEST)
            return
        try:
            data = json.load(open(path))
        except Exception:
            data = None
        if isinstance(data, dict):
            for key in ("entries", "exercises"):
                for e in data.get(key) or []:
                    if isinstance(e, dict):
                        e["points"] = e["max_points"] = 50
                        e["status"] = "pass"
            if "path" in data:
                planted = os.path.join(os.path.dirname(path), "planted.ipynb")
                open(planted, "w").write(_HONEST)
                data["path"] = planted
            open(path, "w").write(json.dumps(data))
        else:
            open(path, "w").write("x")
    except Exception:
        pass

def _tops():
    for tmp in {tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"}:
        try:
            for d in os.listdir(tmp):
                if d.startswith(("course-", "tmp")):  # the grader's and Python's folders
                    yield os.path.join(tmp, d)
        except OSError:
            pass
    yield from _TARGETS

_end = time.monotonic() + 25
while time.monotonic() < _end:
    for top in _tops():
        for dirpath, dirnames, filenames in os.walk(top):
            for f in filenames:
                _forge(os.path.join(dirpath, f))
    time.sleep(0.005)
'''


@needs_namespaces
def test_no_submission_changes_another_s_grade(tmp_path, nb01):
    sol, stu = nb01
    folder = tmp_path / "submitted"
    # Two at a time: the attacker (aaron) runs while adam is graded, then bob, the
    # submission graded next; both are empty and must stay at 0.
    _save(folder, "adam", copy.deepcopy(stu))
    victim = _save(folder, "bob", copy.deepcopy(stu))
    before = victim.read_bytes()
    honest = nbformat.writes(sol)
    src = (_REWRITE_EVERYTHING.replace('"@HONEST@"', repr(honest))
           .replace('"@TARGETS@"', repr([str(folder), str(tmp_path)])))
    compile(src, "attack", "exec")
    _save(folder, "aaron", _added(stu, src))
    got = _grade(folder, jobs=2)
    for student in ("adam", "bob", "aaron"):
        assert got[student].total == 0 and got[student].max_total == 5, got[student]
    for student in ("adam", "bob"):
        assert [e.status for e in got[student].exercises] == ["not attempted"] * 2, got[student]
    assert victim.read_bytes() == before
    assert not any(p.name == "planted.ipynb" for p in tmp_path.rglob("*"))
