"""The course's training loop for recurrent models: one :class:`History`, one :func:`fit`.

* :class:`~course_utils.history.History` (in :mod:`course_utils.history`): what a run records (losses, gradient norms before clipping, clipping,
  evaluations, logged means, times, early stops); every lesson's trainer returns one.
* :func:`fit`: the loop. It draws batches, carries the hidden state from chunk to chunk
  (detached: the truncation), calls an *update* (forward, backward, clip and step), and
  records it. Its settings come in three small objects: the :class:`Schedule` (a step and
  time budget on a wall or CPU clock, evaluation every n updates, a stop below a value),
  the :class:`Evaluation` (what to measure, and when besides) and the :class:`Progress`
  (a ``tqdm`` bar and a log); hooks: ``diverged``, ``before_update``, ``items``.
* :class:`Adam`: the optimiser settings the lessons' trainers take (learning rate,
  clipping, a cosine decay).
* The updates :func:`fit` calls (autograd with an optimizer, numpy SGD, a whole step as
  one function) and clipping (none, by norm, by value, or a callable) are in
  :mod:`course_utils.updates`, and importable from here too.
* Truncation: :func:`tbptt_chunks` cuts batches into :class:`Chunk` s of ``k`` steps.
* :class:`SequenceModel`, :func:`train_tbptt` (stateful truncated BPTT of a
  :class:`SequenceModel`), :func:`evaluate`, :func:`accuracy`, :func:`cross_entropy_loss`;
  between chunks the state is detached with :func:`course_utils.maths.tbptt.detach_state`.

Example (a long stream cut into 16 parallel rows, chunks of 32 steps)::

    model = SequenceModel(V, 64, V, cell="lstm")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    hist = train_tbptt(model, [(x, y)], loss_fn=cross_entropy_loss, optimizer=opt,
                       k=32, clip=1.0, epochs=5)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .history import History
from .maths.tbptt import chunk_bounds, detach_state
from .profiling import TrainingClock
from .updates import SGDUpdate, StepFnUpdate, TorchUpdate, clip_numpy, clip_torch  # noqa: F401


class NonFiniteLossError(FloatingPointError):
    """Raised by :func:`train_tbptt` when a loss is NaN or inf (training diverged)."""


class Chunk(NamedTuple):
    """A piece of a batch for truncated BPTT: ``x: (N, k, ...)``, ``y``; ``reset``: start
    from a zero state (a new sequence) instead of carrying the previous chunk's state."""

    x: object
    y: object
    reset: bool = False


class _Recorder:
    """What :func:`fit` does around each update: record it, log, tick the bar, evaluate."""

    def __init__(self, hist: History, clk: TrainingClock, bar, progress: Progress, items):
        self.hist, self.clk, self.bar, self.postfix = hist, clk, bar, progress.postfix
        self.log_every, self.items, self.recent = progress.log_every, items, []

    def stopped(self, norm, loss, hook, *, diverging: bool) -> bool:
        """Record an update's loss and norm (if given), then ask ``hook`` whether to stop."""
        hist = self.hist
        if loss is not None:
            hist.losses.append(loss)
        if norm is not None:
            hist.grad_norms.append(norm)
        reason = hook(hist) if hook is not None else None
        if reason:
            hist.stopped_at, hist.diverged, hist.message = hist.n_steps, diverging, reason
        return bool(reason)

    def updated(self, loss: float, clipped, batch):
        hist = self.hist
        if clipped is not None:
            hist.clipped.append(clipped)
        hist.n_steps += 1
        if self.items is not None:
            hist.items_seen += self.items(batch)
        if self.log_every:
            self.recent.append(loss)
            if hist.n_steps % self.log_every == 0:
                hist.log_steps.append(hist.n_steps)
                hist.log_times.append(self.clk.elapsed())
                hist.log_losses.append(float(np.mean(self.recent)))
                self.recent = []
        self.bar.update(1)
        if self.postfix == "loss":
            self.bar.set_postfix(loss=f"{loss:.4f}")

    def evaluate(self, fn):
        now = self.clk.elapsed()
        value = self.clk.timed(fn)
        self.hist.eval_steps.append(self.hist.n_steps)
        self.hist.eval_times.append(now)
        self.hist.evals.append(value)
        if self.postfix and self.postfix != "loss":
            self.bar.set_postfix({self.postfix: f"{value:.3f}"})


