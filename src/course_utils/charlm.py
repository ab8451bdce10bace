"""A character-level language model in PyTorch, trained with stateful truncated BPTT.

* :class:`CharLM`: embedding → LSTM (or plain tanh RNN, or GRU) → linear, batch-first.
* :func:`n_params`, :func:`param_count`, :func:`equal_param_hidden`: parameter counts, and
  the hidden size at which one cell type has as many parameters as another.
* :func:`detach_state` (from :mod:`course_utils.training`): cut the graph behind a hidden
  state (a tensor or an ``(h, c)`` tuple) while keeping its values.
* :func:`evaluate_bpc`: bits per character on a held-out id sequence (stateful, no grad).
* :func:`train`: the loop: streams, chunks, carried state, clipping, a tqdm bar, a
  step and wall-clock budget, periodic validation; returns a :class:`History`.
* :func:`sample`: generate text with a temperature, seeded.
* :func:`plot_history`: train and validation bpc against time, with baselines.

Shapes: ``x, y: (B, T)`` int64 ids, ``logits: (B, T, V)``; the state is ``(h, c)`` with
``h, c: (num_layers, B, H)`` for an LSTM and ``h: (num_layers, B, H)`` for an RNN/GRU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .text import iter_chunks, make_streams
from .training import detach_state  # noqa: F401  (notebook 08 uses charlm.detach_state)

LN2 = math.log(2.0)


class CharLM(nn.Module):
    """Embedding → recurrent layers → linear read-out over the vocabulary.

    Args:
        vocab_size: V.
        hidden: H, units per recurrent layer.
        num_layers: stacked recurrent layers.
        cell: 'lstm', 'rnn' (tanh) or 'gru'.
        emb_dim: size of the character embedding (defaults to ``min(64, V)``).
        dropout: dropout probability on the recurrent layer's input and output (0: none;
            active only in ``model.train()`` mode).

    ``forward(x, state=None)``: ``x: (B, T)`` int64 → ``(logits (B, T, V), new_state)``.
    """

    def __init__(self, vocab_size: int, hidden: int = 256, num_layers: int = 1,
                 cell: str = "lstm", emb_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        cls = {"lstm": nn.LSTM, "rnn": nn.RNN, "gru": nn.GRU}[cell]
        self.cell, self.vocab_size, self.hidden = cell, vocab_size, hidden
        emb_dim = emb_dim or min(64, vocab_size)
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.rnn = cls(emb_dim, hidden, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, state=None):
        out, state = self.rnn(self.drop(self.embed(x)), state)
        return self.head(self.drop(out)), state


def n_params(model: nn.Module) -> int:
    """The number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


_GATES = {"lstm": 4, "rnn": 1, "gru": 3}


def param_count(vocab_size: int, hidden: int, cell: str = "lstm", num_layers: int = 1,
                emb_dim: int | None = None) -> int:
    """Parameters of ``CharLM(vocab_size, hidden, num_layers, cell, emb_dim)``, by formula.

    Embedding ``V·E``; each layer ``k·(H·in + H·H + 2H)`` with ``k`` = 4 (LSTM), 3 (GRU)
    or 1 (RNN) blocks, two bias vectors as in PyTorch, ``in`` = E for the first layer and H
    after; read-out ``H·V + V``.
    """
    E = emb_dim or min(64, vocab_size)
    k = _GATES[cell]
    rec = sum(k * (hidden * (E if i == 0 else hidden) + hidden * hidden + 2 * hidden)
              for i in range(num_layers))
    return vocab_size * E + rec + hidden * vocab_size + vocab_size


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


@dataclass
class History:
    """What :func:`train` records.

    Times are seconds of training (wall clock since the start, minus the time spent
    evaluating); ``seconds`` is the total training time, ``cpu_seconds`` the process CPU
    time of the whole call (evaluation included; with 2 threads it can exceed wall time).
    """

    name: str = ""
    steps: list[int] = field(default_factory=list)  # step of each train record
    times: list[float] = field(default_factory=list)
    train_bpc: list[float] = field(default_factory=list)  # mean over the last records
    val_steps: list[int] = field(default_factory=list)
    val_times: list[float] = field(default_factory=list)
    val_bpc: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    chars_seen: int = 0
    n_steps: int = 0  # optimizer steps taken
    clock: str = "wall"  # how times were counted: 'wall' or 'cpu' (see :func:`train`)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def final_val_bpc(self) -> float:
        return self.val_bpc[-1] if self.val_bpc else float("nan")


