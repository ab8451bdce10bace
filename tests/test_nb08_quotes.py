"""Notebook 08 quotes ``benchmarks/results/char_lm_120s.json``: every number its text
quotes from that file equals the file's, and the deterministic quoted numbers (the
Kneser–Ney n-grams of orders 8 and 10, the share of repeated 40-character strings) are
recomputed here from the corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from course_utils import provenance
from course_utils.data import text
from course_utils.lessons import charlm, ngram

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "solutions" / "08_char_language_model.ipynb"
STEM = "char_lm_120s"


@pytest.fixture(scope="module")
def record():
    return provenance.load_results(STEM)


@pytest.fixture(scope="module")
def cells():
    nb = json.loads(NB.read_text())
    return {c["id"]: c for c in nb["cells"]}


@pytest.fixture(scope="module")
def corpus():
    return text.load_corpus(None)


def _source(cells, cid):
    return "".join(cells[cid]["source"])


def _stdout(cells, cid):
    return "".join("".join(o.get("text", "")) for o in cells[cid].get("outputs", [])
                   if o["output_type"] == "stream")


def _norm(s):  # prose is wrapped at ~90 columns: compare with whitespace collapsed
    return re.sub(r"\s+", " ", s)


def test_the_results_file_is_the_run_the_notebook_describes(record, cells):
    res = record["results"]
    assert record["script"] == f"benchmarks/{STEM}.py"
    intro = _source(cells, "c032c-bench-intro")
    assert f"python benchmarks/{record['command']}" in intro
    s = res["settings"]
    assert (s["threads"], s["clock"], s["seconds"]) == (1, "cpu", 120.0)
    assert (s["hidden"], s["seq_len"], s["dropout"], s["batch"]) == (256, 10, 0.2, 64)
    assert (s["lr"], s["rnn_lr"], s["clip"], s["cosine"]) == (3e-3, 1e-3, 1.0, True)
    assert not res["corpus"]["custom"]
    m = res["models"]
    assert set(m) == {"lstm", "rnn", "rnn H=519"}
    # "a plain RNN of the same size": 519 units is the equal-parameter width of the LSTM
    assert m["rnn H=519"]["hidden"] == charlm.equal_param_hidden(
        res["corpus"]["vocab"], m["lstm"]["params"], "rnn") == 519
    assert m["lstm"]["params"] == charlm.param_count(res["corpus"]["vocab"], 256, "lstm")
    assert m["rnn"]["params"] == charlm.param_count(res["corpus"]["vocab"], 256, "rnn")
    assert "519 units" in _norm(intro)


def test_ngram_orders_8_and_10_are_recomputed(record, corpus):
    V = len(corpus.vocab)
    assert record["results"]["corpus"]["vocab"] == V
    assert record["results"]["corpus"]["val"] == len(corpus.val)
    rows = dict(ngram.baseline_table(corpus.train, corpus.val, V, orders=(8, 10)))
    for n in (8, 10):
        name = f"{n}-gram (Kneser–Ney)"
        assert round(rows[name], 4) == record["results"]["ngram_bpc"][name], name


def test_the_notebook_prints_the_files_ngrams_and_its_own_7gram_agrees(record, cells):
    ng = record["results"]["ngram_bpc"]
    out = _stdout(cells, "c012a-ngram-file")
    for n in (7, 8, 10):
        assert f"{n}-gram (Kneser–Ney): {ng[f'{n}-gram (Kneser–Ney)']:.3f} bpc" in out
    # the 7-gram the notebook fits itself (cell 11) is the file's 7-gram
    table = _stdout(cells, "c011-7761efdb")
    assert re.search(rf"7-gram \(Kneser–Ney\)\s+{ng['7-gram (Kneser–Ney)']:.3f}", table)
    assert provenance.describe(record) in out


def test_repeated_40_character_strings_are_computed_and_quoted_equal(cells, corpus):
    r = ngram.repeated_fraction(corpus.train, corpus.val, 40)
    assert f"{r:.1%} of the validation text's 40-character strings" in _stdout(
        cells, "c012c-repeats-code")
    assert f"{r:.1%} of the validation text's 40-character strings" in _norm(
        _source(cells, "c033-6bd5a017"))
    assert 1 / 8 < r < 1 / 6  # "about one in seven"
    assert "about one in seven" in _source(cells, "c012d-strong").lower()


def _benchmark_quotes(record):
    """The numbers the notebook's prose may quote from the file, formatted as it does."""
    res = record["results"]
    L, Rw, Rs = (res["models"][k] for k in ("lstm", "rnn", "rnn H=519"))
    ng = {n: res["ngram_bpc"][f"{n}-gram (Kneser–Ney)"] for n in (7, 8, 10)}
    three = {f"{v:.3f}" for v in (L["val_bpc"], Rw["val_bpc"], Rs["val_bpc"],
                                  L["train_bpc_dropout_off"], *ng.values(),
                                  _d(Rw, L), _d(Rs, L), _d(Rw, Rs))}
    return L, Rw, Rs, ng, three


