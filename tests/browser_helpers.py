"""Drive JupyterLab in headless Chromium, as a student meets the course.

Used by ``tests/test_browser.py`` (fixtures in ``tests/conftest.py``). Nothing here is
part of ``course_utils``: it is test machinery.

* :class:`JupyterLabServer` starts ``jupyter lab`` from the *current* Python environment
  (the project's own) on ``127.0.0.1``, a free port and a random token, with temporary
  config/runtime/data/settings/workspace dirs, and stops it with SIGTERM (then kills its
  process group if it does not exit).
* :class:`NotebookPage` opens a notebook in a Playwright page, waits for the kernel,
  runs all cells, waits for them to finish and collects what the student would see.

Browser: Debian's ``chromium`` package (installed by ``.ci/system-deps``), driven by
Playwright's Python package through ``executable_path``; Playwright's own browser
download is never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM_CANDIDATES = (
    "/usr/bin/chromium",  # Debian's chromium package (.ci/system-deps installs it)
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
)

# Launch arguments that work offline and as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# JupyterLab user settings written before start: no news toast, no autosave (the served
# files are temporary copies anyway), and every cell attached to the DOM (no windowing),
# so rendered outputs of cells below the fold can be inspected too.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# The instructor tools in the dev environment (nbgrader) add UI and server extensions a
# student does not have; switch them off so the page is what a student sees.
DISABLED_LAB_EXTENSIONS = ["@jupyter/nbgrader"]
DISABLED_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]


def keep_screenshot(path: Path) -> Path:
    """Copy a screenshot to artifacts/screenshots/ when COURSE_ARTIFACTS is set (CI keeps
    that folder); print where it is either way."""
    if os.environ.get("COURSE_ARTIFACTS", "") not in ("", "0"):
        dest = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / path.name)
    print(f"screenshot: {path}")
    return path


@contextlib.contextmanager
def running_browser(chromium: str):
    """Playwright started and Chromium launched (``launch_browser``); both stopped after."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = launch_browser(pw, chromium)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


