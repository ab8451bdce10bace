"""The course as students meet it: JupyterLab in a real (headless) browser.

JupyterLab is started from this project's own environment (the Python running pytest)
on 127.0.0.1 with a random token, serving temporary copies of the notebooks; Debian's
Chromium, driven by Playwright, opens a notebook, runs all cells and waits for them; the
tests then look at the page as a student would:

* ``test_widget_smoke_notebook``: a small notebook written here (a slider controlling a
  matplotlib plot through ``interact``), so widget rendering is tested independently of
  the course content: controls render (not "Error displaying widget", not a raw
  ``interactive(children=...)`` text), a figure is shown, moving the slider with the
  keyboard redraws the figure.
* ``test_explorer_notebooks``: the same for the interactive explorer of every *student*
  notebook that has one (cells tagged ``explorer``). Each notebook's setup cell (its first
  code cell) and explorer cells go into one small notebook, one section per lesson, so the
  lessons' long experiments are not rerun and one kernel start serves them all; every
  default figure must show, and the first slider of every panel must redraw its figure.
* ``test_notebook01_as_student_sees_it``: notebook 01's exercise cells show
  ``raise NotImplementedError()`` and are editable, its check cells are locked and say
  "not attempted yet", markdown and LaTeX are rendered, figures are shown, review answers
  are hidden in ``<details>`` blocks until the student clicks "Show answer".

Screenshots go to ``<pytest tmp>/screenshots`` (pytest keeps the last 3 runs) and, when
``COURSE_ARTIFACTS`` is set (``.ci/run`` sets it), also to ``artifacts/screenshots/``.

Needs the ``playwright`` Python package (dev extra) and a system Chromium
(``/usr/bin/chromium``, from ``.ci/system-deps``; or ``COURSE_CHROMIUM=/path``). Without
them the tests are skipped, unless ``COURSE_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from browser_helpers import (
    RAW_WIDGET_REPR,
    JupyterLabServer,
    NotebookPage,
    keep_screenshot,
    require_chromium,
    running_browser,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
STUDENT_DIR = ROOT / "notebooks"
NB_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
NOTEBOOK_01 = "01_unrolling_an_rnn.ipynb"
SMOKE_NAME = "widget_smoke.ipynb"
VIEWPORT = {"width": 1280, "height": 900}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STDERR_ERROR = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception): ", re.M)


EXPLORER_TAG = "explorer"


def _explorer_cells(nb) -> list:
    return [c for c in nb.cells if EXPLORER_TAG in c.metadata.get("tags", [])]


EXPLORER_NOTEBOOKS = sorted(
    p.name for p in STUDENT_DIR.glob("*.ipynb")
    if NB_NAME.match(p.name) and _explorer_cells(nbformat.read(str(p), as_version=4)))


EXPLORERS_NAME = "explorers.ipynb"


def explorer_cells_of(path: Path) -> list:
    """The student notebook's setup cell (its first code cell), then its cells tagged
    ``explorer`` (the default figure and the interactive panel), in order."""
    nb = nbformat.read(str(path), as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    return [setup, *_explorer_cells(nb)]


def explorers_notebook(names=EXPLORER_NOTEBOOKS):
    """One small notebook with a section per student notebook: a heading naming it, its
    setup cell and its explorer cells. Returns the notebook and ``{name: cell indices of
    its explorer cells}``."""
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [v4.new_markdown_cell("# The course's explorers")]
    where = {}
    for name in names:
        setup, *explorer = explorer_cells_of(STUDENT_DIR / name)
        nb.cells += [v4.new_markdown_cell(f"## {name}"),
                     v4.new_code_cell(setup.source, metadata=dict(setup.metadata))]
        where[name] = list(range(len(nb.cells), len(nb.cells) + len(explorer)))
        nb.cells += [v4.new_code_cell(c.source, metadata=dict(c.metadata)) for c in explorer]
    return nb, where


def smoke_notebook():
    """A slider controlling a matplotlib plot via ``interact`` (no course content)."""
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [
        v4.new_markdown_cell("# Widget smoke test\nThe slider sets the frequency $f$ of "
                             "$\\sin(f x)$."),
        v4.new_code_cell("import ipywidgets as widgets\nimport matplotlib.pyplot as plt\n"
                         "import numpy as np\nfrom ipywidgets import interact"),
        v4.new_code_cell(
            "def plot(freq=1.0):\n"
            "    x = np.linspace(0, 2 * np.pi, 200)\n"
            "    fig, ax = plt.subplots(figsize=(4, 2.5))\n"
            "    ax.plot(x, np.sin(freq * x), label=f'sin({freq:.1f} x)')\n"
            "    ax.set(xlabel='x', ylabel='y', title='slider test')\n"
            "    ax.legend(loc='upper right')\n"
            "    plt.show()\n\n"
            "interact(plot, freq=widgets.FloatSlider(value=1.0, min=0.5, max=3.0, step=0.5));"),
        v4.new_code_cell("plot(2.0)  # a plain figure, outside any widget"),
    ]
    return nb


# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium():
    """The browser executable, or skip (fail under COURSE_REQUIRE_BROWSER=1)."""
    return require_chromium()


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory):
    """Temporary copies of notebooks/ plus the smoke notebook; the repo is never written."""
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(STUDENT_DIR, root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.bak.ipynb"))
    nbformat.write(smoke_notebook(), str(root / SMOKE_NAME))
    nbformat.write(explorers_notebook()[0], str(root / "notebooks" / EXPLORERS_NAME))
    return root


@pytest.fixture(scope="module")
def lab(chromium, lab_root):
    server = JupyterLabServer(lab_root)
    t0 = time.perf_counter()
    server.start()
    print(f"JupyterLab up on port {server.port} in {time.perf_counter() - t0:.1f} s")
    try:
        yield server
    finally:
        rc = server.stop()
        print(f"JupyterLab stopped (exit code {rc})")
        server.cleanup()


@pytest.fixture(scope="module")
def browser(chromium, lab):
    with running_browser(chromium) as b:
        yield b


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots", numbered=False)


_keep = keep_screenshot


@pytest.fixture
def open_notebook(request, browser, lab, screenshot_dir):
    """Open a notebook (path relative to the lab root) in a fresh page."""
    pages: list[NotebookPage] = []

    def _open(rel_path: str) -> NotebookPage:
        page = browser.new_page(viewport=VIEWPORT)
        nbp = NotebookPage(page, lab, rel_path)
        pages.append(nbp)
        return nbp.open()

    yield _open
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed
    for i, nbp in enumerate(pages):
        if failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            try:
                _keep(nbp.screenshot(screenshot_dir / f"FAILED-{name}-{i}.png"))
            except Exception as exc:  # the page may be gone; never mask the failure
                print(f"(no failure screenshot: {exc})")
            print("browser console:\n  " + "\n  ".join(nbp.console[-30:]))
            print("JupyterLab log (tail):\n" + lab.log_tail())
        nbp.page.close()
    lab.shutdown_kernels()


# ---------------------------------------------------------------------------------------
# What a student must see
# ---------------------------------------------------------------------------------------
def assert_clean_run(cells: list[dict], name: str) -> None:
    """No error output, no traceback on stderr, every widget and figure rendered."""
    problems = []
    for c in cells:
        if c["type"] != "code":
            continue
        where = f"{name}, cell {c['index']} ({c['source'].strip().splitlines()[0][:50]!r})" \
            if c["source"].strip() else f"{name}, cell {c['index']}"
        for o in c["outputs"]:
            if o["output_type"] == "error":
                problems.append(f"{where}: error output {o['ename']}: {o['evalue']}")
            if o.get("name") == "stderr" and STDERR_ERROR.search(o["text"]):
                problems.append(f"{where}: stderr shows an error: {o['text'][:300]!r}")
        if "Error displaying widget" in c["text"]:
            problems.append(f"{where}: 'Error displaying widget' (the widget model is missing)")
        if c["widgetErrors"]:
            problems.append(f"{where}: {c['widgetErrors']} widget view(s) failed to render "
                            "(jupyter-widgets-error-widget)")
        n_widget_outputs = sum(WIDGET_MIME in o.get("mimes", [])
                               for o in c["outputs"])
        if n_widget_outputs and not c["widgetViews"]:
            problems.append(f"{where}: widget output not rendered as a widget; page shows "
                            f"{c['text'][:200]!r}")
        raw = [r for r in RAW_WIDGET_REPR if r in c["text"]]
        if n_widget_outputs and raw:
            problems.append(f"{where}: the widget shows as raw model text ({raw[0]}...)")
        n_png = sum("image/png" in o.get("mimes", []) for o in c["outputs"])
        if c["images"] != c["loadedImages"]:
            problems.append(f"{where}: {c['images'] - c['loadedImages']} image(s) did not load")
        if c["loadedImages"] < n_png:
            problems.append(f"{where}: {n_png} figure output(s) but {c['loadedImages']} shown")
    assert not problems, "\n".join(problems)


def assert_student_view(cells: list[dict], name: str) -> int:
    """Exercise cells show the stub and are editable; check cells are locked and say
    'not attempted yet'; markdown is rendered. Returns the number of exercises."""
    problems, n_checks = [], 0
    for c in cells:
        nbg = c["nbgrader"] or {}
        where = f"{name}, cell {c['index']} ({nbg.get('grade_id', c['type'])})"
        if c["type"] == "markdown":
            if not c["rendered"] or not c["text"].strip():
                problems.append(f"{where}: markdown not rendered")
            if "$" in c["source"] and not c["math"]:
                problems.append(f"{where}: LaTeX not typeset (no MathJax output)")
            continue
        if c["type"] != "code":
            continue
        if nbg.get("solution"):
            if "NotImplementedError" not in c["editorText"]:
                problems.append(f"{where}: exercise cell does not show the "
                                "`raise NotImplementedError()` stub")
            if c["readOnly"]:
                problems.append(f"{where}: exercise cell is read-only; the student must edit it")
        if nbg.get("grade") and not nbg.get("solution"):
            n_checks += 1
            if "not attempted yet" not in c["text"]:
                problems.append(f"{where}: check cell shows {c['text'][:200]!r}, expected a "
                                "'not attempted yet' verdict")
            if nbg.get("locked") and not c["readOnly"]:
                problems.append(f"{where}: locked check cell is editable in JupyterLab")
    assert not problems, "\n".join(problems)
    return n_checks


def _first_slider_cell(cells: list[dict]) -> dict:
    with_sliders = [c for c in cells if c["type"] == "code" and c.get("sliders")]
    assert with_sliders, "no slider rendered in any cell"
    return with_sliders[0]


def _move_slider_and_check(nbp: NotebookPage, cell: dict, name: str) -> dict:
    moved = nbp.move_slider(cell["index"])
    assert moved["after"] != moved["before"], (
        f"{name}: the slider in cell {cell['index']} did not move "
        f"(readout {moved['before']!r} after ArrowRight and ArrowLeft)")
    assert moved["images_before"], f"{name}: no figure next to the slider in cell {cell['index']}"
    assert moved["images_after"], f"{name}: the figure disappeared after moving the slider"
    assert moved["images_after"] != moved["images_before"], (
        f"{name}: moving the slider ({moved['before']} -> {moved['after']}) did not change the "
        "figure")
    return moved


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------
def test_widget_smoke_notebook(open_notebook, screenshot_dir):
    t0 = time.perf_counter()
    nbp = open_notebook(SMOKE_NAME)
    state = nbp.run_all()
    assert state["errors"] == 0 and state["pending"] == 0, state
    cells = nbp.cells()
    assert_clean_run(cells, SMOKE_NAME)
    widget_cell = _first_slider_cell(cells)
    assert widget_cell["index"] == 2
    assert widget_cell["loadedImages"] >= 1, "no figure under the slider"
    assert cells[3]["loadedImages"] == 1, "the plain figure is not displayed"
    assert cells[0]["math"], "LaTeX in markdown not typeset"
    moved = _move_slider_and_check(nbp, widget_cell, SMOKE_NAME)
    assert (moved["before"], moved["after"]) == ("1.00", "1.50")
    nbp.scroll_to_cell(widget_cell["index"])
    _keep(nbp.screenshot(screenshot_dir / "widget_smoke.png"))
    print(f"widget smoke test: {time.perf_counter() - t0:.1f} s in the browser")


def test_explorer_notebooks_are_found():
    """At least NB04's explorer is there, and each has a default figure and a panel."""
    assert "04_vanishing_exploding_gradients.ipynb" in EXPLORER_NOTEBOOKS
    for name in EXPLORER_NOTEBOOKS:
        cells = _explorer_cells(nbformat.read(str(STUDENT_DIR / name), as_version=4))
        assert len(cells) >= 2, f"{name}: expected a default-figure cell and a panel cell"
        assert any("nbval-ignore-output" in c.metadata["tags"] for c in cells), name


