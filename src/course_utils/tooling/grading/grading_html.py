"""The class report, ``grades/report.html``, that ``course grade --out grades/`` writes.

One self-contained file that works offline: no external scripts, styles or fonts; the
score histograms are PNGs embedded as ``data:`` URIs with a text alternative that gives
their numbers; a few lines of inline JavaScript sort the students × exercises tables.
Built with the standard library and matplotlib from :func:`grading_summary.class_summary`
(the structured verdicts). Accessible by construction: ``lang``, headings in order,
``<details>``/``<summary>`` for what collapses, real tables with ``<th scope>``, sort
``<button>``s in the column headers with ``aria-sort``, colours from the Okabe–Ito
palette (safe for colour-blind readers) as light tints under dark text, and every status
also written as a word and a symbol, never carried by colour alone.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import subprocess
from pathlib import Path

from ...status import MANUAL, NOT_ATTEMPTED, PASSED, WRONG
from .grading_reports import SubmissionResult
from .grading_summary import (
    NotebookSummary,
    blamed_steps,
    class_summary,
    status_counts,
    students_in,
)

# Okabe & Ito (2008): blue #0072B2, vermillion #D55E00, orange #E69F00; tints for cells.
STATUS_STYLE = {PASSED: ("✓", "pass", "#cfe6f5"), WRONG: ("✗", "fail", "#f8d5bd"),
                NOT_ATTEMPTED: ("–", "not attempted", "#e6e6e6"),
                MANUAL: ("✎", "manual", "#fbecc5")}
BAR_COLOUR = "#0072B2"
_SORT_RANK = {PASSED: 3, MANUAL: 2, WRONG: 1, NOT_ATTEMPTED: 0}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1a1a1a;
 background:#fff;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;line-height:1.45}
h1,h2,h3{line-height:1.2}h2{border-bottom:2px solid #0072B2;padding-bottom:.2rem;margin-top:2.5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}caption{text-align:left;font-weight:bold;
 padding:.2rem 0}th,td{border:1px solid #767676;
 padding:.25rem .5rem;text-align:left;vertical-align:top}thead th{background:#f2f2f2}
td.num{text-align:right}.status-pass{background:#cfe6f5}.status-fail{background:#f8d5bd}
.status-not-attempted{background:#e6e6e6}.status-manual{background:#fbecc5}
th button{font:inherit;font-weight:bold;color:#1a1a1a;background:none;border:0;padding:0;
 cursor:pointer;text-decoration:underline}
button:focus-visible,summary:focus-visible{outline:3px solid #0072B2;outline-offset:2px}
summary{cursor:pointer;padding:.15rem 0}details{margin:.25rem 0}
details>div{margin:.25rem 0 .5rem 1.25rem}.hint{background:#f7f7f7;border-left:4px solid #0072B2;
 padding:.25rem .5rem}code{font-size:.95em}.muted{color:#4d4d4d}
.legend span{display:inline-block;border:1px solid #767676;padding:0 .4rem;margin-right:.5rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);
 white-space:nowrap}
"""

# Sorts a table by the clicked column (numbers by data-sort, text otherwise); keyboard
# users get it for free from <button>. aria-sort and a polite live region say what happened.
JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  var live = document.getElementById(table.id + '-status');
  table.querySelectorAll('thead th button').forEach(function (button) {
    button.addEventListener('click', function () {
      var th = button.parentNode, col = Array.prototype.indexOf.call(th.parentNode.children, th);
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('thead th').forEach(function (o) { o.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) { var c = row.children[col], v = c.getAttribute('data-sort');
        return v === null ? c.textContent.trim().toLowerCase() : parseFloat(v); }
      rows.sort(function (a, b) { var x = key(a), y = key(b);
        var d = (typeof x === 'number') ? x - y : (x < y ? -1 : x > y ? 1 : 0);
        return asc ? d : -d; });
      rows.forEach(function (r) { body.appendChild(r); });
      if (live) { live.textContent = 'Sorted by ' + button.textContent.trim() + ', ' +
        (asc ? 'ascending' : 'descending') + '.'; }
    });
  });
});
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def _pts(x: float) -> str:
    return f"{x:g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------
