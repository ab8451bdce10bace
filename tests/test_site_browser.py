"""The course website as a reader meets it: built, served on 127.0.0.1, opened in Chromium.

The site is built once (``course_utils.tooling.publish.site.build_site``, as ``python3 course.py site``
does) into a temporary folder and served by a static server on 127.0.0.1; Debian's
Chromium, driven by Playwright, then checks that

* every notebook page renders, with its title, its links to Colab, Binder and the student
  notebook, and every figure its notebook stores (loaded, not broken);
* equations are typeset by the MathJax that the site itself serves (not raw ``\\(…\\)``
  or ``$…$``), with no request for a file the site lacks;
* every internal link of every page (pages, images, scripts, styles, downloads) answers
  200 from the server, and every ``#anchor`` names an id on its page;
* a glossary link from a notebook lands on its entry;
* search finds "truncation";
* an exercise solution is hidden behind "Show a solution" until clicked, and hides again;
* nothing is requested from any other host (the site works offline);
* accessibility: axe-core (``browser_helpers.run_axe``: WCAG 2.0/2.1 A and AA rules) finds
  no violation of impact "serious" or "critical" on any page; every figure's ``alt`` is
  its notebook cell's text alternative (never a file name); every rendered equation
  carries MathML for screen readers; every toggle (solutions, answers, hints) is reached
  with Tab, shows a focus ring, and opens and closes with Enter.

Screenshots go to ``<pytest tmp>/site-screenshots`` and, with ``COURSE_ARTIFACTS`` set,
to ``artifacts/screenshots/``. Needs what tests/test_browser.py needs (Playwright and a
system Chromium) plus the dev extra's Sphinx packages, and axe-core (installed by
.ci/system-deps) for the accessibility check; without them the tests are skipped, unless
``COURSE_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from browser_helpers import (
    AXE_FAILING_IMPACTS,
    StaticSiteServer,
    axe_counts,
    axe_report,
    keep_screenshot,
    require_axe,
    require_chromium,
    run_axe,
    running_browser,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1280, "height": 900}
# How long a wait (page load, images, MathJax typesetting, search) may take before it counts
# as a hang: a busy machine only makes them slow (MathJax overran 30 s at load 15), so the
# limit catches what never happens, not what happens slowly.
WAIT_MS = 300_000

JS_PAGE = """() => {
  const article = document.querySelector('article') || document.body;
  const imgs = Array.from(article.querySelectorAll('.cell_output img'));
  const links = Array.from(document.querySelectorAll(
      'a[href], img[src], link[href], script[src]')).map(e => e.href || e.src);
  const course = document.querySelector('.course-links');
  return {
    title: (article.querySelector('h1') || {}).innerText || '',
    cellsWithOutput: article.querySelectorAll('div.cell div.cell_output').length,
    rawWidget: article.innerText.includes('interactive(children')
               || article.innerText.includes('Error displaying widget'),
    figures: imgs.length,
    alts: imgs.map(i => i.getAttribute('alt')),
    loadedFigures: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    links,
    courseLinks: course ? Array.from(course.querySelectorAll('a')).map(
        a => ({cls: a.className, href: a.href, download: a.getAttribute('download')})) : [],
  };
}"""

JS_MATH_DONE = """() => {
  if (!(window.MathJax && MathJax.Hub && MathJax.Hub.queue)) return false;
  const maths = Array.from(document.querySelectorAll('.math.notranslate'));
  return maths.length > 0 && MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0
    && maths.every(m => m.querySelector('script[type^="math/tex"]'));
}"""

JS_MATH = """() => {
  // Sphinx's math elements (MathJax adds spans of class "math" inside its own output)
  const maths = Array.from(document.querySelectorAll('.math.notranslate'));
  const article = document.querySelector('article');
  return {
    n: maths.length,
    rendered: maths.filter(m => {
      const r = m.querySelector('.MathJax, .MathJax_Display, .MathJax_SVG, .MathJax_CHTML');
      return r && r.getBoundingClientRect().width > 0;
    }).length,
    rawDelimiters: /\\\\\\(|\\\\\\[|\\$\\$/.test(article.innerText),
    errors: document.querySelectorAll('.MathJax .merror, .MathJax_Error').length
            + (article.innerText.includes('Math Processing Error') ? 1 : 0),
    // what a screen reader reads: the MathML that MathJax's AssistiveMML puts next to the
    // rendering (which is hidden from assistive technology)
    withMathML: maths.filter(m => {
      const mml = m.querySelector('.MJX_Assistive_MathML math');
      return mml && mml.textContent.trim().length > 0;
    }).length,
    visualHidden: maths.filter(m => {
      const r = m.querySelector('.MathJax, .MathJax_Display');
      const v = r && (r.matches('.MathJax') ? r : r.querySelector('.MathJax'));
      return v && (v.getAttribute('role') === 'presentation'
                   || v.getAttribute('aria-hidden') === 'true'
                   || (v.querySelector('[aria-hidden="true"]') !== null));
    }).length,
  };
}"""

JS_TOGGLE = """(sel) => {
  const d = document.querySelector(sel);
  if (!d) return null;
  const s = d.querySelector('summary');
  const body = Array.from(d.children).filter(n => n !== s);
  return {open: d.open, summary: s ? s.innerText.trim() : null,
          visible: body.some(n => n.checkVisibility()),
          text: body.map(n => n.textContent).join('')};
}"""


def _solution_notebooks():
    from course_utils.tooling.publish import build

    return build.solution_paths(ROOT)


# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium():
    """The browser executable, or skip (fail under COURSE_REQUIRE_BROWSER=1)."""
    return require_chromium((("sphinx", "Sphinx"), ("myst_nb", "MyST-NB"),
                             ("sphinx_book_theme", "sphinx-book-theme"),
                             ("jupyter_server_mathjax", "jupyter-server-mathjax")),
                            what="site browser test")


@pytest.fixture(scope="module")
def built_site(chromium, tmp_path_factory):
    from course_utils.tooling.publish import site

    out = tmp_path_factory.mktemp("site-build") / "site"
    t0 = time.perf_counter()
    site.build_site(out, root=ROOT)
    print(f"site built in {time.perf_counter() - t0:.1f} s")
    return out


@pytest.fixture(scope="module")
def server(built_site):
    with StaticSiteServer(built_site) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(chromium):
    with running_browser(chromium) as b:
        yield b


@pytest.fixture(scope="module")
def axe_source(chromium):
    """axe-core's script (skip, or fail under COURSE_REQUIRE_BROWSER=1, if it is missing)."""
    return require_axe()


@pytest.fixture(scope="module")
def foreign_requests():
    """Requests for anything not on 127.0.0.1, across the module (each one is refused)."""
    return []


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("site-screenshots", numbered=False)


def _shot(pg, path: Path) -> Path:
    """Screenshot of page ``pg`` to ``path``, kept in artifacts/ when COURSE_ARTIFACTS is set."""
    pg.screenshot(path=str(path))
    return _keep(path)


_keep = keep_screenshot


@pytest.fixture(scope="module")
def context(browser, server, foreign_requests):
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(WAIT_MS)  # page loads and clicks too, not only the waits below

    def route(r):
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            foreign_requests.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    yield ctx
    ctx.close()


@pytest.fixture
def page(request, context, screenshot_dir):
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.page_errors = errors
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        _shot(pg, screenshot_dir / f"FAILED-site-{request.node.name}.png")
    pg.close()


@pytest.fixture(scope="module")
def visited(context, server):
    """Every top-level page of the site, opened once: what it shows and links to."""
    pages = ["index.html", "glossary.html", "exercises.html", "instructors.html", "search.html",
             "genindex.html"]
    pages += [f"notebooks/{p.stem}.html" for p in _solution_notebooks()]
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    out = {}
    for rel in pages:
        pg.goto(server.url(rel), wait_until="load")
        pg.wait_for_function("() => Array.from(document.querySelectorAll('img'))"
                             ".every(i => i.complete)", timeout=WAIT_MS)
        out[rel] = pg.evaluate(JS_PAGE)
    pg.close()
    return {"pages": out, "errors": errors}


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------
def test_every_notebook_page_renders_with_its_figures(visited, screenshot_dir, context, server):
    from course_utils.tooling.publish import build, site_pages

    for path in _solution_notebooks():
        data = visited["pages"][f"notebooks/{path.stem}.html"]
        nb = site_pages.prepare_notebook(build.read_notebook(path), path.name, root=ROOT)
        expected = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                       if "image/png" in o.get("data", {}))
        with_output = sum(1 for c in nb.cells if c.cell_type == "code" and c.outputs)
        assert data["title"].startswith(path.name[:2] + " · "), (path.name, data["title"])
        assert data["cellsWithOutput"] == with_output, (path.name, data["cellsWithOutput"],
                                                        with_output)
        assert not data["rawWidget"], f"{path.name}: a widget shows as raw text"
        assert data["figures"] == expected, (path.name, data["figures"], expected)
        assert data["loadedFigures"] == expected, f"{path.name}: a figure did not load"
        # every figure's alt is its cell's text alternative (not a file name)
        alts = {site_pages.image_alt(c) for c in nb.cells if site_pages.figure_images(c)}
        assert set(data["alts"]) == alts - {""}, (path.name, data["alts"])
        assert not any(re.search(r"\.(png|jpe?g|svg)\b|_images/", a or "")
                       for a in data["alts"]), (path.name, data["alts"])
        links = {a["cls"]: a for a in data["courseLinks"]}
        assert links["course-colab"]["href"] == site_pages.colab_url(path.name)
        assert links["course-binder"]["href"] == site_pages.binder_url(path.name)
        assert links["course-download"]["href"] == server.url(f"student/{path.name}")
        assert links["course-download"]["download"] == path.name
    assert sum(visited["pages"][f"notebooks/{p.stem}.html"]["figures"]
               for p in _solution_notebooks()) > 0
    assert not visited["errors"], visited["errors"]
    pg = context.new_page()
    pg.goto(server.url("notebooks/04_vanishing_exploding_gradients.html"), wait_until="load")
    pg.locator(".tag_course-solution").first.scroll_into_view_if_needed()
    _shot(pg, screenshot_dir / "site-04.png")
    pg.close()


def test_equations_are_typeset_with_the_shipped_mathjax(page, server, screenshot_dir):
    page.goto(server.url("notebooks/02_deriving_bptt.html"), wait_until="load")
    page.wait_for_function(JS_MATH_DONE, timeout=WAIT_MS, polling=200)
    math = page.evaluate(JS_MATH)
    assert math["n"] > 10 and math["rendered"] == math["n"], math
    assert not math["rawDelimiters"], "raw \\( \\[ or $$ left in the page"
    assert math["errors"] == 0, math
    assert math["withMathML"] == math["n"], f"an equation without MathML for screen readers: {math}"
    assert math["visualHidden"] == math["n"], f"a rendering not hidden from screen readers: {math}"
    page.locator(".math.notranslate").first.scroll_into_view_if_needed()
    _shot(page, screenshot_dir / "site-math.png")
    mathjax = [(p, code) for p, code in server.requests if "/_static/mathjax/" in p]
    assert mathjax and all(code in (200, 304) for _, code in mathjax), mathjax


def test_every_internal_link_resolves(visited, server):
    import html as html_mod

    targets: set[str] = set()
    for data in visited["pages"].values():
        targets |= {u for u in data["links"] if u.startswith(server.base_url + "/")}
    assert len(targets) > 50
    ids_cache: dict[str, set[str]] = {}
    bad = []
    for url in sorted(targets):
        base, frag = urldefrag(url)
        code = server.status(base)
        if code != 200:
            bad.append(f"{url}: HTTP {code}")
            continue
        if frag and base.endswith(".html"):
            if base not in ids_cache:
                rel = base[len(server.base_url) + 1:].split("?")[0]
                text = (server.root / rel).read_text()
                ids_cache[base] = {html_mod.unescape(m) for m in
                                   re.findall(r'\b(?:id|name)="([^"]+)"', text)}
            if frag not in ids_cache[base]:
                bad.append(f"{url}: no id {frag!r} on the page")
    assert not bad, "\n".join(bad)
    # glossary anchors are among them
    assert any(u.endswith("glossary.html#tbptt") for u in targets)
    not_found = [(p, c) for p, c in server.requests if c == 404 and p != "/favicon.ico"]
    assert not not_found, not_found


def test_a_glossary_link_lands_on_its_entry(page, server):
    page.goto(server.url("notebooks/05_truncated_bptt.html"), wait_until="load")
    link = page.locator('article a[href$="glossary.html#tbptt"]').first
    link.scroll_into_view_if_needed()
    link.click()
    page.wait_for_url(re.compile(r"glossary\.html#tbptt$"))
    assert page.locator('[id="tbptt"]').count() == 1
    page.wait_for_timeout(300)
    # the entry was scrolled into view: its anchor is within the window
    top = page.evaluate("() => document.getElementById('tbptt').getBoundingClientRect().top")
    assert 0 <= top < VIEWPORT["height"] / 2, top


def test_search_finds_truncation(page, server, screenshot_dir):
    page.goto(server.url("search.html?q=truncation"), wait_until="load")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=WAIT_MS)
    hrefs = [results.nth(i).locator("a").first.get_attribute("href")
             for i in range(results.count())]
    assert any("05_truncated_bptt" in h for h in hrefs), hrefs
    _shot(page, screenshot_dir / "site-search.png")