def require_chromium(modules: tuple[tuple[str, str], ...] = (), what: str = "browser test"):
    """The Chromium executable for a browser test, or skip it (fail it when
    ``COURSE_REQUIRE_BROWSER=1``, as CI sets). ``modules``: extra (import name, description)
    pairs the test needs besides Playwright."""
    import pytest

    missing = []
    for module, desc in (("playwright.sync_api", "the 'playwright' Python package"), *modules):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"{desc} (pip install -e '.[dev]' -c constraints.txt)")
    exe = find_chromium()
    if exe is None:
        missing.append("a Chromium browser at /usr/bin/chromium (Debian: apt-get install "
                       "chromium, or run .ci/system-deps; or set COURSE_CHROMIUM=/path)")
    if missing:
        msg = f"{what} needs " + " and ".join(missing)
        if os.environ.get("COURSE_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(msg + " (COURSE_REQUIRE_BROWSER is set)", pytrace=False)
        pytest.skip(msg)
    return exe


def find_chromium() -> str | None:
    """The Chromium executable to use: ``$COURSE_CHROMIUM`` or a system one, else None."""
    env = os.environ.get("COURSE_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for cand in CHROMIUM_CANDIDATES:
        if os.access(cand, os.X_OK):
            return cand
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLabServer:
    """A JupyterLab server on loopback, serving ``root_dir``; use as a context manager."""

    def __init__(self, root_dir: Path, *, python: str = sys.executable,
                 start_timeout: float = 90.0):
        self.root_dir = Path(root_dir)
        self.python = python
        self.start_timeout = start_timeout
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix="course-lab-"))
        self.log_path = self._tmp / "jupyterlab.log"

    # -- lifecycle -------------------------------------------------------------------
    def _write_config(self) -> dict[str, str]:
        dirs = {name: self._tmp / name for name in
                ("config", "runtime", "data", "settings", "workspaces", "ipython")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for rel, value in LAB_SETTINGS.items():
            path = dirs["settings"] / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        (dirs["config"] / "labconfig").mkdir(exist_ok=True)
        (dirs["config"] / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {name: True for name in DISABLED_LAB_EXTENSIONS}}))
        (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(
            {"ServerApp": {"jpserver_extensions": {n: False for n in DISABLED_SERVER_EXTENSIONS}}}))
        return {k: str(v) for k, v in dirs.items()}

    def start(self) -> JupyterLabServer:
        dirs = self._write_config()
        env = dict(os.environ)
        for var in ("MPLBACKEND", "JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH", "COURSE_GRADING"):
            env.pop(var, None)
        env.update(
            JUPYTER_CONFIG_DIR=dirs["config"],
            JUPYTER_RUNTIME_DIR=dirs["runtime"],
            JUPYTER_DATA_DIR=dirs["data"],
            JUPYTERLAB_SETTINGS_DIR=dirs["settings"],
            JUPYTERLAB_WORKSPACES_DIR=dirs["workspaces"],
            IPYTHONDIR=dirs["ipython"],
            PYTHONNOUSERSITE="1",
        )
        cmd = [
            self.python, "-m", "jupyter", "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabServerApp.announcements_url=",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=self.root_dir, env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                self.api("GET", "/lab/api/settings")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.25)
        raise TimeoutError(f"JupyterLab did not answer within {self.start_timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (SIGINT would prompt), wait, then SIGKILL the whole process group."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        if proc is not None:
            # kernels are in the server's process group; make sure none is left behind
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()
        return None if proc is None else proc.returncode

    def cleanup(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> JupyterLabServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers -----------------------------------------------------------------------
    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 10.0):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self) -> None:
        for k in self.api("GET", "/api/kernels") or []:
            try:
                self.api("DELETE", f"/api/kernels/{k['id']}", timeout=20)
            except urllib.error.URLError:
                pass

    def lab_url(self, rel_path: str) -> str:
        return f"{self.base_url}/lab/tree/{rel_path}?token={self.token}&reset"

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"


# ---------------------------------------------------------------------------------------
# In-page JavaScript (window.jupyterapp exists because of expose_app_in_browser)
# ---------------------------------------------------------------------------------------
JS_KERNEL_READY = """() => {
  const app = window.jupyterapp;
  const w = app && app.shell && app.shell.currentWidget;
  if (!w || !w.sessionContext || !w.content || !w.context || !w.context.isReady) return false;
  const sc = w.sessionContext;
  const k = sc.session && sc.session.kernel;
  return !!(sc.isReady && k && k.connectionStatus === 'connected' && k.status === 'idle'
            && w.content.widgets.length > 0);
}"""

JS_RUN_ALL = """() => {
  window.__courseRunAll = {done: false, ok: null, error: null};
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.__courseRunAll = {done: true, ok: ok, error: null}; },
    err => { window.__courseRunAll = {done: true, ok: false, error: String(err)}; });
  return true;
}"""