def test_explorer_notebooks(open_notebook, screenshot_dir):
    t0 = time.perf_counter()
    _, where = explorers_notebook()
    nbp = open_notebook(f"notebooks/{EXPLORERS_NAME}")
    state = nbp.run_all()
    cells = nbp.cells()
    assert_clean_run(cells, EXPLORERS_NAME)
    assert state["pending"] == 0, f"{EXPLORERS_NAME}: cells did not all run: {state}"
    for name, indices in where.items():
        mine = [cells[i] for i in indices]
        assert mine[0]["loadedImages"] >= 1, f"{name}: the default figure is not displayed"
        panel = _first_slider_cell(mine)
        assert panel["loadedImages"] >= 1, f"{name}: no figure under the explorer's controls"
        _move_slider_and_check(nbp, panel, name)
        nbp.scroll_to_cell(panel["index"])
        _keep(nbp.screenshot(screenshot_dir / f"{Path(name).stem}-explorer.png"))
    print(f"{len(where)} explorers: {time.perf_counter() - t0:.1f} s in the browser")


def test_notebook01_as_student_sees_it(open_notebook, screenshot_dir):
    if not (STUDENT_DIR / NOTEBOOK_01).exists():
        pytest.fail(f"notebooks/{NOTEBOOK_01} is missing")
    t0 = time.perf_counter()
    nbp = open_notebook(f"notebooks/{NOTEBOOK_01}")
    state = nbp.run_all()
    cells = nbp.cells()
    assert_clean_run(cells, NOTEBOOK_01)
    assert state["pending"] == 0, f"cells did not all run: {state}"
    n_checks = assert_student_view(cells, NOTEBOOK_01)
    stored = nbformat.read(str(STUDENT_DIR / NOTEBOOK_01), as_version=4)
    expected = sum(1 for c in stored.cells if c.cell_type == "code"
                   and c.metadata.get("nbgrader", {}).get("grade")
                   and not c.metadata.get("nbgrader", {}).get("solution"))
    assert n_checks == expected >= 1
    assert sum(c["loadedImages"] for c in cells) >= 1, "no figure displayed"
    # review answers: rendered as collapsed <details> blocks that a click reveals
    n_details = sum(c.source.count("<details") for c in stored.cells if c.cell_type == "markdown")
    details = nbp.details()
    assert len(details) == n_details >= 1, f"{n_details} <details> in the notebook, {details}"
    assert all(not d["open"] and not d["answerVisible"] and d["answerChars"] > 0
               and d["summary"] for d in details), f"answers not hidden behind a summary: {details}"
    revealed = nbp.open_details(0)
    assert revealed["open"] and revealed["answerVisible"], revealed
    first_ex = next(c["index"] for c in cells
                    if c["type"] == "code" and (c["nbgrader"] or {}).get("solution"))
    nbp.scroll_to_cell(max(first_ex - 1, 0))
    _keep(nbp.screenshot(screenshot_dir / "01_unrolling_an_rnn-exercise.png"))
    print(f"{NOTEBOOK_01}: {time.perf_counter() - t0:.1f} s in the browser")


