"""A character-level language model in PyTorch, trained with stateful truncated BPTT.

* :class:`CharLM`: embedding → LSTM (or plain tanh RNN, or GRU) → linear, batch-first.
* :func:`n_params`, :func:`param_count`, :func:`equal_param_hidden`: parameter counts, and
  the hidden size at which one cell type has as many parameters as another.
* :func:`detach_state` (from :mod:`course_utils.maths.tbptt`): cut the graph behind a hidden
  state (a tensor or an ``(h, c)`` tuple) while keeping its values.
* :func:`evaluate_bpc`: bits per character on a held-out id sequence (stateful, no grad).
* :func:`train`: the loop: streams, chunks, carried state, clipping, a tqdm bar, a
  step and wall-clock budget, periodic validation; returns a :class:`History`. Its
  settings: :class:`Adam` (learning rate, clipping) and :class:`Schedule` (budget,
  validation), from :mod:`course_utils.training`.
* :func:`sample`: generate text with a temperature, seeded.
* :func:`plot_history`: train and validation bpc against time, with baselines.

Shapes: ``x, y: (B, T)`` int64 ids, ``logits: (B, T, V)``; the state is ``(h, c)`` with
``h, c: (num_layers, B, H)`` for an LSTM and ``h: (num_layers, B, H)`` for an RNN/GRU.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..data.text import iter_chunks, make_streams
from ..history import History  # noqa: F401  (charlm.History: what train returns)
from ..maths.tbptt import detach_state  # noqa: F401  (notebook 08 calls it charlm.detach_state)
from ..training import Adam, Chunk, Evaluation, Progress, Schedule, StepFnUpdate, fit  # noqa: F401

LN2 = math.log(2.0)


class CharLM(nn.Module):
    """Embedding → recurrent layers → linear read-out over the vocabulary.

    Args:
        vocab_size: V.
        hidden: H, units per recurrent layer.
        num_layers: stacked recurrent layers.
        cell: 'lstm', 'rnn' (tanh) or 'gru'.
        emb_dim: size of the character embedding (defaults to ``min(64, V)``; with
            ``tie_weights`` it is ``hidden``).
        dropout: dropout probability on the recurrent layers' input (the embedding) and
            output (before the read-out); 0: none; active only in ``model.train()`` mode.
        dropout_where: where that dropout acts: ``"io"`` (input and output, the default),
            ``"output"`` (before the read-out only) or ``"input"`` (the embedding only).
        layer_dropout: dropout between stacked recurrent layers (``num_layers > 1``).
        tie_weights: share one ``(V, H)`` matrix between the embedding and the read-out
            (Press & Wolf 2017; Inan et al. 2017): the embedding has ``hidden`` columns.

    ``forward(x, state=None)``: ``x: (B, T)`` int64 → ``(logits (B, T, V), new_state)``.
    """

    def __init__(self, vocab_size: int, hidden: int = 256, *, num_layers: int = 1,
                 cell: str = "lstm", emb_dim: int | None = None, dropout: float = 0.0,
                 dropout_where: str = "io", layer_dropout: float = 0.0,
                 tie_weights: bool = False):
        super().__init__()
        cls = {"lstm": nn.LSTM, "rnn": nn.RNN, "gru": nn.GRU}[cell]
        if dropout_where not in ("io", "input", "output"):
            raise ValueError(f"dropout_where must be 'io', 'input' or 'output', not {dropout_where!r}")
        self.cell, self.vocab_size, self.hidden = cell, vocab_size, hidden
        emb_dim = hidden if tie_weights else (emb_dim or min(64, vocab_size))
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.rnn = cls(emb_dim, hidden, num_layers=num_layers, batch_first=True,
                       dropout=layer_dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden, vocab_size)
        if tie_weights:
            self.head.weight = self.embed.weight  # one (V, H) parameter, used twice
        self.drop = nn.Dropout(dropout)
        self.dropout_where = dropout_where

    def forward(self, x: torch.Tensor, state=None):
        e = self.embed(x)
        if self.dropout_where != "output":
            e = self.drop(e)
        out, state = self.rnn(e, state)
        if self.dropout_where != "input":
            out = self.drop(out)
        return self.head(out), state


def n_params(model: nn.Module) -> int:
    """The number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


_GATES = {"lstm": 4, "rnn": 1, "gru": 3}


