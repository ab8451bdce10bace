"""Grade submitted student notebooks: ``python -m course_utils grade SUBMISSIONS…``.

Each submission is executed top to bottom in a fresh kernel in grading mode
(``COURSE_GRADING=1``, so a check that does not pass raises ``ExerciseFailed``), with
every cell evaluated even after errors, a time limit per cell and per notebook, and a
cap on the output kept. Every graded cell (nbgrader ``grade: true``) of the matching
solution notebook is then scored:

==================  =====================================================================
status              when
==================  =====================================================================
``pass``            the check cell ran and printed the ``✅ … passed`` verdict, no error
``not attempted``   the check raised ``ExerciseFailed`` with the ``⏳`` verdict
``fail``            anything else, with the reason: the ``❌`` verdict, an error in the
                    check cell (e.g. ``NameError`` for a renamed function), the time limit,
                    a dead kernel, a missing check cell, an unreadable file …
``manual``          a written (markdown) answer: answered, to be graded by hand (0 points
                    here); a blank one is ``not attempted``
==================  =====================================================================

Points come from the solution notebooks (``solutions/``), never from the submission's
own metadata. A check cell is identified by its ``grade_id``; its source is restored
from the solution notebook before execution (as nbgrader does with locked cells), so an
edited check cell cannot grade itself. Each submission runs in its own subprocess
(which starts its own kernel), killed if it overruns, so one submission can never stop
the run for the others.

Which notebook a submission is: ``metadata.course.generated_from`` (set by the
generator), else a solution notebook's name contained in the file name
(``alice_01_unrolling_an_rnn.ipynb``), else the leading ``NN_`` of the file name.
Which student: for a file inside a folder given on the command line, the first folder
below it (``submitted/alice/01_….ipynb`` → ``alice``, nbgrader's layout
``submitted/alice/ps1/01_….ipynb`` too); otherwise the file name without the notebook name.

Selecting a subset (an assignment): ``--only SELECTORS`` and/or ``--assignment FILE``.
A selector is an exercise id (``ex01_rnn_forward``), a glob (``ex03_*``) or a notebook
number (``03``: all of its exercises). An assignment file has one selector per line,
optionally followed by the points to give it (overriding the notebook's); ``#`` starts a
comment.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PASS, FAIL, NOT_ATTEMPTED, MANUAL = "pass", "fail", "not attempted", "manual"

DEFAULT_TIMEOUT = 600          # s per notebook
DEFAULT_CELL_TIMEOUT = 300     # s per cell
DEFAULT_MAX_OUTPUT = 1_000_000  # characters of output kept per cell
KILL_GRACE = 60                # s after the notebook time limit before the subprocess is killed
WRITTEN_BLANK = "YOUR ANSWER HERE"


class GradingError(Exception):
    """A problem with the grading request itself (bad selector, no submissions)."""


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------
@dataclass
class ExerciseResult:
    id: str
    title: str
    max_points: float
    status: str
    points: float = 0
    reason: str = ""
    kind: str = "code"  # "written": a markdown answer, graded by hand, not in max_total


@dataclass
class SubmissionResult:
    file: str
    student: str
    notebook: str | None
    exercises: list[ExerciseResult] = field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""  # whole-submission problem (unreadable, killed, unknown notebook…)

    @property
    def total(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_total(self) -> float:
        """The points the automatic grading can give (written answers are graded by hand)."""
        return sum(e.max_points for e in self.exercises if e.kind != "written")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total"] = self.total
        d["max_total"] = self.max_total
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SubmissionResult:
        ex = [ExerciseResult(**e) for e in d.get("exercises", [])]
        return cls(d["file"], d["student"], d.get("notebook"), ex, d.get("seconds", 0.0),
                   d.get("problem", ""))


# ---------------------------------------------------------------------------------------
# The catalogue and selecting a subset
# ---------------------------------------------------------------------------------------
def load_catalogue(root: Path = ROOT) -> dict[str, list[dict]]:
    """``{notebook file name: [entry]}`` from ``solutions/``; each entry is
    :func:`build.validate_solution`'s (id, title, points, kind, cell) plus ``source``: the
    graded cell's source in the solution (what a check cell must contain)."""
    from . import build

    cat = {}
    for path in build.solution_paths(root):
        nb = build.read_notebook(path)
        entries = build.validate_solution(nb, path)
        for e in entries:
            e["source"] = nb.cells[e["cell"]].source
        cat[path.name] = entries
    return cat