def git_commit(root: Path) -> str:
    """The course's git commit (``+ local changes`` when the tracked files differ), or
    ``unknown`` outside a git checkout."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=20)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + (" + local changes" if dirty.stdout.strip() else "")


def run_info(results: list[SubmissionResult], *, root: Path, options: dict,
             digest: str | None = None) -> dict:
    """What the report's provenance section shows: course version, seeds, date, options."""
    seeds = sorted({s for r in results for s in r.heldout_seeds})
    info = {"course version (git commit)": git_commit(root),
            "held-out seeds": ", ".join(map(str, seeds)) or "none (visible cases only)",
            "date (UTC)": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "submissions": str(len(results))}
    if digest:
        info["course files (SHA-256 of src/ and solutions/)"] = digest
    info.update({f"option {k}": str(v) for k, v in options.items()})
    return info


# ---------------------------------------------------------------------------------------
# The score histogram
# ---------------------------------------------------------------------------------------
def histogram(nb: NotebookSummary) -> tuple[str, str]:
    """``(data URI of a PNG, its text alternative)``: submissions per total score."""
    from matplotlib.figure import Figure

    counts: dict[float, int] = {}
    for t in nb.totals:
        counts[t] = counts.get(t, 0) + 1
    top = int(nb.max_total) if nb.max_total == int(nb.max_total) else nb.max_total
    xs = sorted(set(counts) | ({float(v) for v in range(int(top) + 1)} if top <= 40 else set()))
    fig = Figure(figsize=(6, 3), dpi=100)
    ax = fig.add_subplot()
    ax.bar([_pts(x) for x in xs], [counts.get(x, 0) for x in xs], color=BAR_COLOUR,
           edgecolor="#1a1a1a")
    ax.set_xlabel(f"total score (points, of {_pts(nb.max_total)})")
    ax.set_ylabel("submissions")
    ax.set_title(f"{nb.name}: total scores of {len(nb.totals)} submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    parts = "; ".join(f"{_plural(n, 'submission')} scored {_pts(x)}"
                      for x, n in sorted(counts.items()))
    alt = (f"Bar chart of the total scores in {nb.name} (out of {_pts(nb.max_total)} points), "
           f"{_plural(len(nb.totals), 'submission')}: {parts}.")
    return uri, alt


# ---------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------
def _student_list(names: list[str], details: list[str] | None = None,
                  cls: str = "students") -> str:
    items = [f"<li>{esc(n)}{(': ' + esc(d)) if d else ''}</li>"
             for n, d in zip(names, details or [""] * len(names))]
    return f'<ul class="{cls}">{"".join(items)}</ul>'


