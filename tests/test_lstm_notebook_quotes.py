"""Notebook 07 quotes benchmarks/lstm_vs_rnn_long_range.py: its numbers equal the results file's.

The notebook prints the whole table from ``benchmarks/results/lstm_vs_rnn_long_range.json``
and its prose quotes counts from it; this test recomputes every quoted number from the file
and checks that the prose says exactly that.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from notebook_cells import cell_text

from course_utils import provenance
from course_utils.lessons import longrange

ROOT = Path(__file__).resolve().parents[1]
STEM = "lstm_vs_rnn_long_range"


def _cell(cell_id: str, folder: str = "solutions") -> str:
    return cell_text(ROOT / folder / "07_lstm.ipynb", cell_id)


@pytest.fixture(scope="module")
def rows():
    record = provenance.load_results(STEM)
    return {(r["T"], r["model"]): r for r in longrange.summarise_runs(record["results"]["runs"])
            if r["part"] == "main"}


def test_the_results_file_is_the_default_run(rows):
    record = provenance.load_results(STEM)
    assert record["script"] == f"benchmarks/{STEM}.py"
    settings = record["results"]["settings"]
    assert settings["hidden"] == 32 and settings["seeds"] == [0, 1, 2]
    assert {T for T, _ in rows} == {50, 100}
    assert all(r["steps"] == 3000 and r["runs"] == 3 for r in rows.values())
    text = _cell("c031d-bench-md")
    assert "3 seeds, hidden size 32 and 3000 steps, at $T = 50$ and $T = 100$" in text


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_quoted_counts_equal_the_results_file(rows, folder):
    text = _cell("c031f-bench-md", folder)

    def solved(T, model):
        return rows[(T, model)]["solved"]

    rnn, irnn = "RNN", "IRNN"
    lstm0, lstm1, lstm3 = (f"LSTM, forget bias {b}" for b in (0, 1, 3))
    expected = [
        f"the LSTM with $b_f = 3$ solved the task for {solved(50, lstm3)} of 3 seeds",
        f"and so did the IRNN\n({solved(50, irnn)} of 3)",
        f"the $b_f = 3$ LSTM solved it for {solved(100, lstm3)} of 3\nseeds",
        f"the IRNN for {solved(100, irnn)} of 3",
    ]
    for phrase in expected:
        assert phrase in text, phrase
    assert solved(50, lstm3) == solved(50, irnn) == 3  # "and so did"
    # "never got below 0.01 (0 of 3 each)" at T = 50, and "for none" at T = 100
    for T in (50, 100):
        for model in (rnn, lstm0, lstm1):
            assert rows[(T, model)]["first_below"] == [None, None, None], (T, model)
    assert "never got below 0.01 (0 of 3 each)" in text and "for none" in text
    # "in this benchmark at least as reliably as the LSTM"
    assert all(solved(T, irnn) >= solved(T, lstm3) for T in (50, 100))
    # "(A run stuck at the baseline ends at ... 0.158 to 0.173 ...)"
    stuck = [m for r in rows.values() for m in r["final_mse"] if m > 0.1]
    assert f"{min(stuck):.3f} to\n{max(stuck):.3f}" in text


def test_key_fact_on_the_irnn_matches_the_file(rows):
    text = _cell("c032-a39e083d")
    assert "an IRNN (ReLU units, identity\n   initialisation) also learned the task in the benchmark" in text
    assert rows[(50, "IRNN")]["solved"] >= 1


# ---------------------------------------------------------------------------------------
# Section 11 quotes benchmarks/lstm_chrono_adding.py
# ---------------------------------------------------------------------------------------
CHRONO = "lstm_chrono_adding"


def _and_list(values, fmt="{}"):
    v = [fmt.format(x) for x in values]
    return ", ".join(v[:-1]) + " and " + v[-1]


@pytest.fixture(scope="module")
def chrono():
    record = provenance.load_results(CHRONO)
    runs = record["results"]["runs"]
    return dict(record=record, settings=record["results"]["settings"],
                stop=[r for r in runs if r["part"] == "stop" and r["init"] == "chrono"],
                ctrl=[r for r in runs if r["part"] == "stop" and r["init"] == "bias1"],
                fixed=[r for r in runs if r["part"] == "fixed"])


def test_the_chrono_results_file_is_the_default_run(chrono):
    record, s = chrono["record"], chrono["settings"]
    assert record["script"] == f"benchmarks/{CHRONO}.py"
    assert (s["T"], s["hidden"], s["lr"], s["batch"], s["clip"]) == (100, 32, 3e-3, 64, 1.0)
    assert s["seeds"] == [0, 1, 2] and s["chrono_T_max"] == "T"
    assert (s["max_steps"], s["fixed_steps"], s["solved_below"], s["cpu_budget_s"]) == (
        6000, 3000, 0.01, 60.0)
    assert [r["seed"] for r in chrono["stop"]] == [0, 1, 2] == [r["seed"] for r in chrono["ctrl"]]
    assert [r["seed"] for r in chrono["fixed"]] == [0, 1, 2]
    assert all(r["T"] == 100 for r in chrono["stop"] + chrono["ctrl"] + chrono["fixed"])
    for r in chrono["stop"] + chrono["ctrl"] + chrono["fixed"]:
        assert r["success"] == (r["final_mse"] < 0.01 and r["cpu_s"] <= 60.0)
        assert r["steps"] == r["curve"]["steps"][-1]
    assert all(r["steps"] == 3000 for r in chrono["fixed"])


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_chrono_quotes_equal_the_results_file(chrono, rows, folder):
    text = _cell("c033d-chrono-bench-md", folder)
    stop, ctrl, fixed = chrono["stop"], chrono["ctrl"], chrono["fixed"]
    n_stop = sum(r["success"] for r in stop)
    cpu_max = max(r["cpu_s"] for r in stop)
    ctrl_cpu = [r["cpu_s"] for r in ctrl]
    expected = [
        f"It solved the\ntask for {n_stop} of 3 seeds, after "
        f"{_and_list([r['steps'] for r in stop])} steps",
        f"at most {cpu_max:.1f} s of CPU per run",
        "did not get below 0.01 in\n6000 steps for any seed (0 of 3, "
        f"{min(ctrl_cpu):.1f} to {max(ctrl_cpu):.1f} s of\nCPU each, the results file's `cpu_s`)",
        f"ended at MSE {_and_list([r['final_mse'] for r in fixed], '{:.4f}')}:\n"
        f"{sum(r['final_mse'] < 0.01 for r in fixed)} of 3 below 0.01",
        f"where $b_f = 3$ solved {rows[(100, 'LSTM, forget bias 3')]['solved']} of 3",
    ]
    for phrase in expected:
        assert phrase in text, phrase
    assert all(r["first_below"] is None and r["steps"] == 6000 for r in ctrl)
    assert cpu_max <= 60.0  # "the goal was at most 60 s"
    # the summary after the table, and key fact 7
    after = _cell("c033f-chrono-bench-md", folder)
    assert (f"turned {rows[(100, 'LSTM, forget bias 3')]['solved']} of 3 solved runs "
            f"(hand-picked $b_f = 3$, 3000 steps)\ninto {n_stop} of 3") in after
    assert "$b_f = 1$ did not learn the\ntask in 6000 steps" in after
    facts = _cell("c032-a39e083d", folder)
    assert (f"solved the adding problem for {n_stop} of 3 seeds in the benchmark, each within\n"
            f"   {cpu_max:.1f} s of CPU") in facts


# ---------------------------------------------------------------------------------------
# Going deeper quotes benchmarks/lstm_chrono_adding_1997.py (the 1997 comparison)
# ---------------------------------------------------------------------------------------
RECORD_1997 = "lstm_chrono_adding_1997"


def _and_seeds(runs):
    return "seed " + _and(str(r["seed"]) for r in runs) if len(runs) == 1 else "seeds " + _and(str(r["seed"]) for r in runs)


def _and(v):
    v = list(v)
    return v[0] if len(v) == 1 else ", ".join(v[:-1]) + " and " + v[-1]


def _bullets_1997(res):
    """The bullets the notebook must hold, one per length, rebuilt from the results file."""
    out = []
    for s in res["summary"]:
        T = s["T"]
        runs = [r for r in res["runs"] if r["T"] == T]
        ok = [r for r in runs if r["solved"]]
        assert s["solved"] == len(ok) and s["of"] == len(runs) == 3
        paper = (f"the 1997 LSTM: {s['paper_sequences']:,}" if s["paper_sequences"]
                 else "not in the paper's table")
        if ok:
            assert s["mean_sequences"] == round(sum(r["sequences"] for r in ok) / len(ok))
            seqs = _and(f"{r['sequences']:,}" for r in ok)
            cpus = _and(f"{r['cpu_s']:.0f}" for r in ok)
            b = (f"* $T = {T}$: {len(ok)} of {len(runs)} seeds solved, after {seqs} sequences "
                 f"(mean {s['mean_sequences']:,}; {paper}), in {cpus} s of CPU")
        else:
            b = f"* $T = {T}$: none of the {len(runs)} seeds solved ({paper})"
        notok = [r for r in runs if not r["solved"] and r["final"] is not None]
        if notok:
            best = max(notok, key=lambda r: (r["best"]["frac_within"], -r["best"]["mse"]))
            b += (f"; {'the best unsolved run' if len(notok) > 1 else 'the unsolved run'}, "
                  f"stopped by the {best['stopped_by']} after {best['sequences']:,} sequences and "
                  f"{best['cpu_s']:.0f} s of CPU, had at best "
                  f"{100 * best['best']['frac_within']:.2f}% of the 2000 within 0.08 and MSE "
                  f"{best['best']['mse']:.4f}")
        late = [r for r in ok if r["cpu_s"] >= r["cpu_cap_s"]]
        if late:
            b += (f"; {_and_seeds(late)} solved at the evaluation that followed "
                  f"{'its' if len(late) == 1 else 'their'} CPU cap")
        missing = [r for r in runs if r["final"] is None]
        if missing:
            b += f"; {len(missing)} of its runs did not start before the deadline"
        out.append(b + ".")
    return out


@pytest.fixture(scope="module")
def record_1997():
    return provenance.load_results(RECORD_1997)


def test_the_1997_results_file(record_1997):
    res = record_1997["results"]
    s = res["settings"]
    assert record_1997["script"] == f"benchmarks/{RECORD_1997}.py"
    assert s["T"] == [100, 200, 500, 1000] and s["seeds"] == [0, 1, 2]
    assert (s["n_test"], s["tolerance"], s["mse_below"]) == (2000, 0.08, 0.01)
    assert (s["hidden"], s["lr"], s["batch"], s["clip"]) == (32, 3e-3, 64, 1.0)
    assert sum(s["cpu_cap_s"].values()) * 3 <= 1800           # the 30 CPU-minute budget
    assert res["paper_1997"]["sequences"] == {"100": 74000, "500": 209000, "1000": 853000}
    for r in res["runs"]:
        assert r["sequences"] == 64 * r["steps"]
        if r["solved"]:                                        # the criterion, at the last evaluation
            assert r["final"]["frac_within"] == 1.0 and r["final"]["mse"] < 0.01
            assert r["stopped_by"] == "solved"


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_the_1997_quotes_equal_the_results_file(record_1997, folder):
    text = _cell("c041b-record-1997-md", folder)
    for bullet in _bullets_1997(record_1997["results"]):
        assert bullet in text, bullet
    intro = _cell("c041-record-1997-md", folder)
    for phrase in ("74,000 at $T = 100$, 209,000 at\n$T = 500$ and 853,000 at $T = 1000$",
                   "their tolerance is 0.08 in\nour units", "every one of 2000 held-out sequences"):
        assert phrase in intro, phrase


def test_the_1997_summary_equals_the_results_files(record_1997, chrono):
    text = _cell("c041b-record-1997-md")
    res = record_1997["results"]
    solved = [r for r in res["runs"] if r["solved"]]
    seqs = [r["sequences"] for r in solved]
    assert (f"between {min(seqs):,} and {max(seqs):,} over the {len(solved)} solved runs"
            in " ".join(text.split()))
    paper = {int(k): v for k, v in res["paper_1997"]["sequences"].items()}
    assert f"{paper[1000] / paper[100]:.1f} times more" in text
    by_T = {s["T"]: s for s in res["summary"]}
    assert by_T[100]["mean_sequences"] > paper[100]                   # "needed more"
    assert by_T[1000]["mean_sequences"] < paper[1000] / 4             # "fewer than a quarter"
    first = [64 * r["first_below"] for r in chrono["stop"]]
    assert f"{min(first):,} to {max(first):,} sequences" in " ".join(text.split())
    unsolved = [r for r in res["runs"] if not r["solved"] and r["T"] == 1000]
    assert len(unsolved) == 1 and round(unsolved[0]["best"]["frac_within"] * 2000) == 1999
    assert "99.95% of 2000 is 1999" in text