JS_RUN_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  let pending = 0, errors = 0, code = 0;
  for (const cell of w.content.widgets) {
    if (cell.model.type !== 'code') continue;
    code += 1;
    const outs = cell.model.outputs.toJSON();
    if (outs.some(o => o.output_type === 'error')) errors += 1;
    if (cell.model.sharedModel.getSource().trim() === '') continue;
    const prompt = cell.promptNode ? cell.promptNode.textContent : '';
    if (cell.model.executionCount === null || prompt.includes('*')) pending += 1;
  }
  return {run: window.__courseRunAll || null, pending, errors, code,
          kernel: k ? k.status : 'none'};
}"""

# One record per cell: type, source, nbgrader metadata, model outputs (types and mime
# bundles' keys, stream text, errors) and what the DOM shows for it.
JS_CELLS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return w.content.widgets.map((cell, index) => {
    const m = cell.model;
    const rec = {index, type: m.type, source: m.sharedModel.getSource(),
                 nbgrader: m.getMetadata('nbgrader') || null,
                 editable: m.getMetadata('editable'),
                 readOnly: cell.readOnly,
                 outputs: [], text: '', widgetViews: 0, widgetErrors: 0, images: 0,
                 loadedImages: 0, editorText: ''};
    const ed = cell.node.querySelector('.cm-content');
    rec.editorText = ed ? ed.innerText : '';
    rec.editorEditable = ed ? ed.getAttribute('contenteditable') : null;
    if (m.type === 'markdown') {
      const r = cell.node.querySelector('.jp-RenderedMarkdown');
      rec.rendered = !!r && cell.rendered;
      rec.text = r ? r.innerText : '';
      rec.math = cell.node.querySelectorAll('mjx-container, .MathJax').length;
      return rec;
    }
    if (m.type !== 'code') return rec;
    rec.executionCount = m.executionCount;
    for (const o of m.outputs.toJSON()) {
      const r = {output_type: o.output_type};
      if (o.output_type === 'stream') { r.name = o.name; r.text = [].concat(o.text).join(''); }
      if (o.output_type === 'error') { r.ename = o.ename; r.evalue = o.evalue;
                                       r.traceback = (o.traceback || []).join('\\n'); }
      if (o.data) r.mimes = Object.keys(o.data);
      rec.outputs.push(r);
    }
    const area = cell.node.querySelector('.jp-OutputArea');
    if (area) {
      rec.text = area.innerText;
      rec.widgetViews = area.querySelectorAll('.jupyter-widgets:not(.jupyter-widgets-error-widget)').length;
      rec.widgetErrors = area.querySelectorAll('.jupyter-widgets-error-widget').length;
      rec.sliders = area.querySelectorAll('.widget-slider').length;
      const imgs = Array.from(area.querySelectorAll('img'));
      rec.images = imgs.length;
      rec.loadedImages = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
    }
    return rec;
  });
}"""

JS_CELL_IMAGES = """(index) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  return Array.from(cell.node.querySelectorAll('.jp-OutputArea img'))
    .filter(i => i.complete && i.naturalWidth > 0).map(i => i.src);
}"""

JS_IMAGES_LOADED = """() => {
  const imgs = Array.from(document.querySelectorAll('.jp-OutputArea img'));
  return imgs.every(i => i.complete && i.naturalWidth > 0);
}"""

JS_SCROLL_TO_CELL = """(index) => {
  const w = window.jupyterapp.shell.currentWidget;
  const cell = w.content.widgets[index];
  w.content.activeCellIndex = index;
  cell.node.scrollIntoView({block: 'start'});
  return true;
}"""

JS_DETAILS = """() => Array.from(
  document.querySelectorAll('.jp-Notebook .jp-RenderedMarkdown details')).map(d => {
    const s = d.querySelector('summary');
    const body = Array.from(d.childNodes).filter(n => n !== s)
      .map(n => n.innerText || n.textContent || '').join('').trim();
    const hidden = Array.from(d.children).filter(n => n !== s);
    return {open: d.open, summary: s ? s.innerText.trim() : null, answerChars: body.length,
            answerVisible: hidden.some(n => n.checkVisibility ? n.checkVisibility()
                                                         : n.getClientRects().length > 0)};
  })"""

RAW_WIDGET_REPR = ("IntSlider(", "FloatSlider(", "interactive(children", "VBox(children",
                   "HBox(children", "Output(")