def train(model, train_ids, val_ids, *, batch_size: int = 64, seq_len: int = 100,
          lr: float = 3e-3, clip: float | None = 1.0, max_steps: int | None = None,
          time_budget_s: float | None = 60.0, eval_every: int = 100, eval_ids=None,
          step_fn=None, device=None, progress: bool = True, name: str = "",
          seed: int = 0, record_every: int = 10, cosine: bool = False,
          clock: str = "wall") -> History:
    """Train ``model`` with stateful truncated BPTT, clipping and Adam; return its History.

    The training ids are laid out as ``batch_size`` streams (:func:`make_streams`); each
    step takes the next ``(B, seq_len)`` chunk, carrying the detached state from the
    previous one; at the end of the streams it starts again from a zero state (an
    epoch). It stops after ``max_steps`` steps or ``time_budget_s`` seconds, whichever
    comes first (None: no limit from that side), and always evaluates at the end.

    Args:
        train_ids, val_ids: ``(n,)`` int64 ids.
        eval_every: evaluate validation bpc every this many steps.
        eval_ids: ids to evaluate on during training (default ``val_ids``); the final
            evaluation always uses ``val_ids``.
        step_fn: the step function (default: notebook 08's exercise, solved,
            :func:`course_utils.reference.nb08.tbptt_train_step`).
        seed: seeds torch before training (the model is built by the caller).
        clock: 'wall' (default) or 'cpu': measure the budget in process CPU seconds
            instead, so a benchmark on a busy machine still gets its share of work
            (with one torch thread, CPU seconds ≈ wall seconds on an idle machine).
        cosine: decay the learning rate from ``lr`` to ``lr / 20`` along a half cosine
            over the run (progress = the larger of the step and the time fractions).
    """
    if max_steps is None and time_budget_s is None:
        raise ValueError("give max_steps or time_budget_s (or both)")
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    if step_fn is None:
        from .reference.nb08 import tbptt_train_step as step_fn
    device = device or next(model.parameters()).device
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    streams = torch.as_tensor(make_streams(train_ids, batch_size), device=device)
    eval_ids = val_ids if eval_ids is None else eval_ids
    hist = History(name=name or model.cell, clock=clock)
    bar = tqdm(total=max_steps, desc=hist.name, disable=not progress, leave=True,
               unit="step", mininterval=0.5)
    if clock not in ("wall", "cpu"):
        raise ValueError("clock must be 'wall' or 'cpu'")
    now_fn = time.perf_counter if clock == "wall" else time.process_time
    t0, c0 = now_fn(), time.process_time()
    step, recent, eval_s = 0, [], [0.0]

    def elapsed():  # training time: clock time minus the time spent evaluating
        if device.type == "cuda":
            torch.cuda.synchronize()
        return now_fn() - t0 - eval_s[0]

    def evaluate(ids):
        now = elapsed()
        e0 = now_fn()
        b = evaluate_bpc(model, ids, history=train_ids, device=device)
        eval_s[0] += now_fn() - e0
        hist.val_steps.append(step)
        hist.val_times.append(now)
        hist.val_bpc.append(b)
        return b

    done = False
    while not done:
        state = None
        for x, y in iter_chunks(streams, seq_len):
            if cosine:
                frac = max(step / max_steps if max_steps else 0.0,
                           elapsed() / time_budget_s if time_budget_s else 0.0)
                for g in opt.param_groups:
                    g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
            loss, state = step_fn(model, opt, x, y, state, clip)
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss became {loss} at step {step}")
            step += 1
            hist.chars_seen += y.numel()
            recent.append(loss / LN2)
            if step % record_every == 0:
                hist.steps.append(step)
                hist.times.append(elapsed())
                hist.train_bpc.append(float(np.mean(recent)))
                recent = []
            bar.update(1)
            if eval_every and step % eval_every == 0:
                bar.set_postfix(val_bpc=f"{evaluate(eval_ids):.3f}")
            if (max_steps is not None and step >= max_steps) or \
               (time_budget_s is not None and elapsed() >= time_budget_s):
                done = True
                break
    hist.seconds = elapsed()
    hist.n_steps = step
    hist.cpu_seconds = time.process_time() - c0
    if not hist.val_steps or hist.val_steps[-1] != step or eval_ids is not val_ids:
        evaluate(val_ids)
    else:
        hist.val_times[-1] = hist.seconds
    bar.set_postfix(val_bpc=f"{hist.final_val_bpc:.3f}")
    bar.close()
    return hist


@torch.no_grad()
def sample(model, vocab, prompt: str = "\n", n: int = 300, temperature: float = 1.0,
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
