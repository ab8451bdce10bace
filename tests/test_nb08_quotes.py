"""Notebook 08 quotes ``benchmarks/results/char_lm_120s.json``: the file is the run the
notebook describes (a selection on validation text, then seeds of the chosen configuration
on test text), every number its prose quotes from that file equals the file's, and the
deterministic quoted numbers (Kneser–Ney n-grams, the shares of repeated 40-character
strings) are recomputed here from the corpus."""

from __future__ import annotations

import ast
import json
import re
import statistics
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


@pytest.fixture(scope="module")
def splits(corpus):
    return text.train_val_test_split(corpus.vocab.encode(corpus.text), 0.05, 0.05)


def _source(cells, cid):
    return "".join(cells[cid]["source"])


def _stdout(cells, cid):
    return "".join("".join(o.get("text", "")) for o in cells[cid].get("outputs", [])
                   if o["output_type"] == "stream")


def _norm(s):  # prose is wrapped at ~90 columns: compare with whitespace collapsed
    return re.sub(r"\s+", " ", s)


def test_the_results_file_is_the_run_the_notebook_describes(record, cells, corpus):
    res = record["results"]
    assert record["script"] == f"benchmarks/{STEM}.py"
    assert record["command"] == f"{STEM}.py summarise"
    split = res["split"]
    assert split["train"] == len(corpus.train) and split["val"] + split["test"] == len(corpus.val)
    intro = _norm(_source(cells, "c032c-bench-intro"))
    assert f"python benchmarks/{record['command']}" in intro
    for part in res["parts"].values():  # every stage's command is shown
        assert f"python benchmarks/{part['command']}" in intro, part["command"]
        assert part["torch_threads"] == 1
    sel, tst = res["selection"], res["test"]
    # the choice is the lowest validation bpc, and the test runs are of that choice only
    assert sel["chosen"] == min(sel["runs"], key=lambda k: sel["runs"][k]["val_bpc"])
    assert all("test_bpc" not in r for r in sel["runs"].values())
    assert set(tst) == {"lstm", "rnn", "rnn same size"}
    for key, t in tst.items():
        assert t["config"] == sel["chosen"]
        # the budget of the selection, and the clock the notebook names
        assert t["settings"]["seconds"] == sel["settings"]["seconds"]
        assert t["settings"]["clock"] == sel["settings"]["clock"] == "cpu"
        assert t["settings"]["threads"] == 1
        assert [r["seed"] for r in t["runs"]] == [0, 1, 2]
        assert {r["cell"] for r in t["runs"]} == {key.split()[0]}
        xs = [r["test_bpc"] for r in t["runs"]]
        assert t["test_bpc"]["mean"] == round(statistics.mean(xs), 4)
        assert t["test_bpc"]["sd"] == round(statistics.stdev(xs), 4)
    # equal configuration: the RNN has the LSTM's width, layers and tying
    L, R = tst["lstm"]["runs"][0], tst["rnn"]["runs"][0]
    assert L["hidden"] == R["hidden"] and L["lr"] == 3e-3 and R["lr"] == 1e-3
    c = {**sel["runs"][sel["chosen"]]}
    assert L["params"] == charlm.param_count(split["vocab"], c["hidden"], "lstm", c["num_layers"],
                                             tie_weights=c["tie_weights"])
    assert R["params"] == charlm.param_count(split["vocab"], c["hidden"], "rnn", c["num_layers"],
                                             tie_weights=c["tie_weights"])
    # equal size: the RNN's width chosen so that it has as many parameters as the LSTM
    Q = tst["rnn same size"]["runs"][0]
    assert Q["hidden"] == charlm.equal_param_hidden(split["vocab"], L["params"], "rnn",
                                                    num_layers=c["num_layers"],
                                                    tie_weights=c["tie_weights"])
    assert abs(Q["params"] - L["params"]) < 0.01 * L["params"] and Q["lr"] == 1e-3
    assert f"({Q['hidden']} units, `--models rnn:same`)" in intro
    assert f"{sel['settings']['seconds']:.0f} CPU s" in intro


def test_ngrams_are_recomputed(record, corpus, splits):
    """Orders 8 and 10 on the notebook's held-out 10% and the 10-gram on the validation
    half, refitted here; the best order is the lowest validation bpc of those tried."""
    V = len(corpus.vocab)
    ng = record["results"]["ngram"]
    train, val, test = splits
    for n in (8, 10):
        model = ngram.KneserNey(n, V).fit(corpus.train)
        assert round(model.bpc(corpus.val, history=corpus.train), 4) == ng["heldout_bpc"][str(n)], n
        if n == 10:
            assert round(model.bpc(val, history=train), 4) == ng["val_bpc"]["10"]
    assert str(ng["best"]) == min(ng["val_bpc"], key=ng["val_bpc"].get)


