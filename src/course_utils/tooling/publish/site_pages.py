"""The pages of the course website: what each page shows (see :mod:`course_utils.tooling.publish.site`).

* :func:`prepare_notebook` turns a solution notebook into its page: every exercise
  solution behind a "Show a solution" toggle (or, ``with_solutions=False``, replaced by the
  student's version of the cell), the "Open in Colab / Binder / download" links under the
  title (:func:`links_html`), links between repository files rewritten into links between
  pages (:func:`rewrite_links`), and stored widget views, which need a live kernel,
  replaced by what they showed (:func:`widget_outputs`).
* :func:`readme_course_map` (the home page, from the README) and :func:`exercises_page`
  (the exercise catalogue); GLOSSARY.md and INSTRUCTORS.md (the instructors' guide) are
  pages as they are (:data:`PAGES`).
* :func:`figures_without_alt`: the figure cells of a notebook that lack a text
  alternative. Every figure cell carries one in its metadata, ``mystnb: {image: {alt: …}}``
  (:func:`image_alt`), which MyST-NB writes into the page's ``<img alt=…>``: what the
  figure shows (its axes, its point), for readers who cannot see it.

Nothing here writes a file; :func:`rewrite_link` (and so what calls it) looks in the
repository for the file a link names.
"""

from __future__ import annotations

import copy
import html
import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ...provenance import ROOT
from ...status import VERDICT_KEY
from ..course_files import is_notebook
from ..exercise_cells import nbgrader

# The repository the README's badges point to (forks: replace it there and here).
GITHUB_REPO = "bptt-course/bptt-course"
GITHUB_URL = f"https://github.com/{GITHUB_REPO}"
SOLUTION_SHOW = "Show a solution"
SOLUTION_HIDE = "Hide the solution"
SOLUTION_TAG = "course-solution"  # a cell tag; MyST-NB makes it the class tag_course-solution
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
# The repository's markdown files that are pages of the site, and their pages.
PAGES = {"README.md": "index.html", "GLOSSARY.md": "glossary.html",
         "INSTRUCTORS.md": "instructors.html"}


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
    'GLOSSARY.md' -> 'glossary.html'; 'INSTRUCTORS.md' -> 'instructors.html';
    'README.md' -> 'index.html'.
    """
    folder, _, name = repo_path.rpartition("/")
    if folder in {"notebooks", "solutions"} and is_notebook(name):
        return "notebooks/" + posixpath.basename(repo_path)[:-6] + ".html"
    return PAGES.get(repo_path)


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
    return bool(nbgrader(cell).get("solution"))


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
            cell.metadata.setdefault("mystnb", {}).update(code_prompt_show=SOLUTION_SHOW,
                                                          code_prompt_hide=SOLUTION_HIDE)
        elif _is_solution(cell) and cell.cell_type == "markdown":
            cell.source = (
                f'<details class="admonition hide {SOLUTION_TAG}">\n'
                '<summary>\n'
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
                elif VERDICT_KEY not in (out.get("metadata") or {}):  # shows nothing
                    outputs.append(out)
            cell.outputs = outputs
        cells.append(cell)
    _add_links(cells, name)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # no widget manager from a CDN on a static page
    return nb


def figure_images(cell, state: dict | None = None) -> int:
    """How many images code cell ``cell`` shows on its page: the images among its stored
    outputs and among what its stored widget views showed (``state``: the notebook's
    widget state, see :func:`widget_outputs`)."""
    if cell.get("cell_type") != "code":
        return 0
    n = 0
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        shown = widget_outputs(out, state or {}) if WIDGET_MIME in data else [out]
        n += sum(1 for o in shown for mime in o.get("data", {}) if mime.startswith("image/"))
    return n


def image_alt(cell) -> str:
    """The text alternative of a figure cell's images: its metadata ``mystnb.image.alt``
    (the key MyST-NB reads; the site's ``<img alt=…>``), or "" if it has none."""
    alt = ((cell.get("metadata", {}).get("mystnb") or {}).get("image") or {}).get("alt")
    return alt.strip() if isinstance(alt, str) else ""


def figures_without_alt(nb) -> list[str]:
    """The figure cells of notebook ``nb`` (cells whose page shows an image) that have no
    text alternative: ``["cell 12 (id c012-…)", …]``; empty when every figure has one."""
    state = _widget_state(nb)
    return [f"cell {i} (id {cell.get('id', '?')})" for i, cell in enumerate(nb.cells)
            if figure_images(cell, state) and not image_alt(cell)]


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
