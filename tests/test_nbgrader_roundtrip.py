"""nbgrader round trip: ``solutions/`` is a valid nbgrader source folder.

* nbgrader's own ``generate_assignment`` (its command line, no database) turns every
  notebook of the nbgrader source folder our generator writes (``solutions/`` without
  Further-exercise hints) into a release version whose cells are exactly our assignment
  edition (the self-study edition in ``notebooks/`` only adds the model answers);
* nbgrader's ``Validator`` (the class: ``nbgrader validate`` always exits 0) passes every
  solution notebook executed in grading mode, and fails the unanswered release version;
* the whole route of the instructors' guide, through ``nbgrader autograde``, with
  ``course_utils.tooling.publish.nbgrader_hidden`` in its configuration: an unmodified submission
  gets no "checksum has changed" warning, an edited check cell gets one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.tooling.publish import build

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = build.solution_paths(ROOT)
ASSIGNMENT = "bptt"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """Run ``nbgrader generate_assignment ASSIGNMENT --no-db --force`` on the nbgrader source
    folder that ``build.write_nbgrader_source`` makes from solutions/."""
    course = tmp_path_factory.mktemp("nbgrader_course")
    src = course / "source" / ASSIGNMENT
    build.write_nbgrader_source(src, ROOT, log=lambda m: None)
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--no-db", "--force",
         f"--CourseDirectory.root={course}"],
        cwd=course, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[ERROR]" not in proc.stderr, proc.stderr
    return course / "release" / ASSIGNMENT


def _grade_cells(nb):
    return [(c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"].get("points"))
            for c in nb.cells if (c.metadata.get("nbgrader") or {}).get("grade")]


def test_there_are_solutions():
    assert SOLUTIONS, "no solution notebooks"


@pytest.mark.xdist_group("release")  # one worker runs the `release` fixture, not each
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_generate_assignment_matches_our_generator(release, path):
    released = nbformat.read(str(release / path.name), as_version=4)
    source = release.parents[1] / "source" / ASSIGNMENT / path.name  # the same snapshot
    ours = build.make_assignment(build.read_notebook(source), path)
    assert [c.cell_type for c in released.cells] == [c.cell_type for c in ours.cells]
    for i, (a, b) in enumerate(zip(released.cells, ours.cells)):
        assert a.source == b.source, f"{path.name}, cell {i} differs from nbgrader's release"
    text = nbformat.writes(released)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert _grade_cells(released) == _grade_cells(ours) != []
    for c in released.cells:  # nbgrader locked and checksummed every graded cell
        meta = c.metadata.get("nbgrader") or {}
        if meta.get("grade") and c.cell_type == "code":
            assert meta.get("locked") and meta.get("checksum")


def test_nbgrader_hidden_replaces_only_overwrite_cells():
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import OverwriteCells
    from traitlets.config import Config

    from course_utils.tooling.publish import nbgrader_hidden

    c = Config()
    nbgrader_hidden.configure(c)
    default = Autograde.class_traits()["sanitize_preprocessors"].default()
    ours = c.Autograde.sanitize_preprocessors
    assert OverwriteCells in default and OverwriteCells not in ours
    assert [nbgrader_hidden.OverwriteCellsQuietForHiddenTests if p is OverwriteCells else p
            for p in default] == ours
    cell = nbformat.v4.new_code_cell("check(f)\n### BEGIN HIDDEN TESTS\nsecret(f)\n"
                                     "### END HIDDEN TESTS")
    assert nbgrader_hidden.released_source(cell) == "check(f)"
    assert "secret" in cell.source  # the cell itself is left as it was


def _validator():
    from nbgrader.validator import Validator
    from traitlets.config import Config

    cfg = Config()
    cfg.Execute.timeout = 300  # per cell; nbgrader's default (30 s) is too short for training
    return Validator(config=cfg)


# nbgrader's Validator re-executes a whole notebook. Every solution notebook is already
# executed by nbval (tests/ + solutions/) and graded in grading mode with held-out cases by
# tests/test_grading.py::test_every_answer_key_earns_full_marks_with_held_out_cases, so the
# Validator only has to show that nbgrader accepts our notebook format and grading mode:
# the two quickest notebooks do that (all eight cost ~150 s of the CI budget, for nothing new).
VALIDATED = [p for p in SOLUTIONS if p.name[:2] in {"01", "02"}]


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.stem) for p in VALIDATED])
def test_validator_passes_solutions(path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")  # a failing check raises, so it would count
    monkeypatch.setenv("MPLBACKEND", "Agg")
    result = _validator().validate(str(path))
    assert result == {}, f"{path.name}: nbgrader's Validator says {result}"


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_validator_fails_the_unanswered_release(release, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    first = SOLUTIONS[0].name
    result = _validator().validate(str(release / first))
    assert "failed" in result, result
    n_code_checks = sum(1 for c in nbformat.read(str(release / first), as_version=4).cells
                        if c.cell_type == "code" and (c.metadata.get("nbgrader") or {}).get("grade"))
    assert len(result["failed"]) >= n_code_checks
    assert any("ExerciseFailed" in f["raw_error"] for f in result["failed"])


# ---------------------------------------------------------------------------------------
# The whole route, as INSTRUCTORS.md gives it: one assignment per week, nbgrader_config.py,
# generate -> release -> (a student fetches and submits) -> collect -> autograde -> export
# ---------------------------------------------------------------------------------------
# The guide's config, except the time limit per cell: 300 s there (training cells of later
# weeks), 60 s here, where only week 01 (every cell under 10 s) is autograded. (Explorer
# cells used to wait out this limit now and then under nbclient's own widget stand-in; they
# no longer do: 0 time-outs in 108 headless runs, benchmarks/results/headless_explorers.json.)
NBGRADER_CONFIG = """c = get_config()
c.CourseDirectory.course_id = "bptt"
c.Exchange.root = {exchange!r}
c.Execute.timeout = 60
from course_utils.tooling.publish.nbgrader_hidden import configure
configure(c)  # no false "checksum has changed" for the hidden tests nbgrader puts back
"""
CHECKSUM_WARNING = "Attribute 'checksum' for cell "


def _nbgrader(args, cwd, env):
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "[ERROR]" not in proc.stderr, (args, proc.stderr[-3000:])
    return proc


def _edited_check_cells(course: Path, assignment: str, name: str) -> list[str]:
    """The grade ids of the locked check cells, over every submission of ``assignment``,
    whose source is neither the source folder's nor the release's."""
    def check_cells(path):
        nb = nbformat.read(str(path), as_version=4)
        return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
                if (c.metadata.get("nbgrader") or {}).get("grade")
                and (c.metadata.get("nbgrader") or {}).get("locked")}

    source = check_cells(course / "source" / assignment / name)
    release = check_cells(course / "release" / assignment / name)
    edited = []
    for sub in sorted((course / "submitted").glob(f"*/{assignment}/{name}")):
        nb = nbformat.read(str(sub), as_version=4)
        for c in nb.cells:
            gid = (c.metadata.get("nbgrader") or {}).get("grade_id")
            if gid in source and c.source not in (source[gid], release[gid]):
                edited.append(gid)
    return edited


@pytest.mark.slow
def test_nbgrader_route_end_to_end(tmp_path):
    import os

    from grading_students import NAME, make_class

    course, exchange, home = tmp_path / "course", tmp_path / "exchange", tmp_path / "student"
    for d in (course, exchange, home):
        d.mkdir()
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(exchange=str(exchange)))
    nbsource = build.write_nbgrader_source(course / "nbsource", ROOT, log=lambda m: None)
    for p in nbsource:  # one assignment per week: source/week01/01_….ipynb, …
        week = course / "source" / f"week{p.name[:2]}"
        week.mkdir(parents=True)
        shutil.copy(p, week / p.name)
    # nbgrader's gradebook runs `alembic` from the environment's bin folder
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("COURSE_GRADING", None)  # autograde must not depend on it (no fail-open)
    # every notebook's release is nbgrader's own already (the `release` fixture above), so
    # only the week graded here is generated: one nbgrader start-up instead of eight
    _nbgrader(["generate_assignment", "week01", "--force"], course, env)
    assert (course / "release" / "week01" / NAME).exists()
    _nbgrader(["release_assignment", "week01"], course, env)
    student = ["--course", "bptt", f"--Exchange.root={exchange}"]
    _nbgrader(["fetch_assignment", "week01", *student], home, env)  # submitted unanswered
    _nbgrader(["submit", "week01", *student], home, env)
    _nbgrader(["collect", "week01"], course, env)
    collected = [p.parent.parent.name for p in (course / "submitted").glob("*/week01/" + NAME)]
    assert len(collected) == 1
    cls = make_class(tmp_path / "class")
    for s in ("alice", "grace", "heidi", "niaj"):
        d = course / "submitted" / s / "week01"
        d.mkdir(parents=True)
        shutil.copy(tmp_path / "class" / s / NAME, d / NAME)
    victor = nbformat.read(str(course / "release" / "week01" / NAME), as_version=4)
    check = next(c for c in victor.cells
                 if (c.metadata.get("nbgrader") or {}).get("grade_id") == "ex01_rnn_forward")
    check.source += "\nprint('my own check')"  # an edited check cell, nothing answered
    (course / "submitted" / "victor" / "week01").mkdir(parents=True)
    nbformat.write(victor, str(course / "submitted" / "victor" / "week01" / NAME))
    graded = _nbgrader(["autograde", "week01", "--force"], course, env).stderr
    # nbgrader warns once per check cell whose text is neither the release's nor the
    # source's: the edited ones (carol's faked check, …), never an unmodified cell
    warned = sorted(line.split(CHECKSUM_WARNING)[1].split()[0]
                    for line in graded.splitlines() if CHECKSUM_WARNING in line)
    assert warned == sorted(_edited_check_cells(course, "week01", NAME)), graded[-3000:]
    assert "ex01_rnn_forward" in warned  # victor's edited check cell is reported
    _nbgrader(["export"], course, env)
    import csv

    rows = {r["student_id"]: r for r in csv.DictReader((course / "grades.csv").open())
            if r["assignment"] == "week01"}
    scores = {s: float(r["score"]) for s, r in rows.items()}
    assert scores == {"alice": 5.0, "grace": 0.0, "heidi": 0.0, "niaj": 0.0, "victor": 0.0,
                      collected[0]: 0.0}, (scores, {s: cls[s][1] for s in scores if s in cls})
