"""Command line of the course tools: ``python -m course_utils <command>`` (or ``course``).

Commands:
    build [NAMES…] [--no-execute] [--check] [--force]
        Regenerate notebooks/ (the self-study edition) from solutions/ (and re-execute
        solutions/ in place).
    build [NAMES…] --assignment DIR [--nbgrader-source DIR]
        Write the assignment edition (no model answers, no Further-exercise hints) into
        DIR, and optionally the matching nbgrader source folder; notebooks/ is not touched.
    exercises [--json] [--markdown] [--only SELECTORS] [--assignment FILE]
        List every exercise: notebook, id, title, points (optionally only a subset).
    progress [FOLDER] [--verify]
        Which exercises of your own notebooks pass, fail or are untouched.
    grade SUBMISSIONS… [--only SELECTORS] [--assignment FILE] [--timeout S] [--cell-timeout S]
          [--heldout N] [--seed S] [--jobs N] [--out DIR]
        Run each submission's code in a sandbox, check its functions from the grader's
        process (with held-out cases) and print/write the grades (see course_utils.grading).
    site [--without-solutions] [--out DIR]
        Build the course website (static HTML) from solutions/ into site/, re-executing
        nothing (see course_utils.site).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_build(args) -> int:
    from . import build

    if args.assignment or args.nbgrader_source:
        try:
            if args.assignment:
                build.write_assignment(args.assignment, names=args.names or None)
            if args.nbgrader_source:
                build.write_nbgrader_source(args.nbgrader_source, names=args.names or None)
        except (build.NotebookError, OSError) as exc:
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


def _cmd_exercises(args) -> int:
    from . import build, grading

    try:
        cat = build.catalogue()
        selectors = grading.parse_assignment(args.assignment.read_text()) if args.assignment else {}
        for s in filter(None, (x.strip() for x in args.only.split(","))):
            selectors.setdefault(s, None)
        cat = grading.select(cat, selectors)
    except (build.NotebookError, grading.GradingError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(build.dump_json(cat))
        return 0
    if args.markdown:
        print(markdown_table(cat))
        return 0
    print(f"{'notebook':34} {'id':28} {'points':>6}  title")
    for nb, entries in cat.items():
        for e in entries:
            print(f"{nb:34} {e['id']:28} {e['points']:>6}  {e['title']}")
    return 0


def markdown_table(cat: dict[str, list[dict]]) -> str:
    """The exercise catalogue as a markdown table (what the README shows)."""
    lines = ["| notebook | exercise id | title | kind | points |", "|---|---|---|---|---|"]
    total = 0
    for nb, entries in cat.items():
        for e in entries:
            lines.append(f"| {nb.removesuffix('.ipynb')} | `{e['id']}` | {e['title']} | "
                         f"{e['kind']} | {e['points']:g} |")
            total += e["points"]
    lines.append(f"| **total** | | | | **{total:g}** |")
    return "\n".join(lines)


def _cmd_site(args) -> int:
    try:
        from . import site

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
    from . import grading

    return grading.run_cli(args)


def _cmd_progress(args) -> int:
    from . import progress
    from .build import ROOT

    return progress.main([*([args.folder] if args.folder else []),
                          *(["--verify"] if args.verify else [])], ROOT)


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course", description="BPTT course tools")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="regenerate notebooks/ from solutions/")
    b.add_argument("names", nargs="*", help="notebook prefixes, e.g. 01 03 (default: all)")
    b.add_argument("--no-execute", action="store_true", help="don't re-execute solutions/")
    b.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if notebooks/ is not what the generator makes")
    b.add_argument("--force", action="store_true",
                   help="overwrite student notebooks that were edited (keeps a .bak copy)")
    b.add_argument("--assignment", type=Path, metavar="DIR",
                   help="write the assignment edition (no model answers, no Further-exercise "
                   "hints) into DIR instead; notebooks/ and solutions/ are not touched")
    b.add_argument("--nbgrader-source", type=Path, metavar="DIR",
                   help="write solutions/ without Further-exercise hints into DIR, an nbgrader "
                   "source folder whose release is the assignment edition")
    b.set_defaults(func=_cmd_build)
    e = sub.add_parser("exercises", help="list the exercise catalogue")
    e.add_argument("--json", action="store_true")
    e.add_argument("--markdown", action="store_true", help="print a markdown table")
    e.add_argument("--only", default="", help="comma-separated ids, globs or notebook numbers")
    e.add_argument("--assignment", type=Path, help="an assignment file (see `grade --help`)")
    e.set_defaults(func=_cmd_exercises)
    s = sub.add_parser("site", help="build the course website into site/")
    s.add_argument("--without-solutions", action="store_true",
                   help="leave the exercise solutions out (for instructors who grade)")
    s.add_argument("--out", type=Path, default=None, help="output folder (default: site/)")
    s.set_defaults(func=_cmd_site)
    g = sub.add_parser("grade", help="grade submitted notebooks",
                       description="Run each submission's answer cells in a sandbox process, "
                       "check its functions from the grader's own process (visible and held-out "
                       "cases) and report pass / fail / not attempted and points per "
                       "exercise. Assignment file: one selector (exercise id, glob like "
                       "ex03_*, or notebook number like 03) per line, optionally followed "
                       "by the points; # starts a comment.")
    from .grading import add_arguments

    add_arguments(g)
    g.set_defaults(func=_cmd_grade)
    pr = sub.add_parser("progress", help="which exercises of your notebooks pass, fail or are "
                        "untouched (read from your saved notebooks; nothing is sent anywhere)")
    pr.add_argument("folder", nargs="?", default=None,
                    help="a folder of notebooks (default: the course's notebooks/)")
    pr.add_argument("--verify", action="store_true",
                    help="re-run the notebooks in grading mode (on a copy) to be sure")
    pr.set_defaults(func=_cmd_progress)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
