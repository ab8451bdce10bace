"""Similar answers (``course grade``): normalisation, flags, the report, the calibration.

Small sets only: a few answers of notebook 03 and the honest implementations of one
exercise (``tests/data/honest``); the whole calibration is
``benchmarks/similarity_calibration.py``, whose results file the constants are tied to.
"""

from __future__ import annotations

import ast
import copy
import json
import sys
from pathlib import Path

import pytest
from similarity_disguise import KINDS, disguise

from course_utils import provenance
from course_utils.tooling.exercise_cells import grade_id
from course_utils.tooling.grading import grading_html, grading_reports
from course_utils.tooling.grading import grading_similarity as gs
from course_utils.tooling.grading.grading_reports import ExerciseResult, SubmissionResult

ROOT = Path(__file__).resolve().parents[1]
HONEST = ROOT / "tests" / "data" / "honest"
NB03 = "03_coding_bptt.ipynb"
BWD = "ex03_rnn_backward"
sys.path.insert(0, str(ROOT / "benchmarks"))

ANSWER = '''
def rnn_backward(dh, x, h0, h, Wxh, Whh):
    """My docstring."""
    N, T, D = x.shape
    dx = np.zeros_like(x)  # gradient of the inputs
    dWxh, dWhh = np.zeros_like(Wxh), np.zeros_like(Whh)
    db = np.zeros(Whh.shape[0])
    carry = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        prev = h[:, t - 1] if t > 0 else h0
        dx[:, t], carry, a, b, c = rnn_step_backward(dh[:, t] + carry, x[:, t], prev,
                                                     h[:, t], Wxh, Whh)
        dWxh += a
        dWhh += b
        db += c
    return dx, carry, dWxh, dWhh, db
'''


def _doc(src, name="rnn_backward"):
    return gs.document(src, name, "x", exclude={"rnn_step_backward"})


def _strip(src: str) -> str:
    return "".join(ln for ln in src.splitlines(True) if "### " not in ln)


def test_names_comments_docstrings_literals_layout_and_order_are_normalised():
    renamed = (ANSWER.replace("carry", "g_next").replace("prev", "hp").replace("db", "gb")
               .replace("# gradient of the inputs", "# another comment")
               .replace('"""My docstring."""', "'''Something else entirely.'''")
               .replace("np.zeros(Whh.shape[0])", "np.zeros( Whh.shape[ 1 ] )"))
    lines = renamed.splitlines()
    i = next(k for k, ln in enumerate(lines) if "dx = np.zeros_like" in ln)
    lines[i], lines[i + 1] = lines[i + 1], lines[i]  # independent statements swapped
    noop = "\n".join(lines).replace("    return", "    _unused = 0\n    pass\n    assert T > 0\n"
                                    "    return")
    assert _doc(noop).text == _doc(ANSWER).text
    a, b = (gs.Fingerprinted(_doc(x)) for x in (ANSWER, disguise(ANSWER, "rnn_backward",
                                                                 "while")))
    assert gs.compare(a, b).score > 0.95, "a for loop made a while loop is the same code"
    other = _doc(ANSWER.replace("dWxh += a", "dWxh = dWxh + 2 * a"))
    assert other.text != _doc(ANSWER).text  # a real change is seen


def test_a_document_keeps_its_helpers_but_not_other_exercises_functions():
    src = ("def _inner(v):\n    return v * 2 + 1\n\n"
           "def rnn_step_backward(*a):\n    return a\n\n"
           "def rnn_backward(dh, x, h0, h, Wxh, Whh):\n    return _inner(rnn_step_backward(dh))\n")
    doc = _doc(src)
    assert doc.shown == (1, 8) and 4 not in doc.lines and 1 in doc.lines
    assert gs.document("def f(:\n", "f", "x") is None and _doc("x = 1\n") is None


@pytest.mark.parametrize("kind", KINDS)
def test_every_disguise_still_passes_the_check(kind):
    from similarity_calibration import passes, reference_source

    src = reference_source(BWD)
    copy_ = disguise(src, "rnn_backward", kind, seed=1)
    assert copy_ != src and passes(BWD, copy_), f"the {kind} copy must still be right"