def parse_assignment(text: str) -> dict[str, float | None]:
    """Parse an assignment file: ``{selector: points or None}`` in file order."""
    out: dict[str, float | None] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        if len(parts) > 2:
            raise GradingError(f"assignment line {n}: expected 'SELECTOR [POINTS]', got {line!r}")
        points = None
        if len(parts) == 2:
            try:
                points = float(parts[1])
            except ValueError:
                raise GradingError(f"assignment line {n}: points must be a number: {line!r}") from None
        out[parts[0]] = points
    return out


def select(catalogue: dict[str, list[dict]], selectors: dict[str, float | None] | None):
    """Restrict the catalogue to the selected exercises (all when ``selectors`` is empty).

    A selector matching nothing is an error (a typo must not silently drop an exercise).
    Points given with a selector override the notebook's.
    """
    if not selectors:
        return catalogue
    chosen: dict[str, dict[str, float | None]] = {}
    for sel, pts in selectors.items():
        hit = False
        for nb_name, entries in catalogue.items():
            for e in entries:
                if (fnmatch.fnmatchcase(e["id"], sel) or
                        (re.fullmatch(r"\d\d", sel) and nb_name.startswith(sel + "_")) or
                        nb_name == sel or Path(nb_name).stem == sel):
                    chosen.setdefault(nb_name, {})[e["id"]] = pts
                    hit = True
        if not hit:
            raise GradingError(f"{sel!r} matches no exercise (see `course exercises`)")
    out = {}
    for nb_name, entries in catalogue.items():
        if nb_name in chosen:
            picked = []
            for e in entries:
                if e["id"] in chosen[nb_name]:
                    e = dict(e)
                    if chosen[nb_name][e["id"]] is not None:
                        e["points"] = chosen[nb_name][e["id"]]
                    picked.append(e)
            out[nb_name] = picked
    return out


# ---------------------------------------------------------------------------------------
# Finding submissions, telling which notebook and which student
# ---------------------------------------------------------------------------------------
_SIDE_FILE = re.compile(r"\.(updated|fresh|bak|mine)\d*\.ipynb$")


def discover(paths: list[Path]) -> list[tuple[Path, Path | None]]:
    """``[(notebook file, folder it was found under or None)]``, sorted, no duplicates.

    Folders are searched recursively, skipping ``.ipynb_checkpoints`` and the course's
    side files (``*.updated.ipynb``, ``*.fresh.ipynb``, ``*.bak.ipynb``)."""
    found: dict[Path, Path | None] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*.ipynb")):
                if ".ipynb_checkpoints" in f.parts or _SIDE_FILE.search(f.name):
                    continue
                found.setdefault(f, p)
        elif p.exists():
            found.setdefault(p, None)
        else:
            raise GradingError(f"{p}: no such file or folder")
    return sorted(found.items(), key=lambda kv: str(kv[0]))


def identify(path: Path, nb_metadata: dict | None, names: list[str]) -> str | None:
    """Which solution notebook (file name in ``names``) a submission is, or None."""
    gen = ((nb_metadata or {}).get("course") or {}).get("generated_from")
    if isinstance(gen, str) and Path(gen).name in names:
        return Path(gen).name
    for name in sorted(names, key=len, reverse=True):
        if Path(name).stem in path.name:
            return name
    m = re.match(r"^(\d\d)[_\-. ]", path.name) or re.search(r"(?:^|[_\-. ])(\d\d)[_\-. ]", path.name)
    if m:
        hits = [n for n in names if n.startswith(m.group(1) + "_")]
        if len(hits) == 1:
            return hits[0]
    return None


