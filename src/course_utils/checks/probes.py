"""Where a bug is, when no classic mistake names it: located verdicts (issue 28).

When a check finds wrong values and no declared :class:`~course_utils.checks.checker.Mistake`
(nor the generic sign / zeros / factor diagnosis) explains them, :func:`refine` probes the
student's function with cases built from the failing one and adds what they show to the
verdict, in a sentence or two a student can act on:

* the shortest sequence (or number of chunks) on which the outputs go wrong
  ("correct for T = 1, wrong from T = 2: look at what carries from one step to the next");
* which time steps' slices of an output are wrong (the last right and earlier ones wrong
  points to the backward carry; only the first wrong points to the initial state);
* whether the outputs are right for some of the check's shapes and wrong for others;
* whether every output becomes right when an initial state (``h0``, ``c0``, ``dcT``), an
  input or the upstream gradient at the earlier steps is zero, when a square weight is
  made symmetric (a transpose), when the batch has one row, or under another setting
  (ex08: no clipping).

Each exercise declares what its probes need once, on its registry entry
(``Exercise(probes=Probes(...))``). A probe that cannot be evaluated (the student's function
raises, returns NaN or the wrong shape, the reference raises) shows nothing; probes are
deterministic (no random numbers: they transform the failing case).

:func:`refine` first lets :mod:`course_utils.checks.callees` decide whether a sequence
function's wrong values come from a step function it calls (``Probes.uses``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import callees as _callees
from . import checker
from . import diagnosis as _dx

MAX_LENGTH = 12      # the longest prefix the length probe tries
MAX_SENTENCES = 2    # the located note says at most this many findings
LOCATED = "Where: "  # the located note's first word, in a verdict's details


@dataclass(frozen=True)
class Probes:
    """What an exercise's probes need (all optional; argument names are the exercise's).

    ``time``: ``(argument, axis)`` of each input with a time axis (a prefix of the
    sequence is a valid shorter case); ``out_time``: ``(output, axis)`` likewise for the
    outputs; ``backward``: gradients flow from the last step to the first;
    ``count``: an integer argument that sets the number of steps or chunks (ex08's
    ``n_chunks``), probed like a length; ``chunk``: the chunk-length argument (ex05's
    ``k``); ``zero``: arguments to set to zero one at a time (initial states, ``dcT``, an
    input of a step); ``upstream``: ``(argument, axis)`` of a per-step upstream gradient,
    kept at the last step only; ``square``: weights made symmetric when square;
    ``batch``: arguments with the batch on axis 0 (cut to one row); ``settings``:
    ``(words, transform, advice)`` other cases to try (:func:`setting`,
    :func:`equal_gate_blocks`): ``transform(case)`` returns the changed case (or None),
    the words say what it changed, the advice what to look at; ``uses``: ids of the exercises whose functions this one calls (its step
    functions), re-checked on the inputs this one passes them; ``shapes``: compare the
    check's cases (of different shapes) with each other.
    """

    time: tuple[tuple[str, int], ...] = ()
    out_time: tuple[tuple[str, int], ...] = ()
    backward: bool = False
    count: str | None = None
    chunk: str | None = None
    zero: tuple[str, ...] = ()
    upstream: tuple[tuple[str, int], ...] = ()
    square: tuple[str, ...] = ()
    batch: tuple[str, ...] = ()
    settings: tuple[tuple[str, Any, str], ...] = ()  # (words, transform, advice)
    uses: tuple[str, ...] = ()
    shapes: bool = True


# ---------------------------------------------------------------------------------------
# The entry point (called by Exercise.run_check)
# ---------------------------------------------------------------------------------------
def refine(exercise, student_fn, verdict, seed=None, *, find=None):
    """``verdict`` with a step function blamed only when it is wrong (see
    :mod:`course_utils.checks.callees`; ``find``: the registry's entry by id, for the
    exercises in ``Probes.uses``) and, when no mistake is named, with a located note.
    Never raises: a probe must never turn a verdict into a crash."""
    spec = getattr(exercise, "probes", None)
    if spec is None or verdict.passed or verdict.kind != "values":
        return verdict
    if find is not None and spec.uses:
        try:
            verdict = _callees.blame_callees(exercise, spec, student_fn, verdict, seed, find=find)
        except Exception:
            pass
    if verdict.hint is None and verdict.mistake_name is None:
        try:
            note = locate(exercise, spec, student_fn, verdict, seed)
        except Exception:
            note = None
        if note:
            verdict.located = note
            verdict.details.insert(0, LOCATED + note)
    return verdict
    try:
        if find is not None:
            verdict = _callees.blame_callees(exercise, spec, student_fn, verdict, seed, find=find)
        if verdict.hint is None and verdict.mistake_name is None:
            note = locate(exercise, spec, student_fn, verdict, seed)
            if note:
                verdict.located = note
                verdict.details.insert(0, LOCATED + note)
    except Exception:  # a probe must never turn a verdict into a crash
        pass
    return verdict


# ---------------------------------------------------------------------------------------
# Located verdicts (issue 28 item 3)
# ---------------------------------------------------------------------------------------
class _Prober:
    """Runs the student's function and the truth on a modified case; says which outputs
    are wrong (None when it cannot tell)."""

    def __init__(self, exercise, student_fn):
        self.exercise = exercise
        truth = exercise.truth or exercise.reference
        self.student = exercise.runner(student_fn) if exercise.runner else student_fn
        self.truth = exercise.runner(truth) if exercise.runner else truth
        self.text = exercise.text or _dx.DEFAULT_TEXT
        self.comps = [dict(exercise.comparators).get(o, _dx.DEFAULT_COMPARATOR)
                      for o in exercise.outputs]
        self._last = None

    def outputs(self, case):
        """``(got, ref)`` as tuples, or None (the last case's are kept: several probes
        look at the failing case)."""
        if self._last is not None and self._last[0] is case:
            return self._last[1]
        found = self._outputs(case)
        self._last = (case, found)
        return found

    def _outputs(self, case):
        args = self.text.arguments(case)
        try:
            with _callees.quiet():
                ref = self.truth(**_dx.copy_case(args))
                got = checker.call_student(self.student, _dx.copy_case(args))
            if self.text.structure(got, ref, self.exercise.outputs, "", args, comparators=self.comps):
                return None
            n = len(self.exercise.outputs)
            return _dx.as_tuple(got, n), _dx.as_tuple(ref, n)
        except Exception:
            return None

    def wrong(self, case, *, nontrivial=()):
        """The indices of the wrong outputs (a frozenset), or None. ``nontrivial``: output
        indices whose reference must not be all zero (else None: a probe that zeroes the
        answer shows nothing)."""
        found = self.outputs(case)
        if found is None:
            return None
        got, ref = found
        try:
            if any(not np.any(np.asarray(ref[k], dtype=float)) for k in nontrivial):
                return None
            return frozenset(k for k, (g, r, c) in enumerate(zip(got, ref, self.comps))
                             if not c.error(g, r) <= self.exercise.rtol)
        except Exception:
            return None


def _names(outputs, idx) -> str:
    return ", ".join(f"`{outputs[k]}`" for k in sorted(idx))


def _steps(ts) -> str:
    ts = sorted(ts)
    if len(ts) > 2 and ts == list(range(ts[0], ts[-1] + 1)):
        return f"t = {ts[0]}…{ts[-1]}"
    return "t = " + ", ".join(map(str, ts))


def locate(exercise, spec, student_fn, verdict, seed=None) -> str | None:
    """The located note for a wrong ``verdict`` (its failing case is probed), or None."""
    cases = exercise.case_list(seed)
    case = cases[(verdict.case or 1) - 1]
    pr = _Prober(exercise, student_fn)
    base = pr.wrong(case)
    if not base:
        return None
    sentences: list[str] = []
    pr.cases = cases
    for probe in (_relations, _vanishing, _length, _slices):  # most telling first
        sentences += probe(pr, spec, case, base)
        if len(sentences) >= MAX_SENTENCES:
            break
    for fallback in (_shapes, _together):  # when the probes above show nothing
        sentences = sentences or fallback(pr, spec, case, base)
    sentences = sentences[:MAX_SENTENCES]
    return " ".join(sentences) if sentences else None


def _all_right(pr, case, base):
    return pr.wrong(case, nontrivial=tuple(base)) == frozenset()


def _vanishing(pr, spec, case, base) -> list[str]:
    """Settings under which every output is right."""
    out = []
    for name in spec.square:
        w = case.get(name)
        if isinstance(w, np.ndarray) and w.ndim == 2 and w.shape[0] == w.shape[1]:
            if _all_right(pr, dict(case, **{name: (w + w.T) / 2}), base):
                out.append(f"With a symmetric `{name}` every output is right: `{name}` is "
                           "used transposed somewhere (check each product with it against "
                           "the shapes).")
    for name in spec.zero:
        v = case.get(name)
        if isinstance(v, np.ndarray) and np.any(v):
            if _all_right(pr, dict(case, **{name: np.zeros_like(v)}), base):
                out.append(f"With `{name}` set to zero every output is right: look at how "
                           f"`{name}` is used.")
    for name, axis in spec.upstream:
        v = case.get(name)
        if isinstance(v, np.ndarray) and v.shape[axis] > 1:
            last = np.zeros_like(v)
            idx = [slice(None)] * v.ndim
            idx[axis] = slice(-1, None)
            last[tuple(idx)] = v[tuple(idx)]
            if _all_right(pr, dict(case, **{name: last}), base):
                out.append(f"With `{name}` zero at every step but the last, every output is "
                           f"right: look at how each step's own `{name}` enters (not only "
                           "the last one's).")
    if spec.batch:
        rows = {k: case[k][:1] for k in spec.batch
                if isinstance(case.get(k), np.ndarray) and case[k].ndim >= 1}
        n = max((case[k].shape[0] for k in rows), default=1)
        if n > 1 and _all_right(pr, dict(case, **rows), base):
            out.append(f"With one row in the batch (N = 1 instead of {n}) every output is "
                       "right: look at what depends on the number of rows (a sum or mean "
                       "over the wrong axis, a division by N, a size written as a number).")
    for words, transform, advice in spec.settings:
        try:
            changed = transform(case)
        except Exception:
            continue
        if changed is not None and _all_right(pr, changed, base):
            out.append(f"With {words} every output is right: {advice}.")
    return out


def _relations(pr, spec, case, base) -> list[str]:
    """An output that is the transpose of the right one."""
    found = pr.outputs(case)
    if found is None:
        return []
    got, ref = found
    out = []
    for k in sorted(base):
        g, r = got[k], ref[k]
        if (isinstance(g, np.ndarray) and g.ndim == 2 and g.shape[0] == g.shape[1]
                and _dx.rel_error(g.T, r) <= pr.exercise.rtol):
            out.append(f"`{pr.exercise.outputs[k]}` is the transpose of the right answer: check "
                       "the order of the factors in its product against its shape.")
    return out


def _shape_of(case) -> str:
    return ", ".join(f"{k} {tuple(v.shape)}" for k, v in case.items()
                     if isinstance(v, np.ndarray))


def _shapes(pr, spec, case, base) -> list[str]:
    """Whether the outputs are right for some of the check's shapes and wrong for others."""
    if not spec.shapes:
        return []
    right, wrong = [], []
    for other in pr.cases:
        w = pr.wrong(other)
        if w is None:
            return []
        (wrong if w else right).append(other)
    if not right or not wrong:
        return []
    return [f"Right for the shapes {_shape_of(right[0])}; wrong for {_shape_of(wrong[0])}: "
            "look at the axes and sizes that differ between them (a hard-coded size, an "
            "axis taken for another)."]


