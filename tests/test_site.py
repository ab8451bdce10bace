"""The course website's builder (course_utils.tooling.publish.site and course_utils.tooling.publish.site_pages), piece by piece,
without Sphinx.

The whole build, opened in Chromium, is tested in tests/test_site_browser.py.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils.tooling import cli
from course_utils.tooling.publish import build, site, site_pages

ROOT = Path(__file__).resolve().parents[1]
v4 = nbformat.v4
NB = "01_unrolling_an_rnn.ipynb"


# ---------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("target, source, page, expected", [
    # between notebooks (the notebooks link to each other by file name)
    ("02_deriving_bptt.ipynb", "solutions/01_x.ipynb", "notebooks/01_x.html",
     "02_deriving_bptt.html"),
    ("02_deriving_bptt.ipynb#3-matrix-form", "solutions/01_x.ipynb", "notebooks/01_x.html",
     "02_deriving_bptt.html#3-matrix-form"),
    # a notebook to a glossary entry
    ("../GLOSSARY.md#bptt", "solutions/01_x.ipynb", "notebooks/01_x.html",
     "../glossary.html#bptt"),
    # the README's course map
    ("notebooks/03_coding_bptt.ipynb", "README.md", "index.html", "notebooks/03_coding_bptt.html"),
    ("GLOSSARY.md", "README.md", "index.html", "glossary.html"),
    ("INSTRUCTORS.md#threat-model", "README.md", "index.html", "instructors.html#threat-model"),
    ("README.md", "INSTRUCTORS.md", "instructors.html", "index.html"),
    # a repository file the site does not show -> GitHub
    ("CONTRIBUTING.md", "README.md", "index.html", f"{site_pages.GITHUB_URL}/blob/main/CONTRIBUTING.md"),
    ("../src/course_utils", "solutions/01_x.ipynb", "notebooks/01_x.html",
     f"{site_pages.GITHUB_URL}/tree/main/src/course_utils"),
    # left alone: external, pure anchors, outside the repository, missing files
    ("https://arxiv.org/abs/1211.5063", "README.md", "index.html", "https://arxiv.org/abs/1211.5063"),
    ("#unrolling", "GLOSSARY.md", "glossary.html", "#unrolling"),
    ("../../etc/passwd", "README.md", "index.html", "../../etc/passwd"),
    ("no_such_file.md", "README.md", "index.html", "no_such_file.md"),
])
def test_rewrite_link(target, source, page, expected):
    assert site_pages.rewrite_link(target, source, page, ROOT) == expected


def test_rewrite_links_in_markdown_and_html():
    text = ('See [02](02_deriving_bptt.ipynb "title") and [BPTT](../GLOSSARY.md#bptt), '
            '<a href="03_coding_bptt.ipynb">03</a>, [web](https://example.org/a.ipynb).')
    out = site_pages.rewrite_links(text, "solutions/01_x.ipynb", "notebooks/01_x.html", ROOT)
    assert out == ('See [02](02_deriving_bptt.html "title") and [BPTT](../glossary.html#bptt), '
                   '<a href="03_coding_bptt.html">03</a>, [web](https://example.org/a.ipynb).')


def test_page_links_are_the_readme_badges():
    readme = (ROOT / "README.md").read_text()
    assert site_pages.colab_url(NB) in readme
    assert site_pages.binder_url(NB) in readme
    for path in build.solution_paths(ROOT):
        assert site_pages.colab_url(path.name) in readme, f"README has no Colab badge for {path.name}"
    html = site_pages.links_html(NB)
    assert f'href="{site_pages.colab_url(NB)}"' in html and f'href="{site_pages.binder_url(NB)}"' in html
    assert f'href="../student/{NB}" download="{NB}"' in html


# ---------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------
def _tiny_notebook():
    title = v4.new_markdown_cell("# 99 · A title\n\nMotivation, see [01](01_x.ipynb).",
                                 id="title")
    code = v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x  # SECRET\n    ### END SOLUTION\n",
        id="sol-code", outputs=[v4.new_output("stream", name="stdout", text="defined\n")],
        execution_count=2)
    code.metadata["nbgrader"] = {"grade": False, "grade_id": "ex99_f_code", "locked": False,
                                 "schema_version": 3, "solution": True, "task": False}
    answer = v4.new_markdown_cell("Because $x$ doubles. SECRET ANSWER", id="sol-md")
    answer.metadata["nbgrader"] = {"grade": True, "grade_id": "ex99_why", "locked": False,
                                   "points": 1, "schema_version": 3, "solution": True,
                                   "task": False}
    figure = {"output_type": "display_data", "metadata": {},
              "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}
    explorer = v4.new_code_cell("display(explorer)", id="explorer", execution_count=3,
                                outputs=[nbformat.from_dict({
                                    "output_type": "display_data", "metadata": {},
                                    "data": {site_pages.WIDGET_MIME: {"model_id": "box",
                                                                "version_major": 2,
                                                                "version_minor": 0},
                                             "text/plain": "interactive(children=(…"}})])
    bar = v4.new_code_cell("train()", id="bar", execution_count=4, outputs=[nbformat.from_dict({
        "output_type": "display_data", "metadata": {},
        "data": {site_pages.WIDGET_MIME: {"model_id": "hbox", "version_major": 2, "version_minor": 0},
                 "text/plain": "LSTM: 0%| | 0/400"}})])
    nb = v4.new_notebook(cells=[title, code, answer, explorer, bar])
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_o"]}},
        "s": {"model_name": "FloatSliderModel", "state": {"value": 1.0}},
        "o": {"model_name": "OutputModel", "state": {"outputs": [figure]}},
        "hbox": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_h1", "IPY_MODEL_p",
                                                                   "IPY_MODEL_h2"]}},
        "h1": {"model_name": "HTMLModel", "state": {"value": "LSTM: 100%"}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": 400.0}},
        "h2": {"model_name": "HTMLModel", "state": {"value": " 400/400 [00:10&lt;00:00]"}},
    }
    nb.metadata["widgets"] = {site_pages.WIDGET_STATE_MIME: {"state": state, "version_major": 2,
                                                       "version_minor": 0}}
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    return nb


def test_solutions_are_behind_a_toggle():
    nb = _tiny_notebook()
    page = site_pages.prepare_notebook(nb, "99_tiny.ipynb", root=ROOT)
    cells = {c.id: c for c in page.cells}
    code = cells["sol-code"]
    assert "return 2 * x" in code.source and code.outputs  # kept, only collapsed
    assert {"hide-input", site_pages.SOLUTION_TAG} <= set(code.metadata["tags"])
    assert code.metadata["mystnb"]["code_prompt_show"] == site_pages.SOLUTION_SHOW
    md = cells["sol-md"].source
    assert md.startswith(f'<details class="admonition hide {site_pages.SOLUTION_TAG}">')
    assert site_pages.SOLUTION_SHOW in md and "SECRET ANSWER" in md and md.endswith("</details>")
    # the markdown inside the block is separated by blank lines, so it is still parsed
    assert "</summary>\n\nBecause $x$ doubles." in md
    assert "SECRET" in nb.cells[1].source, "the input notebook is not modified"
    assert "tags" not in nb.cells[1].metadata


def test_without_solutions_shows_the_student_version():
    page = site_pages.prepare_notebook(_tiny_notebook(), "99_tiny.ipynb", with_solutions=False,
                                 root=ROOT)
    text = "\n".join(c.source for c in page.cells)
    assert "SECRET" not in text and "return 2 * x" not in text
    cells = {c.id: c for c in page.cells}
    assert "raise NotImplementedError()" in cells["sol-code"].source
    assert cells["sol-code"].outputs == [] and cells["sol-code"].execution_count is None
    assert "YOUR ANSWER HERE" in cells["sol-md"].source
    assert site_pages.SOLUTION_SHOW not in text


def test_without_solutions_leaves_hidden_tests_out():
    nb = _tiny_notebook()
    check = v4.new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(3) == 6  # HIDDEN\n"
                             "### END HIDDEN TESTS\n", id="check", execution_count=5)
    check.metadata["nbgrader"] = {"grade": True, "grade_id": "ex99_f_check", "locked": True,
                                  "points": 1, "schema_version": 3, "solution": False,
                                  "task": False}
    nb.cells.append(check)
    cells = {c.id: c for c in site_pages.prepare_notebook(nb, "99_tiny.ipynb", with_solutions=False,
                                                    root=ROOT).cells}
    assert cells["check"].source.strip() == "assert f(1) == 2"
    with_sol = {c.id: c for c in site_pages.prepare_notebook(nb, "99_tiny.ipynb", root=ROOT).cells}
    assert "# HIDDEN" in with_sol["check"].source


def test_links_go_under_the_title_and_links_are_rewritten():
    page = site_pages.prepare_notebook(_tiny_notebook(), "99_tiny.ipynb", root=ROOT)
    title = page.cells[0].source
    assert title.startswith("# 99 · A title\n\n" + site_pages.links_html("99_tiny.ipynb") + "\n")
    assert "[01](01_x.html)" in title
    assert len(page.cells) == 5


def test_links_cell_when_there_is_no_title():
    nb = v4.new_notebook(cells=[v4.new_code_cell("1")])
    page = site_pages.prepare_notebook(nb, "99_tiny.ipynb", root=ROOT)
    assert page.cells[0].source == site_pages.links_html("99_tiny.ipynb")


def test_widget_views_become_what_they_showed():
    page = site_pages.prepare_notebook(_tiny_notebook(), "99_tiny.ipynb", root=ROOT)
    cells = {c.id: c for c in page.cells}
    outs = cells["explorer"].outputs
    assert [o.output_type for o in outs] == ["stream", "display_data"]
    assert "default settings" in outs[0].text and "Colab or Binder" in outs[0].text
    assert outs[1].data["image/png"] == "iVBORw0KGgo="
    bar = cells["bar"].outputs
    assert len(bar) == 1 and bar[0].text == "LSTM: 100% 400/400 [00:10<00:00]\n"
    assert "widgets" not in page.metadata
    assert all(site_pages.WIDGET_MIME not in o.get("data", {})
               for c in page.cells if c.cell_type == "code" for o in c.outputs)


def test_unknown_widget_shows_nothing():
    out = {"output_type": "display_data", "metadata": {},
           "data": {site_pages.WIDGET_MIME: {"model_id": "gone"}, "text/plain": "x"}}
    assert site_pages.widget_outputs(out, {}) == []


def test_real_notebooks_prepare_without_solutions_leaking():
    """Every solution notebook: with --without-solutions, no solution region survives."""
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        page = site_pages.prepare_notebook(nb, path.name, with_solutions=False, root=ROOT)
        shown = "\n".join(c.source for c in page.cells)
        assert "BEGIN SOLUTION" not in shown, path.name
        page_cells = {c.id: c for c in page.cells}
        for cell in nb.cells:
            if not cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            replaced = page_cells[cell.id]
            assert not replaced.get("outputs"), f"{path.name}: outputs of {cell.id} shown"
            body = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            body = body if cell.cell_type == "code" else [cell.source]
            for line in "\n".join(body).splitlines():
                line = line.strip()
                if line and not line.startswith("#") and line != "raise NotImplementedError()":
                    assert line not in replaced.source, f"{path.name}: solution line {line!r}"
        with_sol = site_pages.prepare_notebook(nb, path.name, root=ROOT)
        n_solutions = sum(1 for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
        toggles = sum(1 for c in with_sol.cells
                      if site_pages.SOLUTION_TAG in c.metadata.get("tags", [])
                      or c.source.startswith(f'<details class="admonition hide {site_pages.SOLUTION_TAG}'))
        assert toggles == n_solutions > 0, path.name


# ---------------------------------------------------------------------------------------
# The other pages
# ---------------------------------------------------------------------------------------
def test_home_page_is_the_readme_course_map():
    text = site_pages.readme_course_map((ROOT / "README.md").read_text())
    assert text.startswith("# Backpropagation through time, hands on")
    assert "## The notebooks" in text and "## Updating the course" not in text
    assert "(instructors.html)" in site_pages.rewrite_links(text, "README.md", "index.html", ROOT)
    assert "colab-badge.svg" not in text and "badge_logo.svg" not in text  # offline
    for path in build.solution_paths(ROOT):
        assert f"(notebooks/{path.name})" in text


def test_exercises_page_lists_the_catalogue():
    cat = build.catalogue(ROOT)
    text = site_pages.exercises_page(cat)
    total = sum(e["points"] for entries in cat.values() for e in entries)
    assert f"{total:g} points" in text
    for nb_name, entries in cat.items():
        assert f"(notebooks/{nb_name[:-6]}.html)" in text
        for e in entries:
            assert f"| `{e['id']}` | {e['title']} | {e['kind']} | {e['points']:g} |" in text


def test_stage_writes_an_offline_sphinx_project(tmp_path):
    pytest.importorskip("jupyter_server_mathjax")
    names = site.stage(tmp_path, root=ROOT)
    assert names == [p.name for p in build.solution_paths(ROOT)]
    for name in names:
        assert (tmp_path / "notebooks" / name).exists()
        assert (tmp_path / "_extra" / "student" / name).read_bytes() == \
            (ROOT / "notebooks" / name).read_bytes()
    conf = (tmp_path / "conf.py").read_text()
    namespace: dict = {}
    exec(compile(conf, "conf.py", "exec"), namespace)
    assert namespace["nb_execution_mode"] == "off"  # nothing is re-executed
    assert namespace["nb_ipywidgets_js"] == {}  # no widget manager from a CDN
    mathjax = namespace["mathjax_path"]
    assert "//" not in mathjax and not mathjax.startswith("/")  # served from the site
    assert (tmp_path / "_static" / mathjax.split("?")[0]).is_file()
    assert (tmp_path / "_static" / "mathjax" / "config" / f"{site.MATHJAX_CONFIG}.js").is_file()
    # the fonts the configuration asks for are the ones shipped
    assert namespace["mathjax2_config"]["HTML-CSS"]["webFont"] == "STIX-Web"
    assert (tmp_path / "_static" / "mathjax" / "fonts" / "HTML-CSS" / "STIX-Web").is_dir()
    # no theme or template from the network: no URL in the configuration but the repo's
    assert set(re.findall(r"https?://[^\s\"']+", conf)) == {site_pages.GITHUB_URL}
    index = (tmp_path / "index.md").read_text()
    assert all(f"notebooks/{n[:-6]}" in index for n in names)
    assert "glossary" in index and "exercises" in index and "\ninstructors\n" in index
    guide = (tmp_path / "instructors.md").read_text()
    assert guide.startswith("# The instructors' guide") and "](index.html)" in guide
    assert (tmp_path / "glossary.md").read_text().startswith("# ")


# ---------------------------------------------------------------------------------------
# Checking the built site
# ---------------------------------------------------------------------------------------
def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_check_links_finds_missing_files_and_anchors(tmp_path):
    _write(tmp_path / "index.html",
           '<a href="notebooks/a.html#sec">a</a> <a href="glossary.html#bptt">g</a> '
           '<img src="_images/x.png"> <a href="https://example.org/">web</a> <a href="#top">t</a>'
           '<span id="top"></span>')
    _write(tmp_path / "notebooks" / "a.html",
           '<h2 id="sec">S</h2><a href="../index.html">home</a> <a href="b.html">b</a>'
           '<a href="../glossary.html#nope">g</a>')
    _write(tmp_path / "glossary.html", '<a id="bptt"></a>')
    _write(tmp_path / "_images" / "x.png", "png")
    assert site.check_links(tmp_path) == [
        "notebooks/a.html: b.html -> no such file",
        "notebooks/a.html: ../glossary.html#nope -> no id 'nope' there",
    ]
    _write(tmp_path / "notebooks" / "b.html", "")
    (tmp_path / "notebooks" / "a.html").write_text('<h2 id="sec">S</h2>'
                                                    '<a href="../glossary.html#bptt">g</a>')
    assert site.check_links(tmp_path) == []


def test_build_site_refuses_to_replace_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(RuntimeError, match="not a site built by this command"):
        site.build_site(tmp_path, root=ROOT)
    assert (tmp_path / "mine.txt").read_text() == "precious"


# ---------------------------------------------------------------------------------------
# Commands, workflow, ignore file
# ---------------------------------------------------------------------------------------
def test_cli_has_a_site_command(monkeypatch):
    calls = []
    monkeypatch.setattr(site, "build_site", lambda out, with_solutions: calls.append(
        (out, with_solutions)))
    assert cli.main(["site"]) == 0
    assert cli.main(["site", "--without-solutions", "--out", "x"]) == 0
    assert calls == [(None, True), (Path("x"), False)]


def test_launcher_hands_site_over_to_the_package(monkeypatch):
    spec = importlib.util.spec_from_file_location("course_launcher_site", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = course
    try:
        spec.loader.exec_module(course)
        seen = {}
        monkeypatch.setattr(course, "ensure_env", lambda dev: seen.setdefault("dev", dev)
                            or Path("/venv/bin/python"))
        monkeypatch.setattr(course.subprocess, "call",
                            lambda cmd, cwd, env: seen.update(cmd=cmd, cwd=cwd) or 0)
        assert course.main(["site", "--without-solutions"]) == 0
        assert seen["dev"] is True and seen["cwd"] == course.ROOT
        assert seen["cmd"][1:] == ["-m", "course_utils", "site", "--without-solutions"]
        assert "python3 course.py site" in course._cli().help_text()
    finally:
        sys.modules.pop(spec.name, None)


def test_pages_workflow_builds_with_the_site_command_and_deploys():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "site.yml").read_text())
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["branches"] == ["main"]
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    steps = wf["jobs"]["build"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert "python course.py site" in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"].rstrip("/") == "site"
    assert runs.index("python course.py site") < steps.index(upload)
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in deploy["steps"])


def test_site_and_its_environment_are_ignored():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/site/" in ignored and ".venv-site/" in ignored


# ---------------------------------------------------------------------------------------
# Accessibility: text alternatives of figures, accessible names of toggles
# ---------------------------------------------------------------------------------------
def _figure_cell(cell_id="fig", alt=None):
    cell = v4.new_code_cell("plt.plot(x); plt.show()", id=cell_id, execution_count=5,
                            outputs=[nbformat.from_dict({
                                "output_type": "display_data", "metadata": {},
                                "data": {"image/png": "iVBORw0KGgo=",
                                         "text/plain": "<Figure size 640x480 with 1 Axes>"}})])
    if alt is not None:
        cell.metadata["mystnb"] = {"image": {"alt": alt}}
    return cell


def test_figures_without_alt_finds_a_figure_cell_with_no_text_alternative():
    nb = _tiny_notebook()  # its explorer cell shows a figure (through its widget view)
    nb.cells.append(_figure_cell())
    assert site_pages.figures_without_alt(nb) == ["cell 3 (id explorer)", "cell 5 (id fig)"]
    nb.cells[3].metadata["mystnb"] = {"image": {"alt": "The explorer's default figure."}}
    nb.cells[5].metadata["mystnb"] = {"image": {"alt": "   "}}  # blank is no text
    assert site_pages.figures_without_alt(nb) == ["cell 5 (id fig)"]
    nb.cells[5].metadata["mystnb"]["image"]["alt"] = "A line of x against its index."
    assert site_pages.figures_without_alt(nb) == []
    # the progress bar (text only) and cells without an image need none
    assert site_pages.figure_images(nb.cells[4], site_pages._widget_state(nb)) == 0
    assert site_pages.figure_images(nb.cells[0]) == 0


def test_every_figure_of_the_solutions_has_a_text_alternative():
    """Every code cell whose page shows an image (a stored figure, or the figure a stored
    widget view showed) carries its text alternative in the cell metadata MyST-NB reads
    (``mystnb: {image: {alt: …}}``), so the site's <img alt> says what it shows."""
    missing, short = [], []
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        missing += [f"{path.name}: {m}" for m in site_pages.figures_without_alt(nb)]
        short += [f"{path.name} cell {c.id}" for c in nb.cells
                  if site_pages.image_alt(c) and len(site_pages.image_alt(c)) < 40]
    assert not missing, ("figure cells without a text alternative (cell metadata "
                         "mystnb.image.alt, saying what the figure shows):\n  "
                         + "\n  ".join(missing))
    assert not short, f"a text alternative this short cannot say what a figure shows: {short}"


