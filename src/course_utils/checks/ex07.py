"""Checks for notebook 07 (LSTMs): ``lstm_step_forward``, ``lstm_step_backward``,
``lstm_forward`` and ``lstm_backward`` (numpy, batch-first, gate order i, f, g, o).

Each check also recognises the classic LSTM mistakes (wrong gate order, a sigmoid on the
candidate, forgetting the cell-state gradient from the next step, tanh of the wrong cell
state, …) and names them.
"""

from __future__ import annotations

import numpy as np

from ..maths.lstm import sigmoid
from ..reference import nb07 as _nb07
from .checker import Mistake
from .probes import Probes, equal_gate_blocks, scaled
from .registry import Exercise, check_functions

# Lesson modules whose functions compute the answer, or part of it (the fast versions,
# the gates): every entry's ``answer_modules`` below.
_ANSWER_MODULES = ("course_utils.maths.lstm", "course_utils.lessons.cell_flow")

# (N, D, H). The first case has D == H so transposed weights give wrong numbers (which we
# diagnose) rather than a shape error; the others are non-square.
STEP_SHAPES = [(3, 4, 4), (2, 3, 5), (4, 6, 3), (5, 2, 4)]
# (N, T, D, H)
SEQ_SHAPES = [(3, 4, 4, 4), (2, 5, 3, 5), (4, 3, 5, 2)]



def _weights(rng, D, H):
    # Biases of different sizes per gate so that swapped gate blocks change the numbers a lot.
    return dict(Wx=rng.normal(size=(4 * H, D)) * 0.6, Wh=rng.normal(size=(4 * H, H)) * 0.6,
                b=rng.normal(size=4 * H) * 0.6)


def _step_case(rng, N, D, H):
    return dict(x=rng.normal(size=(N, D)), h_prev=rng.normal(size=(N, H)) * 0.5,
                c_prev=rng.normal(size=(N, H)), **_weights(rng, D, H))


def _step_back_case(rng, N, D, H):
    return dict(dh_next=rng.normal(size=(N, H)), dc_next=rng.normal(size=(N, H)),
                **_step_case(rng, N, D, H))


def _seq_case(rng, N, T, D, H):
    return dict(x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)) * 0.5,
                c0=rng.normal(size=(N, H)), **_weights(rng, D, H))


def _seq_back_case(rng, N, T, D, H, with_dcT):
    case = dict(dh=rng.normal(size=(N, T, H)), **_seq_case(rng, N, T, D, H))
    if with_dcT:
        case["dcT"] = rng.normal(size=(N, H))
    return case


def step_forward_cases(seed: int = 701):
    rng = np.random.default_rng(seed)
    return [_step_case(rng, *s) for s in STEP_SHAPES]


def step_backward_cases(seed: int = 702):
    rng = np.random.default_rng(seed)
    return [_step_back_case(rng, *s) for s in STEP_SHAPES]


def seq_forward_cases(seed: int = 703):
    rng = np.random.default_rng(seed)
    return [_seq_case(rng, *s) for s in SEQ_SHAPES]


def seq_backward_cases(seed: int = 704):
    """The first case has no ``dcT`` (the default None); the others pass one."""
    rng = np.random.default_rng(seed)
    return [_seq_back_case(rng, *s, with_dcT=k > 0) for k, s in enumerate(SEQ_SHAPES)]


# ---------------------------------------------------------------------------------------
# Buggy variants of the forward step
# ---------------------------------------------------------------------------------------
def _blocks(a, H, order):
    """Split (N, 4H) pre-activations into a dict gate -> block, read in ``order``."""
    return {name: a[:, k * H:(k + 1) * H] for k, name in enumerate(order)}


def _step_variant(x, h_prev, c_prev, Wx, Wh, b, *, order="ifgo", g_act=np.tanh,
                  tanh_c=True, c_for_h="next", use_bias=True,
                  swap_if=False, c_prev_gate=True, ignore_h=False):
    H = h_prev.shape[1]
    a = x @ Wx.T + (0 if ignore_h else h_prev @ Wh.T) + (b if use_bias else 0)
    blk = _blocks(a, H, order)
    i, f, o = sigmoid(blk["i"]), sigmoid(blk["f"]), sigmoid(blk["o"])
    g = g_act(blk["g"])
    if swap_if:
        i, f = f, i
    c_next = (f * c_prev if c_prev_gate else c_prev) + i * g
    c_used = c_next if c_for_h == "next" else c_prev
    h_next = o * (np.tanh(c_used) if tanh_c else c_used)
    return h_next, c_next