class NotebookPage:
    """A notebook opened in JupyterLab in a Playwright page."""

    def __init__(self, page, server: JupyterLabServer, rel_path: str):
        self.page = page
        self.server = server
        self.rel_path = rel_path
        self.console: list[str] = []
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))

    def open(self, timeout_s: float = 120.0) -> NotebookPage:
        self.page.goto(self.server.lab_url(self.rel_path), wait_until="domcontentloaded",
                       timeout=timeout_s * 1000)
        self.page.wait_for_function(JS_KERNEL_READY, timeout=timeout_s * 1000, polling=250)
        return self

    def run_all(self, timeout_s: float = 240.0) -> dict:
        """Run all cells; wait until every non-empty code cell has run (or one failed)."""
        self.page.evaluate(JS_RUN_ALL)
        deadline = time.monotonic() + timeout_s
        state = {}
        while time.monotonic() < deadline:
            state = self.page.evaluate(JS_RUN_STATE)
            run = state["run"] or {}
            if run.get("done") and state["kernel"] == "idle" and (
                    state["pending"] == 0 or state["errors"] > 0 or not run.get("ok")):
                break
            time.sleep(0.25)
        else:
            raise TimeoutError(f"cells still running after {timeout_s:.0f} s: {state}")
        self.settle()
        return state

    def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until images have loaded and widget views had a moment to render."""
        self.page.wait_for_function(JS_IMAGES_LOADED, timeout=timeout_s * 1000, polling=200)
        self.page.wait_for_timeout(300)

    def cells(self) -> list[dict]:
        return self.page.evaluate(JS_CELLS)

    def cell_images(self, index: int) -> list[str]:
        return self.page.evaluate(JS_CELL_IMAGES, index)

    def scroll_to_cell(self, index: int) -> None:
        self.page.evaluate(JS_SCROLL_TO_CELL, index)
        self.page.wait_for_timeout(300)

    def move_slider(self, index: int, timeout_s: float = 30.0) -> dict:
        """Move the first slider in cell ``index`` one step with the keyboard.

        Returns ``{"key", "before", "after", "images_before", "images_after"}``; the
        figures are the loaded images in the cell's outputs. Tries ArrowRight, then
        ArrowLeft (the slider may sit at its maximum).
        """
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(index)
        slider = cell.locator(".widget-slider").first
        handle = slider.locator(".noUi-handle").first
        readout = slider.locator(".widget-readout").first
        handle.scroll_into_view_if_needed()
        before_imgs = self.cell_images(index)
        before = readout.inner_text() if readout.count() else ""
        for key in ("ArrowRight", "ArrowLeft"):
            handle.focus()
            self.page.keyboard.press(key)
            self.page.wait_for_timeout(200)
            after = readout.inner_text() if readout.count() else ""
            if after != before:
                break
        deadline = time.monotonic() + timeout_s
        after_imgs = before_imgs
        while time.monotonic() < deadline:
            after_imgs = self.cell_images(index)
            kernel = self.page.evaluate(JS_RUN_STATE)["kernel"]
            if after_imgs and after_imgs != before_imgs and kernel == "idle":
                break
            time.sleep(0.2)
        self.settle()
        after_imgs = self.cell_images(index)
        return {"key": key, "before": before, "after": after,
                "images_before": before_imgs, "images_after": after_imgs}

    def details(self) -> list[dict]:
        """The collapsible answer blocks (``<details>``) of the rendered markdown."""
        return self.page.evaluate(JS_DETAILS)

    def open_details(self, n: int = 0) -> dict:
        """Click the summary of the n-th ``<details>`` block, as a student reveals an answer."""
        summary = self.page.locator(".jp-Notebook .jp-RenderedMarkdown details > summary").nth(n)
        summary.scroll_into_view_if_needed()
        summary.click()
        self.page.wait_for_timeout(200)
        return self.details()[n]

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return path


def launch_browser(playwright, executable: str):
    return playwright.chromium.launch(executable_path=executable, headless=True,
                                      args=CHROMIUM_ARGS)


class StaticSiteServer:
    """Serve a folder (a built static site) on 127.0.0.1 and a free port, in a thread;
    every request's path and status is recorded in ``requests``. A context manager."""

    def __init__(self, root: Path):
        import functools
        import http.server
        import threading

        self.root = Path(root)
        self.requests: list[tuple[str, int]] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                requests.append((self.path, int(code) if str(code).isdigit() else 0))

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(self.root)))
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StaticSiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)

    def url(self, rel: str) -> str:
        return f"{self.base_url}/{rel.lstrip('/')}"

    def status(self, url: str) -> int:
        """HTTP status of a GET of ``url`` (which must be on this server)."""
        assert url.startswith(self.base_url + "/"), url
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                resp.read()
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code