def _exercise(ex, n_submissions: int) -> str:
    c = status_counts(ex)
    out = [f'<h4 id="{esc(ex.id)}">{esc(ex.title)} <span class="muted">(<code>{esc(ex.id)}'
           f"</code>, {_pts(ex.max_points)} points)</span></h4>"]
    if ex.kind == "written":
        out.append(f"<p>Written answer, graded by hand: {c[MANUAL]} answered, "
                   f"{c[NOT_ATTEMPTED]} left blank, {c[WRONG]} missing.</p>")
        return "\n".join(out)
    rate = 100 * c[PASSED] / ex.graded if ex.graded else 0
    out.append(f'<p data-exercise="{esc(ex.id)}" data-pass="{c[PASSED]}" data-fail="{c[WRONG]}" '
               f'data-not-attempted="{c[NOT_ATTEMPTED]}">Passed: <strong>{c[PASSED]} of '
               f"{ex.graded}</strong> ({rate:.0f}%). Failed: {c[WRONG]}. Not attempted: "
               f"{c[NOT_ATTEMPTED]}.</p>")
    rows = "".join(f'<tr><td class="num">{_pts(p)}</td><td class="num">{n}</td></tr>'
                   for p, n in sorted(ex.points.items()))
    out.append(f"<table><caption>Points earned in <code>{esc(ex.id)}</code></caption>"
               '<thead><tr><th scope="col">points</th><th scope="col">submissions</th></tr>'
               f"</thead><tbody>{rows}</tbody></table>")
    if ex.mistakes:
        out.append("<p>Diagnosed mistakes, the most frequent first:</p><ol>")
        for g in ex.mistakes:
            hints = (f'<p class="hint">Hint shown: {esc(g.hint)}</p>' if len(g.hints) <= 1 else
                     '<div class="hint"><p>Hints shown (worded with each student\'s numbers):'
                     f"</p>{_student_list(g.hints, cls='hints')}</div>")
            out.append(
                f'<li><details data-mistake="{esc(g.key)}" data-count="{g.count}"><summary>'
                f"<strong>{esc(g.label)}</strong>: {_plural(g.count, 'student')}</summary><div>"
                f'{hints}{_step_link(g.key)}<p class="muted">Mistake id: <code>{esc(g.key)}</code></p>'
                f"<p>Students:</p>{_student_list(g.students)}</div></details></li>")
        out.append("</ol>")
    else:
        out.append("<p>No classic mistake was diagnosed in this exercise.</p>")
    if ex.other:
        out.append("<p>Other failures (no classic mistake recognised):</p><ul>")
        for g in ex.other:
            out.append(f'<li><details data-failure="{esc(g.key)}" data-count="{g.count}">'
                       f"<summary>{esc(g.label)}: {_plural(g.count, 'student')}</summary>"
                       f"<div>{_student_list(g.students)}</div></details></li>")
        out.append("</ul>")
    return "\n".join(out)


def _step_link(mistake: str) -> str:
    """A sentence linking a sequence failure caused by the student's own step function to
    that step's exercise in this report ("" for any other mistake)."""
    steps = blamed_steps(mistake)
    if not steps:
        return ""
    links = " and ".join(f'<a href="#{esc(s)}"><code>{esc(s)}</code></a>' for s in steps)
    return (f'<p data-caused-by="{esc(" ".join(steps))}">Caused by the students\' own step '
            f"function: see {links} (fixing the step fixes this too).</p>")


