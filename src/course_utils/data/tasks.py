"""Synthetic sequence tasks with a known dependency length, and stream batching.

Every generator takes a numpy ``Generator`` (so data are reproducible) and returns numpy
arrays, batch-first. Convert with ``torch.from_numpy`` where needed.

* :func:`delayed_recall`: a stream of random symbols; the target at step t is the symbol
  seen ``lag`` steps earlier. Learning it needs a gradient path of length ``lag``, which
  makes it the cleanest test of what truncation (k2 < lag) removes.
* The adding problem (a long-range task with a single loss at the end) lives with the
  lesson that uses it: :func:`course_utils.lessons.longrange.adding_problem`.
* :func:`one_hot`, :func:`batchify_stream`: helpers for one-hot inputs and for cutting one
  long sequence into ``n`` parallel streams (the layout of stateful TBPTT).
"""

from __future__ import annotations

import numpy as np

IGNORE = -1
"""Target value meaning "no loss at this step" (pass ``ignore_index=-1`` to cross-entropy)."""


def one_hot(idx, n_classes: int, dtype=np.float32) -> np.ndarray:
    """One-hot encode integer array ``idx`` (any shape) -> ``idx.shape + (n_classes,)``."""
    idx = np.asarray(idx)
    out = np.zeros(idx.shape + (n_classes,), dtype=dtype)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return out


def delayed_recall(n: int, T: int, lag: int, n_symbols: int, rng: np.random.Generator, *,
                   dtype=np.float32):
    """The "output what you saw ``lag`` steps ago" task.

    A stream of symbols drawn uniformly from ``0 … n_symbols-1``. At step ``t >= lag`` the
    target is the symbol at step ``t - lag``; for ``t < lag`` there is no target
    (:data:`IGNORE`). Chance accuracy is ``1 / n_symbols``; a model whose gradient never
    spans ``lag`` steps gets no signal telling it to remember.

    Args:
        n: number of independent streams (batch); T: length of each; lag: the delay
            (``1 <= lag < T``); n_symbols: alphabet size; rng: numpy Generator.

    Returns:
        x: (n, T, n_symbols) one-hot inputs (``dtype``), y: (n, T) int64 targets with
        ``y[:, t] = symbols[:, t - lag]`` for ``t >= lag`` and ``-1`` before, and
        symbols: (n, T) int64 the raw stream.
    """
    if not 1 <= lag < T:
        raise ValueError(f"need 1 <= lag < T, got lag={lag}, T={T}")
    symbols = rng.integers(0, n_symbols, size=(n, T))
    y = np.full((n, T), IGNORE, dtype=np.int64)
    y[:, lag:] = symbols[:, :-lag]
    return one_hot(symbols, n_symbols, dtype), y, symbols.astype(np.int64)


def batchify_stream(seq, n_streams: int) -> np.ndarray:
    """Cut one long sequence into ``n_streams`` contiguous pieces, stacked as rows.

    ``seq: (L, ...)`` -> ``(n_streams, L // n_streams, ...)`` (the tail that does not fit
    is dropped). Row ``i`` continues where it left off from one chunk to the next, so the
    hidden state of row ``i`` can be carried between consecutive chunks (stateful TBPTT;
    the layout of fastbook's LMDataLoader and of the PyTorch word-language-model example).
    """
    seq = np.asarray(seq)
    L = (seq.shape[0] // n_streams) * n_streams
    if L == 0:
        raise ValueError(f"sequence of length {seq.shape[0]} is shorter than n_streams={n_streams}")
    return seq[:L].reshape((n_streams, L // n_streams) + seq.shape[1:])
