"""The course website: a static HTML book built from ``solutions/`` (``course site``).

    python3 course.py site                        # -> site/index.html
    python3 course.py site --without-solutions    # exercise solutions left out (for grading)

The book is made with Sphinx + MyST-NB + sphinx-book-theme from what the repository holds;
nothing is executed (MyST-NB renders the *stored* outputs and figures). The pieces:

* :func:`stage` writes a Sphinx source folder: ``index.md`` (the README's course map),
  ``glossary.md`` (GLOSSARY.md), ``exercises.md`` (the exercise catalogue of
  :func:`course_utils.build.catalogue`), ``notebooks/NN_name.ipynb`` (the solution
  notebooks, prepared by :func:`prepare_notebook`), the student notebooks for download
  (``student/NN_name.ipynb``), MathJax 2 from the ``jupyter-server-mathjax`` package (so
  equations render with no network) and ``conf.py``.
* :func:`prepare_notebook` puts every exercise solution behind a "Show a solution" toggle
  (or, ``with_solutions=False``, replaces it by the student's version of the cell), adds
  the "Open in Colab / Binder / download" links under the title, rewrites links between
  repository files into links between pages (:func:`rewrite_links`), and replaces stored
  widget views, which need a live kernel, by what they showed (:func:`widget_outputs`).
* :func:`build_site` runs Sphinx on the staged folder and then :func:`check_links` over
  the result: every internal link and image must reach a file of the site, and every
  ``#anchor`` an id on the target page.

Sphinx, MyST-NB, sphinx-book-theme and jupyter-server-mathjax come with the instructor
extra (``pip install -e .[dev]``).
"""

from __future__ import annotations

import copy
import html
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]

# The repository the README's badges point to (forks: replace it there and here).
GITHUB_REPO = "bptt-course/bptt-course"
GITHUB_URL = f"https://github.com/{GITHUB_REPO}"
SOLUTION_SHOW = "Show a solution"
SOLUTION_HIDE = "Hide the solution"
SOLUTION_TAG = "course-solution"  # a cell tag; MyST-NB makes it the class tag_course-solution
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"


def colab_url(name: str) -> str:
    """Open student notebook ``name`` (e.g. '01_unrolling_an_rnn.ipynb') in Colab."""
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/notebooks/{name}"


def binder_url(name: str) -> str:
    """Open student notebook ``name`` in JupyterLab on mybinder.org."""
    return f"https://mybinder.org/v2/gh/{GITHUB_REPO}/HEAD?urlpath=lab/tree/notebooks/{name}"


# ---------------------------------------------------------------------------------------
# Links between repository files -> links between pages
# ---------------------------------------------------------------------------------------
def site_path(repo_path: str) -> str | None:
    """The page of the site that shows repository file ``repo_path``, or None.

    'solutions/NN_x.ipynb' and 'notebooks/NN_x.ipynb' -> 'notebooks/NN_x.html';
    'GLOSSARY.md' -> 'glossary.html'; 'README.md' -> 'index.html'.
    """
    if re.fullmatch(r"(notebooks|solutions)/\d\d_[a-z0-9_]+\.ipynb", repo_path):
        return "notebooks/" + posixpath.basename(repo_path)[:-6] + ".html"
    return {"GLOSSARY.md": "glossary.html", "README.md": "index.html"}.get(repo_path)


def rewrite_link(target: str, source: str, page: str, root: Path = ROOT) -> str:
    """Rewrite one link found in repository file ``source`` for the site page ``page``.

    A link to a file the site shows becomes a relative link to its page (the ``#anchor``
    kept); a link to any other repository file becomes a link to it on GitHub; external
    links, pure ``#anchors`` and links to nothing in the repository are left as they are.
    ``source`` and ``page`` are POSIX paths relative to the repository / site root.
    """
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path or target.startswith("/"):
        return target
    repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(parts.path)))
    if repo_path.startswith("../"):
        return target
    frag = f"#{parts.fragment}" if parts.fragment else ""
    page_target = site_path(repo_path)
    if page_target is not None:
        return posixpath.relpath(page_target, posixpath.dirname(page) or ".") + frag
    if (root / repo_path).exists():
        kind = "tree" if (root / repo_path).is_dir() else "blob"
        return f"{GITHUB_URL}/{kind}/main/{repo_path}{frag}"
    return target