def test_the_rates_on_a_subset_hold_with_the_calibrated_thresholds():
    """Four honest answers of one exercise, one copy of each kind of each: no honest pair
    is flagged and every copy is (the benchmark measures all, with more seeds)."""
    from similarity_calibration import measure

    r = measure(BWD, limit=4, seeds=1, check=False, thresholds=gs.settings(BWD))
    assert r["false_flags"]["which"] == [], r["false_flags"]
    assert r["hit_rate"] >= 0.95, r["missed"]


def test_the_calibration_is_the_benchmark_s():
    data = provenance.load_results("similarity_calibration")["results"]
    assert set(gs.CALIBRATION) == set(data["exercises"])
    for eid, rec in data["exercises"].items():
        assert gs.CALIBRATION[eid] == (rec["min_size"], rec["threshold"], rec["course_threshold"])
        assert rec["honest_implementations"] >= 5
        assert rec["false_flags"]["rate"] == 0.0, f"{eid} flags honest work"
    assert data["method"]["k"] == gs.K and data["method"]["loops_alike"] == gs.LOOPS_ALIKE


# ---------------------------------------------------------------------------------------
# A run: four students of notebook 03, an earlier class, the report
# ---------------------------------------------------------------------------------------
def _only(src: str, name: str) -> str:
    tree = ast.parse(src)
    return "\n".join(ast.get_source_segment(src, n) for n in tree.body
                     if isinstance(n, ast.FunctionDef) and n.name == name) + "\n"


def _class(folder: Path, answers: dict[str, str]) -> list[SubmissionResult]:
    stu = json.loads((ROOT / "notebooks" / NB03).read_text())
    sol = json.loads((ROOT / "solutions" / NB03).read_text())
    keys = {grade_id(c): "".join(c["source"]) for c in sol["cells"] if grade_id(c)}
    results = []
    for student, src in answers.items():
        nb = copy.deepcopy(stu)
        for c in nb["cells"]:
            gid = grade_id(c)
            if gid in ("ex03_rnn_step_backward_code", "ex03_temporal_softmax_loss_code"):
                c["source"] = _strip(keys[gid])
            elif gid == BWD + "_code":
                c["source"] = src
        (folder / student).mkdir(parents=True)
        (folder / student / NB03).write_text(json.dumps(nb))
        results.append(SubmissionResult(f"{student}/{NB03}", student, NB03, [
            ExerciseResult(BWD, "BPTT", 4, "passed", 4)]))
    return results


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("similar")
    s1, s2 = ((HONEST / BWD / f"s{k}.py").read_text() for k in (1, 2))
    from similarity_calibration import reference_source

    reference = reference_source(BWD)  # what every student has installed
    results = _class(tmp / "now", {
        "alice": _only(s1, "rnn_backward"), "bob": _only(s2, "rnn_backward"),
        "carol": _only(disguise(s1, "rnn_backward", "all", 0), "rnn_backward"),
        "dave": _only(disguise(reference, "rnn_backward", "all", 1), "rnn_backward")})
    _class(tmp / "earlier", {"erin": _only(disguise(s2, "rnn_backward", "rename"),
                                           "rnn_backward")})
    report = gs.find(results, [tmp / "now"], root=ROOT, compare_with=[tmp / "earlier"])
    return {"results": {r.student: r for r in results}, "report": report}


def _review(run, student):
    return run["results"][student].exercises[0].review


def test_copies_are_flagged_and_honest_work_is_not(run):
    alice, carol, dave = (_review(run, s) for s in ("alice", "carol", "dave"))
    assert len(alice) == 1 and "carol" in alice[0] and len(carol) == 1 and "alice" in carol[0]
    assert any("reference/nb03.py" in f for f in dave), dave
    assert any("erin (an earlier submission" in f for f in _review(run, "bob"))
    for line in alice + carol + dave:  # one line an instructor can check
        assert "\n" not in line and "lines " in line and "flagged from" in line
    assert all(p.score < p.threshold for e in run["report"].notebooks[NB03]
               for p in e.pairs if {p.a.meta.get("student"), p.b.meta.get("student")} ==
               {"alice", "bob"})
    assert all(e.points == e.max_points for r in run["results"].values() for e in r.exercises)