def _overview(nb: NotebookSummary) -> str:
    """One row per exercise: pass rate and the most frequent diagnosed mistake."""
    rows = []
    for ex in nb.exercises:
        c = status_counts(ex)
        top = ex.mistakes[0] if ex.mistakes else None
        mistake = (f"{esc(top.label)} ({_plural(top.count, 'student')})" if top else
                   "written answer" if ex.kind == "written" else "none diagnosed")
        passed = f"{c[PASSED]} of {ex.graded}" if ex.kind != "written" else "graded by hand"
        rows.append(f'<tr><th scope="row"><a href="#{esc(ex.id)}">{esc(ex.title)}</a></th>'
                    f'<td class="num">{passed}</td><td class="num">{c[WRONG]}</td>'
                    f'<td class="num">{c[NOT_ATTEMPTED]}</td><td>{mistake}</td></tr>')
    head = "".join(f'<th scope="col">{h}</th>' for h in (
        "exercise", "passed", "failed", "not attempted", "most frequent mistake"))
    return (f"<table><caption>Exercises of {esc(nb.name)} at a glance</caption><thead><tr>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _flags(nb: NotebookSummary) -> str:
    out = ["<ul>"]
    for key, title, flags in nb.flags():
        who = students_in(flags)
        if not who:
            out.append(f'<li data-flag="{key}" data-count="0">{esc(title)}: none</li>')
            continue
        lines = [f"{s}{' (' + e + ')' if e else ' (whole notebook)'}: {d}" for s, e, d in flags]
        items = "".join(f"<li>{esc(x)}</li>" for x in lines)
        out.append(f'<li><details data-flag="{key}" data-count="{len(who)}"><summary>'
                   f"{esc(title)}: {_plural(len(who), 'student')}</summary><div>"
                   f'<ul class="students">{items}</ul></div></details></li>')
    out.append("</ul>")
    return "\n".join(out)


def _cell(e) -> str:
    if e is None:
        return '<td data-sort="-1">not in this submission</td>'
    symbol, word, _ = STATUS_STYLE[e.status]
    pts = (f"?/{_pts(e.max_points)}" if e.status == MANUAL
           else f"{_pts(e.points)}/{_pts(e.max_points)}")
    key = _SORT_RANK[e.status] * 1000 + e.points
    cls = "status-" + e.status.replace(" ", "-")
    return (f'<td class="{cls}" data-sort="{key:g}"><span aria-hidden="true">{symbol}</span> '
            f"{word} {pts}</td>")


def _table(nb: NotebookSummary, k: int) -> str:
    cols = [ex.id for ex in nb.exercises]
    tid = f"table-{k}"
    head = ['<th scope="col" aria-sort="ascending"><button type="button">student</button></th>',
            *(f'<th scope="col"><button type="button">{esc(c)}</button></th>' for c in cols),
            '<th scope="col"><button type="button">total</button></th>']
    body = []
    for who, r in sorted(zip(nb.students, nb.rows), key=lambda p: p[0].lower()):
        by_id = {e.id: e for e in r.exercises}
        total = (f'<td class="num" data-sort="{r.total:g}">{_pts(r.total)}/{_pts(r.max_total)}'
                 "</td>") if r.exercises else '<td data-sort="-1">not graded</td>'
        body.append(f'<tr><th scope="row">{esc(who)}</th>'
                    + "".join(_cell(by_id.get(c)) for c in cols) + total + "</tr>")
    legend = " ".join(f'<span class="status-{w.replace(" ", "-")}">{s} {w}</span>'
                      for s, w, _ in STATUS_STYLE.values())
    return (f'<p class="legend">Legend: {legend}. Click a column header to sort by it '
            "(again to reverse).</p>"
            f'<table class="sortable" id="{tid}"><caption>Students × exercises in '
            f"{esc(nb.name)}</caption><thead><tr>{''.join(head)}</tr></thead><tbody>"
            f"{''.join(body)}</tbody></table>"
            f'<p id="{tid}-status" class="visually-hidden" aria-live="polite"></p>')


def _gradebook_section(book: dict) -> list[str]:
    """The gradebook (one row per student: each notebook's status, the total, late days,
    the final score) and every file that was not graded, with why."""
    nbs = list(book["notebooks"])
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in (
        "student", *(Path(nb).stem for nb in nbs), "total", "days late", "final"))
    body, skipped = [], []
    for s in book["students"]:
        cells = []
        for nb in nbs:
            n = s["notebooks"][nb]
            pts = (f" {_pts(n['points'])}/{_pts(n['max'])}" if n["status"] != "missing" else "")
            cells.append(f'<td data-status="{esc(n["status"])}">{esc(n["status"])}{pts}</td>')
        late = max([n.get("days_late", 0) for n in s["notebooks"].values()] or [0])
        who = s["id"] + (f" ({s['name']})" if s["name"] else "") + (
            "" if s["on_roster"] else ", not on the roster")
        body.append(f'<tr data-student="{esc(s["id"])}"><th scope="row">{esc(who)}</th>'
                    f"{''.join(cells)}<td class=\"num\">{_pts(s['total'])}/"
                    f"{_pts(s['max_total'])}</td><td class=\"num\">{late}</td>"
                    f"<td class=\"num\">{_pts(s['final'])}</td></tr>")
        skipped += [f"{x['file']}: {x['why']}" for x in s["not_graded"]]
    st = book["settings"]
    rule = (f"Deadline {st['deadline']}, {st['late_penalty']:g}% of a notebook's points per "
            "day late." if st["deadline"] else "No deadline given.")
    out = ["<h2 id=\"gradebook\">Gradebook: one row per student</h2>",
           f"<p>{_plural(len(book['students']), 'student')}"
           f"{' (the roster and any folder not on it)' if st['roster'] is not None else ''}; "
           "per notebook: graded, several candidates (the copy saved last that holds the "
           "student's work was graded), unreadable or missing. "
           f"{esc(rule)}</p>",
           '<table id="gradebook-table"><caption>Gradebook</caption><thead><tr>'
           f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
           f"<h3>Files not graded ({len(skipped)})</h3>",
           '<ul class="not-graded">' + "".join(f"<li>{esc(x)}</li>" for x in skipped) + "</ul>"
           if skipped else "<p>None: every file found was graded.</p>"]
    return out


