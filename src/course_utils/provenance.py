"""Results files that benchmark scripts write and notebooks quote, with their provenance.

A script in ``benchmarks/`` ends with ``save_results("<script stem>", results)``; that
writes ``benchmarks/results/<stem>.json`` holding the numbers *and* where they came from
(command line, date, machine, CPU, thread count, package versions). A notebook that quotes
a benchmark loads the file (``load_results``) and prints from it, or quotes its numbers in
prose; ``tests/test_provenance.py`` checks that quoted numbers equal the file's.

    results: a JSON-serialisable dict (numbers, lists, nested dicts; no numpy scalars)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the course folder (the one definition)
# benchmarks/results/ in the course folder; an installed copy of the package without the
# course folder (Colab's `pip install git+…`) has them as course_utils/results/ (package data:
# in the repository that folder is a link to benchmarks/results/)
RESULTS_DIR = (ROOT / "benchmarks" / "results"
               if (ROOT / "benchmarks" / "results").is_dir()
               else Path(__file__).resolve().parent / "results")
REQUIRED_KEYS = ("script", "command", "date", "machine", "versions", "results")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """Where a measurement was made: OS, CPU, core count, thread settings, load."""
    import torch

    return {
        "system": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "MKL_CBWR")
                if k in os.environ},
        # how busy the machine was when the results were written (timings on a loaded
        # machine are slower than the code): the 1-minute load average, or None
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict:
    import numpy
    import torch

    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "torch": torch.__version__}


def save_results(stem: str, results: dict, *, directory: Path | None = None) -> Path:
    """Write ``<directory>/<stem>.json`` (default ``benchmarks/results/``) and return its path.

    ``stem`` is the benchmark script's file name without ``.py``.
    """
    directory = Path(directory) if directory is not None else RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    record = {
        "script": f"benchmarks/{stem}.py",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "versions": versions(),
        "results": results,
    }
    path = directory / f"{stem}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def load_results(stem: str, *, directory: Path | None = None) -> dict:
    """The whole record that ``save_results(stem, …)`` wrote (see ``REQUIRED_KEYS``)."""
    directory = Path(directory) if directory is not None else RESULTS_DIR
    path = directory / f"{stem}.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: run `python benchmarks/{stem}.py` to produce it") from None
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: rerun the benchmark script")
    return record


def describe(record: dict) -> str:
    """One line of provenance to print under a quoted table."""
    m, v = record["machine"], record["versions"]
    return (f"source: {record['script']} ({record['command']}), {record['date']}, "
            f"{m['cpu']} ({m['cores']} cores, {m['torch_threads']} torch threads), "
            f"Python {v['python']}, numpy {v['numpy']}, torch {v['torch']}")