def student_of(path: Path, base: Path | None, notebook: str | None) -> str:
    if base is not None:
        rel = path.relative_to(base)
        if len(rel.parts) > 1:
            return rel.parts[0]
    stem = path.stem
    if notebook:
        stem = stem.replace(Path(notebook).stem, "")
    stem = stem.strip("_-. ")
    return stem or path.stem


def _display_name(path: Path, base: Path | None) -> str:
    return str(path.relative_to(base)) if base is not None else path.name


# ---------------------------------------------------------------------------------------
# Executing one submission
# ---------------------------------------------------------------------------------------
def _make_client(nb, cwd: Path, cell_timeout: float, deadline: float, max_output: int):
    """An nbclient ``NotebookClient`` that evaluates every cell, limits time and output."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec
    from nbclient import NotebookClient
    from nbformat.v4 import new_output

    class GradingClient(NotebookClient):
        replies: dict[int, dict] = {}
        timed_out: dict[int, float] = {}
        _sizes: dict[int, int] = {}

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {})))
            used = self._sizes.get(cell_index, 0)
            self._sizes[cell_index] = used + size
            if used + size <= max_output:
                return super().output(outs, msg, display_id, cell_index)
            if used <= max_output:  # first output over the limit: say so, once
                outs.append(new_output("stream", name="stderr", text=(
                    f"\n[grader: output of this cell cut after {max_output} characters]\n")))
            return None

    env = {k: v for k, v in os.environ.items() if k not in {"COURSE_GRADING", "MPLBACKEND"}}
    env.update({"COURSE_GRADING": "1", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"})
    km = AsyncKernelManager()
    km._kernel_spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (grading)", language="python", env=env)

    def timeout_func(cell):
        left = deadline - time.monotonic()
        return max(1, math.ceil(min(cell_timeout, left)))

    client = GradingClient(
        nb, km=km, allow_errors=True, record_timing=False, interrupt_on_timeout=True,
        error_on_timeout={"ename": "TimeLimit", "evalue": "time limit", "traceback": []},
        timeout_func=timeout_func, iopub_timeout=5, raise_on_iopub_timeout=False,
        shutdown_kernel="immediate", resources={"metadata": {"path": str(cwd)}})
    client.replies, client.timed_out, client._sizes = {}, {}, {}

    def on_cell_executed(cell, cell_index, execute_reply, **kw):
        content = (execute_reply or {}).get("content", {})
        client.replies[cell_index] = content
        if content.get("ename") == "TimeLimit":
            client.timed_out[cell_index] = True

    client.on_cell_executed = on_cell_executed
    return client


def execute_submission(nb, cwd: Path, *, timeout: float = DEFAULT_TIMEOUT,
                       cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                       max_output: int = DEFAULT_MAX_OUTPUT) -> dict[int, dict]:
    """Execute every code cell of ``nb`` in place in a fresh kernel in grading mode.

    Returns ``{cell index: run info}``: ``{"ran": bool, "status": "ok"|"error"|"timeout",
    "ename", "evalue", "why"}``; a cell that was not run (notebook time limit reached,
    kernel dead) has ``ran: False`` and ``why``.
    """
    from nbclient.exceptions import DeadKernelError

    deadline = time.monotonic() + timeout
    client = _make_client(nb, cwd, cell_timeout, deadline, max_output)
    info: dict[int, dict] = {}
    stop_reason = None
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    try:
        with client.setup_kernel():
            _record_kernel_pid(client)
            for i in code:
                if stop_reason is None and time.monotonic() >= deadline:
                    stop_reason = (f"not run: the notebook time limit ({timeout:g} s) was reached "
                                   "before this cell")
                if stop_reason is not None:
                    info[i] = {"ran": False, "why": stop_reason}
                    continue
                limit = client.timeout_func(nb.cells[i])
                try:
                    client.execute_cell(nb.cells[i], i)
                except DeadKernelError:
                    info[i] = {"ran": True, "status": "error", "ename": "DeadKernel",
                               "evalue": "the kernel died while running this cell"}
                    stop_reason = f"not run: the kernel died in cell {i}"
                    continue
                reply = client.replies.get(i, {})
                if i in client.timed_out:
                    info[i] = {"ran": True, "status": "timeout",
                               "evalue": f"time limit: the cell ran longer than {limit:g} s"}
                else:
                    info[i] = {"ran": True, "status": reply.get("status", "ok"),
                               "ename": reply.get("ename"), "evalue": reply.get("evalue")}
    except DeadKernelError:
        stop_reason = stop_reason or "not run: the kernel died"
    except Exception as exc:  # kernel failed to start, zmq trouble…: grade what ran
        stop_reason = stop_reason or f"not run: {type(exc).__name__}: {exc}"
    for i in code:
        info.setdefault(i, {"ran": False, "why": stop_reason or "not run"})
    return info


PIDFILE_ENV = "COURSE_GRADING_PIDFILE"


def _record_kernel_pid(client) -> None:
    """Note the kernel's pid where the parent grader can kill it (it runs in its own session)."""
    path = os.environ.get(PIDFILE_ENV)
    pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
    if path and pid:
        with open(path, "a") as f:
            f.write(f"{pid}\n")