@pytest.mark.parametrize("rel, selector, secret", [
    # a code exercise: the solution cell's source is collapsed (MyST-NB hide-input)
    ("notebooks/01_unrolling_an_rnn.html", ".tag_course-solution details", "np.tanh"),
    # a written exercise: the model answer is collapsed (<details> around the markdown)
    ("notebooks/02_deriving_bptt.html", "details.course-solution", ""),
])
def test_solution_toggle_hides_and_shows(page, server, rel, selector, secret):
    page.goto(server.url(rel), wait_until="load")
    state = page.evaluate(JS_TOGGLE, selector)
    assert state is not None, f"no solution toggle ({selector}) on {rel}"
    assert state["summary"].startswith("Show a solution"), state
    assert not state["open"] and not state["visible"], state
    assert secret in state["text"]
    summary = page.locator(f"{selector} > summary").first
    summary.scroll_into_view_if_needed()
    summary.click()
    page.wait_for_timeout(200)
    state = page.evaluate(JS_TOGGLE, selector)
    assert state["open"] and state["visible"], state
    assert "Hide the solution" in state["summary"], state
    summary.click()
    page.wait_for_timeout(200)
    state = page.evaluate(JS_TOGGLE, selector)
    assert not state["open"] and not state["visible"], state


def _site_pages() -> list[str]:
    return (["index.html", "glossary.html", "exercises.html", "instructors.html", "search.html",
             "genindex.html"]
            + [f"notebooks/{p.stem}.html" for p in _solution_notebooks()])