@dataclass(frozen=True)
class Schedule:
    """How long a run trains and when it is evaluated.

    ``steps``: updates; ``seconds``: seconds of training on ``clock`` ('wall', or 'cpu' for
    process CPU seconds); the run stops at whichever comes first (None: no limit from that
    side). ``eval_every``: evaluate every this many updates (0: not during the run).
    ``stop_below``: stop after the first evaluation below this value (None: never).
    """

    steps: int | None = None
    seconds: float | None = None
    clock: str = "wall"
    eval_every: int = 0
    stop_below: float | None = None


@dataclass(frozen=True)
class Adam:
    """What the optimiser does: Adam with learning rate ``lr``; the gradient's global norm
    clipped to ``clip`` before each step (None: no clipping); ``cosine``: decay the
    learning rate from ``lr`` to ``lr / 20`` along a half cosine over the run (progress =
    the larger of the step and the time fractions of the :class:`Schedule`)."""

    lr: float = 1e-3
    clip: float | None = 1.0
    cosine: bool = False

    def optimizer(self, params):
        """A ``torch.optim.Adam`` over ``params`` with this learning rate."""
        return torch.optim.Adam(params, lr=self.lr)

    def lr_decay(self, opt, schedule: Schedule):
        """A ``before_update(step, elapsed)`` hook for :func:`fit` that sets the cosine
        learning rate on ``opt`` (None without ``cosine``)."""
        if not self.cosine:
            return None

        def set_lr(step, elapsed):
            frac = max(step / schedule.steps if schedule.steps else 0.0,
                       elapsed / schedule.seconds if schedule.seconds else 0.0)
            for g in opt.param_groups:
                g["lr"] = self.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
        return set_lr


@dataclass(frozen=True)
class Evaluation:
    """What :func:`fit` measures: ``fn() -> float``, recorded with its step and time, every
    ``Schedule.eval_every`` updates; also before the first update (``first``) and after the
    last one if that was not evaluated (``last``). ``counted``: its time counts as training
    time."""

    fn: Callable
    first: bool = False
    last: bool = False
    counted: bool = False


@dataclass(frozen=True)
class Progress:
    """What :func:`fit` shows and logs as it goes: a ``tqdm`` bar (``show``, ``desc``,
    ``total``, and ``options`` for ``tqdm``); ``postfix``: ``"loss"`` shows the last loss on
    it, another name the last evaluation under that name; ``log_every``: record the mean
    loss every this many updates (0: never)."""

    show: bool = False
    desc: str = "training"
    total: int | None = None
    postfix: str | None = None
    log_every: int = 0
    options: dict | None = None


