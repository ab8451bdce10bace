"""Reference solution of notebook 08's exercise: one step of stateful truncated BPTT for a
character language model (see :mod:`course_utils.lessons.charlm`; the detach is
:func:`course_utils.maths.tbptt.detach_state`, which ``charlm`` shows as ``charlm.detach_state``)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..maths.tbptt import detach_state


def tbptt_train_step(model, optimizer, x, y, state, clip):
    """One step of stateful truncated BPTT on one chunk.

    Args:
        model: ``model(x, state) -> (logits (B, T, V), new_state)``.
        optimizer: a torch optimizer over ``model.parameters()``.
        x, y: ``(B, T)`` int64 inputs and targets (``y`` is ``x`` shifted by one).
        state: the state carried from the previous chunk (None at the start).
        clip: largest allowed global gradient norm (None: no clipping).

    Returns:
        ``(loss, state)``: the chunk's mean cross-entropy in nats (a float) and the new
        state, detached, to pass to the next chunk.
    """
    logits, state = model(x, state)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), detach_state(state)  # charlm.detach_state in the notebook