def _step_forward_mistake(**kw):
    return lambda x, h_prev, c_prev, Wx, Wh, b: _step_variant(x, h_prev, c_prev, Wx, Wh, b, **kw)


STEP_FORWARD_MISTAKES = [
    Mistake("the gate order is i, f, o, g (as in CS231n), but torch.nn.LSTM and this course "
            "use i, f, g, o: rows 2H:3H are the candidate g and 3H:4H the output gate o.",
            _step_forward_mistake(order="ifog"), name="gate-order-ifog"),
    Mistake("the gate order is i, g, f, o (TensorFlow's i, j, f, o); this course uses "
            "torch's i, f, g, o.", _step_forward_mistake(order="igfo"), name="gate-order-igfo"),
    Mistake("the gate blocks are in the wrong order: the rows of Wx, Wh, b are, in order, "
            "i (input), f (forget), g (candidate), o (output), each H rows.",
            _step_forward_mistake(order="fiog"), name="gate-order-wrong"),
    Mistake("the candidate g uses a sigmoid; it must be tanh (it is a value, in (−1, 1), "
            "not a gate in (0, 1)).", _step_forward_mistake(g_act=sigmoid),
            name="candidate-sigmoid"),
    Mistake("h_next uses tanh(c_prev); it must use the *new* cell state: "
            "h_next = o ⊙ tanh(c_next).", _step_forward_mistake(c_for_h="prev"),
            name="h-uses-c-prev"),
    Mistake("the tanh on the cell state is missing: h_next = o ⊙ tanh(c_next), not o ⊙ c_next.",
            _step_forward_mistake(tanh_c=False), name="cell-tanh-missing"),
    Mistake("the input and forget gates are swapped: c_next = f ⊙ c_prev + i ⊙ g.",
            _step_forward_mistake(swap_if=True), name="input-forget-swapped"),
    Mistake("the forget gate is missing: c_next = f ⊙ c_prev + i ⊙ g (the 1997 LSTM had no "
            "forget gate; torch's has one).", _step_forward_mistake(c_prev_gate=False),
            name="forget-gate-missing"),
    Mistake("the previous hidden state is ignored (no `h_prev @ Wh.T` term in the gates' "
            "pre-activations).", _step_forward_mistake(ignore_h=True), name="h-prev-ignored"),
    Mistake("the bias `b` is missing.", _step_forward_mistake(use_bias=False), name="bias-missing"),
]


# ---------------------------------------------------------------------------------------
# Buggy variants of the backward step
# ---------------------------------------------------------------------------------------
def _step_back_variant(dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b, *, use_dc_next=True,
                       h_path=True, tanh_of="next", forget_in_dc_prev=True, order="ifgo",
                       g_deriv="tanh", gate_deriv=True, df_of="prev"):
    H = h_prev.shape[1]
    i, f, g, o = _nb07.lstm_gates(x, h_prev, Wx, Wh, b)
    c_next = f * c_prev + i * g
    tc = np.tanh(c_next if tanh_of == "next" else c_prev)
    do = dh_next * tc
    dc = (dc_next if use_dc_next else 0) + (dh_next * o * (1 - tc**2) if h_path else 0)
    di, df, dg = dc * g, dc * (c_prev if df_of == "prev" else c_next), dc * i
    dc_prev = dc * f if forget_in_dc_prev else dc
    d = {"i": di * i * (1 - i) if gate_deriv else di,
         "f": df * f * (1 - f) if gate_deriv else df,
         "g": dg * ((1 - g**2) if g_deriv == "tanh" else g * (1 - g)),
         "o": do * o * (1 - o) if gate_deriv else do}
    da = np.concatenate([d[k] for k in order], axis=1)
    del H
    return da @ Wx, da @ Wh, dc_prev, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def _step_backward_mistake(**kw):
    return lambda dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b: _step_back_variant(
        dh_next, dc_next, x, h_prev, c_prev, Wx, Wh, b, **kw)


