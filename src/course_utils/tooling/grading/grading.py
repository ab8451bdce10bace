"""Grade submitted student notebooks: ``python -m course_utils grade SUBMISSIONS…``.

The verdict never comes from anything the student's code can write. For each submission
(see :mod:`course_utils.tooling.grading.grading_checks`):

1. the student's answer cells (and cells they added) run in a sandbox process after the
   solution's own setup cell; check cells, edited or deleted, are taken from
   ``solutions/`` (a check cell only hands the student's function on);
2. each check runs **in the grader's process**, calling the student's function in the
   sandbox on the check's cases and on held-out cases (seeds drawn at grading time) and
   comparing the plain arrays it returns with the reference;
3. a function that is, wraps or calls a course reference earns 0 for that exercise, and
   a submission that changes the checking code (``checker``, ``numerics``, an ``exNN``
   module) earns 0; a copy of a reference's code is flagged for review.

==================  =====================================================================
status              when (the words of :mod:`course_utils.status`)
==================  =====================================================================
``passed``          every case, held-out ones included, matches the reference
``not attempted``   the function still raises ``NotImplementedError``
``wrong``           anything else, with the whole verdict as the reason (which output,
                    how far off, the likely mistake), or: not defined, time limit in cell
                    N, the process died, not the student's work, tampering …
``manual``          a written (markdown) answer: answered, to be graded by hand (0 points
                    here); a blank one is ``not attempted``
==================  =====================================================================

Points come from ``solutions/``, never from the submission. Each submission is graded in
its own worker process (and its code in its own sandbox: scratch directory, stripped
environment, memory / process / file-size limits, process group killed at the end; where
Linux user namespaces allow it, also a PID namespace of its own and a read-only view of
the disk but for its scratch folder, see :mod:`course_utils.tooling.grading.sandbox`). The job goes
to the worker over a pipe and its result comes back over one, checked against the job:
nothing a sandbox can reach holds another submission's job, points, seeds or result. Any
failure of a worker (killed, crashed, unreadable result) gives a row with the reason, and
the reports are always written.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...status import CAUSES, CRASH, OTHER, PASSED, STATUSES, UNREADABLE, WRONG
from . import grading_checks as gc
from . import grading_select
from .grading_notebook import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_HELDOUT,
    DEFAULT_TIMEOUT,
    KILL_GRACE,
    Job,
    _all,
    grade_notebook,
)
from .grading_reports import (
    SubmissionResult,
    first_line,
    format_table,
    to_json,
    write_reports,
)
from .grading_select import (
    ROOT,
    GradingError,
    discover,
    identify,
    load_catalogue,
    select,
    student_of,
)


def course_digest(root: Path = ROOT) -> str:
    """SHA-256 over the course's code and solutions: what grading trusts not to change."""
    import hashlib

    h = hashlib.sha256()
    for sub in ("src", "solutions"):
        for p in sorted((Path(root) / sub).rglob("*")):
            if p.is_file() and p.suffix in (".py", ".ipynb") and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------------------------------
# Grading many submissions, each in its own worker process
# ---------------------------------------------------------------------------------------
def _failed(job: Job, reason: str, seconds: float = 0.0, cause: str = CRASH) -> SubmissionResult:
    res = SubmissionResult(job.display, job.student, job.notebook)
    res.exercises = _all(job.entries, WRONG, reason, cause)
    res.problem, res.seconds, res.problem_cause = reason, round(seconds, 1), cause
    return res


def _grade_isolated(job: Job, timeout: float) -> SubmissionResult:
    """Run :func:`grade_notebook` in a worker process; any failure of it becomes a row.

    The job goes to the worker on its standard input and the result comes back on its
    standard output: neither is ever a file, so no submission's code can read or rewrite
    another's job (its points, paths, held-out seeds, solutions) or result. The result is
    checked against the job (:func:`_validated`): points come from the grader's entries."""
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:  # an empty cwd
        os.chmod(tmp, 0o700)
        cmd = [sys.executable, "-m", "course_utils.tooling.grading.grading", "--worker"]
        kw = {"start_new_session": True} if os.name == "posix" else {}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.PIPE, cwd=tmp, **kw)
        try:
            out, log = proc.communicate(json.dumps(job.to_dict()).encode(),
                                        timeout=timeout + KILL_GRACE)
            why = f"the grader's worker failed (exit code {proc.returncode})"
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, log = proc.communicate()
            why = f"the grader's worker was killed after {timeout + KILL_GRACE:g} s"
        _kill_group(proc)
    if proc.returncode == 0 and out:
        try:
            return _validated(job, json.loads(out.decode()))
        except Exception as exc:
            why = f"the grader's worker wrote an unreadable result ({type(exc).__name__})"
    tail = (log or b"").decode(errors="replace").strip().splitlines()
    return _failed(job, why + (f": {first_line(tail[-1])}" if tail else ""),
                   time.monotonic() - t0)