def _together(pr, spec, case, base) -> list[str]:
    """Which outputs are wrong together, when some are right."""
    outs = pr.exercise.outputs
    if len(outs) < 3 or len(base) != 1:
        return []
    (k,) = base
    return [f"Only `{outs[k]}` is wrong and the other {len(outs) - 1} outputs are right: the "
            f"bug is in what only `{outs[k]}` uses."]


def setting(name, value, words, advice):
    """A ``Probes.settings`` entry: argument ``name`` set to ``value``."""
    def transform(case):
        return dict(case, **{name: value}) if name in case and case[name] != value else None
    return (words, transform, advice)


def scaled(names, factor, words, advice):
    """A ``Probes.settings`` entry: the arguments ``names`` multiplied by ``factor``."""
    def transform(case):
        if not all(isinstance(case.get(n), np.ndarray) for n in names):
            return None
        return dict(case, **{n: case[n] * factor for n in names})
    return (words, transform, advice)


def equal_gate_blocks(*names, blocks=4):
    """A ``Probes.settings`` entry for an LSTM: every gate block of the weights ``names``
    (split in ``blocks`` along axis 0) equal to the first, so the order of the gates
    cannot matter."""
    def transform(case):
        out = dict(case)
        for n in names:
            w = case.get(n)
            if not isinstance(w, np.ndarray) or w.shape[0] % blocks:
                return None
            h = w.shape[0] // blocks
            out[n] = np.concatenate([w[:h]] * blocks, axis=0)
        return out
    listed = ", ".join(f"`{n}`" for n in names)
    return (f"the four gate blocks of {listed} made equal (so the order of the gates cannot "
            "matter)", transform, "look at the order in which you take the gate blocks "
            "(i, f, g, o) and which gate each one feeds")