def test_the_student_notebooks_keep_the_text_alternatives():
    for path in build.solution_paths(ROOT):
        nb = build.read_notebook(path)
        alts = {c.id: site_pages.image_alt(c) for c in nb.cells if site_pages.image_alt(c)}
        student = build.read_notebook(ROOT / "notebooks" / path.name)
        kept = {c.id: site_pages.image_alt(c) for c in student.cells if c.id in alts}
        assert kept == alts, path.name


def test_a_figure_cell_of_a_solution_keeps_its_alt_and_gets_the_toggle():
    nb = _tiny_notebook()
    nb.cells[1].metadata["mystnb"] = {"image": {"alt": "What the figure shows."}}
    page = site_pages.prepare_notebook(nb, "99_tiny.ipynb", root=ROOT)
    meta = page.cells[1].metadata["mystnb"]
    assert meta["image"] == {"alt": "What the figure shows."}
    assert meta["code_prompt_show"] == site_pages.SOLUTION_SHOW


def test_a_written_solution_toggle_is_named_by_its_visible_text():
    page = site_pages.prepare_notebook(_tiny_notebook(), "99_tiny.ipynb", root=ROOT)
    md = next(c.source for c in page.cells if c.id == "sol-md")
    assert "<summary>\n" in md and "aria-label" not in md


