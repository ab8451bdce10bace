"""The course's one command line, shared by ``python3 course.py <command>`` (from a clone of
the course, with nothing installed yet) and ``course <command>`` (the console script of an
installed ``course_utils``): one table of commands, one parser per command, one help text.

Standard library only at import time: ``course.py`` loads this file by path before any
environment exists, and runs ``update``, ``fresh`` and ``progress`` from it directly; for
the other commands it first sets up the environment the table names (``.venv`` for
students, ``.venv-dev`` for instructors) and runs ``python -m course_utils <command>`` there.
Each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Command:
    """One command: its name, arguments, what it does, for whom, and where it runs
    (``env``: "none" = the standard library, "student" = .venv, "dev" = .venv-dev)."""

    name: str
    usage: str
    summary: str
    who: str
    env: str


COMMANDS = (
    Command("lab", "[JUPYTERLAB ARGS…]",
            "open JupyterLab on notebooks/ (course.py first sets up .venv, the student "
            "environment)", "student", "student"),
    Command("progress", "[FOLDER] [--verify]",
            "which exercises of each notebook pass, fail or are untouched, read from your "
            "own saved notebooks (nothing is run or sent); --verify re-runs them in grading "
            "mode to be sure", "student", "none"),
    Command("update", "[--force]",
            "get the course's latest version; your edited notebooks are kept (a changed "
            "notebook's new version is put next to yours as NN_name.updated.ipynb); backs up "
            "first, undoes itself if it fails or is interrupted; --force: even if Jupyter is "
            "running", "student", "none"),
    Command("fresh", "NN [NN…]",
            "write a fresh copy of notebook NN next to yours (NN_name.fresh.ipynb); yours is "
            "not touched", "student", "none"),
    Command("build", "[NAMES…] [--no-execute] [--check] [--force] [--assignment DIR "
            "[--only SELECTORS]] [--nbgrader-source DIR]",
            "regenerate notebooks/ from solutions/ and re-execute solutions/; --check: is "
            "notebooks/ up to date?; --assignment DIR: the assignment edition (no model "
            "answers, no Further-exercise hints, no cell that shows a graded answer) into "
            "DIR; --only: a handout of only those exercises", "instructor", "dev"),
    Command("exercises", "[--json] [--markdown] [--readme] [--only SELECTORS] "
            "[--assignment FILE]",
            "the exercise catalogue: notebook, id, title, points; --readme rewrites the "
            "exercise table of INSTRUCTORS.md from it", "instructor", "dev"),
    Command("grade", "SUBMISSIONS… [--only SELECTORS] [--assignment FILE] [--jobs N] "
            "[--out DIR] …",
            "grade submitted notebooks: each submission's code runs in a sandbox, its "
            "functions are checked from the grader's process on visible and held-out cases "
            "(see INSTRUCTORS.md, \"Grading\")", "instructor", "dev"),
    Command("site", "[--without-solutions] [--out DIR]",
            "build the course website (static HTML) from solutions/ into site/, re-executing "
            "nothing; --without-solutions leaves the exercise solutions out", "instructor",
            "dev"),
    Command("test", "[--fast] [--portability] [--no-nbval] [PYTEST ARGS…]",
            "set up .venv-dev and run the whole test suite (the student notebooks under "
            "other BLAS kernel families, one thread, compared with the stored outputs), then "
            "the portability pass (the unit tests again under generic kernels); --fast skips "
            "it, --portability runs only the student notebooks and it, --no-nbval skips every "
            "stored-output comparison", "maintainer", "dev"),
    Command("freeze", "", "rewrite constraints.txt from .venv-dev (after an upgrade)",
            "maintainer", "dev"),
)
BOOTSTRAP_ONLY = {"test", "freeze"}  # they manage environments: only course.py runs them
WHO = {"student": "For students", "instructor": "For instructors",
       "maintainer": "For maintainers"}


def find(name: str) -> Command | None:
    return next((c for c in COMMANDS if c.name == name), None)


def help_text(prog: str = "python3 course.py") -> str:
    """The one help text: every command, grouped by who uses it."""
    import textwrap

    out = [f"usage: {prog} <command> [arguments]", ""]
    for who, title in WHO.items():
        out.append(f"{title}:")
        for c in (c for c in COMMANDS if c.who == who):
            out.append(f"  {prog} {c.name} {c.usage}".rstrip())
            out += textwrap.wrap(c.summary, 88, initial_indent=" " * 6,
                                 subsequent_indent=" " * 6)
        out.append("")
    out.append(f"`{prog} <command> --help` shows a command's options.")
    return "\n".join(out)


def course_root(start: Path | None = None) -> Path | None:
    """The course folder (a clone: it holds course.py and solutions/): this package's
    checkout, else the first folder upwards from ``start`` (default: the current one)."""
    here = Path(__file__).resolve().parents[3]
    for cand in (here, *(lambda p: (p, *p.parents))((start or Path.cwd()).resolve())):
        if (cand / "course.py").is_file() and (cand / "solutions").is_dir():
            return cand
    return None


BARE = "course_bare"  # the package's name when course.py loaded this file by path


def _sibling(name: str):
    """A module of this package, also when this file was loaded by path (by course.py,
    before the course's environment exists). Then the package's folder and ``tooling/``
    are registered as the bare packages ``course_bare`` and ``course_bare.tooling`` (their
    ``__init__`` not run: it needs numpy), so that the modules the student commands need
    (standard library only) import each other by relative imports, as in the package."""
    if __package__:
        return importlib.import_module(f".{name}", __package__)
    if BARE not in sys.modules:
        folder = Path(__file__).resolve().parent
        for key, path in ((BARE, folder.parent), (f"{BARE}.tooling", folder)):
            spec = importlib.machinery.ModuleSpec(key, None, is_package=True)
            spec.submodule_search_locations = [str(path)]
            sys.modules[key] = importlib.util.module_from_spec(spec)
    return importlib.import_module(f"{BARE}.tooling.{name}")


def _cmd_build(args) -> int:
    from .grading import grading_select
    from .publish import build

    if args.only and not args.assignment:
        print("error: --only writes a handout: give --assignment DIR too", file=sys.stderr)
        return 2
    if args.assignment or args.nbgrader_source:
        try:
            if args.assignment:
                build.write_assignment(args.assignment, names=args.names or None,
                                       only=_build_only(args.only))
            if args.nbgrader_source:
                build.write_nbgrader_source(args.nbgrader_source, names=args.names or None)
        except (build.NotebookError, OSError, grading_select.GradingError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        results = build.build(names=args.names or None, execute=not args.no_execute,
                              check=args.check, force=args.force)
    except build.NotebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        stale = [r for r in results if r.status != "unchanged"]
        for r in stale:
            print(f"{r.student} is not what the generator makes from {r.solution}")
        return 1 if stale else 0
    return 1 if any(r.status == "kept (edited)" for r in results) else 0


def _build_only(only: str) -> set[str] | None:
    """The exercise ids ``build --only`` selects (None: every exercise)."""
    if not only:
        return None
    from .grading import grading_select
    from .publish import build

    cat = grading_select.select(build.catalogue(), grading_select.selectors(None, only))
    return {e["id"] for entries in cat.values() for e in entries}


def _cmd_exercises(args) -> int:
    from .grading import grading_select
    from .publish import build

    try:
        cat = build.catalogue()
        cat = grading_select.select(cat, grading_select.selectors(args.assignment, args.only))
    except (build.NotebookError, grading_select.GradingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(build.dump_json(cat))
        return 0
    if args.markdown:
        print(markdown_table(cat))
        return 0
    if args.readme:
        from ..provenance import ROOT

        changed = write_readme_table(ROOT / TABLE_FILE, markdown_table(cat))
        print(f"{TABLE_FILE}: exercise table " + ("rewritten" if changed else "already up to date"))
        return 0
    print(f"{'notebook':34} {'id':28} {'points':>6}  title")
    for nb, entries in cat.items():
        for e in entries:
            print(f"{nb:34} {e['id']:28} {e['points']:>6}  {e['title']}")
    code = sum(e["points"] for entries in cat.values() for e in entries if e["kind"] != "written")
    written = sum(e["points"] for entries in cat.values() for e in entries if e["kind"] == "written")
    print(f"total {code:g} points graded automatically"
          + (f", {written:g} more for written answers (graded by hand)" if written else ""))
    return 0


def markdown_table(cat: dict[str, list[dict]]) -> str:
    """The exercise catalogue as a markdown table (what the instructors' guide shows)."""
    lines = ["| notebook | exercise id | title | kind | points |", "|---|---|---|---|---|"]
    total = 0
    for nb, entries in cat.items():
        for e in entries:
            lines.append(f"| {nb.removesuffix('.ipynb')} | `{e['id']}` | {e['title']} | "
                         f"{e['kind']} | {e['points']:g} |")
            total += e["points"]
    lines.append(f"| **total** | | | | **{total:g}** |")
    return "\n".join(lines)


TABLE_FILE = "INSTRUCTORS.md"  # the instructors' guide holds the generated exercise table
README_TABLE_START = "<!-- exercise table: generated by `python3 course.py exercises --readme` -->"
README_TABLE_END = "<!-- end of exercise table -->"


def readme_table(text: str) -> str:
    """The exercise table between the markers of ``text`` (the guide's, :data:`TABLE_FILE`)."""
    start = text.index(README_TABLE_START) + len(README_TABLE_START)
    return text[start:text.index(README_TABLE_END, start)].strip("\n")


def write_readme_table(readme: Path, table: str) -> bool:
    """Put ``table`` between the markers of file ``readme``; True if the file changed."""
    text = readme.read_text(encoding="utf-8")
    new = text.replace(readme_table(text), table, 1)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def _cmd_site(args) -> int:
    try:
        from .publish import site

        site.build_site(args.out, with_solutions=not args.without_solutions)
    except ImportError as exc:
        print(f"error: {exc} (the site needs the instructor extra: pip install -e .[dev])",
              file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_grade(args) -> int:
    from .grading import grading

    return grading.run_cli(args)


def _cmd_progress(args) -> int:
    return _sibling("student.progress").run(args.folder, verify_=args.verify, root=args.root)


def _cmd_update(args) -> int:
    return _sibling("student.update").run(args.root, force=args.force)


def _cmd_fresh(args) -> int:
    return _sibling("student.update").run(args.root, fresh_names=args.names)


def _cmd_lab(args) -> int:
    notebooks = args.root / "notebooks"
    return subprocess.call([sys.executable, "-m", "jupyter", "lab", *args.rest, str(notebooks)],
                           cwd=args.root)


def _cmd_bootstrap_only(args) -> int:
    print(f"`{args.command}` manages the course's environments: run `python3 course.py "
          f"{args.command}` in the course folder.", file=sys.stderr)
    return 2


def _add_build(b):
    b.add_argument("names", nargs="*", help="notebook prefixes, e.g. 01 03 (default: all)")
    b.add_argument("--no-execute", action="store_true", help="don't re-execute solutions/")
    b.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if notebooks/ is not what the generator makes")
    b.add_argument("--force", action="store_true",
                   help="overwrite student notebooks that were edited (keeps a .bak copy)")
    b.add_argument("--assignment", type=Path, metavar="DIR",
                   help="write the assignment edition (no model answers, no Further-exercise "
                   "hints) into DIR instead; notebooks/ and solutions/ are not touched")
    b.add_argument("--only", default="", metavar="SELECTORS",
                   help="with --assignment: a handout of only these exercises (comma-separated "
                   "ids, globs or notebook numbers, as `grade --only`); the others keep the "
                   "course's answer so the notebook runs; grade with the same --only")
    b.add_argument("--nbgrader-source", type=Path, metavar="DIR",
                   help="write solutions/ without Further-exercise hints into DIR, an nbgrader "
                   "source folder whose release is the assignment edition")


def _add_exercises(e):
    e.add_argument("--json", action="store_true")
    e.add_argument("--markdown", action="store_true", help="print a markdown table")
    e.add_argument("--readme", action="store_true",
                   help="rewrite the exercise table in INSTRUCTORS.md (a test checks it)")
    e.add_argument("--only", default="", help="comma-separated ids, globs or notebook numbers")
    e.add_argument("--assignment", type=Path, help="an assignment file (see `grade --help`)")


def _add_grade(g):
    g.description = ("Run each submission's answer cells in a sandbox process, check its "
                     "functions from the grader's own process (visible and held-out cases) "
                     "and report pass / fail / not attempted and points per exercise. "
                     "Assignment file: one selector (exercise id, glob like ex03_*, or "
                     "notebook number like 03) per line, optionally followed by the points; "
                     "# starts a comment.")
    from .grading.grading import add_arguments

    add_arguments(g)


def _add_site(s):
    s.add_argument("--without-solutions", action="store_true",
                   help="leave the exercise solutions out (for instructors who grade)")
    s.add_argument("--out", type=Path, default=None, help="output folder (default: site/)")


def _add_progress(pr):
    pr.add_argument("folder", nargs="?", default=None,
                    help="a folder of notebooks (default: the course's notebooks/)")
    pr.add_argument("--verify", action="store_true",
                    help="re-run the notebooks in grading mode (on a copy) to be sure")


def _add_update(u):
    u.add_argument("--force", action="store_true", help="update even if Jupyter is running")


def _add_fresh(f):
    f.add_argument("names", nargs="+", metavar="NN", help="notebook numbers, e.g. 03")


def _add_rest(r):
    r.add_argument("rest", nargs=argparse.REMAINDER, help="passed on unchanged")


# name -> (add the command's arguments, run it); the run functions import what they need.
HANDLERS = {
    "lab": (_add_rest, _cmd_lab), "progress": (_add_progress, _cmd_progress),
    "update": (_add_update, _cmd_update), "fresh": (_add_fresh, _cmd_fresh),
    "build": (_add_build, _cmd_build), "exercises": (_add_exercises, _cmd_exercises),
    "grade": (_add_grade, _cmd_grade), "site": (_add_site, _cmd_site),
    "test": (_add_rest, _cmd_bootstrap_only), "freeze": (_add_rest, _cmd_bootstrap_only),
}
# What an instructor command needs beyond the student environment.
INSTRUCTOR_MODULES = ("nbgrader", "nbformat", "nbclient")


def command_parser(name: str, prog: str = "course") -> argparse.ArgumentParser:
    """The parser of one command (built on demand: ``grade``'s imports numpy)."""
    cmd = find(name)
    p = argparse.ArgumentParser(prog=f"{prog} {name}", description=cmd.summary)
    HANDLERS[name][0](p)
    p.set_defaults(command=name, func=HANDLERS[name][1])
    return p


def command_of(argv: list[str], prog: str) -> tuple[Command | None, int]:
    """The command ``argv`` names, or (None, exit code) after printing the help (asked for,
    or after one line naming an unknown command): the launcher and :func:`main` both ask."""
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(help_text(prog))
        return None, 0
    cmd = find(argv[0])
    if cmd is None:
        print(f"unknown command {argv[0]!r}\n\n{help_text(prog)}", file=sys.stderr)
        return None, 2
    return cmd, 0


def missing_instructor_tools() -> list[str]:
    return [m for m in INSTRUCTOR_MODULES if importlib.util.find_spec(m) is None]


def main(argv: list[str] | None = None, *, root: Path | None = None,
         prog: str = "course") -> int:
    """Run one command; ``root`` is the course folder (default: found from here)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd, code = command_of(argv, prog)
    if cmd is None:
        return code
    if cmd.env == "dev" and cmd.name not in BOOTSTRAP_ONLY and missing_instructor_tools():
        print(f"`{prog} {cmd.name}` is an instructor command and needs the instructor tools "
              f"({', '.join(missing_instructor_tools())} are missing): run "
              f"`python3 course.py {cmd.name} …` in the course folder (it sets them up in "
              ".venv-dev), or install them with `pip install -e '.[dev]'` there.",
              file=sys.stderr)
        return 2
    args = command_parser(cmd.name, prog).parse_args(argv[1:])
    args.root = root or course_root()
    if args.root is None and cmd.name in {"lab", "update", "fresh", "progress"} and not (
            cmd.name == "progress" and args.folder):
        print(f"`{prog} {cmd.name}` works on the course folder (a clone of the course, with "
              "course.py and solutions/): run it there.", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