def test_axe_finds_no_serious_accessibility_violation(context, server, axe_source):
    """WCAG 2.0/2.1 A and AA rules of axe-core on every page, once its scripts (MathJax
    included) have run: no violation of impact serious or critical."""
    pg = context.new_page()
    failing, counts = {}, {}
    for rel in _site_pages():
        pg.goto(server.url(rel), wait_until="load")
        if pg.locator(".math.notranslate").count():
            pg.wait_for_function(JS_MATH_DONE, timeout=WAIT_MS, polling=200)
        result = run_axe(pg, axe_source)
        all_impacts = axe_counts(result["violations"],
                                 ("minor", "moderate", "serious", "critical"))
        if all_impacts:
            counts[rel] = all_impacts
        if axe_counts(result["violations"]):
            failing[rel] = axe_report(result["violations"])
    pg.close()
    print(f"axe-core {result['version']}: violations of any impact per page: {counts or 'none'}")
    assert not failing, (f"axe-core found violations of impact {'/'.join(AXE_FAILING_IMPACTS)}:\n"
                         + "\n".join(f"{rel}:\n{text}" for rel, text in failing.items()))


JS_MARK_TOGGLES = """() => {
  const s = Array.from(document.querySelectorAll('article details > summary'));
  s.forEach((e, i) => { e.dataset.courseToggle = String(i); });
  return s.map(e => e.innerText.trim().split('\\n')[0]);
}"""