def fit(update, batches, *, schedule: Schedule = Schedule(), evaluation: Evaluation | None = None,
        progress: Progress = Progress(), history: History | None = None,
        diverged: Callable | None = None, before_update: Callable | None = None,
        items: Callable | None = None, device=None) -> History:
    """Train: for each batch, ``update`` it and record it, until the data or the schedule ends.

    Per batch: the state is reset (a :class:`Chunk` with ``reset``) or carried and
    detached (:func:`detach_state`); ``loss, state = update.forward(batch, state)``;
    ``norm = update.backward()``; the loss and norm are recorded; ``diverged(hist)`` may
    stop the run here (a message) or raise; ``clipped = update.step()``; then come the log,
    the progress bar, the evaluation (every ``schedule.eval_every`` updates; the run stops
    after one below ``schedule.stop_below``) and the budget (``schedule.steps``,
    ``schedule.seconds``).

    Args:
        update: has ``forward(batch, state) -> (loss: float, state)``, ``backward() ->
            norm or None`` and ``step() -> clipped or None`` (:class:`TorchUpdate`,
            :class:`SGDUpdate`, :class:`StepFnUpdate`).
        batches: an iterable of batches, read lazily (it may be endless).
        schedule: the :class:`Schedule` (default: until the batches end, no evaluation).
        evaluation: the :class:`Evaluation` (None: none).
        progress: the :class:`Progress` bar and log (default: no bar, no log).
        history: an existing :class:`History` to append to (default: a new one).
        diverged: ``diverged(hist) -> str | None``: a reason to stop (or raise).
        before_update: ``before_update(step, elapsed_seconds)`` (e.g.
            :meth:`Adam.lr_decay`).
        items: ``items(batch) -> int``, counted into ``items_seen``.
        device: the device trained on (CUDA work is waited for before reading the clock).
    """
    from tqdm.auto import tqdm

    hist = history if history is not None else History(name=progress.desc, clock=schedule.clock)
    ev = evaluation
    clk = TrainingClock(schedule.clock, device, ev is not None and ev.counted)
    bar = tqdm(total=progress.total, desc=progress.desc, disable=not progress.show,
               **{"leave": False, **(progress.options or {})})
    state, rec = None, _Recorder(hist, clk, bar, progress, items)
    max_steps, budget_s, every = schedule.steps, schedule.seconds, schedule.eval_every
    solved = None if schedule.stop_below is None else _below(schedule.stop_below)
    if max_steps is not None and hist.n_steps >= max_steps:
        batches = ()  # nothing to do (and no batch drawn)
    try:
        if ev is not None and ev.first:
            rec.evaluate(ev.fn)
        for batch in batches:
            if before_update is not None:
                before_update(hist.n_steps, clk.elapsed())
            state = None if getattr(batch, "reset", False) else detach_state(state)
            loss, state = update.forward(batch, state)
            if rec.stopped(update.backward(), loss, diverged, diverging=True):
                break
            clipped = update.step()
            rec.updated(loss, clipped, batch)
            if ev is not None and every and hist.n_steps % every == 0:
                rec.evaluate(ev.fn)
                if rec.stopped(None, None, solved, diverging=False):
                    break
            if (max_steps is not None and hist.n_steps >= max_steps) or \
               (budget_s is not None and clk.elapsed() >= budget_s):
                break
        last = ev is not None and ev.last and not hist.diverged and (
            not hist.eval_steps or hist.eval_steps[-1] != hist.n_steps)
        if last and ev.counted:  # the last evaluation is part of the run's time
            rec.evaluate(ev.fn)
        hist.seconds = clk.elapsed()
        hist.cpu_seconds = time.process_time() - clk.c0
        if last and not ev.counted:
            rec.evaluate(ev.fn)
    finally:
        bar.close()
    return hist


def _below(bound: float):
    """A ``solved`` hook: stop when the last evaluation is below ``bound``."""
    return lambda hist: f"evaluation below {bound}" if hist.evals[-1] < bound else None


def tbptt_chunks(batches, k: int | None, *, epochs: int = 1, stateful: bool = False,
                 history: History | None = None):
    """Yield the :class:`Chunk` s of stateful truncated BPTT, lazily.

    Args:
        batches: a list of ``(x, y)`` pairs (``x: (N, T, ...)``), or a callable returning
            a fresh iterable of them each epoch.
        k: chunk length along time (None: each batch whole, ``y`` as is).
        epochs: passes over ``batches``; every pass starts from a zero state.
        stateful: carry the state from one batch to the next within a pass (batch i+1
            continues batch i); otherwise every batch starts from a zero state.
        history: if given, the mean loss of each pass is appended to its ``epoch_losses``
            (NaN for an empty pass).
    """
    get_batches = batches if callable(batches) else (lambda: batches)
    for _ in range(epochs):
        start, first = (history.n_updates if history is not None else 0), True
        for x, y in get_batches():
            for s, e in _chunks(x.shape[1], k):
                yc = y[:, s:e] if k is not None else y
                yield Chunk(x[:, s:e], yc, reset=first or (not stateful and s == 0))
                first = False
        if history is not None:
            done = history.losses[start:]
            history.epoch_losses.append(float(np.mean(done)) if done else float("nan"))


class SequenceModel(nn.Module):
    """A one-layer recurrent network with a linear read-out at every step.

    Args:
        input_size: D; hidden_size: H; output_size: O (classes or regression outputs).
        cell: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``.

    ``forward(x, h=None)``: ``x: (N, T, D)`` -> ``out: (N, T, O)`` and the final state
    (``(1, N, H)``, or a tuple of two for the LSTM).
    """

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "rnn"):
        super().__init__()
        if cell not in self.CELLS:
            raise ValueError(f"cell must be one of {sorted(self.CELLS)}, got {cell!r}")
        self.rnn = self.CELLS[cell](input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x, h=None):
        z, h = self.rnn(x, h)
        return self.head(z), h


def cross_entropy_loss(out, y):
    """Mean cross-entropy over all steps with a target: out (N, T, C), y (N, T), -1 = none.

    A chunk without any target gives 0 (with a graph), not NaN.
    """
    if not bool((y != -1).any()):
        return out.sum() * 0.0
    return nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1),
                                       ignore_index=-1)


