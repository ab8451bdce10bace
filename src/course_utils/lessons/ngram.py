"""Count-based baselines for character language models, measured in bits per character.

* :func:`uniform_bpc`: every character equally likely, ``log2 V`` bits.
* :class:`Unigram`: character frequencies (add-one smoothed), no context at all.
* :func:`repeated_fraction`: how much of a held-out text repeats the training text
  verbatim (the share of its length-``k`` strings that also occur in training).
* :class:`SubstringIndex`: every length-``k`` string of a reference text, built once, to
  ask the same of several texts (held-out text, a model's samples: is it copying?).
* :class:`KneserNey`: interpolated Kneser–Ney n-gram model (Kneser & Ney 1995; Chen &
  Goodman 1998): the best simple count-based model, and the bar a neural model must
  clear before it deserves attention. With ``kneser_ney=False`` it is interpolated
  absolute discounting (raw counts at every order).

Bits per character (bpc) of a model on text ``c_1 … c_n`` is the average negative log2
probability it gives each next character: ``-(1/n) Σ log2 p(c_t | c_<t)``.

Sequences are int arrays of character ids ``(n,)`` in ``[0, V)`` (see
:mod:`course_utils.data.text`). Internally each id becomes one Python character so an n-gram
is a short string: slicing and hashing them is fast.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np


def _as_str(ids) -> str:
    return "".join(map(chr, np.asarray(ids, dtype=np.int64).tolist()))


def empirical_entropy(ids, order: int = 1) -> float:
    """In-sample entropy of the next character given the previous ``order - 1``, in nats.

    The cross-entropy that the maximum-likelihood (unsmoothed) n-gram model of order
    ``order`` fitted to ``ids`` gets on ``ids`` itself: ``order=1`` is the entropy of the
    character frequencies (a unigram model), ``order=2`` the conditional entropy
    ``H(c_t | c_{t-1})`` (a bigram model: no memory beyond the current character). It is
    the lowest training loss any model of that order can reach on this text. Averaged over
    the ``n - order + 1`` positions that have a full context.

    Args:
        ids: (n,) int array of character ids, n >= order.
        order: n-gram order, >= 1.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if order < 1 or len(ids) < order:
        raise ValueError(f"need order >= 1 and at least `order` ids, got order={order}, n={len(ids)}")
    s = _as_str(ids)
    grams = Counter(s[i:i + order] for i in range(len(s) - order + 1))
    contexts = Counter()
    for g, c in grams.items():
        contexts[g[:-1]] += c
    n = sum(grams.values())
    return float(-sum(c * math.log(c / contexts[g[:-1]]) for g, c in grams.items()) / n)


def uniform_bpc(vocab_size: int) -> float:
    """Bits per character of the uniform model over ``vocab_size`` characters: log2 V."""
    return math.log2(vocab_size)