def test_notebook02_model_answers_are_collapsed_until_clicked(open_notebook, screenshot_dir):
    """The self-study edition: each written answer is followed by a model answer that is
    rendered collapsed (with its maths) and opens on a click."""
    from course_utils.tooling.publish import editions

    name = "02_deriving_bptt.ipynb"
    stored = nbformat.read(str(STUDENT_DIR / name), as_version=4)
    n_model = sum(1 for c in stored.cells if "model_answer_for" in c.metadata.get("course", {}))
    assert n_model == 3
    nbp = open_notebook(f"notebooks/{name}")
    details = nbp.details()
    models = [i for i, d in enumerate(details) if d["summary"] == editions.MODEL_ANSWER_SUMMARY]
    assert len(models) == n_model, details
    assert all(not details[i]["open"] and not details[i]["answerVisible"]
               and details[i]["answerChars"] > 50 for i in models), details
    revealed = nbp.open_details(models[0])
    assert revealed["open"] and revealed["answerVisible"], revealed
    _keep(nbp.screenshot(screenshot_dir / "02_deriving_bptt-model-answer.png"))


def test_page_checks_catch_broken_pages():
    """The assertions above fail on what a broken page shows (seen here with the widget
    manager extension disabled: the raw `interactive(children=...)` text; and an error)."""
    def cell(**kw):
        rec = {"index": 2, "type": "code", "source": "interact(f, x=1)", "nbgrader": None,
               "outputs": [], "text": "", "widgetViews": 0, "widgetErrors": 0, "images": 0,
               "loadedImages": 0, "readOnly": False, "editorText": ""}
        rec.update(kw)
        return rec

    widget_out = {"output_type": "display_data",
                  "mimes": ["text/plain", "application/vnd.jupyter.widget-view+json"]}
    assert_clean_run([cell(outputs=[widget_out], widgetViews=3, images=1, loadedImages=1)], "ok")
    broken = {
        "raw model text": cell(outputs=[widget_out],
                               text="interactive(children=(IntSlider(value=1), Output()))"),
        "missing model": cell(outputs=[widget_out], widgetViews=2,
                              text="Error displaying widget: model not found"),
        "failed view": cell(outputs=[widget_out], widgetViews=2, widgetErrors=1),
        "error output": cell(outputs=[{"output_type": "error", "ename": "ValueError",
                                       "evalue": "boom"}]),
        "figure not shown": cell(outputs=[{"output_type": "display_data",
                                           "mimes": ["text/plain", "image/png"]}]),
        "broken image": cell(images=1, loadedImages=0),
    }
    for what, rec in broken.items():
        with pytest.raises(AssertionError):
            assert_clean_run([rec], what)
    check = cell(nbgrader={"grade": True, "solution": False, "locked": True,
                           "grade_id": "ex01_x"}, text="✅ passed", readOnly=True)
    with pytest.raises(AssertionError, match="not attempted yet"):
        assert_student_view([check], "answered")
    stub = cell(nbgrader={"grade": False, "solution": True, "grade_id": "ex01_x_code"},
                editorText="def f():\n    return 1", readOnly=False)
    with pytest.raises(AssertionError, match="NotImplementedError"):
        assert_student_view([stub], "solution left in")