def _validated(job: Job, data: dict) -> SubmissionResult:
    """The worker's result, held to the job: the same exercises in the same order, their
    titles, kinds and points from the grader's entries (read from ``solutions/``), a known
    status, and points only for a pass; the file, student and notebook from the job."""
    res = SubmissionResult.from_dict(data)
    entries = job.entries
    if [e.id for e in res.exercises] != [e["id"] for e in entries]:
        raise ValueError("the result's exercises are not the job's")
    for e, want in zip(res.exercises, entries):
        if e.status not in STATUSES or e.cause not in ("", *CAUSES):
            raise ValueError(f"unknown status {e.status!r} or cause {e.cause!r}")
        e.title, e.kind, e.max_points = want["title"], want["kind"], want["points"]
        e.points = want["points"] if e.status == PASSED and want["kind"] == "code" else 0
    res.file, res.student, res.notebook = job.display, job.student, job.notebook
    res.heldout_seeds = list(job.seeds)
    return res


def _kill_group(proc) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def grade(paths: list[Path], *, root: Path = ROOT, selectors: dict | None = None,
          timeout: float = DEFAULT_TIMEOUT, cell_timeout: float = DEFAULT_CELL_TIMEOUT,
          jobs: int = 1, heldout: int = DEFAULT_HELDOUT,
          seeds: list[int] | None = None, log=None,
          cluster: str | None = None) -> list[SubmissionResult]:
    """Grade every submission in ``paths`` (files or folders); see the module docstring.

    ``seeds``: the held-out seeds (default: ``heldout`` drawn at random for this run; the
    reports record them, so a run can be repeated with ``--seed``). ``cluster``: a Dask
    scheduler's address (or ``local:N``) to grade on instead of ``jobs`` local workers
    (:mod:`course_utils.tooling.grading.grading_cluster`)."""
    catalogue = select(load_catalogue(root), selectors)
    if not catalogue:
        raise GradingError(f"no exercises: is {root / 'solutions'} there?")
    from ..publish import build

    names = [p.name for p in build.solution_paths(root)]
    found = discover(paths)
    if not found:
        raise GradingError("no notebooks found in " + ", ".join(map(str, paths)))
    if seeds is None:
        seeds = [100_000 + secrets.randbelow(900_000) for _ in range(heldout)]
    digest = course_digest(root)
    hide = [Path(root) / "solutions", Path(root) / "src", Path(root) / ".git",
            *{(b if b is not None else p.parent).resolve() for p, b in found}]
    common = {"root": str(root), "timeout": timeout, "cell_timeout": cell_timeout,
              "seeds": list(seeds), "digest": digest, "hide": [str(h) for h in hide]}  # of every Job
    jobs_list, results, extra = _make_jobs(found, catalogue, names, common)
    if cluster:
        from . import grading_cluster

        route = grading_cluster.Grader(Job, course_digest, _grade_isolated, _validated, _failed)
        results.update(grading_cluster.run_jobs(jobs_list, route, address=cluster, log=log))
    else:
        results.update(_run_jobs(jobs_list, root=root, digest=digest, timeout=timeout,
                                 jobs=jobs, log=log))
    for k, fields_ in extra.items():  # the grader's, never the worker's
        for name, value in fields_.items():
            setattr(results[k], name, value)
    return [results[k] for k in sorted(results)]


def _display(path: Path, base: Path | None) -> str:
    """A submission's name in the reports: its path below the folder given, which starts
    with the student's folder when the folder given is one student's."""
    if base is None:
        return path.name
    rel = path.relative_to(base).as_posix()
    from .gradebook import one_students

    return f"{Path(base).resolve().name}/{rel}" if one_students(base) else rel


