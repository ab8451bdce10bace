"""Updating the course never loses a student's work (``course.py update`` / ``fresh``).

Every test builds, in ``tmp_path``, an "author" repository with a small course (two
generated notebooks, a helper module, ``course.py`` and ``update.py`` copied from this
checkout), a bare "upstream" clone of it, and a "student" clone of the upstream. The
student edits; the author changes the course and pushes; the student updates.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.tooling.publish import build, editions
from course_utils.tooling.student import update, update_plan


def _notebook_status(path: Path) -> str:
    """'missing', 'generated' or 'edited', as ``course update`` classifies a student's
    notebook (``update.content_status`` of its bytes)."""
    path = Path(path)
    return update.content_status(path.read_bytes() if path.exists() else None)

ROOT = Path(__file__).resolve().parents[1]
NB01 = "notebooks/01_unrolling_an_rnn.ipynb"
NB02 = "notebooks/02_second.ipynb"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _git_identity(monkeypatch, tmp_path):
    for k in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{k}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{k}_EMAIL", "test@example.org")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # No Jupyter server of this machine's can count as running on a test's course.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def generated(nb) -> str:
    """Serialise ``nb`` as the generator does, with a fresh sources hash."""
    nb = copy.deepcopy(nb)
    nb.metadata.setdefault("course", {})["sources_sha256"] = editions.sources_hash(nb)
    return build.dumps(nb)


def base_notebook():
    return nbformat.read(str(ROOT / NB01), as_version=4)


def write(repo: Path, rel: str, text: str) -> None:
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text(text)


def author_edit(repo: Path, rel: str, marker: str) -> str:
    """The author changes a notebook's first markdown cell and regenerates it."""
    nb = nbformat.read(str(repo / rel), as_version=4)
    md = next(c for c in nb.cells if c.cell_type == "markdown")
    md.source += f"\n\n{marker}"
    text = generated(nb)
    write(repo, rel, text)
    return text


def student_answer(repo: Path, rel: str = NB01) -> bytes:
    """The student answers the first exercise (edits a solution cell) and saves."""
    nb = nbformat.read(str(repo / rel), as_version=4)
    cell = next(c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("solution"))
    cell.source = cell.source.replace("raise NotImplementedError()", "return 42  # my answer")
    assert "my answer" in cell.source
    nbformat.write(nb, str(repo / rel))
    return (repo / rel).read_bytes()


@pytest.fixture
def course(tmp_path):
    """(author, student) repositories; the student cloned the course as published."""
    author = tmp_path / "author"
    author.mkdir()
    git(author, "init", "-q", "-b", "main")
    nb = base_notebook()
    write(author, NB01, generated(nb))
    nb2 = copy.deepcopy(nb)
    nb2.cells[0].source = "# 02 · A second notebook"
    write(author, NB02, generated(nb2))
    write(author, "src/course_utils/maths/rnn.py", "def f():\n    return 1\n")
    for name in ("student/update.py", "student/update_plan.py", "student/update_io.py",
                 "student/update_undo.py", "student/__init__.py", "cli.py",
                 "student/progress.py", "exercise_cells.py", "course_files.py",
                 "student/copies.py"):
        write(author, f"src/course_utils/tooling/{name}",
              (ROOT / "src/course_utils/tooling" / name).read_text())
    write(author, "src/course_utils/status.py", (ROOT / "src/course_utils/status.py").read_text())
    write(author, "course.py", (ROOT / "course.py").read_text())
    write(author, "README.md", "# course\n")
    git(author, "add", "-A")
    git(author, "commit", "-q", "-m", "course v1")
    git(tmp_path, "clone", "-q", "--bare", str(author), "upstream.git")
    git(author, "remote", "add", "origin", str(tmp_path / "upstream.git"))
    git(author, "fetch", "-q", "origin")
    git(author, "branch", "-q", "--set-upstream-to", "origin/main")
    git(tmp_path, "clone", "-q", str(tmp_path / "upstream.git"), "student")
    return author, tmp_path / "student"


def publish(author: Path, message: str = "course v2") -> str:
    git(author, "add", "-A")
    git(author, "commit", "-q", "-m", message)
    git(author, "push", "-q", "origin", "main")
    return git(author, "rev-parse", "HEAD").strip()