def _prefix(case, spec, n):
    """``case`` cut to its first ``n`` steps (or chunks)."""
    if spec.count:
        return dict(case, **{spec.count: n})
    out = dict(case)
    for name, axis in spec.time:
        v = case.get(name)
        if isinstance(v, np.ndarray):
            idx = [slice(None)] * v.ndim
            idx[axis] = slice(0, n)
            out[name] = v[tuple(idx)]
    return out


def _length(pr, spec, case, base) -> list[str]:
    """The shortest prefix on which the outputs go wrong."""
    if spec.count:
        full, unit = int(case[spec.count]), "chunk"
    elif spec.time and isinstance(case.get(spec.time[0][0]), np.ndarray):
        full, unit = case[spec.time[0][0]].shape[spec.time[0][1]], "step"
    else:
        return []
    first = {}  # output index -> shortest length where it is wrong
    for n in range(1, min(full, MAX_LENGTH) + 1):
        w = pr.wrong(_prefix(case, spec, n))
        if w is None:
            return []
        for k in w:
            first.setdefault(k, n)
        if w and (len(first) == len(base) or spec.count):  # a count probe trains: stop early
            break
    if not first:
        return []
    start = min(first.values())
    outs = pr.exercise.outputs
    sym = spec.count if spec.count else "T"
    per = ""
    if len(set(first.values())) > 1:
        groups: dict[int, list[int]] = {}
        for k, n in first.items():
            groups.setdefault(n, []).append(k)
        per = " (" + "; ".join(f"{_names(outs, ks)} from {sym} = {n}"
                                for n, ks in sorted(groups.items())) + ")"
    if start == 1:
        what = ("what one chunk computes or the state the first chunk starts from"
                if unit == "chunk" else
                "what every step computes, or the initial state (not the carry)")
        return [f"Wrong already for {sym} = 1{per}: look at {what}."]
    head = f"Correct for {sym} = 1{'' if start == 2 else f'…{start - 1}'}, wrong from {sym} = {start}{per}"
    k = case.get(spec.chunk) if spec.chunk else None
    if isinstance(k, (int, np.integer)) and start == k + 1:
        return [f"{head}, where a second chunk of k = {k} steps starts: look at what carries "
                "from one chunk to the next."]
    if unit == "chunk" and start == 2:
        return [f"{head}: look at the state carried from one chunk to the next."]
    if start == 2:
        carry = ("the gradient carried back from one step to the one before" if spec.backward
                 else "what carries from one step to the next")
        return [f"{head}: look at {carry}."]
    return [f"{head}: look at what changes at step {start}."]