STEP_BACKWARD_MISTAKES = [
    Mistake("`dc_next` is ignored: the cell state gets gradient from the next step "
            "(through c_{t+1} = f ⊙ c_t + …) *and* from h_next; add both.",
            _step_backward_mistake(use_dc_next=False), name="dc-next-ignored"),
    Mistake("the path from h_next into c_next is missing: dc = dc_next + dh_next ⊙ o ⊙ "
            "(1 − tanh²(c_next)).", _step_backward_mistake(h_path=False),
            name="h-to-c-path-missing"),
    Mistake("you used tanh(c_prev) where tanh(c_next) belongs: h_next = o ⊙ tanh(c_next), so "
            "both do and the tanh derivative use the *new* cell state.", _step_backward_mistake(tanh_of="prev"),
            name="tanh-of-c-prev"),
    Mistake("dc_prev is missing the forget gate: c_next = f ⊙ c_prev + …, so "
            "dc_prev = dc ⊙ f.", _step_backward_mistake(forget_in_dc_prev=False),
            name="dc-prev-missing-forget-gate"),
    Mistake("the gate gradients are stacked in the wrong order (i, f, o, g); use torch's "
            "i, f, g, o so they line up with the rows of Wx, Wh, b.", _step_backward_mistake(order="ifog"),
            name="gate-order-ifog"),
    Mistake("the candidate's derivative is the sigmoid's g(1 − g); g = tanh(·), so it is "
            "1 − g².", _step_backward_mistake(g_deriv="sigmoid"),
            name="candidate-derivative-sigmoid"),
    Mistake("the sigmoid derivatives of the gates are missing: dσ(a)/da = σ(a)(1 − σ(a)).",
            _step_backward_mistake(gate_deriv=False), name="sigmoid-derivatives-missing"),
    Mistake("the forget gate's gradient uses the new cell state: in c_next = f ⊙ c_prev + i ⊙ g "
            "the forget gate multiplies the *previous* cell state, so its gradient is "
            "dc ⊙ c_prev, not dc ⊙ c_next.", _step_backward_mistake(df_of="next"),
            name="forget-gradient-uses-c-next"),
]


# ---------------------------------------------------------------------------------------
# Buggy variants of the sequence functions
# ---------------------------------------------------------------------------------------
def _fwd_loop(x, h0, c0, Wx, Wh, b, *, carry_h=True, carry_c=True, reverse=False,
              c_in="c0", store_c="new"):
    """``carry_c=False``: every step reads ``c_in`` ("c0" or "zeros") instead of the carried
    cell state, and ``c`` stores the step's new cell state (``store_c="new"``) or the one it
    read (``"read"``, a cell state that is never updated)."""
    N, T, _ = x.shape
    h, c = np.empty((N, T, h0.shape[1])), np.empty((N, T, h0.shape[1]))
    h_t, c_t = h0, c0
    c_fixed = c0 if c_in == "c0" else np.zeros_like(c0)
    ts = range(T - 1, -1, -1) if reverse else range(T)
    for t in ts:
        c_read = c_t if carry_c else c_fixed
        h_new, c_new = _nb07.lstm_step_forward(x[:, t], h_t if carry_h else h0, c_read,
                                              Wx, Wh, b)
        h_t, c_t = h_new, c_new
        h[:, t], c[:, t] = h_new, (c_new if store_c == "new" else c_read)
    return h, c


def _shifted(x, h0, c0, Wx, Wh, b):
    h, c = _nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    return (np.concatenate([h0[:, None], h[:, :-1]], axis=1),
            np.concatenate([c0[:, None], c[:, :-1]], axis=1))


def _zero_init(x, h0, c0, Wx, Wh, b):
    return _nb07.lstm_forward(x, np.zeros_like(h0), np.zeros_like(c0), Wx, Wh, b)


def _h_c_swapped(x, h0, c0, Wx, Wh, b):
    h, c = _nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    return c, h


def _h_twice(x, h0, c0, Wx, Wh, b):
    h, _ = _nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    return h, h


