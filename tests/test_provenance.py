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
