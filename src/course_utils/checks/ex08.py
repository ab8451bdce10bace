"""Checks for notebook 08 (character language model): the stateful TBPTT training step.

The student writes ``tbptt_train_step(model, optimizer, x, y, state, clip) -> (loss,
state)`` (reference: :func:`course_utils.reference.nb08.tbptt_train_step`). The check builds a small
float64 model from a fixed seed, runs the student's step on several consecutive chunks of
a random stream (feeding each returned state into the next call, as the training loop
does) and compares three outputs with the reference: the per-chunk losses, the final
parameters and the final state. Plain SGD is used so that a wrong loss scale or missing
clipping changes the parameters, and the clipping threshold is small so that clipping is
active in every case.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ..lessons import charlm
from ..reference import nb08 as _nb08
from .checker import Mistake
from .probes import Probes, setting
from .registry import Exercise, check_functions

# Lesson modules whose functions compute the answer, or part of it (the fast versions,
# the gates): every entry's ``answer_modules`` below.
_ANSWER_MODULES = ("course_utils.lessons.charlm",)

# (cell, V, H, B, T, n_chunks, clip): batch > 1, T > 1, V != H, several chunks.
CASES = [("lstm", 7, 5, 3, 4, 3, 0.1), ("rnn", 6, 8, 2, 5, 3, 0.05),
         ("lstm", 9, 4, 4, 3, 4, 0.2)]

_GRAPH_FREED = "backward through the graph a second time"
_INPLACE = "modified by an inplace operation"



def step_cases(seed: int = 108):
    return [dict(cell=c, V=V, H=H, B=B, T=T, n_chunks=n, clip=clip, seed=seed + i)
            for i, (c, V, H, B, T, n, clip) in enumerate(CASES)]


def run_steps(step_fn, cell, V, H, B, T, n_chunks, clip, seed):
    """Train a fresh seeded float64 CharLM with ``step_fn`` on ``n_chunks`` chunks.

    Returns ``(losses (n_chunks,), params (P,), state (S,))`` as float64 numpy arrays:
    the loss of each chunk, every parameter after the last step (flattened, in
    ``model.parameters()`` order) and the final state (flattened; ``h`` then ``c``).
    """
    torch.manual_seed(seed)
    model = charlm.CharLM(V, H, cell=cell, emb_dim=3).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    gen = torch.Generator().manual_seed(seed)
    stream = torch.randint(0, V, (B, T * n_chunks + 1), generator=gen)
    state, losses = None, []
    for k in range(n_chunks):
        x = stream[:, k * T:(k + 1) * T]
        y = stream[:, k * T + 1:(k + 1) * T + 1]
        try:
            loss, state = step_fn(model, opt, x, y, state, clip)
        except RuntimeError as exc:
            if _GRAPH_FREED in str(exc):
                raise RuntimeError(
                    f"chunk {k + 1}'s backward() reached into chunk {k}'s freed graph: the "
                    "carried state was not detached (use charlm.detach_state).") from None
            if _INPLACE in str(exc):
                raise RuntimeError(
                    f"chunk {k + 1}'s backward() reached into chunk {k}'s graph "
                    "(retain_graph=True?): detach the carried state instead.") from None
            raise
        if state is None:
            raise TypeError("the state it returned is None: return the model's new "
                            "state, detached, for the next chunk.")
        losses.append(float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss))
    parts = [state] if isinstance(state, torch.Tensor) else list(state)
    flat = np.concatenate([p.detach().double().cpu().numpy().ravel() for p in parts])
    params = np.concatenate([p.detach().cpu().numpy().ravel() for p in model.parameters()])
    return np.array(losses, dtype=np.float64), params.astype(np.float64), flat.astype(np.float64)


# ``course grade`` runs this in its sandbox around the student's function (the model and
# optimizer cannot travel between processes); see course_utils.tooling.grading.grading_checks.
SANDBOX_HARNESS = "run_steps"


def _runner(step_fn):
    def run(**case):
        remote = getattr(step_fn, "sandbox_harness", None)
        if remote is not None:
            return remote(**case)
        return run_steps(step_fn, **case)
    run.__name__ = getattr(step_fn, "__name__", "tbptt_train_step")
    return run


# ---------------------------------------------------------------------------------------
# Classic mistakes (each a wrong step function)
# ---------------------------------------------------------------------------------------
def _loss(model, x, y, state):
    logits, state = model(x, state)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)), state


def _no_clip(model, optimizer, x, y, state, clip):
    loss, state = _loss(model, x, y, charlm.detach_state(state))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item(), charlm.detach_state(state)


def _clip_value(model, optimizer, x, y, state, clip):
    loss, state = _loss(model, x, y, charlm.detach_state(state))
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), charlm.detach_state(state)


def _no_zero_grad(model, optimizer, x, y, state, clip):
    loss, state = _loss(model, x, y, charlm.detach_state(state))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), charlm.detach_state(state)


def _zero_grad_before_step(model, optimizer, x, y, state, clip):
    loss, state = _loss(model, x, y, charlm.detach_state(state))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.zero_grad()
    optimizer.step()
    return loss.item(), charlm.detach_state(state)


def _state_not_carried(model, optimizer, x, y, state, clip):
    return _nb08.tbptt_train_step(model, optimizer, x, y, None, clip)


def _sum_loss(model, optimizer, x, y, state, clip):
    logits, state = model(x, charlm.detach_state(state))
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), charlm.detach_state(state)


def _loss_in_bits(model, optimizer, x, y, state, clip):
    loss, state = _nb08.tbptt_train_step(model, optimizer, x, y, state, clip)
    return loss / charlm.LN2, state


def _loss_after_step(model, optimizer, x, y, state, clip):
    # reports the loss of the chunk re-evaluated after the update
    h0 = charlm.detach_state(state)
    _, state = _nb08.tbptt_train_step(model, optimizer, x, y, h0, clip)
    with torch.no_grad():
        loss, _ = _loss(model, x, y, h0)
    return loss.item(), state


def _mistake(hint, step_fn, name):
    return Mistake(hint, _runner(step_fn), name=name)


STEP_MISTAKES = [
    _mistake("the gradient is not clipped: its global norm must be limited to `clip` "
             "after it is computed and before the optimizer applies it (clipping before "
             "`backward()` or after `step()` has no effect).", _no_clip,
             name="not-clipped"),
    _mistake("you clipped each gradient entry (`clip_grad_value_`) instead of the global "
             "norm (`clip_grad_norm_`): value clipping changes the gradient's direction.",
             _clip_value, name="value-clipping"),
    _mistake("the gradients are never zeroed, so each step adds this chunk's gradient to "
             "all previous ones. Call `optimizer.zero_grad()` before `loss.backward()`.",
             _no_zero_grad, name="grads-never-zeroed"),
    _mistake("`optimizer.zero_grad()` runs between `backward()` and `step()`, so the step "
             "sees zero gradients. Zero them *before* `loss.backward()`.",
             _zero_grad_before_step, name="zero-grad-before-step"),
    _mistake("the state is not carried: every chunk starts from a zero state (you passed "
             "None to the model, or returned the state you were given). Pass the model's "
             "new state on to the next chunk, detached.",
             _state_not_carried, name="state-not-carried"),
    _mistake("the loss is summed over the B·T characters instead of averaged: use the "
             "mean cross-entropy (the default of `F.cross_entropy`).", _sum_loss,
             name="loss-summed"),
    _mistake("the returned loss is in bits; return the mean cross-entropy in nats "
             "(`loss.item()`), the training loop converts it.", _loss_in_bits, name="loss-in-bits"),
    _mistake("the returned loss was computed after `optimizer.step()`; return the loss of "
             "the forward pass that produced the gradient.", _loss_after_step,
             name="loss-after-step"),
]


EXERCISES = (
    Exercise("ex08_tbptt_train_step", 8, "The stateful truncated-BPTT training step", 3,
             function="tbptt_train_step", reference=_nb08.tbptt_train_step, cases=step_cases,
             seed=108, outputs=("losses", "params", "state"), mistakes=tuple(STEP_MISTAKES),
             rtol=1e-9, runner=_runner, harness=SANDBOX_HARNESS,
             description="trains small float64 LSTMs and RNNs (seeded) for 3-4 chunks with your "
             "step and\nwith the reference, and compares the losses, the final weights and the "
             "final state.", binds="train_step",
             answer_modules=_ANSWER_MODULES,
             libraries=("torch",), helpers=(charlm.detach_state, charlm.CharLM.forward),
             probes=Probes(count="n_chunks", out_time=(("losses", 0),), shapes=False,
                           settings=(setting("clip", 1e9, "clipping switched off (clip = 1e9)",
                                             "look at the clipping"),))),
)
(check_tbptt_train_step,) = check_functions(EXERCISES)