def run_update(student: Path):
    return update.update(student, log=lambda *a: None)


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------
def test_hash_and_names_match_the_generator():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        raw = json.loads(path.read_text())
        assert update.sources_hash(raw) == editions.sources_hash(nb), path.name
        assert _notebook_status(path) == build.student_status(path), path.name
    assert update.NB_NAME.pattern == build.NB_NAME.pattern
    for side in ("01_unrolling_an_rnn.updated.ipynb", "01_unrolling_an_rnn.fresh.ipynb",
                 "01_unrolling_an_rnn.fresh2.ipynb"):
        assert not build.NB_NAME.match(side)  # ignored by the build and the tests


def test_update_keeps_the_students_edits(course):
    author, student = course
    mine = student_answer(student)
    v2_01 = author_edit(author, NB01, "New paragraph from the course.")
    v2_02 = author_edit(author, NB02, "Also changed.")
    write(author, "notebooks/03_third.ipynb", generated(base_notebook()))
    new_head = publish(author)

    rep = run_update(student)

    assert git(student, "rev-parse", "HEAD").strip() == new_head  # fast-forwarded, no commit
    assert (student / NB01).read_bytes() == mine                   # the edits are still there
    assert "my answer" in (student / NB01).read_text()
    side = student / "notebooks/01_unrolling_an_rnn.updated.ipynb"
    assert side.read_text() == v2_01                               # the new version next to it
    assert (student / NB02).read_text() == v2_02                   # untouched ones are updated
    assert (student / "notebooks/03_third.ipynb").exists()
    assert rep.kept == [(NB01, "notebooks/01_unrolling_an_rnn.updated.ipynb")]
    assert git(student, "stash", "list") == ""                     # nothing stashed
    status = git(student, "status", "--porcelain")
    assert f" M {NB01}" in status and "?? notebooks/01_unrolling_an_rnn.updated.ipynb" in status
    backup = Path(rep.backup) / NB01
    assert backup.read_bytes() == mine and ".git" in backup.parts  # a copy, never committed


def test_update_twice_and_edited_side_file(course):
    author, student = course
    mine = student_answer(student)
    author_edit(author, NB01, "v2")
    publish(author, "v2")
    run_update(student)
    side = student / "notebooks/01_unrolling_an_rnn.updated.ipynb"
    assert run_update(student).up_to_date                          # a second run changes nothing
    assert (student / NB01).read_bytes() == mine

    # The student started answering in the .updated copy; the course changes again.
    student_answer(student, "notebooks/01_unrolling_an_rnn.updated.ipynb")
    side_mine = side.read_bytes()
    v3 = author_edit(author, NB01, "v3")
    publish(author, "v3")
    rep = run_update(student)
    assert (student / NB01).read_bytes() == mine
    assert side.read_bytes() == side_mine                          # not overwritten
    side2 = student / "notebooks/01_unrolling_an_rnn.updated2.ipynb"
    assert side2.read_text() == v3
    assert rep.kept == [(NB01, "notebooks/01_unrolling_an_rnn.updated2.ipynb")]


