"""Feedback to hand back: one HTML file per student, ``grades/feedback/<student>.html``,
that ``course grade --out grades/`` writes beside the grades.

Each file says, for every graded exercise of every notebook the student submitted, the
verdict (in words and a symbol), the points, the check's whole diagnosis with every hint
(the CSV's ``reason`` keeps only its first line), and what to look at again: the section
of the notebook the exercise is in (and, for a sequence that fails because of the
student's own step function, that step's exercise). Written answers are marked as graded
by hand. Review flags are for the instructor and are not in it.

The file is one page that works offline and on a phone: no scripts, no external styles or
fonts, ``lang`` and a viewport set, headings in order, dark text on light tints (the
class report's colour-blind-safe palette), every status also written as a word.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from ...status import MANUAL, NOT_ATTEMPTED, PASSED, WRONG
from .grading_notebook import CELL_NUMBERS
from .grading_reports import SubmissionResult
from .grading_summary import blamed_steps

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1a1a1a;
 background:#fff;margin:0 auto;max-width:46rem;padding:1rem;line-height:1.5;font-size:1rem}
h1,h2,h3{line-height:1.25}h2{border-bottom:2px solid #0072B2;padding-bottom:.2rem;margin-top:2rem}
section.exercise{border:1px solid #767676;border-radius:.4rem;padding:.25rem .9rem;margin:1rem 0}
.status{display:inline-block;padding:0 .45rem;border:1px solid #767676;border-radius:.3rem}
.status-pass{background:#cfe6f5}.status-fail{background:#f8d5bd}
.status-not-attempted{background:#e6e6e6}.status-manual{background:#fbecc5}
.hint{background:#f7f7f7;border-left:4px solid #0072B2;padding:.25rem .6rem}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f7;padding:.5rem;
 font-size:.9rem}code{font-size:.95em;overflow-wrap:anywhere}.muted{color:#4d4d4d}
"""
WORDS = {PASSED: ("✓", "passed", "pass"), WRONG: ("✗", "not passed", "fail"),
         NOT_ATTEMPTED: ("–", "not attempted", "not-attempted"),
         MANUAL: ("✎", "written answer, graded by hand", "manual")}
CELLS = f"In the grader's messages, {CELL_NUMBERS}."


def esc(x) -> str:
    import html

    return html.escape(str(x), quote=True)


def _pts(x: float) -> str:
    return f"{x:g}"


def file_name(student: str) -> str:
    """A safe file name for a student's feedback (letters, digits, ``._-`` kept)."""
    name = re.sub(r"[^\w.-]+", "_", student, flags=re.ASCII).strip("._") or "student"
    return name + ".html"


@functools.cache
def sections(notebook_path: str) -> dict[str, str]:
    """``{exercise id: the heading of the section it is in}`` for a solution notebook
    (the last ``#``–``###`` heading above the exercise's answer cell); {} if unreadable."""
    import json

    from ..exercise_cells import grade_id

    try:
        cells = json.loads(Path(notebook_path).read_text(encoding="utf-8"))["cells"]
    except Exception:
        return {}
    out, heading = {}, ""
    for cell in cells:
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        if cell.get("cell_type") == "markdown":
            found = re.findall(r"^#{1,3}\s+(.+?)\s*$", src, re.M)
            if found:
                heading = re.sub(r"<[^>]+>", "", found[-1]).strip()
        gid = grade_id(cell)
        if gid:
            out.setdefault(gid.removesuffix("_code"), heading)
    return out


def look_again(notebook: str | None, exercise_id: str, root: Path) -> str:
    """Where to look again: the notebook and the section of the exercise."""
    if not notebook:
        return ""
    heading = sections(str(Path(root) / "solutions" / notebook)).get(exercise_id)
    where = f"notebook <code>{esc(notebook)}</code>"
    return f"{where}, section “{esc(heading)}”" if heading else where