# ---------------------------------------------------------------------------------------
# Accessibility: axe-core, injected into a page
# ---------------------------------------------------------------------------------------
# axe-core comes from the npm registry, at the exact version .ci/system-deps pins, installed
# by that script into build/axe-core/ (ignored by git); $COURSE_AXE may name another
# axe.min.js. Nothing is fetched while the tests run.
AXE_DEFAULT_PATH = (Path(__file__).resolve().parents[1] / "build" / "axe-core" / "node_modules"
                    / "axe-core" / "axe.min.js")
# WCAG 2.0 and 2.1, levels A and AA
AXE_WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
AXE_FAILING_IMPACTS = ("serious", "critical")

JS_AXE_RUN = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                     resultTypes: ['violations']});
  return {version: axe.version, violations: r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, tags: v.tags,
    nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), impact: n.impact,
                              html: n.html.slice(0, 300),
                              summary: n.failureSummary || ''}))}))};
}"""


def find_axe() -> Path | None:
    """axe-core's ``axe.min.js``: ``$COURSE_AXE`` or the copy .ci/system-deps installs."""
    env = os.environ.get("COURSE_AXE")
    path = Path(env) if env else AXE_DEFAULT_PATH
    return path if path.is_file() else None


def require_axe() -> str:
    """The source of ``axe.min.js`` for a browser test, or skip it (fail it when
    ``COURSE_REQUIRE_BROWSER=1``, as CI sets)."""
    import pytest

    path = find_axe()
    if path is None:
        msg = (f"the accessibility check needs axe-core at {AXE_DEFAULT_PATH} "
               "(run .ci/system-deps, or set COURSE_AXE=/path/to/axe.min.js)")
        if os.environ.get("COURSE_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(msg + " (COURSE_REQUIRE_BROWSER is set)", pytrace=False)
        pytest.skip(msg)
    return path.read_text(encoding="utf-8")


def run_axe(page, axe_source: str, tags: tuple[str, ...] = AXE_WCAG_TAGS) -> dict:
    """Run axe-core's rules with ``tags`` (default WCAG 2.0/2.1 A and AA) on the document
    open in the Playwright ``page``; inject axe first if the page lacks it.

    Returns ``{"version": axe's version, "violations": [...]}``, one entry per rule that
    failed: ``id``, ``impact`` (minor/moderate/serious/critical), ``help``, ``tags`` and
    ``nodes`` (``target``: a CSS selector, ``impact``, ``html``: the element's start,
    ``summary``: how to fix it).
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=axe_source)
    return page.evaluate(JS_AXE_RUN, list(tags))


def axe_counts(violations: list[dict],
               impacts: tuple[str, ...] = AXE_FAILING_IMPACTS) -> dict[str, int]:
    """``{rule id: number of elements}`` over the violations whose impact is in ``impacts``."""
    out: dict[str, int] = {}
    for v in violations:
        n = sum(1 for node in v["nodes"] if (node.get("impact") or v["impact"]) in impacts)
        if n:
            out[v["id"]] = out.get(v["id"], 0) + n
    return out


def axe_report(violations: list[dict],
               impacts: tuple[str, ...] = AXE_FAILING_IMPACTS) -> str:
    """The violations whose impact is in ``impacts``, one line per element (for a failure
    message)."""
    return "\n".join(f"{v['id']} ({node.get('impact') or v['impact']}): {node['target']}: "
                     f"{v['help']}; {node['html'][:120]}"
                     for v in violations for node in v["nodes"]
                     if (node.get("impact") or v["impact"]) in impacts)