def raise_if_nonfinite(hist: History):
    """A ``diverged`` hook for :func:`fit`: raise :class:`NonFiniteLossError` if the last
    loss is NaN or inf."""
    value = hist.losses[-1]
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"the loss is {value} at update {hist.n_updates} ({hist.name}). Training "
            "diverged: lower the learning rate, clip gradients (clip=1.0), or check the data.")


def train_tbptt(model: nn.Module, batches, *, loss_fn: Callable, optimizer,
                k: int | None = None, clip=None, epochs: int = 1,
                stateful: bool = False, progress: bool = True, desc: str = "training") -> History:
    """Train ``model`` with (truncated) BPTT; return the :class:`History`.

    Args:
        model: ``model(x, h) -> (out, h)``, e.g. :class:`SequenceModel`.
        batches: a list of ``(x, y)`` tensor pairs, batch-first (``x: (N, T, ...)``,
            ``y: (N, T, ...)`` or ``(N, ...)`` when ``k`` is None), or a callable returning
            a fresh iterable of them each epoch.
        loss_fn: ``loss_fn(out, y) -> scalar tensor`` (e.g. :func:`cross_entropy_loss`).
        optimizer: a ``torch.optim`` optimizer over ``model.parameters()``.
        k: truncation length. ``None``: one update per batch over its whole length (full
            BPTT). Otherwise every batch is cut into chunks of ``k`` steps along time
            (TBPTT(k, k)); the hidden state is carried from chunk to chunk and detached.
        clip: clipping before each step (:func:`clip_torch`): a number clips the global
            gradient norm to it.
        epochs: passes over ``batches``.
        stateful: carry the hidden state from one batch to the next too (for a stream cut
            with :func:`course_utils.data.tasks.batchify_stream`, where batch i+1 continues
            batch i). Otherwise every batch starts from a zero state.
        progress: show a ``tqdm`` bar (one tick per update); desc: its label, and the
            :class:`History`'s name.

    Raises:
        NonFiniteLossError: if a loss is NaN or inf; the message says where and what to try.
    """
    hist = History(name=desc)
    total = None if callable(batches) else epochs * sum(_n_chunks(x.shape[1], k) for x, _ in batches)

    def loss_of(chunk, h):
        out, h = model(chunk.x, h)
        return loss_fn(out, chunk.y), h

    model.train()
    return fit(TorchUpdate(model, optimizer, loss_of, clip=clip),
               tbptt_chunks(batches, k, epochs=epochs, stateful=stateful, history=hist),
               history=hist, diverged=raise_if_nonfinite,
               progress=Progress(show=progress, desc=desc, total=total, postfix="loss"))


@torch.no_grad()
def evaluate(model: nn.Module, x, y, *, metric: Callable, chunk: int | None = None):
    """Run ``model`` over ``x`` (carrying the state through all of it) and apply ``metric``.

    Args:
        x: (N, T, D), y: (N, T, ...) tensors; metric: ``metric(out, y) -> float``.
        chunk: process the sequence in pieces of this length (same result, less memory).
    """
    model.eval()
    outs, h = [], None
    for s, e in _chunks(x.shape[1], chunk):
        out, h = model(x[:, s:e], h)
        outs.append(out)
    model.train()
    return metric(torch.cat(outs, dim=1), y)


def accuracy(out, y) -> float:
    """Fraction of steps with a target (y != -1) where argmax(out) == y."""
    mask = y != -1
    pred = out.argmax(dim=-1)
    return float((pred[mask] == y[mask]).float().mean())


def _chunks(T: int, k: int | None):
    """``[(start, end), …]`` of the chunks of ``k`` steps (one chunk when ``k`` is None)."""
    return [(0, T)] if k is None else chunk_bounds(T, k)


def _n_chunks(T: int, k: int | None) -> int:
    return 1 if k is None else -(-T // k)


__all__ = ["Adam", "Chunk", "Evaluation", "History", "NonFiniteLossError", "Progress",
           "SGDUpdate", "Schedule", "SequenceModel", "StepFnUpdate", "TorchUpdate", "accuracy", "clip_numpy", "clip_torch",
           "cross_entropy_loss", "evaluate", "fit", "raise_if_nonfinite",
           "tbptt_chunks", "train_tbptt"]