JS_FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {body: true};
  const cs = getComputedStyle(e);
  const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2)
               || (cs.boxShadow && cs.boxShadow !== 'none');
  const toggle = e.dataset ? e.dataset.courseToggle : undefined;
  return {body: false, toggle: toggle === undefined ? null : Number(toggle), ring,
          open: toggle === undefined ? null : e.parentElement.open};
}"""


@pytest.mark.parametrize("stem", ["01_unrolling_an_rnn", "02_deriving_bptt",
                                  "06_gradient_clipping"])
def test_every_toggle_works_with_the_keyboard(page, server, stem, screenshot_dir):
    """Tab from the top of the page reaches every toggle (code solutions, written
    solutions, review answers, hints); the focused toggle shows a focus ring; Enter opens it
    and Enter closes it again."""
    page.goto(server.url(f"notebooks/{stem}.html"), wait_until="load")
    names = page.evaluate(JS_MARK_TOGGLES)
    assert names, f"{stem}: no toggle on the page"
    reached, no_ring, not_toggled = set(), [], []
    shot = False
    for _ in range(2000):
        page.keyboard.press("Tab")
        f = page.evaluate(JS_FOCUSED)
        if f["body"] and reached:
            break
        if f.get("toggle") is None or f["toggle"] in reached:
            continue
        i = f["toggle"]
        reached.add(i)
        if not f["ring"]:
            no_ring.append(names[i])
        was_open = f["open"]
        page.keyboard.press("Enter")
        opened = page.evaluate(JS_FOCUSED)
        if not shot and not was_open:
            _shot(page, screenshot_dir / f"site-keyboard-{stem}.png")
            shot = True
        page.keyboard.press("Enter")
        closed = page.evaluate(JS_FOCUSED)
        if not (opened["toggle"] == i and opened["open"] != was_open
                and closed["toggle"] == i and closed["open"] == was_open):
            not_toggled.append(names[i])
        if len(reached) == len(names):
            break
    missed = [names[i] for i in range(len(names)) if i not in reached]
    assert not missed, f"{stem}: toggles Tab never reached: {missed}"
    assert not no_ring, f"{stem}: toggles with no visible focus: {no_ring}"
    assert not not_toggled, f"{stem}: toggles Enter did not open and close: {not_toggled}"
    # the kinds of toggle: solutions (code and written), review answers, hints
    assert {"Show a solution", "Show answer"} <= set(names), names
    if stem == "02_deriving_bptt":
        assert "Hint" in names, names


def test_nothing_was_requested_from_another_host(visited, foreign_requests):
    # runs last in this module (pytest keeps file order): every page above was opened
    assert visited["pages"]
    assert not foreign_requests, foreign_requests
