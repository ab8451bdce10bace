"""A small, reusable PyTorch training loop for recurrent models, with truncated BPTT.

* :class:`SequenceModel`: input -> ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` -> linear head,
  ``forward(x, h=None) -> (out, h)``, batch-first.
* :func:`train_tbptt`: stateful truncated BPTT (chunks of ``k`` steps, the hidden state
  carried and ``detach``-ed between chunks), optional gradient-norm clipping, a ``tqdm``
  progress bar, a :class:`History` of losses and gradient norms, and a clear
  :class:`NonFiniteLossError` when the loss becomes NaN or inf.
* :func:`detach_state`: detach a hidden state (a tensor, or a tuple such as LSTM's
  ``(h, c)``).

Example (a long stream cut into 16 parallel rows, chunks of 32 steps)::

    model = SequenceModel(V, 64, V, cell="lstm")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    hist = train_tbptt(model, [(x, y)], loss_fn=cross_entropy_loss, optimizer=opt,
                       k=32, clip=1.0, epochs=5)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


class NonFiniteLossError(FloatingPointError):
    """Raised by :func:`train_tbptt` when a loss is NaN or inf (training diverged)."""


@dataclass
class History:
    """What :func:`train_tbptt` records: one entry per parameter update.

    Attributes:
        losses: the loss of each update (a chunk of one batch).
        grad_norms: the global gradient norm *before* clipping, per update.
        epoch_losses: mean loss of each epoch.
    """

    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)

    @property
    def n_updates(self) -> int:
        return len(self.losses)

    def smoothed(self, window: int = 20) -> np.ndarray:
        """Moving average of ``losses`` over ``window`` updates (shorter at the start)."""
        x = np.asarray(self.losses, dtype=float)
        if x.size == 0:
            return x
        c = np.cumsum(np.insert(x, 0, 0.0))
        idx = np.arange(1, x.size + 1)
        lo = np.maximum(0, idx - window)
        return (c[idx] - c[lo]) / (idx - lo)


def detach_state(h):
    """Detach a hidden state from the graph: a tensor, ``None``, or a tuple/list of them.

    This is the whole of "truncation" in PyTorch: the returned tensors have the same
    values but no history, so the next backward pass stops here.
    """
    if h is None:
        return None
    if isinstance(h, torch.Tensor):
        return h.detach()
    return type(h)(detach_state(v) for v in h)


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


def train_tbptt(model: nn.Module, batches, *, loss_fn: Callable, optimizer,
                k: int | None = None, clip: float | None = None, epochs: int = 1,
                stateful: bool = False, progress: bool = True, desc: str = "training",
                history: History | None = None) -> History:
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
        clip: if given, clip the global gradient norm to this value before each step.
        epochs: passes over ``batches``.
        stateful: carry the hidden state from one batch to the next too (for a stream cut
            with :func:`course_utils.tasks.batchify_stream`, where batch i+1 continues
            batch i). Otherwise every batch starts from a zero state.
        progress: show a ``tqdm`` bar (one tick per update).
        history: an existing :class:`History` to append to.

    Raises:
        NonFiniteLossError: if a loss is NaN or inf; the message says where and what to try.
    """
    from tqdm.auto import tqdm

    hist = history if history is not None else History()
    get_batches = batches if callable(batches) else (lambda: batches)
    total = None
    if not callable(batches):
        total = epochs * sum(_n_chunks(x.shape[1], k) for x, _ in batches)
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    model.train()
    try:
        for epoch in range(epochs):
            h = None
            epoch_losses = []
            for x, y in get_batches():
                if not stateful:
                    h = None
                for s, e in _chunks(x.shape[1], k):
                    h = detach_state(h)  # truncation: no gradient into the previous chunk
                    xc = x[:, s:e]
                    yc = y[:, s:e] if k is not None else y
                    out, h = model(xc, h)
                    loss = loss_fn(out, yc)
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise NonFiniteLossError(
                            f"the loss is {value} at update {hist.n_updates + 1} (epoch "
                            f"{epoch + 1}, steps {s}-{e}). Training diverged: lower the "
                            "learning rate, clip gradients (clip=1.0), or check the data.")
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    norm = _grad_norm(model)
                    if clip is not None:
                        nn.utils.clip_grad_norm_(model.parameters(), clip)
                    optimizer.step()
                    hist.losses.append(value)
                    hist.grad_norms.append(norm)
                    epoch_losses.append(value)
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4f}")
            hist.epoch_losses.append(float(np.mean(epoch_losses)) if epoch_losses else float("nan"))
    finally:
        bar.close()
    return hist


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
    if k is None:
        return [(0, T)]
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return [(s, min(s + k, T)) for s in range(0, T, k)]


def _n_chunks(T: int, k: int | None) -> int:
    return 1 if k is None else -(-T // k)


def _grad_norm(model: nn.Module) -> float:
    sq = [p.grad.detach().pow(2).sum() for p in model.parameters() if p.grad is not None]
    return float(torch.sqrt(torch.stack(sq).sum())) if sq else 0.0


__all__ = ["History", "NonFiniteLossError", "SequenceModel", "accuracy", "cross_entropy_loss",
           "detach_state", "evaluate", "train_tbptt"]