def param_count(vocab_size: int, hidden: int, cell: str = "lstm", num_layers: int = 1, *,
                emb_dim: int | None = None, tie_weights: bool = False) -> int:
    """Parameters of ``CharLM(vocab_size, hidden, num_layers, cell, emb_dim, tie_weights=…)``,
    by formula.

    Embedding ``V·E``; each layer ``k·(H·in + H·H + 2H)`` with ``k`` = 4 (LSTM), 3 (GRU)
    or 1 (RNN) blocks, two bias vectors as in PyTorch, ``in`` = E for the first layer and H
    after; read-out ``H·V + V``. Tied weights: ``E = H`` and the read-out adds only its
    bias ``V`` (its ``(V, H)`` matrix is the embedding's).
    """
    E = hidden if tie_weights else (emb_dim or min(64, vocab_size))
    k = _GATES[cell]
    rec = sum(k * (hidden * (E if i == 0 else hidden) + hidden * hidden + 2 * hidden)
              for i in range(num_layers))
    return vocab_size * E + rec + (0 if tie_weights else hidden * vocab_size) + vocab_size


def equal_param_hidden(vocab_size: int, target: int, cell: str = "rnn", **kw) -> int:
    """The smallest hidden size H at which ``param_count(vocab_size, H, cell, **kw)``
    reaches ``target`` (e.g. an LSTM's count), so two cells can be compared at equal size."""
    H = 1
    while param_count(vocab_size, H, cell, **kw) < target:
        H += 1
    return H