def test_grades_json_and_the_class_report_carry_the_pairs(run):
    results = list(run["results"].values())
    data = json.loads(grading_reports.to_json(results, {"similarity": run["report"].to_dict()}))
    ex = data["similarity"]["notebooks"][NB03][BWD]
    flagged = [p for p in ex["pairs"] if p["flagged"]]
    assert ex["compared"] == 4 and ex["earlier_submissions"] == 1 and len(flagged) >= 3
    assert {p["kind"] for p in flagged} == {"submission", "course", "earlier"}
    assert all(p["a"]["shared_lines"] and p["b"]["lines"] for p in flagged)
    html = grading_html.render(results, similarity=run["report"])
    assert html.count('data-flagged="true"') == len(flagged)
    assert 'class="sbs"' in html and "<mark>" in html and "▶" in html
    assert "course module <code>course_utils/reference/nb03.py</code>" in html


def test_short_answers_are_never_compared(tmp_path):
    """Notebook 01's sample class: every answer under the minimum size, no flag added."""
    from grading_students import NAME, load, make_class

    expected = make_class(tmp_path, load(), mistakes=True)
    results = [SubmissionResult(f"{s}/{NAME}", s, NAME, [
        ExerciseResult(e, e, 1, "passed", 1) for e in ("ex01_rnn_step_forward",
                                                       "ex01_rnn_forward")])
        for s in expected]
    report = gs.find(results, [tmp_path], root=ROOT)
    assert not any(e.review for r in results for e in r.exercises)
    step = next(e for e in report.notebooks[NAME] if e.id == "ex01_rnn_step_forward")
    assert not step.compared and len(step.too_small) + len(step.missing) == len(expected)


def guide_table(data: dict) -> str:
    """The guide's table of the calibration, made from the results file."""
    rows = ["| exercise | minimum size | flagged from (students / course) | highest honest "
            "score (students / course) | honest answers or pairs flagged | disguised copies "
            "found (of the reference / of honest answers) |", "|---|---|---|---|---|---|"]
    for rec in data["exercises"].values():
        ff = rec["false_flags"]
        n = sum(int(x.split("/")[1]) for x in (ff["pairs"], ff["package"]))
        bad = sum(int(x.split("/")[0]) for x in (ff["pairs"], ff["package"]))
        rows.append(f"| `{rec['function']}` | {rec['min_size']} | {rec['threshold']:.2f} / "
                    f"{rec['course_threshold']:.2f} | {rec['honest_pair_max']:.2f} / "
                    f"{rec['honest_course_max']:.2f} | {bad} of {n} | "
                    f"{rec['hit_rate_reference_copies']} / {rec['hit_rate_honest_copies']} |")
    return "\n".join(rows)


def test_the_guide_quotes_the_calibration():
    data = provenance.load_results("similarity_calibration")["results"]
    guide = (ROOT / "INSTRUCTORS.md").read_text()
    assert guide_table(data) in guide
    sizes = data["reference_sizes"]
    short = [v for v in sizes.values() if v < gs.DEFAULT_MIN_SIZE]
    long_ = [sizes[e] for e in ("ex03_temporal_softmax_loss", "ex07_lstm_step_forward",
                                "ex07_lstm_forward")]
    assert f"references of {min(short)} to {max(short)} tokens" in guide
    assert f"references of {min(long_)} to {max(long_)} tokens" in guide
    assert min(long_) >= gs.DEFAULT_MIN_SIZE
    assert sorted(k for k, v in sizes.items() if v >= gs.DEFAULT_MIN_SIZE and
                  k not in data["exercises"]) == ["ex03_temporal_softmax_loss",
                                                  "ex07_lstm_forward", "ex07_lstm_step_forward"]
    assert f"from {gs.DEFAULT_MIN_SIZE} fingerprinted\ntokens and flagged from " \
           f"{gs.DEFAULT_THRESHOLD:.0%}".replace("%", " %") in guide