def _make_jobs(found, catalogue, names, common) -> tuple[list, dict, dict]:
    """``([(k, job)], {k: result}, {k: fields})``: a job per student and selected
    notebook, for the copy that counts (:func:`copies.choose`: the others are listed in
    its result), a result row for each file that is not one (unreadable, not a course
    notebook), and the fields the grader sets on each job's result (other copies,
    submission time)."""
    from ..student import copies
    from . import gradebook

    root = Path(common["root"])
    jobs_list, results, extra = [], {}, {}
    candidates: dict[tuple[str, str], list] = {}
    for k, (path, base) in enumerate(found):
        display = _display(path, base)
        try:
            try:
                meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
            except Exception:
                meta = {}
            notebook = identify(path, meta if isinstance(meta, dict) else {}, names)
            student = student_of(path, base, notebook)
        except Exception as exc:  # never let one file stop the run
            results[k] = SubmissionResult(display, path.stem, None, [], 0.0,
                                          f"cannot read this file ({type(exc).__name__})",
                                          problem_cause=UNREADABLE)
            continue
        if notebook is None:
            results[k] = SubmissionResult(display, student, None, [], 0.0,
                                          "cannot tell which course notebook this is",
                                          problem_cause=UNREADABLE)
            continue
        if notebook not in catalogue:  # not part of the selected assignment
            continue
        candidates.setdefault((student, notebook), []).append((k, path, base, display))
    for (student, notebook), group in candidates.items():
        choice = copies.choose([path for _, path, _, _ in group])
        shown = {path: display for _, path, _, display in group}
        k, path, base, display = next(g for g in group if g[1] == choice.counts)
        extra[k] = {"others": [{"file": shown[p], "why": why} for p, why in choice.others],
                    **gradebook.submission_time(path, base)}
        jobs_list.append((k, Job(str(path.resolve()), notebook, student, display,
                                 catalogue[notebook], **common,
                                 plan=gc.plan_to_dict(gc.make_plan(
                                     str(root / "solutions" / notebook))))))
    return sorted(jobs_list, key=lambda kj: kj[0]), results, extra


def _run_jobs(jobs_list, *, root, digest, timeout, jobs, log) -> dict:
    """``{k: result}``: every job graded, each in a worker process of its own, ``jobs`` at
    a time; once the course's files change on disk, no more."""
    changed: list[str] = []

    def run(item):
        k, job = item
        t0 = time.monotonic()
        if changed:
            return k, _failed(job, "not graded: the course's files changed on disk during "
                              f"grading (after {changed[0]}); restore them and grade again",
                              cause=OTHER)
        try:
            r = _grade_isolated(job, timeout)
        except Exception as exc:
            r = _failed(job, f"the grader failed on this submission: {type(exc).__name__}: "
                        f"{first_line(str(exc))}", time.monotonic() - t0)
        if course_digest(root) != digest:
            changed.append(job.display)
            r = _failed(job, "the course's code or solutions changed on disk while this "
                        "submission was graded: 0 points; restore them (git) and grade again",
                        r.seconds, cause=OTHER)
        if log:
            log(f"graded {r.file}: {r.total:g}/{r.max_total:g} in {r.seconds:.0f} s")
        return k, r

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return dict(pool.map(run, jobs_list))


def _run_job(job: Job) -> SubmissionResult:
    if job.digest and course_digest(Path(job.root)) != job.digest:
        return _failed(job, "not graded: the course's files changed on disk during grading",
                       cause=OTHER)
    return grade_notebook(job)