def _first_line(text: str, limit: int = 200) -> str:
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text or "")


def _score_check(cell, run: dict) -> tuple[str, str]:
    """(status, reason) for an executed check cell."""
    if not run.get("ran"):
        return FAIL, run.get("why", "not run")
    if run["status"] == "timeout":
        return FAIL, run["evalue"] + " (an infinite loop?)"
    stdout = "".join(o.get("text", "") for o in cell.outputs
                     if o.get("output_type") == "stream" and o.get("name") == "stdout")
    if run["status"] == "error":
        ename, evalue = run.get("ename") or "Error", _strip_ansi(run.get("evalue") or "")
        if ename == "ExerciseFailed":
            first = _first_line(evalue)
            if first.startswith("⏳"):
                return NOT_ATTEMPTED, first
            return FAIL, first
        if ename == "DeadKernel":
            return FAIL, "the kernel died while running this check (a crash or os._exit?)"
        if ename == "KeyboardInterrupt":
            return FAIL, "interrupted (time limit)"
        hint = ""
        if ename == "NameError":
            hint = " (was a function renamed, or its cell deleted?)"
        return FAIL, f"the check cell raised {ename}: {_first_line(evalue)}{hint}"
    verdicts = [ln.strip() for ln in stdout.splitlines() if ln.strip()[:1] in {"✅", "⏳", "❌"}]
    if not verdicts:
        return FAIL, "the check printed no verdict"
    last = verdicts[-1]
    if last.startswith("✅"):
        return PASS, ""
    if last.startswith("⏳"):
        return NOT_ATTEMPTED, _first_line(last)
    return FAIL, _first_line(last)