def render(results: list[SubmissionResult], run: dict | None = None, *,
           book: dict | None = None, similarity=None) -> str:
    """The whole report as one HTML document (with the gradebook when ``book`` is given;
    ``similarity``: a :class:`~course_utils.tooling.grading.grading_similarity.Report`, shown per
    notebook)."""
    from . import grading_similarity

    notebooks, ungraded = class_summary(results)
    run = run or {}
    parts = [f"<h1>Class report: {_plural(len(results), 'submission')}</h1>",
             "<p>What the class got right and wrong, from the grader's structured verdicts. "
             "Mistakes are counted by their identity (the same mistake, however the "
             "student's code was written, counts once per student).</p>"]
    if notebooks:
        parts.append("<nav aria-label=\"Notebooks\"><ul>" + "".join(
            f'<li><a href="#nb-{k}">{esc(nb.name)}</a></li>' for k, nb in enumerate(notebooks))
            + "</ul></nav>")
    for k, nb in enumerate(notebooks):
        uri, alt = histogram(nb)
        mean = sum(nb.totals) / len(nb.totals) if nb.totals else 0
        parts += [f'<section aria-labelledby="nb-{k}"><h2 id="nb-{k}">{esc(nb.name)}</h2>',
                  f"<p>{_plural(len(nb.totals), 'submission')}; mean score {mean:.1f} of "
                  f"{_pts(nb.max_total)} points.</p>",
                  f'<figure><img src="{uri}" alt="{esc(alt)}" width="600" height="300">'
                  f"<figcaption>Total scores in {esc(nb.name)}.</figcaption></figure>",
                  "<h3>At a glance</h3>", _overview(nb),
                  "<h3>Exercises</h3>",
                  *(_exercise(ex, len(nb.totals)) for ex in nb.exercises),
                  "<h3>To look at: held-out failures, reuse, review, time limits, crashes</h3>",
                  _flags(nb), grading_similarity.section(similarity, nb.name),
                  "<h3>Students × exercises</h3>", _table(nb, k), "</section>"]
    if book is not None:
        parts += _gradebook_section(book)
    if ungraded:
        parts += ["<h2>Files that are not course notebooks</h2>",
                  _student_list([r.file for r in ungraded], [r.problem for r in ungraded])]
    prov = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{esc(v)}</td></tr>'
                   for k, v in run.items())
    parts += ["<h2>How this report was made</h2>",
              f"<table><caption>Provenance of this grading run</caption><tbody>{prov}</tbody>"
              "</table>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Class report</title>"
            f"<style>{CSS}{grading_similarity.CSS if similarity else ''}</style></head><body><main>{''.join(parts)}</main>"
            f"<script>{JS}</script></body></html>\n")


def write_report(results: list[SubmissionResult], out_dir: Path, run: dict | None = None,
                 *, book: dict | None = None, similarity=None) -> Path:
    path = Path(out_dir) / "report.html"
    path.write_text(render(results, run, book=book, similarity=similarity), encoding="utf-8")
    return path