def test_run_only_notebook_is_replaced_and_other_files_kept_as_mine(course):
    author, student = course
    # The student only ran 02 (outputs and counts change, sources do not) …
    nb = nbformat.read(str(student / NB02), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.execution_count = 1
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(nb, str(student / NB02))
    # … edited a helper module and created a notebook of their own.
    write(student, "src/course_utils/maths/rnn.py", "def f():\n    return 2  # mine\n")
    write(student, "notebooks/my_notes.ipynb", "{}")
    v2 = author_edit(author, NB02, "v2")
    write(author, "src/course_utils/maths/rnn.py", "def f():\n    return 3  # course v2\n")
    publish(author)

    rep = run_update(student)
    assert (student / NB02).read_text() == v2
    assert rep.replaced == [NB02]
    assert (student / "src/course_utils/maths/rnn.py").read_text().endswith("# course v2\n")
    assert (student / "src/course_utils/maths/rnn.mine.py").read_text().endswith("# mine\n")
    assert (student / "notebooks/my_notes.ipynb").read_text() == "{}"


def test_notebook_added_upstream_where_the_student_has_one(course):
    author, student = course
    write(student, "notebooks/03_third.ipynb", '{"mine": true}')
    added = generated(base_notebook())
    write(author, "notebooks/03_third.ipynb", added)
    publish(author)
    run_update(student)
    assert (student / "notebooks/03_third.ipynb").read_text() == '{"mine": true}'
    assert (student / "notebooks/03_third.updated.ipynb").read_text() == added


def test_update_refuses_when_the_student_committed_and_its_advice_keeps_their_files(course):
    author, student = course
    mine = student_answer(student)
    write(student, "notes/mine.md", "my notes\n")
    git(student, "add", "-A")
    git(student, "commit", "-q", "-m", "my work")
    write(student, "src/course_utils/maths/rnn.py", "def f():\n    return 2  # uncommitted\n")
    head = git(student, "rev-parse", "HEAD").strip()
    status = git(student, "status", "--porcelain")
    v2 = author_edit(author, NB01, "v2")
    write(author, "src/course_utils/maths/rnn.py", "def f():\n    return 3  # course v2\n")
    new_head = publish(author)
    with pytest.raises(update.UpdateError, match="commit") as err:
        run_update(student)
    assert git(student, "rev-parse", "HEAD").strip() == head      # nothing changed
    assert (student / NB01).read_bytes() == mine
    assert git(student, "status", "--porcelain") == status

    # Follow the advice to the letter: the commands it prints, in order.
    commands = [ln.strip() for ln in str(err.value).splitlines() if ln.startswith("    ")]
    assert [c.split()[:2] for c in commands] == [["git", "branch"], ["git", "reset"],
                                                  ["python3", "course.py"]]
    for cmd in commands[:2]:
        git(student, *shlex.split(cmd)[1:])
        assert (student / NB01).read_bytes() == mine               # in place at every step
        assert (student / "notes/mine.md").read_text() == "my notes\n"
    out = subprocess.run([sys.executable, "-S", *shlex.split(commands[2])[1:]], cwd=student,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert git(student, "rev-parse", "HEAD").strip() == new_head
    assert (student / NB01).read_bytes() == mine
    assert (student / "notebooks/01_unrolling_an_rnn.updated.ipynb").read_text() == v2
    assert (student / "notes/mine.md").read_text() == "my notes\n"
    assert (student / "src/course_utils/maths/rnn.mine.py").read_text().endswith("# uncommitted\n")
    assert git(student, "rev-parse", "my-work").strip() == head     # the commits are kept


def test_fresh_copy_next_to_the_edited_notebook(course):
    _, student = course
    mine = student_answer(student)
    published = git(student, "show", f"HEAD:{NB01}")
    side = update.fresh(student, "01", log=lambda *a: None)
    assert side == student / "notebooks/01_unrolling_an_rnn.fresh.ipynb"
    assert side.read_text() == published
    assert (student / NB01).read_bytes() == mine
    assert update.fresh(student, "01", log=lambda *a: None) == side  # pristine: reused
    student_answer(student, side.relative_to(student).as_posix())  # now it holds work
    side2 = update.fresh(student, "01", log=lambda *a: None)
    assert side2.name == "01_unrolling_an_rnn.fresh2.ipynb" and side2.read_text() == published
    nb = nbformat.read(str(side2), as_version=4)                    # only run: still not reused
    next(c for c in nb.cells if c.cell_type == "code").outputs = [
        nbformat.v4.new_output("stream", text="ran\n")]
    nbformat.write(nb, str(side2))
    ran = side2.read_bytes()
    side3 = update.fresh(student, "01", log=lambda *a: None)
    assert side3.name == "01_unrolling_an_rnn.fresh3.ipynb" and side2.read_bytes() == ran
    with pytest.raises(update.UpdateError):
        update.fresh(student, "99")


def test_course_py_update_and_fresh_need_only_the_standard_library(course):
    author, student = course
    mine = student_answer(student)
    author_edit(author, NB01, "v2")
    publish(author)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -S: no site-packages at all, as on a fresh machine before any environment exists.
    out = subprocess.run([sys.executable, "-S", "course.py", "update"], cwd=student, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "kept your notebooks/01_unrolling_an_rnn.ipynb" in out.stdout
    assert (student / NB01).read_bytes() == mine
    out = subprocess.run([sys.executable, "-S", "course.py", "fresh", "02"], cwd=student,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (student / "notebooks/02_second.fresh.ipynb").exists()


def test_update_outside_git_explains(tmp_path):
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(update.UpdateError, match="not a git checkout"):
        update.update(tmp_path, log=lambda *a: None)


# ---------------------------------------------------------------------------------------
# The update is a transaction
# ---------------------------------------------------------------------------------------
SIDE01 = "notebooks/01_unrolling_an_rnn.updated.ipynb"


def state(repo: Path):
    """Every file outside .git (bytes, executable bit), every folder, HEAD, the index and
    git status."""
    files, dirs = {}, set()
    for p in sorted(repo.rglob("*")):
        rel = p.relative_to(repo)
        if rel.parts[0] == ".git":
            continue
        if p.is_file() or p.is_symlink():
            files[rel.as_posix()] = (p.read_bytes(), os.access(p, os.X_OK))
        else:
            dirs.add(rel.as_posix())
    return (files, dirs, git(repo, "rev-parse", "HEAD"), git(repo, "ls-files", "-s"),
            git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"))


def rich_update(course):
    """A student who did everything at once; then the course changes all of it.

    Returns (student, the student's own bytes by path, the run-only ones)."""
    author, student = course
    write(author, ".gitignore", "scratch/\n")
    write(author, "src/course_utils/extra.py", "X = 1\n")
    write(author, "old.txt", "course v1\n")
    publish(author, "v1.1")
    git(student, "pull", "-q")
    student_answer(student)                                        # edited notebook
    nb = nbformat.read(str(student / NB02), as_version=4)          # a notebook only run
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.execution_count, code.outputs = 1, [nbformat.v4.new_output("stream", text="ran\n")]
    nbformat.write(nb, str(student / NB02))
    # a run-only .updated side file from an earlier update: its name will be reused
    nbformat.write(nb, str(student / SIDE01))
    write(student, "src/course_utils/maths/rnn.py", "def f():\n    return 2  # mine\n")
    os.chmod(student / "src/course_utils/maths/rnn.py", 0o755)
    write(student, "notebooks/03_third.ipynb", '{"mine": true}')   # untracked, course adds it
    write(student, "scratch/notes.txt", "my notes, ignored by git\n")  # course starts tracking
    (student / "src/course_utils/extra.py").unlink()               # deleted, course changes it
    write(student, "old.txt", "my edit\n")                         # edited, course removes it
    write(student, "README.md", "# course\nmy staged line\n")      # staged, course leaves it
    git(student, "add", "README.md")

    author_edit(author, NB01, "v2")
    author_edit(author, NB02, "v2")
    write(author, "src/course_utils/maths/rnn.py", "def f():\n    return 3  # course v2\n")
    write(author, "notebooks/03_third.ipynb", generated(base_notebook()))
    write(author, "scratch/notes.txt", "course notes\n")
    git(author, "add", "-f", "scratch/notes.txt")
    write(author, "src/course_utils/extra.py", "X = 2\n")
    (author / "old.txt").unlink()
    write(author, "data/new/tiny.txt", "a new folder\n")
    publish(author)
    v1 = {p: git(student, "show", f"HEAD:{p}") for p in git(student, "ls-files").split()}
    files = state(student)[0]
    own = {p: data for p, (data, _) in files.items() if v1.get(p, "").encode() != data}
    run_only = {p for p in own if p.endswith(".ipynb") and _notebook_status(student / p)
                == "generated"}
    return student, own, run_only


def assert_nothing_lost(student: Path, own: dict, run_only: set, backup: Path):
    """Every byte the student wrote is in the working tree; a run-only notebook's outputs
    (replaced by the new version) are in the backup."""
    everywhere = {data for data, _ in state(student)[0].values()}
    for rel, data in own.items():
        if rel in run_only:
            assert (backup / rel).read_bytes() == data, rel
        else:
            assert data in everywhere, rel


def clone_of(student: Path, dest: Path) -> Path:
    shutil.copytree(student, dest, symlinks=True)
    return dest


class Boom(Exception):
    pass


def test_the_plan_is_pure_and_backs_up_before_reusing_a_side_file():
    nb = json.loads(generated(base_notebook()))
    mine = json.dumps({**nb, "cells": nb["cells"][1:]}).encode()        # edited
    run_only = json.dumps({**nb, "metadata": {**nb["metadata"], "x": 1}}).encode()
    new = json.dumps({**nb, "cells": nb["cells"][2:]}).encode()
    changed = {"n/01_a.ipynb": (True, True), "n/02_b.ipynb": (True, True), "a.py": (True, True),
               "gone.txt": (True, False), "del.py": (True, True), "same.py": (True, True),
               "clean.py": (True, True)}
    local = {"n/01_a.ipynb": mine, "n/02_b.ipynb": run_only, "a.py": b"mine", "gone.txt": b"g",
             "del.py": None, "same.py": b"new"}
    theirs = {"n/01_a.ipynb": new, "n/02_b.ipynb": new, "a.py": b"new", "gone.txt": None,
              "del.py": b"x", "same.py": b"new"}
    siblings = {"n/01_a.updated.ipynb": run_only, "a.mine.py": b"other work"}
    args = (changed, local, theirs, siblings, {"a.mine2.py"})
    plan = update_plan.make_plan(*args)
    assert plan == update_plan.make_plan(*copy.deepcopy(args))
    A = update_plan.Action
    # a.mine.py holds other work and a.mine2.py is the course's: a.mine3.py.
    # n/01_a.updated.ipynb was only run: reused, and backed up first.
    assert plan.actions == [A("revert", p) for p in sorted(local)] + [
        A("fast_forward"),
        A("write_mine", "a.py", "a.mine3.py"),
        A("write_mine", "gone.txt", "gone.txt"),
        A("write_new", "n/01_a.ipynb", "n/01_a.updated.ipynb"),
        A("write_mine", "n/01_a.ipynb", "n/01_a.ipynb")]
    assert plan.backup == ["a.py", "gone.txt", "n/01_a.ipynb", "n/01_a.updated.ipynb",
                           "n/02_b.ipynb", "same.py"]
    assert plan.touched == sorted(set(changed) | {"a.mine3.py", "n/01_a.updated.ipynb"})
    assert (plan.kept, plan.replaced, plan.orphaned, plan.restored) == (
        [("n/01_a.ipynb", "n/01_a.updated.ipynb")], ["n/02_b.ipynb"], ["gone.txt"], ["del.py"])


def test_a_rich_update_keeps_every_byte_and_backs_up_first(course):
    student, own, run_only = rich_update(course)
    lines = []
    rep = update.update(student, log=lines.append)
    assert lines[1].startswith("Backup of your files before anything changes: ")
    assert Path(rep.backup).name in lines[1]
    assert_nothing_lost(student, own, run_only, Path(rep.backup))
    assert (student / "scratch/notes.txt").read_text() == "course notes\n"
    assert (student / "scratch/notes.mine.txt").read_text() == "my notes, ignored by git\n"
    assert (student / SIDE01).read_bytes() != own[SIDE01]          # reused, after a backup:
    assert (Path(rep.backup) / SIDE01).read_bytes() == own[SIDE01]
    assert os.access(student / "src/course_utils/maths/rnn.mine.py", os.X_OK) is False
    assert git(student, "diff", "--cached", "--name-only").split() == ["README.md"]
    assert rep.restored == ["src/course_utils/extra.py"] and rep.orphaned == ["old.txt"]
    assert not (student / ".git" / update.MARKER).exists()


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_a_failure_between_any_two_actions_changes_nothing(course, tmp_path, exc):
    student, own, run_only = rich_update(course)
    before = state(student)
    steps = []
    update.update(clone_of(student, tmp_path / "count"), log=lambda *a: None,
                  on_step=lambda i, a: steps.append(a))
    assert steps[-1] is None and len(steps) > 10
    for k in range(len(steps)):
        repo = clone_of(student, tmp_path / f"k{k}")

        def fail(i, action, k=k):
            if i == k:
                raise exc(f"injected before step {k}: {action}")
        with pytest.raises(exc):
            update.update(repo, log=lambda *a: None, on_step=fail)
        assert state(repo) == before, f"step {k}: {steps[k]}"
        assert not (repo / ".git" / update.MARKER).exists()
    rep = run_update(repo)                                         # and then it works
    assert_nothing_lost(repo, own, run_only, Path(rep.backup))


def test_killed_between_any_two_actions_the_next_run_puts_everything_back(
        course, tmp_path, monkeypatch):
    student, own, run_only = rich_update(course)
    before = state(student)
    rollback = update._rollback
    for k in range(100):
        repo = clone_of(student, tmp_path / f"k{k}")
        monkeypatch.setattr(update, "_rollback", lambda *a: None)  # the process is gone

        def kill(i, action, k=k, repo=repo):
            if i == k:
                if action is not None and action.kind == "fast_forward":
                    (repo / ".git" / "index.lock").touch()  # as a killed `git merge` leaves
                raise Boom("killed")
        try:
            update.update(repo, log=lambda *a: None, on_step=kill)
            break                                                  # k is past the last step
        except Boom:
            pass
        assert (repo / ".git" / update.MARKER).exists()
        monkeypatch.setattr(update, "_rollback", rollback)
        lines = []
        assert update.recover(repo, log=lines.append)
        assert "was interrupted" in lines[0] and "back as they were" in lines[-1]
        assert state(repo) == before, f"killed before step {k}"
        assert not (repo / ".git" / "index.lock").exists()
    else:
        pytest.fail("the update never finished")
    monkeypatch.setattr(update, "_rollback", rollback)
    assert k > 10


def test_recovery_keeps_work_done_after_the_crash(course, monkeypatch):
    student, own, _ = rich_update(course)
    monkeypatch.setattr(update, "_rollback", lambda *a: None)

    def kill(i, action):
        if action is not None and action.kind == "write_new":      # after the fast-forward
            raise Boom("killed")
    with pytest.raises(Boom):
        update.update(student, log=lambda *a: None, on_step=kill)
    monkeypatch.undo()
    # The student reopened notebook 01 (now the course's version) and saved new work in it.
    (student / NB01).write_text((student / NB01).read_text().replace("v2", "v2 + later work"))
    later = (student / NB01).read_bytes()
    lines = []
    rep = update.update(student, log=lines.append)
    assert rep.recovered and "was interrupted" in lines[0]
    assert (student / "notebooks/01_unrolling_an_rnn.found.ipynb").read_bytes() == later
    assert any("had changed during or after the update" in ln for ln in lines)
    assert (student / NB01).read_bytes() == own[NB01]


def test_a_file_saved_during_the_update_stops_it_and_is_kept(course):
    """As if JupyterLab autosaved notebook 01 (update --force) while the update ran."""
    student, own, _ = rich_update(course)
    before = state(student)
    later = own[NB01].replace(b"my answer", b"my later answer")

    def autosave(i, action):
        if i == 0:
            (student / NB01).write_bytes(later)
    with pytest.raises(update.UpdateError, match="changed during the update"):
        update.update(student, log=lambda *a: None, on_step=autosave)
    after = state(student)
    assert after[0].pop("notebooks/01_unrolling_an_rnn.found.ipynb")[0] == later
    assert after[:4] == before[:4]        # everything else as before, the index included


def test_another_running_update_is_not_undone(course, monkeypatch):
    student, _, _ = rich_update(course)
    monkeypatch.setattr(update, "_rollback", lambda *a: None)

    def kill(i, action):
        if i == 3:
            raise Boom("killed")
    with pytest.raises(Boom):
        update.update(student, log=lambda *a: None, on_step=kill)
    monkeypatch.undo()
    manifest = next((student / ".git" / update.BACKUP_DIR).glob("*/.git/manifest.json"))
    data = json.loads(manifest.read_text())
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        manifest.write_text(json.dumps({**data, "pid": other.pid}))
        with pytest.raises(update.UpdateError, match="another update"):
            run_update(student)
        assert update.update(student, log=lambda *a: None, force=True).recovered
        other.kill()


DRIVER = r'''
import importlib.util, signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the test runner ignores it
root, ready = Path(sys.argv[1]), Path(sys.argv[2])
spec = importlib.util.spec_from_file_location("course_cli", root / "src/course_utils/tooling/cli.py")
cli = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = cli
spec.loader.exec_module(cli)
mod = cli._sibling("student.update")  # as course.py loads it
real = mod.update

def pause(i, action):
    # Where the issue lost the edits: files reverted, branch fast-forwarded, nothing written back.
    if action is not None and action.kind == "write_new":
        ready.write_text(str(i))
        time.sleep(60)

mod.update = lambda root, **kw: real(root, on_step=pause, **kw)
sys.exit(mod.run(root))
'''


def interrupted_update(student: Path, tmp_path: Path, sig: int):
    """Run ``update`` in a subprocess and send it ``sig`` in the middle of it."""
    (tmp_path / "driver.py").write_text(DRIVER)
    ready = tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([sys.executable, "-S", str(tmp_path / "driver.py"), str(student),
                             str(ready)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.exists(), proc.communicate()
    in_between = (student / NB01).read_bytes()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err, in_between


def course_py_update(student: Path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-S", "course.py", "update"], cwd=student, env=env,
                          capture_output=True, text=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_update_puts_everything_back(course, tmp_path, sig):
    """The issue's case: SIGINT while the student's files are reverted and the branch moved
    (SIGTERM: a kill, or a closed terminal's SIGHUP, is handled the same way)."""
    author, student = course
    mine = student_answer(student)
    write(student, "src/course_utils/maths/rnn.py", "def f():\n    return 2  # mine\n")
    author_edit(author, NB01, "v2")
    write(author, "src/course_utils/maths/rnn.py", "def f():\n    return 3  # course v2\n")
    new_head = publish(author)
    before = state(student)
    rc, out, err, in_between = interrupted_update(student, tmp_path, sig)
    assert in_between != mine                       # the moment the old code lost the edits
    assert rc == 130 and "interrupted" in err, (out, err)
    assert "putting everything back" in out and "nothing was changed" in out
    assert state(student) == before
    assert not (student / ".git" / update.MARKER).exists()
    again = course_py_update(student)
    assert again.returncode == 0, again.stderr
    assert git(student, "rev-parse", "HEAD").strip() == new_head
    assert (student / NB01).read_bytes() == mine
    assert (student / "src/course_utils/maths/rnn.mine.py").read_text().endswith("# mine\n")


def test_killed_update_is_undone_by_the_next_run(course, tmp_path):
    author, student = course
    mine = student_answer(student)
    v2 = author_edit(author, NB01, "v2")
    new_head = publish(author)
    before = state(student)
    rc, out, err, in_between = interrupted_update(student, tmp_path, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert (student / NB01).read_bytes() == in_between != mine   # the edits are not in place …
    assert (student / ".git" / update.MARKER).exists()            # … but the marker says so
    again = course_py_update(student)
    assert again.returncode == 0, again.stderr
    assert "An earlier update" in again.stdout and "was interrupted" in again.stdout
    assert "Your files are back as they were before that update." in again.stdout
    assert "kept your notebooks/01_unrolling_an_rnn.ipynb" in again.stdout
    assert git(student, "rev-parse", "HEAD").strip() == new_head
    assert (student / NB01).read_bytes() == mine
    assert (student / SIDE01).read_text() == v2
    assert state(student)[0][NB01] == before[0][NB01]


# ---------------------------------------------------------------------------------------
# A Jupyter server on the course folder
# ---------------------------------------------------------------------------------------
def fake_server(pid: int, root_dir: Path) -> Path:
    """The runtime file a Jupyter server writes (jupyter_server's ``server_info``)."""
    rt = Path(os.environ["JUPYTER_RUNTIME_DIR"])
    rt.mkdir(parents=True, exist_ok=True)
    f = rt / f"jpserver-{pid}.json"
    f.write_text(json.dumps({"pid": pid, "root_dir": str(root_dir), "port": 8888,
                             "url": "http://localhost:8888/", "token": "x"}))
    return f


def test_update_stops_while_jupyter_serves_the_course_unless_forced(course, tmp_path):
    author, student = course
    mine = student_answer(student)
    author_edit(author, NB01, "v2")
    new_head = publish(author)
    before = state(student)
    # Not on this course, or no longer running: ignored.
    fake_server(os.getpid(), tmp_path / "elsewhere")
    with subprocess.Popen([sys.executable, "-c", "pass"]) as dead:
        pass
    fake_server(dead.pid, student)
    assert update._io.jupyter_on(student) == []
    # A live server on the course's notebooks/ folder, or on a folder above the course.
    for top in (student / "notebooks", tmp_path):
        f = fake_server(os.getpid(), top)
        with pytest.raises(update.UpdateError, match="Jupyter is running") as err:
            run_update(student)
        assert f.name in str(err.value) and "--force" in str(err.value)
        assert state(student) == before
        f.unlink()
    fake_server(os.getpid(), student)
    out = course_py_update(student)
    assert out.returncode == 1 and "Jupyter is running" in out.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-S", "course.py", "update", "--force"], cwd=student,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "warning (--force)" in out.stdout
    assert git(student, "rev-parse", "HEAD").strip() == new_head
    assert (student / NB01).read_bytes() == mine


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_kernel_running_in_the_course_folder_is_seen(course):
    _, student = course
    assert update._io.jupyter_on(student) == []
    # argv like a kernel's (python -m ipykernel_launcher -f …), working in the course folder
    code = "import time; time.sleep(30)"
    with subprocess.Popen([sys.executable, "-c", code, "ipykernel_launcher", "-f", "k.json"],
                          cwd=student / "notebooks") as kernel:
        try:
            deadline = time.monotonic() + 10
            while not update._io.jupyter_on(student) and time.monotonic() < deadline:
                time.sleep(0.05)
            hits = update._io.jupyter_on(student)
            assert len(hits) == 1 and f"process {kernel.pid}" in hits[0]
        finally:
            kernel.kill()


def test_what_the_readme_warns_against_does_break_or_hide_work(course):
    """The README's warnings, shown: a plain pull overwrites a git-ignored file; with commits
    of one's own, `git merge` of a cell both sides changed leaves the notebook as invalid
    JSON, and `git reset --keep` puts the course's notebook in place of the student's."""
    author, student = course
    write(author, ".gitignore", "scratch/\n")
    publish(author, "v1.1")
    git(student, "pull", "-q")
    write(student, "scratch/notes.txt", "mine\n")
    write(author, "scratch/notes.txt", "course\n")
    git(author, "add", "-f", "scratch/notes.txt")
    publish(author, "v1.2")
    git(student, "pull", "-q", "--ff-only")
    assert (student / "scratch/notes.txt").read_text() == "course\n"   # silently overwritten

    mine = student_answer(student)
    git(student, "commit", "-q", "-am", "my work")
    nb = nbformat.read(str(author / NB01), as_version=4)        # the course fixes the same cell
    cell = next(c for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("solution"))
    cell.source = cell.source.replace("raise NotImplementedError()",
                                      "raise NotImplementedError()  # your code here")
    write(author, NB01, generated(nb))
    publish(author)
    git(student, "fetch", "-q")
    merge = subprocess.run(["git", "merge", "-q", "origin/main"], cwd=student,
                           capture_output=True, text=True)
    assert merge.returncode != 0 and "CONFLICT" in merge.stdout + merge.stderr
    with pytest.raises(json.JSONDecodeError):
        json.loads((student / NB01).read_text())
    git(student, "merge", "--abort")
    assert (student / NB01).read_bytes() == mine
    git(student, "branch", "my-work")
    git(student, "reset", "-q", "--keep", "origin/main")
    assert (student / NB01).read_bytes() != mine and "my answer" not in (student / NB01).read_text()


def test_the_report_never_says_a_replaced_notebook_was_not_changed():
    """Issue 31: "it was replaced" then "Your notebooks were not changed" contradicted
    each other when one notebook was run only and another edited."""
    from course_utils.tooling.student import update

    rep = update.UpdateReport("a" * 40, "b" * 40, kept=[("notebooks/03.ipynb",
                                                         "notebooks/03.updated.ipynb")],
                              replaced=["notebooks/01.ipynb"], backup="B")
    lines: list[str] = []
    update._log_report(rep, lines.append)
    text = "\n".join(lines)
    assert "01.ipynb: you had only run it" in text and "Your notebooks were not changed" not in text
    assert "The notebooks you had edited were not changed" in text