def repeated_fraction(train: np.ndarray, val: np.ndarray, k: int) -> float:
    """The fraction of the ``len(val) - k + 1`` length-``k`` windows of ``val: (m,)`` that
    occur somewhere in ``train: (n,)`` (overlapping windows, each position counted once).

    A long ``k`` (e.g. 40 characters) that still finds many matches means the held-out
    text copies whole phrases of the training text, which a long n-gram reproduces.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    return SubstringIndex(train, ks=(k,)).share(val, k)


class SubstringIndex:
    """The set of every length-``k`` string of a reference text, for each ``k`` in ``ks``.

    Built once (one pass over the reference per ``k``), it answers for any other text,
    in one pass over that text: which of its length-``k`` windows occur verbatim
    somewhere in the reference (:meth:`found`), and what share of them (:meth:`share`).
    With the training text as the reference this is a *novelty* check: a model whose
    samples repeat long training strings much more often than new human text does is
    reproducing (memorising) its training text rather than composing.

    Args:
        reference: ``(n,)`` int ids (e.g. the training text).
        ks: the window lengths to index, each >= 1.
    """

    def __init__(self, reference, ks=(20, 40)):
        if not ks or min(ks) < 1:
            raise ValueError("every k must be at least 1")
        s = _as_str(reference)
        self.n = len(s)
        self._sets = {k: {s[i:i + k] for i in range(len(s) - k + 1)} for k in ks}

    @property
    def ks(self) -> tuple[int, ...]:
        return tuple(self._sets)

    def found(self, ids, k: int) -> np.ndarray:
        """``(m - k + 1,)`` bool: window ``ids[i:i+k]`` occurs in the reference."""
        if k not in self._sets:
            raise ValueError(f"k = {k} is not indexed (indexed: {self.ks})")
        s = _as_str(ids)
        if len(s) < k:
            raise ValueError(f"the text has fewer than k = {k} characters")
        seen = self._sets[k]
        return np.fromiter((s[i:i + k] in seen for i in range(len(s) - k + 1)), dtype=bool,
                           count=len(s) - k + 1)

    def share(self, ids, k: int) -> float:
        """The fraction of the length-``k`` windows of ``ids: (m,)`` found in the reference."""
        return float(self.found(ids, k).mean())


class Unigram:
    """Add-``alpha`` smoothed character frequencies: ``p(c) = (count(c)+alpha)/(n+alpha V)``."""

    def __init__(self, vocab_size: int, alpha: float = 1.0):
        self.V, self.alpha = vocab_size, alpha
        self.p = np.full(vocab_size, 1.0 / vocab_size)

    def fit(self, ids: np.ndarray) -> Unigram:
        counts = np.bincount(np.asarray(ids), minlength=self.V).astype(float)
        self.p = (counts + self.alpha) / (counts.sum() + self.alpha * self.V)
        return self

    def bpc(self, ids: np.ndarray) -> float:
        """Bits per character on ``ids: (n,)``."""
        return float(-np.mean(np.log2(self.p[np.asarray(ids)])))


class KneserNey:
    """Interpolated Kneser–Ney character n-gram model of order ``order`` (≥ 1).

    For the highest order, with context ``h`` (the previous ``order - 1`` characters)::

        p(w | h) = max(c(hw) − D, 0) / c(h·)  +  D · N1+(h·) / c(h·) · p_lower(w | h')

    where ``h'`` drops the oldest character of ``h``, ``c(h·) = Σ_w c(hw)`` and
    ``N1+(h·)`` is the number of distinct characters seen after ``h``. The lower orders
    use the same formula with *continuation counts* ``N1+(·hw)`` (in how many distinct
    contexts ``hw`` occurred) instead of raw counts, and order 0 is uniform, ``1/V``.
    A context never seen backs off entirely to the lower order. The discount of each
    order is ``D = n1 / (n1 + 2 n2)`` (``n1``, ``n2``: how many n-grams have count 1, 2).
    Every ``p(· | h)`` is a probability distribution over the ``V`` characters.

    Args:
        order: n, the number of characters in an n-gram (context length ``n - 1``).
        vocab_size: V.
        kneser_ney: if False, raw counts at every order (interpolated absolute discounting).
    """

    def __init__(self, order: int, vocab_size: int, *, kneser_ney: bool = True):
        if order < 1:
            raise ValueError("order must be at least 1")
        self.order, self.V, self.kneser_ney = order, vocab_size, kneser_ney

    def fit(self, ids: np.ndarray) -> KneserNey:
        """Count the n-grams of ``ids: (n,)`` (the training text)."""
        s = _as_str(ids)
        N = self.order
        raw = {n: Counter(s[i:i + n] for i in range(len(s) - n + 1)) for n in range(1, N + 1)}
        counts = {N: raw[N]}
        for n in range(N - 1, 0, -1):
            if self.kneser_ney:
                cont: Counter = Counter()
                for g in raw[n + 1]:
                    cont[g[1:]] += 1
                counts[n] = cont
            else:
                counts[n] = raw[n]
        self.counts, self.denom, self.types, self.discount = counts, {}, {}, {}
        for n in range(1, N + 1):
            denom: Counter = Counter()
            types: Counter = Counter()
            for g, c in counts[n].items():
                denom[g[:-1]] += c
                types[g[:-1]] += 1
            self.denom[n], self.types[n] = dict(denom), dict(types)
            n1 = sum(1 for c in counts[n].values() if c == 1)
            n2 = sum(1 for c in counts[n].values() if c == 2)
            self.discount[n] = n1 / (n1 + 2 * n2) if n1 + n2 > 0 else 0.5
        return self

    def _prob(self, context: str, w: str) -> float:
        p = 1.0 / self.V
        k = len(context)
        for n in range(1, min(self.order, k + 1) + 1):
            h = context[k - (n - 1):] if n > 1 else ""
            d = self.denom[n].get(h)
            if not d:
                continue
            D = self.discount[n]
            c = self.counts[n].get(h + w, 0)
            p = max(c - D, 0.0) / d + D * self.types[n][h] / d * p
        return p

    def probs(self, context) -> np.ndarray:
        """The distribution ``p(· | context)``: ``(V,)``, sums to 1. ``context``: ids ``(k,)``."""
        ctx = _as_str(context)[-(self.order - 1):] if self.order > 1 else ""
        return np.array([self._prob(ctx, chr(w)) for w in range(self.V)])

    def log2_probs(self, ids: np.ndarray, history=None) -> np.ndarray:
        """``log2 p(c_t | c_<t)`` for every character of ``ids: (n,)``; returns ``(n,)``.

        ``history`` (ids) is text that precedes ``ids`` (e.g. the end of the training
        text) and provides the context of the first characters.
        """
        hist = _as_str(history)[-(self.order - 1):] if history is not None and self.order > 1 else ""
        s = hist + _as_str(ids)
        k0 = len(hist)
        m = self.order - 1
        out = np.empty(len(s) - k0)
        for t in range(k0, len(s)):
            out[t - k0] = self._prob(s[max(0, t - m):t], s[t])
        return np.log2(out)

    def bpc(self, ids: np.ndarray, history=None) -> float:
        """Bits per character on ``ids: (n,)`` (see :meth:`log2_probs`)."""
        return float(-np.mean(self.log2_probs(ids, history)))

    def sample(self, n: int, context=(), seed: int = 0) -> np.ndarray:
        """Sample ``n`` characters (ids ``(n,)``) that continue ``context``."""
        rng = np.random.default_rng(seed)
        ids = list(np.asarray(context, dtype=np.int64).tolist())
        out = []
        for _ in range(n):
            p = self.probs(ids[-(self.order - 1):] if self.order > 1 else [])
            w = int(rng.choice(self.V, p=p / p.sum()))
            ids.append(w)
            out.append(w)
        return np.array(out, dtype=np.int64)


def baseline_table(train: np.ndarray, val: np.ndarray, vocab_size: int,
                   orders=(2, 3, 4, 5, 6)) -> list[tuple[str, float]]:
    """Validation bpc of the uniform, unigram and Kneser–Ney n-gram models.

    Returns ``[(name, bpc), ...]`` in the order uniform, unigram, then each order. The
    n-gram models get the end of the training text as history for the first characters.
    """
    rows = [("uniform", uniform_bpc(vocab_size)),
            ("unigram", Unigram(vocab_size).fit(train).bpc(val))]
    for n in orders:
        model = KneserNey(n, vocab_size).fit(train)
        rows.append((f"{n}-gram (Kneser–Ney)", model.bpc(val, history=train)))
    return rows