_MD_LINK = re.compile(r"(\]\()(<[^>]*>|[^)\s]+)((?:\s+\"[^\"]*\")?\))")
_HTML_LINK = re.compile(r"""(\b(?:href|src)=)(["'])(.*?)\2""")


def rewrite_links(text: str, source: str, page: str, root: Path = ROOT) -> str:
    """Apply :func:`rewrite_link` to every markdown ``[text](target)`` and HTML
    ``href=``/``src=`` in ``text`` (the markdown of ``source``, shown on ``page``)."""
    def md(m):
        target = m.group(2)
        bracket = target.startswith("<")
        new = rewrite_link(target[1:-1] if bracket else target, source, page, root)
        return m.group(1) + (f"<{new}>" if bracket else new) + m.group(3)

    text = _MD_LINK.sub(md, text)
    return _HTML_LINK.sub(lambda m: m.group(1) + m.group(2)
                          + rewrite_link(m.group(3), source, page, root) + m.group(2), text)


# ---------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------
def _widget_state(nb) -> dict:
    return nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE_MIME, {}).get("state", {})


def _widget_tree(state: dict, model_id: str, seen: set | None = None):
    """The models of the widget ``model_id`` and its descendants, depth first."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return
    seen.add(model_id)
    model = state[model_id]
    yield model
    for child in model.get("state", {}).get("children", []) or []:
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            yield from _widget_tree(state, child[len("IPY_MODEL_"):], seen)


def widget_outputs(output: dict, state: dict) -> list[dict]:
    """What a stored widget view showed, as ordinary outputs (a static page has no kernel).

    An ``interact`` panel: the outputs stored in its Output widget (the default figure),
    after a one-line note. A widget with text only (a tqdm progress bar): that text, as
    stdout. Anything else: nothing.
    """
    model_id = output["data"][WIDGET_MIME].get("model_id", "")
    models = list(_widget_tree(state, model_id))
    shown = [o for m in models if m.get("model_name") == "OutputModel"
             for o in m.get("state", {}).get("outputs", [])]
    controls = [m for m in models if m.get("model_name", "").endswith("SliderModel")
                or m.get("model_name") in {"DropdownModel", "CheckboxModel",
                                           "ToggleButtonsModel", "RadioButtonsModel"}]
    if shown:
        note = ("An interactive explorer, shown here with its default settings.\n"
                "Open the notebook in Colab or Binder to move its controls.\n")
        return ([{"output_type": "stream", "name": "stdout", "text": note}] if controls else []) \
            + copy.deepcopy(shown)
    texts = [html.unescape(re.sub(r"<[^>]+>", "", str(m["state"].get("value", ""))))
             for m in models if m.get("model_name") in {"HTMLModel", "LabelModel"}]
    text = " ".join(t.strip() for t in texts if t.strip())
    return [{"output_type": "stream", "name": "stdout", "text": text + "\n"}] if text else []


def _is_solution(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def _student_cell(cell):
    """The student's version of one cell: solution regions and hidden tests cleared with
    nbgrader's own preprocessors (as ``course build`` does), no outputs."""
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = nbformat.v4.new_notebook(cells=[copy.deepcopy(cell)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    for pp in (ClearSolutions(), ClearHiddenTests()):
        nb, _ = pp.preprocess(nb, {})
    out = nb.cells[0]
    if out.cell_type == "code":
        out.outputs, out.execution_count = [], None
    return out


def links_html(name: str) -> str:
    """The "Open in Colab / Open in Binder / Download" line of notebook ``name``'s page
    (the same URLs as the README's badges; the student notebook is served by the site)."""
    return ('<p class="course-links">\n'
            f'<a class="course-colab" href="{colab_url(name)}">Open in Colab</a> ·\n'
            f'<a class="course-binder" href="{binder_url(name)}">Open in Binder</a> ·\n'
            f'<a class="course-download" href="../student/{name}" download="{name}">'
            'Download the student notebook</a>\n</p>')


def _add_links(cells: list, name: str) -> None:
    """Put the links right under the title (the first ``# `` line of the first markdown
    cell), or in a cell of their own at the top if there is no such line."""
    import nbformat

    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            if line.startswith("# "):
                lines[i + 1:i + 1] = ["", links_html(name), ""]
                cell.source = "\n".join(lines)
                return
        break
    cells.insert(0, nbformat.v4.new_markdown_cell(links_html(name), id="course-site-links"))


def prepare_notebook(nb, name: str, *, with_solutions: bool = True, root: Path = ROOT):
    """The solution notebook ``nb`` (file ``name``) as its page shows it (a new object).

    Solution cells (nbgrader ``solution: true``) get a "Show a solution" toggle, collapsed:
    a code cell through MyST-NB's ``hide-input`` (its outputs stay visible), a markdown
    answer inside a ``<details>`` block. ``with_solutions=False`` puts the student's
    version of each solution cell (and of each cell with hidden tests) in its place, with
    no outputs. The Colab / Binder /
    download links go right after the first (title) cell.
    """
    nb = copy.deepcopy(nb)
    state = _widget_state(nb)
    page = f"notebooks/{name[:-6]}.html"
    cells = []
    for cell in nb.cells:
        if not with_solutions and (_is_solution(cell) or "BEGIN HIDDEN TESTS" in cell.source):
            cell = _student_cell(cell)
        elif _is_solution(cell) and cell.cell_type == "code":
            tags = cell.metadata.setdefault("tags", [])
            tags += [t for t in ("hide-input", SOLUTION_TAG) if t not in tags]
            cell.metadata["mystnb"] = {"code_prompt_show": SOLUTION_SHOW,
                                       "code_prompt_hide": SOLUTION_HIDE}
        elif _is_solution(cell) and cell.cell_type == "markdown":
            cell.source = (
                f'<details class="admonition hide {SOLUTION_TAG}">\n'
                '<summary aria-label="Toggle the solution">\n'
                f'<p class="collapsed admonition-title">{SOLUTION_SHOW}</p>\n'
                f'<p class="expanded admonition-title">{SOLUTION_HIDE}</p>\n'
                '</summary>\n\n' + cell.source.strip() + "\n\n</details>")
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, f"solutions/{name}", page, root)
        if cell.cell_type == "code":
            outputs = []
            for out in cell.get("outputs", []):
                if WIDGET_MIME in out.get("data", {}):
                    import nbformat

                    outputs += [nbformat.from_dict(o) for o in widget_outputs(out, state)]
                else:
                    outputs.append(out)
            cell.outputs = outputs
        cells.append(cell)
    _add_links(cells, name)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # no widget manager from a CDN on a static page
    return nb


# ---------------------------------------------------------------------------------------
# The other pages
# ---------------------------------------------------------------------------------------
def readme_course_map(readme: str) -> str:
    """The README's title, introduction and "The notebooks" section, as the home page.

    Badge images (served by Colab/Binder) become plain links, so the page loads offline.
    """
    sections = re.split(r"(?m)^(?=## )", readme)
    intro = sections[0]
    course_map = next((s for s in sections if s.startswith("## The notebooks")), "")
    text = intro + course_map
    text = re.sub(r"\[!\[Binder\]\([^)]*\)\]\(([^)]*)\)", r"[Binder](\1)", text)
    text = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)", r"[Colab](\1)", text)
    return text.rstrip() + "\n"