SEQ_FORWARD_MISTAKES = [
    Mistake("the cell state is never carried forward: every step starts from c0. Update "
            "`c_prev` inside the loop, like `h_prev`.",
            lambda x, h0, c0, Wx, Wh, b: _fwd_loop(x, h0, c0, Wx, Wh, b, carry_c=False),
            name="cell-state-not-carried"),
    Mistake("the cell state is never carried forward: `c` is the same at every step, and "
            "every step reads the initial c0 (the `c_next` the step returns is thrown away). "
            "Keep both states the step returns, `h_t, c_t = step_forward(x[:, t], h_t, c_t, …)`, "
            "and store the new `c_t`.",
            lambda x, h0, c0, Wx, Wh, b: _fwd_loop(x, h0, c0, Wx, Wh, b, carry_c=False,
                                                   store_c="read"),
            name="cell-state-never-updated"),
    Mistake("the cell state is reset to zeros at every step, so nothing is remembered along "
            "it: carry the `c_next` of step t into step t+1 (and start from the given c0).",
            lambda x, h0, c0, Wx, Wh, b: _fwd_loop(x, h0, c0, Wx, Wh, b, carry_c=False,
                                                   c_in="zeros"),
            name="cell-state-reset-to-zeros"),
    Mistake("h and c are swapped in the output: return `(h, c)`, the hidden states first, then "
            "the cell states (the step returns `h_next, c_next` in that order too).",
            _h_c_swapped, name="h-c-swapped"),
    Mistake("the hidden state is never carried forward: every step starts from h0.",
            lambda x, h0, c0, Wx, Wh, b: _fwd_loop(x, h0, c0, Wx, Wh, b, carry_h=False),
            name="hidden-state-not-carried"),
    Mistake("the outputs are shifted by one step: position t holds the state before step t "
            "(h0/c0 appear and the last state is missing).", _shifted, name="outputs-shifted"),
    Mistake("time runs backwards: step t must read x[:, t] for t = 0, 1, …, T−1.",
            lambda x, h0, c0, Wx, Wh, b: _fwd_loop(x, h0, c0, Wx, Wh, b, reverse=True),
            name="time-reversed"),
    Mistake("the given h0 and c0 are ignored (you started from zeros).", _zero_init,
            name="initial-state-ignored"),
    Mistake("the second output holds the hidden states; it must hold the cell states c_t.",
            _h_twice, name="hidden-states-as-cell-states"),
]


def _bwd_variant(dh, x, h0, c0, Wx, Wh, b, dcT=None, *, carry_dc=True, carry_dh=True,
                 use_dcT=True, add_dh=True, accumulate=True, prev_offset=1, dc_fixed=False,
                 wrap=""):
    """``dc_fixed``: the carried cell-state gradient is never updated (every step gets dcT or
    zeros, and dc0 is that). ``wrap``: at t = 0 the previous states are read as ``h[:, -1]``
    ("h") or ``h[:, -1], c[:, -1]`` ("hc"), Python's negative index, instead of h0, c0."""
    h, c = _nb07.lstm_forward(x, h0, c0, Wx, Wh, b)
    T = x.shape[1]
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_c = np.zeros_like(h0)
    dc_c = np.zeros_like(c0) if (dcT is None or not use_dcT) else dcT.copy()
    for t in range(T - 1, -1, -1):
        k = t - prev_offset
        h_prev = h[:, k] if (k >= 0 or wrap) else h0
        c_prev = c[:, k] if (k >= 0 or wrap == "hc") else c0
        upstream = (dh[:, t] if add_dh or t == T - 1 else 0) + dh_c
        dx_t, dh_new, dc_new, dWx_t, dWh_t, db_t = _nb07.lstm_step_backward(
            upstream, dc_c, x[:, t], h_prev, c_prev, Wx, Wh, b)
        dx[:, t] = dx_t
        dh_c = dh_new if carry_dh else np.zeros_like(h0)
        if not dc_fixed:
            dc_c = dc_new if carry_dc else np.zeros_like(c0)
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dh_new, (dc_c if dc_fixed else dc_new), dWx, dWh, db


def _backward_mistake(**kw):
    return lambda dh, x, h0, c0, Wx, Wh, b, dcT=None: _bwd_variant(dh, x, h0, c0, Wx, Wh, b,
                                                                   dcT, **kw)


SEQ_BACKWARD_MISTAKES = [
    Mistake("the gradient along the cell state from step t+1 is missing: step t gets zeros "
            "as `dc_next`. Pass the `dc_prev` that step t+1 returned as `dc_next` to step t "
            "(the additive path the LSTM exists for).", _backward_mistake(carry_dc=False),
            name="cell-gradient-not-carried"),
    Mistake("the gradient along the cell state from step t+1 is missing: the `dc_prev` each "
            "step returns is thrown away, so every step gets the same `dc_next` (dcT, or "
            "zeros) and dc0 is dcT. Keep it, as you keep `dh_prev`: it is the next (earlier) "
            "step's `dc_next`, and after step 0 it is dc0.", _backward_mistake(dc_fixed=True),
            name="cell-gradient-dropped"),
    Mistake("at t = 0 the previous states are `h[:, -1]` and `c[:, -1]` (Python's negative "
            "index reads the *last* step), but step 0's previous states are the initial "
            "h0 and c0: use them when t = 0.", _backward_mistake(wrap="hc"),
            name="initial-state-wraps-around"),
    Mistake("at t = 0 the previous hidden state is `h[:, -1]` (Python's negative index reads "
            "the *last* step), but step 0's previous hidden state is the initial h0: use it "
            "when t = 0 (as you did for c0).", _backward_mistake(wrap="h"),
            name="initial-hidden-state-wraps-around"),
    Mistake("the hidden-state gradient is not carried back: the upstream gradient at step t "
            "is dh[:, t] plus the `dh_prev` returned by step t+1.", _backward_mistake(carry_dh=False),
            name="hidden-gradient-not-carried"),
    Mistake("`dcT` is ignored: when it is given, it is the starting value of the carried "
            "cell-state gradient.", _backward_mistake(use_dcT=False), name="dct-ignored"),
    Mistake("only the carried gradient reaches h_t: add the loss's own gradient dh[:, t] at "
            "every step.", _backward_mistake(add_dh=False), name="own-gradient-dropped"),
    Mistake("the weight gradients hold only the last step processed (t = 0): accumulate "
            "(+=) over all time steps.", _backward_mistake(accumulate=False),
            name="weight-grads-last-step-only"),
    Mistake("step t uses the states of the wrong step: its h_prev, c_prev are h[:, t−1], "
            "c[:, t−1] (h0, c0 at t = 0), not h[:, t], c[:, t].", _backward_mistake(prev_offset=0),
            name="states-wrong-step"),
]


