"""A small graded class made in-process (no sandbox, a second or so), for the class
report's unit and browser tests: notebook 01's checks run on right and wrong functions,
and the grader's results built from their verdicts as ``course grade`` builds them.

The sample class of ``grading_students.py``, graded for real, is in ``test_grading.py``.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks import discovery
from course_utils.reference import nb01
from course_utils.status import (
    CRASH,
    NOT_ATTEMPTED,
    PASSED,
    REUSE,
    TAMPERING,
    TIME_LIMIT,
    UNREADABLE,
    WRONG,
)
from course_utils.tooling.grading.grading_reports import ExerciseResult, SubmissionResult

NAME = "01_unrolling_an_rnn.ipynb"
STEP, FWD = "ex01_rnn_step_forward", "ex01_rnn_forward"


def _right_step(x, h_prev, Wxh, Whh, b):
    return np.tanh(x @ Wxh.T + h_prev @ Whh.T + b)


def _whh(x, h_prev, Wxh, Whh, b):
    return np.tanh(x @ Wxh.T + h_prev @ Whh + b)


def _whh_einsum(x, h_prev, Wxh, Whh, b):  # the same mistake, written otherwise
    return np.tanh(np.einsum("nd,hd->nh", x, Wxh) + np.einsum("nh,hk->nk", h_prev, Whh) + b)


def _no_bias(x, h_prev, Wxh, Whh, b):
    return np.tanh(x @ Wxh.T + h_prev @ Whh.T)


def _bad_shape(x, h_prev, Wxh, Whh, b):
    return np.zeros((1, 1))


def _todo(*args):
    raise NotImplementedError()


def _times(k):
    return lambda x, h0, Wxh, Whh, b: k * nb01.rnn_forward(x, h0, Wxh, Whh, b)


def _from_h0(x, h0, Wxh, Whh, b):
    return np.stack([nb01.rnn_step_forward(x[:, t], h0, Wxh, Whh, b)
                     for t in range(x.shape[1])], axis=1)


def _fitted_step():
    """Knows the visible cases' answers, nothing else: fails only the held-out cases."""
    entry = discovery.find(STEP)
    table = {c["x"].tobytes(): nb01.rnn_step_forward(**c) for c in entry.case_list()}

    def rnn_step_forward(x, h_prev, Wxh, Whh, b):
        return table.get(x.tobytes(), np.zeros((x.shape[0], Whh.shape[0])))
    return rnn_step_forward


# student: (step function or a grader (reason, cause), forward function or one)
CLASS = {
    "ada": (_right_step, nb01.rnn_forward),
    "ben": (_whh, nb01.rnn_forward),
    "cleo": (_whh_einsum, _times(2)),
    "dan": (_no_bias, _times(0.5)),
    "eve": (_todo, _todo),
    "fay": (_bad_shape, _from_h0),
    "gus": (("time limit: no answer within 20 s (an infinite loop?) (while checking "
             "`rnn_step_forward`)", TIME_LIMIT), nb01.rnn_forward),
    "hal": (("the process running the code exited (exit code 1) (while checking "
             "`rnn_step_forward`)", CRASH), ("the process running the code exited (exit code 1) "
                                             "(while checking `rnn_forward`)", CRASH)),
    "joy": (_fitted_step(), nb01.rnn_forward),
    "ivy": (("not your work: `rnn_step_forward` is the course's reference "
             "`course_utils.reference.nb01.rnn_step_forward` (or wraps it); 0 points for this "
             "exercise.", REUSE), _from_h0),
    "kim": (_right_step, ("the grader's recorder was switched off or looked for inside "
                          "`rnn_forward` (`sys.setprofile`); 0 points for this exercise.",
                          TAMPERING)),
}
SEED = 4242