def exercises_page(cat: dict[str, list[dict]]) -> str:
    """The exercise catalogue as a markdown page: a table per notebook, linked to its page."""
    total = sum(e["points"] for entries in cat.values() for e in entries)
    lines = ["# Exercises", "",
             f"Every exercise of the course ({sum(map(len, cat.values()))} exercises, "
             f"{total:g} points). The ids are the nbgrader `grade_id`s; "
             "`python3 course.py exercises` prints the same catalogue.", ""]
    for nb_name, entries in cat.items():
        stem = nb_name.removesuffix(".ipynb")
        lines += [f"## [{stem}](notebooks/{stem}.html)", "",
                  "| exercise id | title | kind | points |", "|---|---|---|---|"]
        lines += [f"| `{e['id']}` | {e['title']} | {e['kind']} | {e['points']:g} |"
                  for e in entries]
        lines.append("")
    return "\n".join(lines)


CONF_PY = '''\
# Sphinx configuration written by course_utils.site (the source folder is temporary).
project = "Backpropagation through time, hands on"
author = "the BPTT course authors"
copyright = "the BPTT course authors, MIT licence"
extensions = ["myst_nb"]
source_suffix = {{".md": "myst-nb", ".ipynb": "myst-nb"}}
exclude_patterns = ["_build", "_extra", "_static", "**.ipynb_checkpoints"]
root_doc = "index"

# Stored outputs only: nothing is executed.
nb_execution_mode = "off"
nb_ipywidgets_js = {{}}
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
# Links were rewritten to pages by course_utils.site; keep them as they are.
myst_all_links_external = True
myst_update_mathjax = False
suppress_warnings = ["mystnb.unknown_mime_type", "misc.highlighting_failure", "myst.header"]

# MathJax 2 from the jupyter-server-mathjax package, served from the site itself.
mathjax_path = "mathjax/MathJax.js?config={mathjax_config}"
mathjax2_config = {{
    "tex2jax": {{"inlineMath": [["\\\\(", "\\\\)"]], "displayMath": [["\\\\[", "\\\\]"]],
                "processEscapes": True}},
    # jupyter-server-mathjax ships the STIX-Web fonts only (as Jupyter Notebook uses them)
    "HTML-CSS": {{"availableFonts": [], "webFont": "STIX-Web", "imageFont": None,
                 "preferredFont": None}},
    "SVG": {{"font": "STIX-Web"}},
    "showMathMenu": False,
    "messageStyle": "none",
}}

html_theme = "sphinx_book_theme"
html_title = "BPTT, hands on"
html_static_path = ["_static"]
html_extra_path = ["_extra"]
html_css_files = ["course.css"]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {{
    "repository_url": "{github_url}",
    "repository_branch": "main",
    "use_repository_button": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}}
'''