@torch.no_grad()
def evaluate_bpc(model, ids, history=None, *, batch_size: int = 64, warmup: int = 64,
                 seq_len: int = 256, device=None) -> float:
    """Bits per character of ``model`` on every character of ``ids: (n,)``.

    For speed the text is read as ``batch_size`` parallel windows (each a contiguous
    piece, starting from a zero state). So that no character is scored without context,
    each window first reads the ``warmup`` characters before it, unscored (the first
    window reads the end of ``history``, e.g. the training ids, if given). With
    ``batch_size=1`` and ``warmup=0`` this is plain sequential evaluation.
    """
    device = device or next(model.parameters()).device
    ids = np.asarray(ids, dtype=np.int64)
    hist = np.asarray(history, dtype=np.int64)[-warmup:] if (history is not None and warmup) \
        else np.zeros(0, dtype=np.int64)
    full = np.concatenate([hist, ids])
    off = len(hist)  # full[off + j] = ids[j]
    n = len(ids)
    B = max(1, min(batch_size, n // max(1, seq_len)))
    L = -(-n // B)  # scored characters per window (the last window may be shorter)
    # window b predicts ids[b*L : (b+1)*L]; its inputs start `warmup` characters earlier.
    W = warmup
    rows_x = np.zeros((B, W + L), dtype=np.int64)
    rows_y = np.zeros((B, W + L), dtype=np.int64)
    mask = np.zeros((B, W + L), dtype=bool)
    for b in range(B):
        t_first = b * L  # first scored target, index into ids
        t_last = min(n, (b + 1) * L)
        if t_first >= t_last:
            continue
        # input for target ids[j] is full[off + j - 1]; the very first target has none
        # unless a history exists, so it is scored from the zero state with input 0.
        for k in range(W + L):
            j = t_first - W + k  # target index (negative: a warm-up step inside history)
            if j >= t_last:
                break
            src = off + j - 1
            rows_x[b, k] = full[src] if src >= 0 else 0
            if j >= t_first:
                rows_y[b, k] = ids[j]
                mask[b, k] = True
    was_training = model.training
    model.eval()
    x_all = torch.as_tensor(rows_x, device=device)
    y_all = torch.as_tensor(rows_y, device=device)
    m_all = torch.as_tensor(mask, device=device)
    state, total = None, 0.0
    for s0 in range(0, W + L, seq_len):
        x = x_all[:, s0:s0 + seq_len]
        logits, state = model(x, state)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                              y_all[:, s0:s0 + seq_len].reshape(-1), reduction="none")
        total += float((nll * m_all[:, s0:s0 + seq_len].reshape(-1)).sum())
    model.train(was_training)
    return total / int(mask.sum()) / LN2


def train(model, train_ids, val_ids, *, step_fn=None, batch_size: int = 64,
          seq_len: int = 100, adam: Adam = Adam(lr=3e-3),
          schedule: Schedule = Schedule(seconds=60.0, eval_every=100),
          name: str = "", progress: bool = True) -> History:
    """Train ``model`` with stateful truncated BPTT, clipping and Adam; return its
    :class:`course_utils.history.History` (losses in bits per character).

    The training ids are laid out as ``batch_size`` streams (:func:`make_streams`); each
    step takes the next ``(B, seq_len)`` chunk, carrying the detached state from the
    previous one; at the end of the streams it starts again from a zero state (an
    epoch). It stops after ``schedule.steps`` steps or ``schedule.seconds`` seconds,
    whichever comes first (None: no limit from that side), and always evaluates at the
    end. Times: seconds of training (minus evaluations); ``cpu_seconds``: process CPU time
    of the run (periodic evaluations included; with 2 threads it can exceed wall time).
    Seed torch before calling it if the model has dropout (training draws nothing else).

    Args:
        model: a :class:`CharLM` (built, and seeded, by the caller).
        train_ids, val_ids: ``(n,)`` int64 ids.
        step_fn: the step function (default: notebook 08's exercise, solved,
            :func:`course_utils.reference.nb08.tbptt_train_step`).
        batch_size: B, the number of streams; seq_len: T, the length of a chunk.
        adam: the optimiser (:class:`~course_utils.training.Adam`: learning rate,
            clipping, cosine decay).
        schedule: the budget and the validation (:class:`~course_utils.training.Schedule`):
            ``steps``, ``seconds`` on ``clock`` ('wall', or 'cpu': process CPU seconds, so
            a benchmark on a busy machine still gets its share of work), validation bpc
            every ``eval_every`` steps (0: only at the end).
        name: the run's name (its :class:`History`'s, and the progress bar's).
        progress: show a ``tqdm`` bar with the latest validation bpc.
    """
    if schedule.steps is None and schedule.seconds is None:
        raise ValueError("give the schedule steps or seconds (or both)")
    if step_fn is None:
        from ..reference.nb08 import tbptt_train_step as step_fn
    device = next(model.parameters()).device
    model.to(device).train()
    opt = adam.optimizer(model.parameters())
    streams = torch.as_tensor(make_streams(train_ids, batch_size), device=device)

    def val_bpc():
        return evaluate_bpc(model, val_ids, history=train_ids, device=device)

    name = name or model.cell
    hist = fit(StepFnUpdate(step_fn, model, opt, clip=adam.clip, convert=lambda loss: loss / LN2),
               _epochs(streams, seq_len), history=History(name=name, clock=schedule.clock),
               schedule=schedule, evaluation=Evaluation(val_bpc, last=True),
               progress=Progress(show=progress, desc=name, total=schedule.steps,
                                 postfix="val_bpc", log_every=10,
                                 options=dict(leave=True, unit="step", mininterval=0.5)),
               diverged=_nonfinite, before_update=adam.lr_decay(opt, schedule),
               items=lambda c: c.y.numel(), device=device)
    hist.eval_times[-1] = hist.seconds  # the final evaluation: after all the training
    return hist


def _epochs(streams, seq_len):
    """Endless :class:`Chunk` s of the streams, a zero state at the start of each pass."""
    while True:
        for i, (x, y) in enumerate(iter_chunks(streams, seq_len)):
            yield Chunk(x, y, reset=i == 0)


def _nonfinite(hist):
    if not math.isfinite(hist.losses[-1]):
        raise FloatingPointError(f"loss became {hist.losses[-1]} (bits per character) at step "
                                 f"{hist.n_updates - 1}")


@torch.no_grad()
def sample(model, vocab, prompt: str = "\n", n: int = 300, temperature: float = 1.0, *,
           seed: int = 0) -> str:
    """Generate ``n`` characters after ``prompt`` by sampling ``softmax(logits / temperature)``.

    Low temperature (< 1) sharpens the distribution towards the most likely character
    (safe, repetitive); high temperature (> 1) flattens it (surprising, misspelt).
    Seeded with its own generator, so the same call gives the same text.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(vocab.encode(prompt), device=device)[None]
    logits, state = model(x)
    out = []
    for _ in range(n):
        p = torch.softmax(logits[0, -1].double().cpu() / temperature, dim=-1)
        nxt = int(torch.multinomial(p, 1, generator=gen))
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]], device=device), state)
    model.train(was_training)
    return vocab.decode(out)


def plot_history(histories, baselines=None, ax=None, *, title="Character LM: bits per character"):
    """Train (thin) and validation (thick, markers) bpc against training time (wall-clock
    or CPU seconds, as the histories were recorded).

    Args:
        histories: a list of :class:`History`.
        baselines: ``{name: bpc}`` drawn as dashed horizontal lines.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for i, h in enumerate(histories):
        color = f"C{i}"
        ax.plot(h.times, h.train_bpc, color=color, lw=1, alpha=0.6, label=f"{h.name} train")
        ax.plot(h.val_times, h.val_bpc, "o-", color=color, lw=2, label=f"{h.name} validation")
    for j, (name, b) in enumerate((baselines or {}).items()):
        ax.axhline(b, ls="--", lw=1, color=f"C{len(histories) + j}", label=f"{name} ({b:.2f})")
    clocks = {h.clock for h in histories}
    ax.set_xlabel("training time (s, " + ("CPU time of one process" if clocks == {"cpu"}
                                          else "wall clock" if clocks == {"wall"}
                                          else "mixed clocks") + ")")
    ax.set_ylabel("bits per character")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    return ax