def _result(entry, how, student) -> ExerciseResult:
    if isinstance(how, tuple):
        reason, cause = how
        return ExerciseResult(entry.id, entry.title, entry.points, WRONG, 0, reason, cause=cause)
    v = entry.run_check(how)
    seed = None
    if v.passed:
        held = entry.run_check(how, seed=SEED)
        if not held.passed:
            v, seed = held, SEED
    status = PASSED if v.passed else NOT_ATTEMPTED if v.status == NOT_ATTEMPTED else WRONG
    return ExerciseResult(entry.id, entry.title, entry.points, status,
                          entry.points if status == PASSED else 0, v.message,
                          verdict=dict(v.to_dict(), seed=seed))


def make_results() -> list[SubmissionResult]:
    """The graded class: one :class:`SubmissionResult` per student of :data:`CLASS`, plus a
    file that is not a course notebook."""
    step, fwd = discovery.find(STEP), discovery.find(FWD)
    out = []
    for student, (s, f) in CLASS.items():
        r = SubmissionResult(f"{student}/{NAME}", student, NAME, heldout_seeds=[SEED])
        r.exercises = [_result(step, s, student), _result(fwd, f, student)]
        out.append(r)
    out[1].exercises[0].review = ["the answer cell uses `importlib`: look at how"]
    out.append(SubmissionResult("notes.ipynb", "notes", None, [], 0.0,
                                "cannot tell which course notebook this is",
                                problem_cause=UNREADABLE))
    return out


def parse_report(text: str) -> dict:
    """What a report says, read from its HTML (the lists of class ``students`` in its
    collapsibles): ``{"mistakes": {id: (count, [students])},
    "failures": {key: …}, "flags": {key: (count, [lines])}, "exercises": {id: {"pass",
    "fail", "not-attempted"}}, "images": [(src, alt)], "external": [urls], "scripts": n}``."""
    from html.parser import HTMLParser

    out: dict = {"mistakes": {}, "failures": {}, "flags": {}, "exercises": {}, "images": [],
                 "external": [], "scripts": 0, "lang": None}

    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack: list[tuple[str, str, list]] = []  # open <details>: (kind, key, items)
            self.li_text: list[str] | None = None
            self.lists: list[bool] = []  # open <ul>s: is it a list of students?

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "html":
                out["lang"] = a.get("lang")
            if tag == "script":
                out["scripts"] += 1
                if a.get("src"):
                    out["external"].append(a["src"])
            for k in ("src", "href"):
                v = a.get(k) or ""
                if v.startswith(("http:", "https:", "//")) or (tag == "link" and v):
                    out["external"].append(v)
            if tag == "img":
                out["images"].append((a.get("src", ""), a.get("alt")))
            if tag == "p" and "data-exercise" in a:
                out["exercises"][a["data-exercise"]] = {
                    k: int(a[f"data-{k}"]) for k in ("pass", "fail", "not-attempted")}
            if tag == "details":
                for kind, attr in (("mistakes", "data-mistake"), ("failures", "data-failure"),
                                   ("flags", "data-flag")):
                    if attr in a:
                        self.stack.append((kind, a[attr], []))
                        out[kind][a[attr]] = (int(a["data-count"]), self.stack[-1][2])
                        break
                else:
                    self.stack.append(("", "", []))
            if tag == "li" and "data-flag" in a:
                out["flags"][a["data-flag"]] = (int(a["data-count"]), [])
            if tag == "ul":
                self.lists.append("students" in (a.get("class") or "").split())
            if tag == "li" and self.stack and self.stack[-1][0] and self.lists and self.lists[-1]:
                self.li_text = []

        def handle_endtag(self, tag):
            if tag == "li" and self.li_text is not None and self.stack:
                self.stack[-1][2].append("".join(self.li_text).strip())
                self.li_text = None
            if tag == "details" and self.stack:
                self.stack.pop()
            if tag == "ul" and self.lists:
                self.lists.pop()

        def handle_data(self, data):
            if self.li_text is not None:
                self.li_text.append(data)

    P().feed(text)
    return out