# ---------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------
_GATES = equal_gate_blocks("Wx", "Wh", "b")  # a probe: the gate order cannot matter
# A probe: tiny weights and cell state, where tanh(c) = c to within the check's tolerance.
_SMALL = scaled(("Wx", "Wh", "b", "c_prev"), 1e-5, "the weights and `c_prev` 10⁻⁵ times "
                "smaller (where tanh(c) ≈ c)", "look at the nonlinearities")

EXERCISES = (
    Exercise("ex07_lstm_step_forward", 7, "One LSTM step, forward", 2,
             function="lstm_step_forward", reference=_nb07.lstm_step_forward,
             cases=step_forward_cases, seed=701, outputs=("h_next", "c_next"),
             mistakes=tuple(STEP_FORWARD_MISTAKES),
             description="4 random cases (batch > 1, D != H); it recognises wrong gate orders "
             "and more.", binds="step_forward",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",), helpers=(sigmoid,),
             probes=Probes(zero=("h_prev", "c_prev", "x"), batch=("x", "h_prev", "c_prev"),
                           settings=(_GATES, _SMALL))),
    Exercise("ex07_lstm_forward", 7, "A whole sequence, forward", 2,
             function="lstm_forward", reference=_nb07.lstm_forward, cases=seq_forward_cases,
             seed=703, outputs=("h", "c"), mistakes=tuple(SEQ_FORWARD_MISTAKES),
             description="3 random batches of sequences.", binds="seq_forward",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",), helpers=(sigmoid,),
             probes=Probes(time=(("x", 1),), out_time=(("h", 1), ("c", 1)), zero=("h0", "c0"),
                           batch=("x", "h0", "c0"), settings=(_GATES,),
                           uses=("ex07_lstm_step_forward",))),
    Exercise("ex07_lstm_step_backward", 7, "One LSTM step, backward", 3,
             function="lstm_step_backward", reference=_nb07.lstm_step_backward,
             cases=step_backward_cases, seed=702,
             outputs=("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"),
             mistakes=tuple(STEP_BACKWARD_MISTAKES),
             description="4 random cases with random dh_next and dc_next.",
             binds="step_backward",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",), helpers=(sigmoid,),
             probes=Probes(zero=("dh_next", "dc_next", "c_prev", "h_prev", "x"),
                           batch=("dh_next", "dc_next", "x", "h_prev", "c_prev"),
                           settings=(_GATES,))),
    Exercise("ex07_lstm_backward", 7, "BPTT for the LSTM", 3,
             function="lstm_backward", reference=_nb07.lstm_backward,
             cases=seq_backward_cases, seed=704,
             outputs=("dx", "dh0", "dc0", "dWx", "dWh", "db"),
             mistakes=tuple(SEQ_BACKWARD_MISTAKES),
             description="3 random cases; the first without dcT, the others with one.",
             binds="seq_backward",
             answer_modules=_ANSWER_MODULES,
             libraries=("numpy",), helpers=(sigmoid,),
             probes=Probes(time=(("dh", 1), ("x", 1)), out_time=(("dx", 1),), backward=True,
                           zero=("h0", "c0", "dcT"), upstream=(("dh", 1),),
                           batch=("dh", "x", "h0", "c0", "dcT"), settings=(_GATES,),
                           uses=("ex07_lstm_forward", "ex07_lstm_step_backward"))),
)
(check_lstm_step_forward, check_lstm_forward, check_lstm_step_backward,
 check_lstm_backward) = check_functions(EXERCISES)