def test_accessible_html_drops_the_labels_that_hide_visible_text():
    page = ('<details class="admonition hide above-input">\n'
            '<summary aria-label="Toggle hidden content">\n'
            '<p class="collapsed admonition-title">Show a solution</p>\n</summary>\n'
            '<button class="btn search-button-field search-button__button pst-js-only" '
            'title="Search" aria-label="Search" data-bs-toggle="tooltip">\n'
            '<span class="search-button__default-text">Search</span> <kbd>Ctrl</kbd>+<kbd>K'
            '</kbd></button>\n'
            '<button class="btn btn-sm" aria-label="Toggle primary sidebar">'
            '<i class="fa-solid fa-bars"></i></button>')
    out = site.accessible_html(page)
    assert "<summary>\n" in out and 'aria-label="Toggle hidden content"' not in out
    assert ('<button class="btn search-button-field search-button__button pst-js-only" '
            'title="Search" data-bs-toggle="tooltip">') in out
    # a button with no visible text keeps its label
    assert 'aria-label="Toggle primary sidebar"' in out
    assert site.accessible_html(out) == out


def test_the_check_cells_verdict_metadata_output_is_not_shown():
    """The empty output in which a check cell publishes its verdict (for `course
    progress`) shows nothing, so the page leaves it out; the printed verdict stays."""
    from course_utils.status import VERDICT_KEY

    cell = v4.new_code_cell("ex01.check_f(f)")
    cell.outputs = [v4.new_output("stream", name="stdout", text="✅ f: passed\n"),
                    v4.new_output("display_data", data={"text/plain": ""},
                                  metadata={VERDICT_KEY: {"status": "passed"}})]
    page = site_pages.prepare_notebook(v4.new_notebook(cells=[cell]), "99_tiny.ipynb", root=ROOT)
    outs = [c for c in page.cells if c.cell_type == "code"][0].outputs
    assert [o.output_type for o in outs] == ["stream"] and "passed" in outs[0].text