COURSE_CSS = """\
/* course_utils.site */
.course-links { font-size: 0.95em; margin-bottom: 1.2em; }
.course-links a { font-weight: 600; }
details.course-solution > summary { cursor: pointer; }
/* a written answer's toggle looks like MyST-NB's toggle of a code solution */
details.course-solution > summary { display: block; border-left: none; padding: inherit;
  margin: inherit; background-color: inherit; }
details.course-solution > summary > p.admonition-title { display: list-item; margin-bottom: 0; }
details.course-solution:not([open]) { padding-bottom: 0; }
details.course-solution[open] > summary > p.collapsed,
details.course-solution:not([open]) > summary > p.expanded { display: none; }
/* MathJax's hidden MathML for screen readers names TeX web fonts that MathJax from
   jupyter-server-mathjax does not ship (it has STIX-Web): keep it from requesting them */
.MJX_Assistive_MathML, .MJX_Assistive_MathML * { font-family: inherit !important; }
"""

INDEX_TOCTREE = """

```{{toctree}}
:hidden:
:caption: The notebooks

{notebooks}
```

```{{toctree}}
:hidden:
:caption: Reference

glossary
exercises
```
"""


def mathjax_dir() -> Path:
    """MathJax 2 as the ``jupyter-server-mathjax`` package ships it."""
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def stage(dest: Path, *, root: Path = ROOT, with_solutions: bool = True) -> list[str]:
    """Write the Sphinx source folder of the site into ``dest``; return the notebook names."""
    from . import build

    dest = Path(dest)
    (dest / "notebooks").mkdir(parents=True, exist_ok=True)
    (dest / "_extra" / "student").mkdir(parents=True, exist_ok=True)
    (dest / "_static").mkdir(parents=True, exist_ok=True)
    names = []
    for path in build.solution_paths(root):
        nb = build.read_notebook(path)
        page = prepare_notebook(nb, path.name, with_solutions=with_solutions, root=root)
        (dest / "notebooks" / path.name).write_text(build.dumps(page), encoding="utf-8")
        student = root / "notebooks" / path.name
        if student.exists():
            shutil.copyfile(student, dest / "_extra" / "student" / path.name)
        names.append(path.name)
    readme = readme_course_map((root / "README.md").read_text(encoding="utf-8"))
    readme = rewrite_links(readme, "README.md", "index.html", root)
    toc = "\n".join(f"notebooks/{n[:-6]}" for n in names)
    index = readme + INDEX_TOCTREE.format(notebooks=toc)
    (dest / "index.md").write_text(index, encoding="utf-8")
    glossary = rewrite_links((root / "GLOSSARY.md").read_text(encoding="utf-8"), "GLOSSARY.md",
                             "glossary.html", root)
    (dest / "glossary.md").write_text(glossary, encoding="utf-8")
    (dest / "exercises.md").write_text(exercises_page(build.catalogue(root)), encoding="utf-8")
    (dest / "conf.py").write_text(CONF_PY.format(mathjax_config=MATHJAX_CONFIG,
                                                 github_url=GITHUB_URL), encoding="utf-8")
    (dest / "_static" / "course.css").write_text(COURSE_CSS, encoding="utf-8")
    shutil.copytree(mathjax_dir(), dest / "_static" / "mathjax", dirs_exist_ok=True)
    return names


