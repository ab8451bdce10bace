"""The results files of benchmarks/ and the helper that writes them."""

import json

import pytest
from notebook_cells import cell_text

from course_utils import provenance


def test_save_then_load_round_trips_with_provenance(tmp_path):
    path = provenance.save_results("demo_bench", {"bpc": {"lstm": 2.1, "rnn": 2.4}},
                                   directory=tmp_path)
    assert path == tmp_path / "demo_bench.json"
    rec = provenance.load_results("demo_bench", directory=tmp_path)
    assert rec["results"] == {"bpc": {"lstm": 2.1, "rnn": 2.4}}
    assert rec["script"] == "benchmarks/demo_bench.py"
    for key in provenance.REQUIRED_KEYS:
        assert key in rec
    assert rec["versions"]["torch"] and rec["machine"]["cores"] >= 1
    load = rec["machine"]["load_average"]
    assert load is None or load >= 0.0
    line = provenance.describe(rec)
    assert "benchmarks/demo_bench.py" in line and "torch" in line


def test_missing_and_incomplete_files_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="python benchmarks/nothing.py"):
        provenance.load_results("nothing", directory=tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({"results": {}}))
    with pytest.raises(ValueError, match="lacks"):
        provenance.load_results("bad", directory=tmp_path)


def test_every_shipped_results_file_is_complete():
    for path in sorted(provenance.RESULTS_DIR.glob("*.json")):
        rec = provenance.load_results(path.stem)
        assert (provenance.ROOT / rec["script"]).exists(), f"{path.name}: its script is gone"


def test_cell_text_finds_one_cell_by_id(tmp_path):
    nb = {"cells": [{"id": "a", "source": ["LSTM  at\n", "1.689 bpc"]},
                    {"id": "b", "source": "x"}, {"id": "b", "source": "y"}]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    assert cell_text(path, "a") == "LSTM  at\n1.689 bpc"
    assert cell_text(path, "a", squash_spaces=True) == "LSTM at 1.689 bpc"
    for bad in ("b", "missing"):
        with pytest.raises(KeyError):
            cell_text(path, bad)


def test_an_installed_copy_without_the_course_folder_finds_every_quoted_result(tmp_path):
    """Colab installs the package from git, not editable: the wheel carries the results that
    the notebooks quote (course_utils/results/, a link to benchmarks/results/ in the
    repository), and provenance.load_results finds each of them there."""
    import re
    import shutil
    import subprocess
    import sys
    import zipfile

    root = provenance.ROOT
    src = tmp_path / "course"
    shutil.copytree(root / "src", src / "src", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(root / "benchmarks" / "results", src / "benchmarks" / "results")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).exists():
            shutil.copy(root / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--no-build-isolation", "--disable-pip-version-check", "-w",
                           str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    stems = sorted({m for p in (root / "solutions").glob("*.ipynb")
                    for m in re.findall(r'load_results\(\\"(\w+)\\"\)', p.read_text())})
    assert len(stems) >= 8, stems
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import course_utils.provenance as p; "
            "print(p.RESULTS_DIR); [p.load_results(s) for s in sys.argv[2:]]")
    run = subprocess.run([sys.executable, "-c", code, str(site), *stems], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == str(site / "course_utils" / "results")