def grade_notebook(path: Path, entries: list[dict], notebook: str, *, student: str,
                   display: str, cwd: Path | None = None, timeout: float = DEFAULT_TIMEOUT,
                   cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                   max_output: int = DEFAULT_MAX_OUTPUT) -> SubmissionResult:
    """Grade one submission in this process (see :func:`grade` for the isolated run)."""
    import nbformat

    t0 = time.monotonic()
    res = SubmissionResult(display, student, notebook)

    def all_fail(reason):
        res.exercises = [ExerciseResult(e["id"], e["title"], e["points"], FAIL, 0, reason,
                                        kind=e["kind"]) for e in entries]
        res.problem = reason

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:
        all_fail(f"not a readable notebook: {_first_line(str(exc))}")
        return res

    cells_by_id: dict[str, int] = {}
    for i, c in enumerate(nb.cells):
        gid = (c.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        if gid:
            cells_by_id[gid] = i  # the last occurrence wins (a duplicated cell)
    edited = set()
    for e in entries:
        i = cells_by_id.get(e["id"])
        if i is not None and e["kind"] == "code":
            cell = nb.cells[i]
            if cell.cell_type != "code":
                cell.cell_type, cell.outputs, cell.execution_count = "code", [], None
                cell.pop("attachments", None)
            if cell.source.strip() != e["source"].strip():
                edited.add(e["id"])
                cell.source = e["source"]

    if any(e["kind"] == "code" and e["id"] in cells_by_id for e in entries):
        with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
            run = execute_submission(nb, Path(cwd or tmp), timeout=timeout,
                                     cell_timeout=cell_timeout, max_output=max_output)
    else:
        run = {}

    for e in entries:
        i = cells_by_id.get(e["id"])
        if i is None:
            r = ExerciseResult(e["id"], e["title"], e["points"], FAIL, 0,
                               "check cell missing (deleted?)" if e["kind"] == "code"
                               else "answer cell missing (deleted?)", kind=e["kind"])
        elif e["kind"] != "code":
            text = nb.cells[i].source.strip()
            if not text or text == WRITTEN_BLANK:
                r = ExerciseResult(e["id"], e["title"], e["points"], NOT_ATTEMPTED, 0,
                                   "written answer left blank", kind="written")
            else:
                r = ExerciseResult(e["id"], e["title"], e["points"], MANUAL, 0,
                                   "written answer: grade by hand", kind="written")
        else:
            status, reason = _score_check(nb.cells[i], run.get(i, {"ran": False}))
            if e["id"] in edited:
                note = "(the check cell had been edited; the original was run)"
                reason = f"{reason} {note}" if reason else note
            pts = e["points"] if status == PASS else 0
            r = ExerciseResult(e["id"], e["title"], e["points"], status, pts, reason)
        res.exercises.append(r)
    dead = [v for v in run.values() if v.get("ename") == "DeadKernel"]
    if dead:
        res.problem = "the kernel died"
    elif any(not v.get("ran") and "time limit" in v.get("why", "") for v in run.values()):
        res.problem = f"notebook time limit ({timeout:g} s) reached"
    res.seconds = round(time.monotonic() - t0, 1)
    return res


# ---------------------------------------------------------------------------------------
# Grading many submissions, each in its own subprocess
# ---------------------------------------------------------------------------------------
def _grade_isolated(job: dict, timeout: float) -> SubmissionResult:
    """Run :func:`grade_notebook` in a subprocess; kill it (and its kernel) if it overruns."""
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        job_file, out_file = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_file.write_text(json.dumps(job))
        pidfile = Path(tmp) / "kernel.pid"
        cmd = [sys.executable, "-m", "course_utils.grading", str(job_file), str(out_file)]
        kw = {"start_new_session": True} if os.name == "posix" else {}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=tmp,
                                env=dict(os.environ, **{PIDFILE_ENV: str(pidfile)}), **kw)
        try:
            log, _ = proc.communicate(timeout=timeout + KILL_GRACE)
            why = f"the grader crashed (exit code {proc.returncode})"
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            log, _ = proc.communicate()
            for line in (pidfile.read_text().split() if pidfile.exists() else []):
                try:  # the kernel has its own session: kill it too
                    os.kill(int(line), signal.SIGKILL)
                except (ProcessLookupError, PermissionError, ValueError):
                    pass
            why = f"killed after {timeout + KILL_GRACE:g} s"
        if out_file.exists():
            return SubmissionResult.from_dict(json.loads(out_file.read_text()))
    res = SubmissionResult(job["display"], job["student"], job["notebook"])
    tail = _first_line((log or b"").decode(errors="replace")[-2000:].strip().splitlines()[-1]
                       if (log or b"").strip() else "")
    reason = why + (f": {tail}" if tail else "")
    res.exercises = [ExerciseResult(e["id"], e["title"], e["points"], FAIL, 0, reason,
                                    kind=e["kind"]) for e in job["entries"]]
    res.problem, res.seconds = reason, round(time.monotonic() - t0, 1)
    return res


