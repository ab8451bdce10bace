"""The course website: a static HTML book built from ``solutions/`` (``course site``).

    python3 course.py site                        # -> site/index.html
    python3 course.py site --without-solutions    # exercise solutions left out (for grading)

The book is made with Sphinx + MyST-NB + sphinx-book-theme from what the repository holds;
nothing is executed (MyST-NB renders the *stored* outputs and figures). The pieces:

* :func:`stage` writes a Sphinx source folder: ``index.md`` (the README's course map),
  ``glossary.md`` (GLOSSARY.md), ``instructors.md`` (INSTRUCTORS.md, the instructors'
  guide), ``exercises.md`` (the exercise catalogue of
  :func:`course_utils.tooling.publish.build.catalogue`), ``notebooks/NN_name.ipynb`` (the solution
  notebooks as their pages show them, made by :mod:`course_utils.tooling.publish.site_pages`), the
  student notebooks for download (``student/NN_name.ipynb``), MathJax 2 from the
  ``jupyter-server-mathjax`` package (so equations render with no network) and ``conf.py``.
* :func:`build_site` runs Sphinx on the staged folder and then :func:`check_links` over
  the result: every internal link and image must reach a file of the site, and every
  ``#anchor`` an id on the target page.
* :func:`accessible_html` (applied to every page by :func:`build_site`) gives the toggles
  that MyST-NB writes and the theme's search button the accessible name a reader sees:
  both carry an ``aria-label`` that differs from their visible text (WCAG 2.5.3, "label in
  name"; axe-core's ``label-content-name-mismatch``). Figures get their text alternatives
  from the notebooks' cell metadata (``mystnb.image.alt``, see
  :func:`course_utils.tooling.publish.site_pages.image_alt`).

Sphinx, MyST-NB, sphinx-book-theme and jupyter-server-mathjax come with the instructor
extra (``pip install -e .[dev]``).
"""

from __future__ import annotations

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

from .site_pages import (
    GITHUB_URL,
    PAGES,
    ROOT,
    exercises_page,
    prepare_notebook,
    readme_course_map,
    rewrite_links,
)

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"

CONF_PY = '''\
# Sphinx configuration written by course_utils.tooling.publish.site (the source folder is temporary).
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
# Links were rewritten to pages by course_utils.tooling.publish.site; keep them as they are.
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
    # a screen reader reads each equation from the hidden MathML that MathJax's
    # AssistiveMML extension (part of the combined configuration) puts next to it
    "menuSettings": {{"assistiveMML": True}},
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
/* course_utils.tooling.publish.site */
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
/* keyboard users see where they are: every toggle (and link or button) shows a ring
   when it has the keyboard focus */
details > summary:focus-visible, a:focus-visible, button:focus-visible {
  outline: 3px solid var(--pst-color-primary, #0a58ca); outline-offset: 2px; }
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
instructors
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
    for source, page in PAGES.items():
        if source == "README.md":
            continue
        text = rewrite_links((root / source).read_text(encoding="utf-8"), source, page, root)
        (dest / page.replace(".html", ".md")).write_text(text, encoding="utf-8")
    (dest / "exercises.md").write_text(exercises_page(build.catalogue(root)), encoding="utf-8")
    (dest / "conf.py").write_text(CONF_PY.format(mathjax_config=MATHJAX_CONFIG,
                                                 github_url=GITHUB_URL), encoding="utf-8")
    (dest / "_static" / "course.css").write_text(COURSE_CSS, encoding="utf-8")
    shutil.copytree(mathjax_dir(), dest / "_static" / "mathjax", dirs_exist_ok=True)
    return names


# ---------------------------------------------------------------------------------------
# Accessibility of the built pages
# ---------------------------------------------------------------------------------------
# MyST-NB's "Show a solution" toggle of a hidden code cell is announced as "Toggle hidden
# content" (its aria-label), and the theme's search button, which reads "Search Ctrl+K", as
# "Search": a speech user who says what they see would miss both. Without the aria-label
# the name is the visible text.
_ARIA_LABEL_MISMATCHES = (
    re.compile(r'(<summary) aria-label="Toggle hidden content"(>)'),
    re.compile(r'(<button class="[^"]*\bsearch-button__button\b[^"]*"[^>]*?) aria-label="Search"'
               r'([^>]*>)'),
)


def accessible_html(text: str) -> str:
    """One built page's HTML with the ``aria-label``s that hide visible text removed."""
    for pattern in _ARIA_LABEL_MISMATCHES:
        text = pattern.sub(r"\1\2", text)
    return text


def make_accessible(site: Path) -> int:
    """Apply :func:`accessible_html` to every page of the built ``site``; return how many
    pages changed."""
    changed = 0
    for page in Path(site).rglob("*.html"):
        if page.relative_to(site).parts[0] == "_static":
            continue
        text = page.read_text(encoding="utf-8")
        new = accessible_html(text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


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
    make_accessible(out)
    problems = check_links(out)
    if problems:
        raise RuntimeError("broken links in the site:\n  " + "\n  ".join(problems))
    log(f"built {out} ({len(names)} notebooks, "
        f"{'with' if with_solutions else 'without'} solutions) "
        f"in {time.perf_counter() - t0:.1f} s; every internal link resolves")
    return out