# ---------------------------------------------------------------------------------------
# Checking the built site
# ---------------------------------------------------------------------------------------
class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (attribute, value)

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value is None:
                continue
            if key in {"id", "name"} and (key == "id" or tag == "a"):
                self.ids.add(value)
            if key in {"href", "src"} and tag != "base":
                self.links.append((key, value))


def _parse(path: Path) -> _PageParser:
    p = _PageParser()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return p


def internal_links(site: Path) -> dict[str, list[str]]:
    """``{page: [link, …]}``: every relative href/src of every HTML page of ``site``."""
    out = {}
    for page in sorted(Path(site).rglob("*.html")):
        rel = page.relative_to(site).as_posix()
        if rel.startswith("_static/"):
            continue
        out[rel] = [v for _, v in _parse(page).links
                    if not urlsplit(v).scheme and not v.startswith("//") and v != "#"]
    return out


def check_links(site: Path) -> list[str]:
    """Problems with the links of the built site: a relative link or image whose file does
    not exist, or whose ``#anchor`` is no id on the target page. Empty when all is well."""
    site = Path(site)
    problems, ids_cache = [], {}
    for page, links in internal_links(site).items():
        for link in links:
            parts = urlsplit(link)
            target = (site / posixpath.dirname(page) / unquote(parts.path)) if parts.path \
                else site / page
            target = Path(posixpath.normpath(target.as_posix()))
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page}: {link} -> no such file")
                continue
            if parts.fragment and target.suffix == ".html":
                if target not in ids_cache:
                    ids_cache[target] = _parse(target).ids
                if unquote(parts.fragment) not in ids_cache[target]:
                    problems.append(f"{page}: {link} -> no id {parts.fragment!r} there")
    return problems


# ---------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------
def build_site(out: Path | None = None, *, root: Path = ROOT, with_solutions: bool = True,
               log=print) -> Path:
    """Build the website into ``out`` (default ``<root>/site``) and check its links.

    An existing ``out`` is replaced only if it is a site this builder made (it holds
    Sphinx's ``.buildinfo``) or is empty. Raises ``RuntimeError`` when Sphinx fails or a
    link is broken.
    """
    out = Path(out) if out is not None else root / "site"
    if out.exists() and any(out.iterdir()):
        if not (out / ".buildinfo").exists():
            raise RuntimeError(f"{out} exists and is not a site built by this command; "
                               "remove it or choose another --out")
        shutil.rmtree(out)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        src = Path(tmp) / "src"
        names = stage(src, root=root, with_solutions=with_solutions)
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E",
               "-d", str(Path(tmp) / "doctrees"), str(src), str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        for line in proc.stderr.splitlines():
            log(line.replace(str(src), "<site source>"))
        if proc.returncode != 0:
            raise RuntimeError(f"sphinx failed (exit {proc.returncode})")
    problems = check_links(out)
    if problems:
        raise RuntimeError("broken links in the site:\n  " + "\n  ".join(problems))
    log(f"built {out} ({len(names)} notebooks, "
        f"{'with' if with_solutions else 'without'} solutions) "
        f"in {time.perf_counter() - t0:.1f} s; every internal link resolves")
    return out