def test_the_notebook_prints_the_files_ngrams_and_its_own_7gram_agrees(record, cells):
    ng = record["results"]["ngram"]["heldout_bpc"]
    out = _stdout(cells, "c012a-ngram-file")
    for n in (7, 8, 10):
        assert f"{n}-gram (Kneser–Ney): {ng[str(n)]:.3f} bpc" in out
    table = _stdout(cells, "c011-7761efdb")
    assert re.search(rf"7-gram \(Kneser–Ney\)\s+{ng['7']:.3f}", table)
    assert provenance.describe(record) in out
    assert provenance.describe(record) in _stdout(cells, "c032d-bench-table")


def test_repeated_40_character_strings_are_computed_and_quoted_equal(cells, corpus):
    r = ngram.repeated_fraction(corpus.train, corpus.val, 40)
    assert f"{r:.1%} of the validation text's 40-character strings" in _stdout(
        cells, "c012c-repeats-code")
    assert f"{r:.1%} of the validation text's 40-character strings" in _norm(
        _source(cells, "c033-6bd5a017"))
    assert 1 / 8 < r < 1 / 6  # "about one in seven"
    assert "about one in seven" in _source(cells, "c012d-strong").lower()


def test_the_repeats_of_the_two_halves_are_printed(cells, corpus, splits):
    train, val, test = splits
    out = _stdout(cells, "c032f-repeats-halves")
    shares = [ngram.repeated_fraction(train, part, 40) for part in (val, test)]
    for name, share in zip(("validation", "test"), shares):
        assert f"{name} half: {share:.1%} of its 40-character strings" in out
    assert shares[1] > 2 * shares[0]  # "far more often than the validation half"


def _f3(x):
    return f"{x:.3f}"