def _kill_group(proc) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def grade(paths: list[Path], *, root: Path = ROOT, selectors: dict | None = None,
          timeout: float = DEFAULT_TIMEOUT, cell_timeout: float = DEFAULT_CELL_TIMEOUT,
          max_output: int = DEFAULT_MAX_OUTPUT, jobs: int = 1, isolate: bool = True,
          log=None) -> list[SubmissionResult]:
    """Grade every submission in ``paths`` (files or folders); see the module docstring."""
    catalogue = select(load_catalogue(root), selectors)
    if not catalogue:
        raise GradingError(f"no exercises: is {root / 'solutions'} there?")
    from . import build

    names = [p.name for p in build.solution_paths(root)]
    found = discover(paths)
    if not found:
        raise GradingError("no notebooks found in " + ", ".join(map(str, paths)))
    jobs_list, results = [], {}
    for k, (path, base) in enumerate(found):
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        except Exception:
            meta = {}
        notebook = identify(path, meta if isinstance(meta, dict) else {}, names)
        display = _display_name(path, base)
        student = student_of(path, base, notebook)
        if notebook is None:
            results[k] = SubmissionResult(display, student, None, [], 0.0,
                                          "cannot tell which course notebook this is")
            continue
        if notebook not in catalogue:  # not part of the selected assignment
            continue
        jobs_list.append((k, {"path": str(path.resolve()), "notebook": notebook,
                              "student": student, "display": display,
                              "entries": catalogue[notebook], "timeout": timeout,
                              "cell_timeout": cell_timeout, "max_output": max_output}))

    def run(item):
        k, job = item
        if isolate:
            r = _grade_isolated(job, timeout)
        else:
            r = _run_job(job)
        if log:
            log(f"graded {r.file}: {_fmt_pts(r.total)}/{_fmt_pts(r.max_total)} in {r.seconds:.0f} s")
        return k, r

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for k, r in pool.map(run, jobs_list):
            results[k] = r
    return [results[k] for k in sorted(results)]


def _run_job(job: dict) -> SubmissionResult:
    return grade_notebook(Path(job["path"]), job["entries"], job["notebook"],
                          student=job["student"], display=job["display"],
                          timeout=job["timeout"], cell_timeout=job["cell_timeout"],
                          max_output=job["max_output"])


# ---------------------------------------------------------------------------------------
# Reports: table, CSV, JSON
# ---------------------------------------------------------------------------------------
_SHORT = {PASS: "pass", FAIL: "FAIL", NOT_ATTEMPTED: "-", MANUAL: "manual"}


def _fmt_pts(x: float) -> str:
    return f"{x:g}"


def _columns(results: list[SubmissionResult]) -> list[str]:
    cols: list[str] = []
    for r in results:
        for e in r.exercises:
            if e.id not in cols:
                cols.append(e.id)
    return cols


def _one_table(results: list[SubmissionResult]) -> list[str]:
    cols = _columns(results)
    header = ["student/file", *cols, "total"]
    rows = []
    for r in results:
        by_id = {e.id: e for e in r.exercises}
        cells = [r.file]
        for c in cols:
            e = by_id.get(c)
            cells.append("" if e is None else
                         f"{_SHORT[e.status]} {_fmt_pts(e.points)}/{_fmt_pts(e.max_points)}"
                         if e.status != MANUAL else f"manual ?/{_fmt_pts(e.max_points)}")
        cells.append(f"{_fmt_pts(r.total)}/{_fmt_pts(r.max_total)}" if r.exercises else "error")
        rows.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    return ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip()
            for line in [header, ["-" * w for w in widths], *rows]]


