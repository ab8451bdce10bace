"""The updates :func:`course_utils.training.fit` calls, and gradient clipping.

An update has three methods, called in this order for every batch:
``forward(batch, state) -> (loss: float, state)``, ``backward() -> norm or None`` (the
global gradient norm before clipping) and ``step() -> clipped or None`` (clip, then change
the parameters; whether clipping shortened the gradient).

* :class:`TorchUpdate`: autograd and a ``torch.optim`` optimizer.
* :class:`SGDUpdate`: plain SGD on numpy parameters with a ``loss_and_grads`` function.
* :class:`StepFnUpdate`: a whole step written as one function (notebook 08's exercise).
* :func:`clip_torch`, :func:`clip_numpy`: clipping by norm, by value, or by a callable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .maths.gradnorm import clip_grad_value


def _grad_norm(model: nn.Module) -> float:
    sq = [p.grad.detach().pow(2).sum() for p in model.parameters() if p.grad is not None]
    return float(torch.sqrt(torch.stack(sq).sum())) if sq else 0.0


def _clip_spec(clip):
    """``(kind, value)`` for a clipping spec: None, a number (by norm), ``("norm", c)``,
    ``("value", c)`` or a callable (``("fn", f)``)."""
    if clip is None or callable(clip):
        return (None if clip is None else "fn"), clip
    if isinstance(clip, tuple):
        if clip[0] not in ("norm", "value"):
            raise ValueError(f"clip must be None, a number, ('norm', c), ('value', c) or a callable, got {clip!r}")
        return clip
    return "norm", clip


def clip_torch(parameters, clip, norm: float | None = None):
    """Clip the gradients of ``parameters`` in place; return whether clipping shortened
    them (None if unknown: a callable, or by norm without ``norm``).

    ``clip``: None, a number or ``("norm", c)`` (``torch.nn.utils.clip_grad_norm_``),
    ``("value", c)`` (``clip_grad_value_``), or a callable ``f(parameters)``.
    ``norm``: the global norm before clipping, if already measured.
    """
    kind, c = _clip_spec(clip)
    if kind is None:
        return False
    parameters = list(parameters)
    if kind == "fn":
        c(parameters)
        return None
    if kind == "value":
        shortened = any(bool((p.grad.abs() > c).any()) for p in parameters if p.grad is not None)
        nn.utils.clip_grad_value_(parameters, c)
        return shortened
    nn.utils.clip_grad_norm_(parameters, c)
    return None if norm is None else norm > c


def clip_numpy(grads, clip, norm: float, clip_norm: Callable | None = None):
    """Clip a list of numpy gradients: ``(clipped list, whether clipping shortened them)``.

    ``clip``: as in :func:`clip_torch` (a callable is ``f(grads) -> grads``). By norm uses
    ``clip_norm(grads, c) -> (clipped, total_norm)`` (required: the course's is notebook
    06's exercise); ``norm``: the global norm before clipping.
    """
    kind, c = _clip_spec(clip)
    if kind is None:
        return grads, False
    if kind == "fn":
        return c(grads), None
    if kind == "value":
        return clip_grad_value(list(grads), c), bool(any(np.any(np.abs(g) > c) for g in grads))
    return clip_norm(grads, c)[0], norm > c


class TorchUpdate:
    """One update of a torch model: ``loss_of(batch, state) -> (loss tensor, state)``,
    then ``zero_grad``, ``backward``, the gradient norm (if ``measure_norm``), clipping
    (:func:`clip_torch`) and ``optimizer.step()``."""

    def __init__(self, model: nn.Module, optimizer, loss_of: Callable, *, clip=None,
                 measure_norm: bool = True):
        self.model, self.optimizer, self.loss_of = model, optimizer, loss_of
        self.clip, self.measure_norm = clip, measure_norm
        self.loss = self.norm = None

    def forward(self, batch, state):
        self.loss, state = self.loss_of(batch, state)
        return float(self.loss.detach()), state

    def backward(self):
        self.optimizer.zero_grad(set_to_none=True)
        self.loss.backward()
        self.norm = _grad_norm(self.model) if self.measure_norm else None
        return self.norm

    def step(self):
        clipped = clip_torch(self.model.parameters(), self.clip, self.norm)
        self.optimizer.step()
        return clipped


class SGDUpdate:
    """Plain SGD on numpy parameters: ``loss, grads = loss_and_grads(params, batch)``, the
    global norm (``norm_of``), clipping (:func:`clip_numpy`), then ``p ← p − lr · g``.
    ``params`` is a list of arrays, replaced (not modified) at every step."""

    def __init__(self, params, loss_and_grads: Callable, *, lr: float, norm_of: Callable,
                 clip=None, clip_norm: Callable | None = None):
        self.params, self.loss_and_grads, self.lr = params, loss_and_grads, lr
        self.norm_of, self.clip, self.clip_norm = norm_of, clip, clip_norm

    def forward(self, batch, state):
        loss, self.grads = self.loss_and_grads(self.params, batch)
        return float(loss), state

    def backward(self):
        self.norm = self.norm_of(self.grads)
        return self.norm

    def step(self):
        grads, clipped = clip_numpy(self.grads, self.clip, self.norm, self.clip_norm)
        with np.errstate(over="ignore", invalid="ignore"):
            self.params = [p - self.lr * g for p, g in zip(self.params, grads)]
        return clipped


class StepFnUpdate:
    """A whole update written as one function, ``step_fn(model, optimizer, x, y, state,
    clip) -> (loss: float, state)`` (e.g. notebook 08's ``tbptt_train_step``); the
    recorded loss is ``convert(loss)`` (e.g. nats to bits)."""

    def __init__(self, step_fn: Callable, model, optimizer, *, clip=None,
                 convert: Callable | None = None):
        self.step_fn, self.model, self.optimizer, self.clip = step_fn, model, optimizer, clip
        self.convert = convert

    def forward(self, batch, state):
        loss, state = self.step_fn(self.model, self.optimizer, batch.x, batch.y, state, self.clip)
        return (loss if self.convert is None else self.convert(loss)), state

    def backward(self):
        return None

    def step(self):
        return None