def _diagnosis(e) -> str:
    """The whole diagnosis: the check's message and every line under it (hints
    included), or the grader's reason when no check ran."""
    v = e.verdict
    if v is not None:
        seed = v.get("seed")
        lines = ([f"It passed the cases in the notebook but not new cases the grader drew "
                  f"(held-out seed {seed}): it may be fitted to the visible cases."]
                 if seed is not None else [])
        lines.append(v.get("message", ""))
        details = [d for d in v.get("details", []) or [] if d.strip()]
        said = [x for x in (*lines, *details) if x]
        details += [ln.strip() for ln in str(e.reason).splitlines()  # what the grader added
                    if ln.strip() and not any(x in ln or ln.strip() in x for x in said)]
    else:
        lines, details = [ln for ln in str(e.reason).splitlines() if ln.strip()][:1], \
            [ln.strip() for ln in str(e.reason).splitlines() if ln.strip()][1:]
    out = "".join(f"<p>{esc(ln)}</p>" for ln in lines if ln)
    if details:
        hint = ' class="hint"'
        items = "".join(f'<li{hint if d.startswith("Most likely") else ""}>{esc(d)}</li>'
                        for d in details)
        out += f"<ul>{items}</ul>"
    return out


def _exercise(e, notebook: str | None, root: Path) -> str:
    symbol, word, cls = WORDS.get(e.status, ("?", e.status, "fail"))
    pts = (f"?/{_pts(e.max_points)} (graded by hand)" if e.status == MANUAL
           else f"{_pts(e.points)}/{_pts(e.max_points)}")
    out = [f'<section class="exercise" aria-labelledby="fb-{esc(e.id)}">',
           f'<h3 id="fb-{esc(e.id)}">{esc(e.title)} <span class="muted">(<code>{esc(e.id)}'
           "</code>)</span></h3>",
           f'<p><span class="status status-{cls}"><span aria-hidden="true">{symbol}</span> '
           f"{esc(word)}</span> · points: <strong>{pts}</strong></p>"]
    if e.status in (WRONG, NOT_ATTEMPTED):
        if e.status == NOT_ATTEMPTED and e.kind != "written":
            out.append("<p>The function still raises <code>NotImplementedError</code>: it was "
                       "not attempted.</p>")
        elif e.status == NOT_ATTEMPTED:
            out.append("<p>The answer was left blank.</p>")
        else:
            out += ["<h4>What the grader found</h4>", _diagnosis(e)]
        where = look_again(notebook, e.id, root)
        steps = blamed_steps((e.verdict or {}).get("mistake"))
        if steps:
            where += "; and your step function first: " + ", ".join(
                f'<a href="#fb-{esc(s)}"><code>{esc(s)}</code></a>' for s in steps)
        if where:
            out.append(f"<p><strong>Look again at:</strong> {where}.</p>")
    out.append("</section>")
    return "\n".join(out)


def render(student: str, results: list[SubmissionResult], root: Path,
           course: str = "") -> str:
    """One student's feedback page (all their graded submissions)."""
    total = sum(r.total for r in results)
    top = sum(r.max_total for r in results)
    parts = [f"<h1>Feedback for {esc(student)}</h1>",
             f"<p>Automatically graded points: <strong>{_pts(total)} of {_pts(top)}</strong>"
             f"{' in ' + esc(course) if course else ''}. Written answers are graded by hand "
             "and not counted here.</p>"]
    for r in results:
        name = r.notebook or r.file
        parts.append(f"<h2>{esc(name)}: {_pts(r.total)} of {_pts(r.max_total)} points</h2>")
        parts.append(f'<p class="muted">File graded: <code>{esc(r.file)}</code></p>')
        if r.problem:
            parts.append(f"<p><strong>About the whole notebook:</strong> {esc(r.problem)}</p>")
        if not r.exercises:
            parts.append("<p>No exercise could be graded in this file.</p>")
        parts += [_exercise(e, r.notebook, root) for e in r.exercises]
    parts.append(f'<p class="muted">{CELLS} Ask your instructor if anything here is '
                 "unclear.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Feedback for {esc(student)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


def write_feedback(results: list[SubmissionResult], out_dir: Path, root: Path) -> Path:
    """Write ``out_dir/<student>.html`` for every student with a graded submission;
    returns ``out_dir``. Two students whose names map to the same file name get the
    second one's name with a number."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_student: dict[str, list[SubmissionResult]] = {}
    for r in results:
        if r.notebook is not None:
            by_student.setdefault(r.student, []).append(r)
    used: set[str] = set()
    for student, rows in sorted(by_student.items()):
        name = file_name(student)
        k = 2
        while name in used:
            name = f"{file_name(student)[:-5]}-{k}.html"
            k += 1
        used.add(name)
        (out_dir / name).write_text(render(student, rows, root), encoding="utf-8")
    return out_dir