# ---------------------------------------------------------------------------------------
# Command line (wired into `python -m course_utils grade`)
# ---------------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", nargs="+", type=Path,
                   help="submitted notebooks, or folders searched recursively")
    p.add_argument("--only", default="",
                   help="comma-separated exercise ids, globs (ex03_*) or notebook numbers (03)")
    p.add_argument("--assignment", type=Path,
                   help="file with one selector per line, optionally followed by points")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"time limit per notebook in seconds (default {DEFAULT_TIMEOUT})")
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT,
                   help="time limit per call of a student's function in seconds "
                   f"(default {DEFAULT_CELL_TIMEOUT})")
    p.add_argument("--heldout", type=int, default=DEFAULT_HELDOUT,
                   help="held-out seeds drawn per run (default 1; 0: only the visible cases)")
    p.add_argument("--seed", type=int, action="append", dest="seeds",
                   help="use this held-out seed (repeatable) instead of random ones")
    p.add_argument("--jobs", "-j", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="grade on a Dask cluster: a scheduler's address (tcp://host:8786) or "
                   "local:N (N worker processes here); needs pip install -e .[cluster]")
    p.add_argument("--out", type=Path, default=Path("grades"),
                   help="folder for grades.csv, grades.json and the class report "
                   "report.html (default ./grades)")
    p.add_argument("--roster", type=Path,
                   help="CSV of the class (id, name, optional extension; or the student list "
                   "a Canvas or Moodle gradebook exports): the gradebook gets a row per "
                   "student, whatever they submitted")
    p.add_argument("--deadline", default=None,
                   help="the due date and time (2026-12-08T23:59, local time unless it says "
                   "+01:00 or UTC); a roster's extension column adds days or gives a "
                   "student's own deadline")
    p.add_argument("--late-penalty", type=float, default=None, metavar="PERCENT",
                   help="percent of a notebook's points taken per day late (a part of a day "
                   "counts as one), at most all of them (default 0: late is only reported)")
    p.add_argument("--assignment-name", default=None,
                   help="the assignment's name in the LMS exports (default: the assignment "
                   "file's name)")
    p.add_argument("--replace", action="store_true",
                   help="start --out afresh; by default the students graded now replace their "
                   "own rows in an existing --out and everyone else's are kept")
    p.add_argument("--compare-with", type=Path, action="append", default=[],
                   metavar="DIR", help="earlier submissions (e.g. last year's class) each "
                   "answer is also compared with for similarity (repeatable; not graded)")
    p.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)