def format_table(results: list[SubmissionResult]) -> str:
    """One plain-text table per notebook (a row per submission, a column per exercise),
    then the reasons for every failure (the JSON report has all reasons)."""
    groups: dict[str, list[SubmissionResult]] = {}
    for r in results:
        groups.setdefault(r.notebook or "(not a course notebook)", []).append(r)
    out = []
    for name, group in groups.items():
        out += [f"== {name} ==", *_one_table(group), ""]
    notes = []
    for r in results:
        if r.problem:
            notes.append(f"{r.file}: {r.problem}")
        for e in r.exercises:
            if e.status == FAIL and e.reason and e.reason != r.problem:
                notes.append(f"{r.file}: {e.id}: {e.reason}")
    out.append("pass / FAIL / - (not attempted) / manual (written answer, grade by hand); "
               "points earned/max; totals count the automatically graded exercises")
    if notes:
        out += ["", "Reasons for FAIL:", *("  " + n for n in notes)]
    return "\n".join(out) + "\n"


def to_csv(results: list[SubmissionResult]) -> str:
    """One row per submission: student, file, notebook, points and status per exercise,
    total, max, seconds, problem."""
    cols = _columns(results)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "file", "notebook", *[x for c in cols for x in (c, f"{c} status")],
                "total", "max", "seconds", "problem"])
    for r in results:
        by_id = {e.id: e for e in r.exercises}
        row = [r.student, r.file, r.notebook or ""]
        for c in cols:
            e = by_id.get(c)
            row += ["", ""] if e is None else [_fmt_pts(e.points) if e.status != MANUAL else "",
                                               e.status]
        row += [_fmt_pts(r.total), _fmt_pts(r.max_total), r.seconds, r.problem]
        w.writerow(row)
    return buf.getvalue()


def to_json(results: list[SubmissionResult]) -> str:
    return json.dumps({"submissions": [r.to_dict() for r in results]}, indent=2,
                      ensure_ascii=False)


def write_reports(results: list[SubmissionResult], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out_dir / "grades.csv", out_dir / "grades.json"
    csv_path.write_text(to_csv(results), encoding="utf-8")
    json_path.write_text(to_json(results) + "\n", encoding="utf-8")
    return csv_path, json_path


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
                   help=f"time limit per cell in seconds (default {DEFAULT_CELL_TIMEOUT})")
    p.add_argument("--max-output", type=int, default=DEFAULT_MAX_OUTPUT,
                   help="characters of output kept per cell (default 1e6)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--out", type=Path, default=Path("grades"),
                   help="folder for grades.csv and grades.json (default ./grades)")
    p.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)


def run_cli(args) -> int:
    selectors: dict[str, float | None] = {}
    try:
        if args.assignment:
            selectors.update(parse_assignment(args.assignment.read_text()))
        for s in filter(None, (x.strip() for x in args.only.split(","))):
            selectors.setdefault(s, None)
        results = grade(args.submissions, root=args.root, selectors=selectors,
                        timeout=args.timeout, cell_timeout=args.cell_timeout,
                        max_output=args.max_output, jobs=args.jobs,
                        log=lambda m: print(m, file=sys.stderr, flush=True))
    except (GradingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    csv_path, json_path = write_reports(results, args.out)
    print(f"wrote {csv_path} and {json_path}")
    return 0


def _child_main(argv: list[str]) -> int:
    """Subprocess entry point: ``python -m course_utils.grading JOB.json RESULT.json``."""
    job = json.loads(Path(argv[0]).read_text())
    res = _run_job(job)
    Path(argv[1]).write_text(json.dumps(res.to_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