def test_numbers_quoted_in_the_prose_equal_the_files(record, cells):
    res = record["results"]
    sel, tst, ng = res["selection"], res["test"], res["ngram"]
    L, R, Q = tst["lstm"], tst["rnn"], tst["rnn same size"]
    runs = sel["runs"]
    S = sel["settings"]["seconds"]
    Lt, Rt, NGt = L["test_bpc"]["mean"], R["test_bpc"]["mean"], ng["best_test_bpc"]
    NGv = ng["val_bpc"][str(ng["best"])]
    allowed = {_f3(v) for v in (Lt, Rt, NGt, NGv, L["test_bpc"]["sd"], R["test_bpc"]["sd"],
                                L["val_bpc"]["sd"], L["val_bpc"]["mean"],
                                L["train_bpc_dropout_off"]["mean"], R["val_bpc"]["mean"],
                                round(Rt, 3) - round(Lt, 3), round(Lt, 3) - round(NGt, 3),
                                Q["test_bpc"]["mean"], Q["test_bpc"]["sd"],
                                *(r["val_bpc"] for r in sel["runs"].values()))}
    read = _norm(_source(cells, "c032g-bench-read"))
    selection = _norm(_source(cells, "c035-gd-selection"))  # in Going deeper
    assert f"**{sel['chosen']}** had the lowest validation bpc " \
           f"({_f3(sel['runs'][sel['chosen']]['val_bpc'])})" in selection
    assert f"more dropout in both places (drop0.4) ended at {_f3(runs['drop0.4']['val_bpc'])}, " \
           f"tying the embedding to the read-out at {_f3(runs['tied']['val_bpc'])}, a second " \
           f"layer at {_f3(runs['2layer']['val_bpc'])}" in selection
    for s in (f"LSTM reached {_f3(Lt)} ± {_f3(L['test_bpc']['sd'])} bpc",
              f"the RNN {_f3(Rt)} ± {_f3(R['test_bpc']['sd'])}: the LSTM {_f3(round(Rt, 3) - round(Lt, 3))} lower",
              f"{R['steps']['mean'] / L['steps']['mean']:.1f} times as many updates",
              f"the RNN reached {_f3(Q['test_bpc']['mean'])} ± {_f3(Q['test_bpc']['sd'])}: still above "
              "every seed of the LSTM",
              f"On the validation text the two are level (the LSTM {_f3(L['val_bpc']['mean'])}, the "
              f"{ng['best']}-gram {_f3(NGv)})",
              f"{L['runs'][0]['params'] / R['runs'][0]['params']:.1f} times as many parameters",
              f"validation was the {ng['best']}-gram ({_f3(NGv)};",
              f"it reached {_f3(NGt)}, {_f3(round(Lt, 3) - round(NGt, 3))} below the LSTM",
              f"training text (dropout off, measured like the others) is "
              f"{_f3(L['train_bpc_dropout_off']['mean'])}, on the test text {_f3(Lt)}",
              f"validation bpc, {_f3(L['val_bpc']['mean'])}, is higher still",
              f"(the RNN: {_f3(R['val_bpc']['mean'])} there, {_f3(Rt)} on test; the "
              f"{ng['best']}-gram: {_f3(NGv)} and {_f3(NGt)})",
              f"In {S:.0f} CPU s (one thread) the LSTM read its training text "
              f"{L['epochs']['mean']:.1f} times"):
        assert s in read, s
    facts = _norm(_source(cells, "c033-6bd5a017"))
    for s in (f"LSTM reached {_f3(Lt)} ± {_f3(L['test_bpc']['sd'])} bpc on the test text",
              f"plain RNN {_f3(Rt)} ± {_f3(R['test_bpc']['sd'])} ({_f3(Q['test_bpc']['mean'])} ± "
              f"{_f3(Q['test_bpc']['sd'])} with as many parameters as the LSTM)",
              f"(a {ng['best']}-gram, chosen on validation) got {_f3(NGt)} there: the LSTM did not "
              "beat it", f"{S:.0f} CPU s each and three seeds"):
        assert s in facts, s
    # the selection's difference against the spread between seeds (Going deeper)
    gap = round(runs["base"]["val_bpc"] - runs["out0.4"]["val_bpc"], 3)
    lstm_range = round(L["val_bpc"]["max"] - L["val_bpc"]["min"], 3)
    rnn_range = round(R["val_bpc"]["max"] - R["val_bpc"]["min"], 3)
    assert (f"That difference, {_f3(gap)}, comes from one run of each (seed 0)" in selection
            and f"three seeds ended {_f3(lstm_range)} apart on validation text (lowest to highest; "
            f"standard deviation {_f3(L['val_bpc']['sd'])}), the RNN's {_f3(rnn_range)} apart" in selection)
    assert gap < 2 * lstm_range  # "of the size of the differences between seeds"
    allowed |= {_f3(gap), _f3(lstm_range), _f3(rnn_range)}
    # the main line's summary table prints the file's numbers
    out = _stdout(cells, "c032c1-bench-summary")
    for t in (L, R, Q):
        assert f"{t['test_bpc']['mean']:7.3f} ± {t['test_bpc']['sd']:.3f} {t['val_bpc']['mean']:10.3f}" in out
    assert f"{NGt:7.3f}" in out and f"{NGv:10.3f}" in out
    main = _norm(_source(cells, "c032c0-bench-main"))
    chosen = runs[sel["chosen"]]
    assert (chosen["seq_len"], chosen["dropout"], chosen["dropout_where"]) == (10, 0.4, "output")
    assert (f"configuration *{sel['chosen']}*: $T = 10$ and dropout 0.4 before the read-out" in main
            and f"for {S:.0f} CPU seconds each (one thread), three seeds per model" in main)
    assert round(L["epochs"]["mean"]) == 8 and "LSTMs read their training text about 8 times" in \
        _norm(_source(cells, "c032k-novelty-read"))
    # and no other three-decimal number slipped into these cells
    for cid in ("c032g-bench-read", "c028-97691d67", "c033-6bd5a017", "c032c-bench-intro",
                "c035-gd-selection", "c032c0-bench-main", "c032k-novelty-read"):
        for num in re.findall(r"\b\d\.\d{3}\b", _source(cells, cid)):
            assert num in allowed, f"{cid} quotes {num}, which is not in {STEM}.json"
    # the orderings the prose states
    assert Lt < Rt and NGt < Lt and NGt < NGv
    # "fit its training text more closely than new text"; validation "higher still"
    assert L["train_bpc_dropout_off"]["mean"] < Lt - 0.1 < L["val_bpc"]["mean"] - 0.1
    assert R["val_bpc"]["mean"] > Rt + 0.1
    assert L["test_bpc"]["max"] < Q["test_bpc"]["min"]  # equal size: "still above every seed"
    # "level" on validation: within twice the LSTM's spread between seeds there
    assert abs(L["val_bpc"]["mean"] - NGv) < 2 * L["val_bpc"]["sd"]
    # the remedies "did not help": each ended above base; out0.4 level with base
    base = runs["base"]["val_bpc"]
    assert all(runs[k]["val_bpc"] > base for k in ("drop0.4", "tied", "2layer"))
    assert sel["chosen"] == "out0.4" and 0 < base - runs["out0.4"]["val_bpc"] < 0.01
    assert "(out0.4) was the one change that ended below base, by less than 0.01" in selection
    assert L["test_bpc"]["max"] < R["test_bpc"]["min"]  # "every seed of it below every seed"
    assert "every seed of it below every seed of the RNN" in read