def _d(a, b):  # a difference of two quoted values, as a reader subtracts them (3 decimals)
    return round(a["val_bpc"], 3) - round(b["val_bpc"], 3)


def test_numbers_quoted_in_the_prose_equal_the_files(record, cells):
    L, Rw, Rs, ng, allowed = _benchmark_quotes(record)
    ratio = f"{Rw['steps'] / L['steps']:.1f} times as many"
    gap = f"{L['val_bpc'] - L['train_bpc_dropout_off']:.2f}"
    lessons = _norm(_source(cells, "c032e-bench-lessons"))
    for s in (f"ended at {L['val_bpc']:.3f} bpc, {_d(Rw, L):.3f} below the RNN "
              f"of the same width ({Rw['val_bpc']:.3f})", ratio,
              f"{_d(Rs, L):.3f} below the RNN of the same size ({Rs['val_bpc']:.3f})",
              f"helped the plain RNN by {_d(Rw, Rs):.3f} bpc",
              f"{Rs['steps']:,} against {L['steps']:,}",
              f"7-gram ({ng[7]:.3f})", f"8-gram ({ng[8]:.3f})", f"10-gram ({ng[10]:.3f})",
              f"{L['train_bpc_dropout_off']:.3f} against {L['val_bpc']:.3f}", f"A gap of {gap} bpc",
              f"read about {L['chars_seen'] / record['results']['corpus']['train']:.0f} times",
              f"same {record['results']['corpus']['train'] / 1000:.0f} thousand characters"):
        assert s in lessons, s
    reading = _norm(_source(cells, "c028-97691d67"))
    for s in (ratio, f"ends {_d(Rw, L):.3f} bpc below the RNN of the same width",
              f"{_d(Rs, L):.3f} below an RNN of the same size"):
        assert s in reading, s
    facts = _norm(_source(cells, "c033-6bd5a017"))
    for s in (f"{L['val_bpc']:.3f} vs {Rw['val_bpc']:.3f} and {Rs['val_bpc']:.3f} bpc",
              f"not the 10-gram ({ng[10]:.3f})", f"{gap} bpc better than held-out text"):
        assert s in facts, s
    # and no other three-decimal number slipped into these cells
    for cid in ("c032e-bench-lessons", "c028-97691d67"):
        for num in re.findall(r"\b\d\.\d{3}\b", _source(cells, cid)):
            assert num in allowed, f"{cid} quotes {num}, which is not in {STEM}.json"
    # the orderings the prose states
    assert L["val_bpc"] < Rs["val_bpc"] < Rw["val_bpc"]
    assert Rw["steps"] > L["steps"] > Rs["steps"]
    assert ng[10] < ng[8] < L["val_bpc"] < ng[7]