def _slice_errors(pr, spec, case):
    """``{output index: sorted wrong t}`` for outputs with a time axis, or None."""
    found = pr.outputs(case)
    if found is None:
        return None
    got, ref = found
    out = {}
    for name, axis in spec.out_time:
        if name not in pr.exercise.outputs:
            continue
        k = pr.exercise.outputs.index(name)
        g, r = np.asarray(got[k], dtype=float), np.asarray(ref[k], dtype=float)
        if g.shape != r.shape:
            return None
        bad = [t for t in range(r.shape[axis])
               if not _dx.rel_error(np.take(g, t, axis), np.take(r, t, axis)) <= pr.exercise.rtol]
        if bad:
            out[k] = (bad, r.shape[axis])
    return out


def _slices(pr, spec, case, base) -> list[str]:
    """Which time steps' slices of the outputs are wrong."""
    if not spec.out_time:
        return []
    errs = _slice_errors(pr, spec, case)
    if not errs:
        return []
    k, (bad, T) = next(iter(errs.items()))
    name = pr.exercise.outputs[k]
    sl = f"`{name}[:, t]`" if spec.out_time[0][1] == 1 else f"`{name}[t]`"
    if len(bad) == T:
        return [f"{sl} is wrong at every step (t = 0…{T - 1}): look at what each step "
                "computes."]
    right = [t for t in range(T) if t not in bad]
    said = f"{sl} is wrong for {_steps(bad)} and right for {_steps(right)}"
    if spec.backward and T - 1 not in bad:
        return [f"{said}: the last step is right, earlier ones are wrong, so look at the "
                "gradient carried back from later steps."]
    if bad == [0]:
        return [f"{said}: only the first step is wrong, so look at the initial state."]
    if not spec.backward and 0 not in bad:
        return [f"{said}: the first step is right, later ones are wrong, so look at what "
                "carries from one step to the next."]
    return [f"{said}."]


def without_catalogue(exercise):
    """``exercise`` with no declared mistakes (to measure what the probes locate alone)."""
    return replace(exercise, mistakes=())