def run_cli(args) -> int:
    from . import gradebook

    try:  # a bad roster or deadline stops before any grading
        roster = gradebook.read_roster(args.roster) if args.roster else None
        deadline = gradebook.parse_deadline(args.deadline).isoformat() if args.deadline else ""
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        results = grade(args.submissions, root=args.root,
                        selectors=grading_select.selectors(args.assignment, args.only),
                        timeout=args.timeout, cell_timeout=args.cell_timeout,
                        jobs=args.jobs, heldout=args.heldout, seeds=args.seeds,
                        log=lambda m: print(m, file=sys.stderr, flush=True),
                        cluster=args.cluster)
    except (GradingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    similarity = _similarity(args, results)
    print(format_table(results))
    sandbox = sandbox_line()
    print(f"sandbox: {sandbox}", file=sys.stderr)
    try:
        results, book = _gradebook(args, results, roster, deadline)
    except Exception as exc:  # this run's grades are never lost
        args.out.mkdir(parents=True, exist_ok=True)
        kept = args.out / "grades-this-run.json"
        kept.write_text(to_json(results) + "\n", encoding="utf-8")
        print(f"error: the gradebook failed ({type(exc).__name__}: {first_line(str(exc))}); "
              f"{args.out / 'grades.json'} is unchanged and this run's grades are in {kept}",
              file=sys.stderr)
        return 2
    print(gradebook.format_table(book))
    csv_path, json_path = write_reports(results, args.out, {"gradebook": book,
                                                               "similarity": similarity.to_dict()})
    gradebook.write(book, args.out)
    feedback = _write_feedback(results, args)
    if feedback:
        print(f"wrote the feedback to hand back, one file per student, into {feedback}/")
    from . import grading_html

    options = {"--only": args.only or "(all)", "--assignment": args.assignment or "(none)",
               "--timeout": f"{args.timeout:g} s", "--cell-timeout": f"{args.cell_timeout:g} s",
               "--heldout": args.heldout, "--seed": ", ".join(map(str, args.seeds or [])) or
               "(drawn at random)", "--jobs": args.jobs, "--cluster": args.cluster or "(none)",
               "sandbox": sandbox}
    try:  # the grades are written whatever happens to the class report
        run = grading_html.run_info(results, root=args.root, options=options,
                                    digest=course_digest(args.root))
        html_path = grading_html.write_report(results, args.out, run, book=book,
                                              similarity=similarity)
    except Exception as exc:
        print(f"wrote {csv_path} and {json_path}; the class report failed: "
              f"{type(exc).__name__}: {first_line(str(exc))}", file=sys.stderr)
        return 0
    print(f"wrote {csv_path}, {json_path} and {html_path}")
    return 0


def sandbox_line() -> str:
    """What the sandbox's code sees on this machine, in words: the one line ``course grade``
    prints and the class report records."""
    from . import sandbox_view

    return {"bwrap": "bubblewrap: an allow-list view of the disk",
            "namespaces": "Linux namespaces: the disk read-only, the course hidden; "
            + sandbox_view.bwrap_warning().removeprefix("warning: "),
            "none": "a process with limits only: "
            + sandbox_view.bwrap_warning().removeprefix("warning: "),
            }[sandbox_view.view()]


def _write_feedback(results, args) -> Path | None:
    """The students' feedback files (``OUT/feedback/<student>.html``), or None if they could
    not be written (said on standard error; the grades stand)."""
    from . import grading_feedback

    try:
        return grading_feedback.write_feedback(results, args.out / "feedback", args.root)
    except Exception as exc:
        print(f"the feedback files failed: {type(exc).__name__}: {first_line(str(exc))}",
              file=sys.stderr)
        return None


def _gradebook(args, results: list[SubmissionResult], roster, deadline: str
               ) -> tuple[list, dict]:
    """This run's results stamped (when, which commit) and merged into ``--out``'s (the
    students graded now replace their rows; :func:`gradebook.merge`), and the gradebook
    (:func:`gradebook.build`) with the roster, deadline and penalty given, else those
    ``--out`` recorded."""
    import datetime as _dt

    from . import gradebook
    from .grading_html import git_commit

    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    commit = git_commit(args.root)
    for r in results:
        r.graded_at, r.commit = now, commit
    previous, stored, old_folders = (([], None, {}) if args.replace
                                     else gradebook.load_previous(args.out))
    settings = gradebook.Settings.from_dict(stored or {})
    if roster is not None:
        settings.roster = roster
    if deadline:
        settings.deadline = deadline
    if args.late_penalty is not None:
        settings.late_penalty = args.late_penalty
    if args.assignment_name or args.assignment or not stored:
        settings.assignment = (args.assignment_name or
                               (Path(args.assignment).stem if args.assignment else "course grade"))
    folders = gradebook.student_folders(args.submissions)
    regraded = {r.student for r in results} | set(folders)
    merged = gradebook.merge(previous, results, regraded) if previous else results
    all_folders = {**{k: v for k, v in old_folders.items() if k not in regraded}, **folders}
    chosen = grading_select.selectors(args.assignment, args.only)
    catalogue = select(load_catalogue(args.root), chosen)
    if not chosen:  # no assignment given: the notebooks submitted are the assignment
        catalogue = {nb: e for nb, e in catalogue.items() if any(r.notebook == nb for r in merged)}
    return merged, gradebook.build(merged, catalogue, settings, all_folders)


def _similarity(args, results):
    """Similar answers (:mod:`course_utils.tooling.grading.grading_similarity`): review flags added
    to ``results``, never points; a failure of the comparison is reported, not raised."""
    from . import grading_similarity

    try:
        return grading_similarity.find(results, args.submissions, root=args.root,
                                       compare_with=args.compare_with)
    except Exception as exc:
        why = f"{type(exc).__name__}: {first_line(str(exc))}"
        print(f"similar answers were not compared: {why}", file=sys.stderr)
        return grading_similarity.Report(problem=why)


def _child_main(argv: list[str]) -> int:
    """Worker entry point: ``python -m course_utils.tooling.grading.grading --worker``, the job
    as JSON on standard input, the result as JSON on standard output (anything else the
    worker prints goes to standard error)."""
    if argv != ["--worker"]:
        print("usage: python -m course_utils.tooling.grading.grading --worker < JOB", file=sys.stderr)
        return 2
    job = Job.from_dict(json.loads(sys.stdin.read()))
    result_fd = os.dup(1)
    os.dup2(2, 1)  # prints (verdicts, warnings) go to the log, not into the result
    res = _run_job(job)
    with os.fdopen(result_fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(res.to_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
