"""The class report (``grades/report.html``) as an instructor meets it, in Chromium.

The report of a small class graded in-process (``tests/report_class.py``) is written to
a temporary folder and opened from the file system (it must work offline, from a file);
Debian's Chromium, driven by Playwright, then checks that

* it renders: its heading, every histogram loaded (not broken), no console error and no
  page error, and no request for anything but the file itself;
* every collapsible (``<details>``) opens from the keyboard: Tab until its summary has
  the focus, then Enter;
* sorting works: clicking a column header's button reorders the rows (by the total,
  ascending, then descending again by Enter on the focused button), and ``aria-sort``
  says so;
* axe-core (``browser_helpers.run_axe``: WCAG 2.0/2.1 A and AA rules) finds no serious or
  critical violation, with every collapsible closed and with every one open.

A screenshot goes to ``<pytest tmp>/report-screenshots`` and, with ``COURSE_ARTIFACTS``
set, to ``artifacts/screenshots/``. Needs Playwright and a system Chromium, like
tests/test_browser.py; without them the test is skipped, unless
``COURSE_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import pytest
from browser_helpers import (
    axe_counts,
    axe_report,
    keep_screenshot,
    require_axe,
    require_chromium,
    run_axe,
    running_browser,
)
from report_class import make_results, parse_report

from course_utils.tooling.grading import grading_html

pytestmark = [pytest.mark.browser]

JS_STATE = """() => ({
  h1: (document.querySelector('h1') || {}).innerText || '',
  images: Array.from(document.images).map(i => ({ok: i.complete && i.naturalWidth > 0,
                                                 alt: i.alt})),
  details: document.querySelectorAll('details').length,
  open: document.querySelectorAll('details[open]').length,
})"""

JS_COLUMN = """(col) => Array.from(document.querySelectorAll('table.sortable tbody tr'))
  .map(r => r.children[col].textContent.trim())"""


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    results = make_results()
    run = grading_html.run_info(results, root=folder, options={"--jobs": 1})
    return grading_html.write_report(results, folder, run)


def test_the_report_renders_opens_and_sorts(report_file, tmp_path_factory):
    chromium = require_chromium(what="the class report's browser test")
    shots = tmp_path_factory.mktemp("report-screenshots", numbered=False)
    expected = parse_report(report_file.read_text())
    url = report_file.as_uri()
    with running_browser(chromium) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems, requests = [], []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(url)
        page.wait_for_load_state("load")
        state = page.evaluate(JS_STATE)
        assert state["h1"].startswith("Class report"), state
        assert state["images"] and all(i["ok"] and i["alt"].startswith("Bar chart")
                                       for i in state["images"]), state["images"]
        n = state["details"]
        assert n == report_file.read_text().count("<details") and n > 10, state
        assert len(expected["mistakes"]) >= 4
        axe_source = require_axe()
        closed = run_axe(page, axe_source)["violations"]
        assert not axe_counts(closed), axe_report(closed)

        # Every collapsible, from the keyboard: Tab to its summary, Enter.
        page.locator("body").focus()
        opened = 0
        for _ in range(400):
            page.keyboard.press("Tab")
            tag = page.evaluate("() => document.activeElement.tagName")
            if tag == "SUMMARY":
                page.keyboard.press("Enter")
                assert page.evaluate("() => document.activeElement.parentNode.open"), opened
                opened += 1
            if opened == n:
                break
        assert opened == n and page.evaluate(JS_STATE)["open"] == n, (opened, n)
        all_open = run_axe(page, axe_source)["violations"]
        assert not axe_counts(all_open), axe_report(all_open)
        page.screenshot(path=str(shots / "report-open.png"), full_page=True)
        keep_screenshot(shots / "report-open.png")

        # Sorting: click "total", then Enter on the focused button reverses it.
        headers = page.locator("table.sortable thead th")
        col = headers.count() - 1
        before = page.evaluate(JS_COLUMN, 0)
        assert before == sorted(before, key=str.lower)  # by student, at first
        page.get_by_role("button", name="total").click()
        totals = [float(t.split("/")[0]) if t[0].isdigit() else -1
                  for t in page.evaluate(JS_COLUMN, col)]
        after = page.evaluate(JS_COLUMN, 0)
        assert after != before and totals == sorted(totals), (after, totals)
        assert headers.nth(col).get_attribute("aria-sort") == "ascending"
        assert headers.nth(0).get_attribute("aria-sort") is None
        page.keyboard.press("Enter")  # the button still has the focus
        totals = [float(t.split("/")[0]) if t[0].isdigit() else -1
                  for t in page.evaluate(JS_COLUMN, col)]
        assert totals == sorted(totals, reverse=True)
        assert headers.nth(col).get_attribute("aria-sort") == "descending"
        assert "descending" in page.locator("#table-0-status").inner_text()
        page.screenshot(path=str(shots / "report-sorted.png"), full_page=True)
        keep_screenshot(shots / "report-sorted.png")
    assert problems == [], problems
    assert set(requests) <= {url}, requests