def test_the_stored_short_run_is_described_as_it_printed(cells):
    """Section 8's reading: the LSTM read its training text 1.5 times (a fixed 400 steps),
    the RNN more often, and both ended between the 3-gram and the 4-gram."""
    lstm, rnn = _stdout(cells, "c024-2f0719c1"), _stdout(cells, "c026-16da4591")
    table = dict(re.findall(r"(\d)-gram \(Kneser–Ney\)\s+(\d\.\d{3})", _stdout(cells, "c011-7761efdb")))
    passes = [float(re.search(r"\((\d+\.\d) passes over the training text\)", s).group(1))
              for s in (lstm, rnn)]
    assert passes[0] == 1.5 and passes[1] > passes[0]
    steps = [int(re.search(r"^(?:LSTM|RNN): (\d+) steps", s).group(1)) for s in (lstm, rnn)]
    assert steps[0] == 400 and steps[1] > 2 * steps[0]  # "more than twice as many updates"
    assert "plain RNN makes more updates (in the run above more than twice as many)" in _norm(_source(cells, "c028-97691d67"))
    assert "the LSTM 1.5 times (400 steps of 64 × 25 characters" in _norm(
        _source(cells, "c028-97691d67"))
    for s in (lstm, rnn):
        bpc = float(re.search(r"validation (\d\.\d{3}) bpc", s).group(1))
        assert float(table["4"]) < bpc < float(table["3"])


def _shares(line):
    return [float(x) / 100 for x in re.findall(r"(\d+\.\d)%", line)]


def test_the_novelty_check_is_computed_and_quoted_equal(cells, corpus, splits):
    """Section 10's novelty table: the human halves and the 12-gram's sample recomputed here
    (deterministic), the LSTM's row read from the run stored in the notebook, and the prose
    and the key facts quote what the cells print."""
    train, val, test = splits
    V = len(corpus.vocab)
    index = ngram.SubstringIndex(train, ks=(20, 40))
    kn12 = ngram.KneserNey(12, V).fit(train)
    sample = kn12.sample(2000, context=corpus.vocab.encode("The "), seed=0)
    del kn12
    out = _stdout(cells, "c032i-novelty-counts").splitlines()
    rows = {}
    for name, ids in (("validation half (human)", val), ("test half (human)", test),
                      ("12-gram sample", sample)):
        line = next(l for l in out if l.startswith(name))
        rows[name] = [index.share(ids, k) for k in (20, 40)]
        assert line.endswith("".join(f"{s:>15.1%}" for s in rows[name])), line
    v, t, g = rows["validation half (human)"], rows["test half (human)"], rows["12-gram sample"]
    # the 40-character shares of the halves are section 3's count (the cell above prints them)
    assert [round(x, 3) for x in (v[1], t[1])] == [round(ngram.repeated_fraction(train, p, 40), 3)
                                                    for p in (val, test)]
    quote = f"({t[1]:.1%} against {v[1]:.1%} of its 40-character strings)"
    assert quote in _norm(_source(cells, "c032k-novelty-read"))
    assert (f"here {t[1]:.1%} of the test half's 40-character strings, {v[1]:.1%} of the "
            "validation half's") in _norm(_source(cells, "c033-6bd5a017"))
    assert t[0] > v[0] and t[1] > 2 * v[1]  # "repeats the training text much more"
    assert g[1] > 0  # the 12-gram's samples repeat some 40-character training strings
    # the LSTM's row, from the run shown: far fewer than either human half, and the
    # 40-character strings it shares are mostly runs of spaces and dashes
    lstm = _stdout(cells, "c032j-novelty-lstm").splitlines()
    mine = _shares(next(l for l in lstm if l.startswith("LSTM sample")))
    assert mine[0] < v[0] / 2 and mine[1] < v[1] / 2
    copied = [l.strip() for l in lstm if l.startswith("  ")]
    for c in map(ast.literal_eval, copied):
        assert sum(ch.isalnum() for ch in c) <= len(c) // 4, c
