"""A text corpus that ships offline, a character vocabulary, and batching for truncated BPTT.

The default corpus ships with the course (``course_utils/data/corpus/``): the English
reference text that ``help("if")`` and friends print, taken once from CPython 3.11.7's
``pydoc_data.topics`` (465,126 characters, 103 distinct; Python Software Foundation
License, see the README and licence beside the file). It is a file, not the running
interpreter's copy, so every Python version reads the same text. Any UTF-8 text file can
be used instead (:func:`load_text`).

Batching for stateful truncated BPTT (:func:`make_streams`, :func:`iter_chunks`): the
encoded text is cut into ``B`` equal, contiguous *streams*, laid out as the rows of a
``(B, L)`` array. Chunk ``k`` is the columns ``[k*T, (k+1)*T)``: row ``b`` of chunk
``k+1`` continues exactly where row ``b`` of chunk ``k`` stopped, so the hidden state at
the end of one chunk is the right initial state for the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tasks import batchify_stream

CORPUS_FILE = Path(__file__).resolve().parent / "corpus" / "python-3.11-reference-topics.txt"
CORPUS_SHA256 = "71f2ff5d99bdc1f9c48c5c2353ad138201c5ca1c377e0226857ef8fa89b8bcee"


def load_course_text() -> str:
    """The course's own corpus (:data:`CORPUS_FILE`): 465,126 characters, 103 distinct.

    The same string on every Python version and operating system (UTF-8, ``\\n`` endings).
    """
    return CORPUS_FILE.read_bytes().decode("utf-8")


def load_text(path: str | Path | None = None) -> str:
    """Read a UTF-8 text file, or return :func:`load_course_text` when ``path`` is None.

    Line endings are normalised to ``\\n`` so the same file gives the same string on
    every operating system.
    """
    if path is None:
        return load_course_text()
    text = Path(path).read_text(encoding="utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class Vocab:
    """A character vocabulary: ``chars[i]`` is the character with id ``i`` (sorted).

    Build it with :meth:`from_text`. ``encode`` maps a string to an int64 array ``(n,)``;
    ``decode`` maps ids back to a string.
    """

    chars: list[str]

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(sorted(set(text)))

    def __post_init__(self):
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``text`` (n characters) -> int64 ids ``(n,)``. Unknown characters raise KeyError."""
        return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids) -> str:
        """Ids (any iterable of ints, e.g. an array ``(n,)``) -> string of ``n`` characters."""
        return "".join(self.chars[int(i)] for i in ids)


def train_val_split(ids: np.ndarray, val_frac: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split ``ids: (n,)`` into the first ``1 - val_frac`` (train) and the rest (validation).

    A contiguous split (no shuffling): the validation text is text the model never saw,
    and the split is the same on every run.
    """
    if not 0 < val_frac < 1:
        raise ValueError("val_frac must be between 0 and 1")
    n_train = int(round(len(ids) * (1 - val_frac)))
    return ids[:n_train], ids[n_train:]


def train_val_test_split(ids: np.ndarray, val_frac: float = 0.05, test_frac: float = 0.05
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``ids: (n,)`` into three contiguous pieces: train, validation, test.

    Train is the first ``1 - val_frac - test_frac``, validation the next ``val_frac``,
    test the last ``test_frac`` (no shuffling). Choose settings on the validation text and
    report once on the test text. The boundaries are rounded as in :func:`train_val_split`,
    so with ``val_frac + test_frac = f`` the training text is exactly
    ``train_val_split(ids, f)``'s, and validation + test is its held-out text.
    """
    if not (0 < val_frac and 0 < test_frac and val_frac + test_frac < 1):
        raise ValueError("val_frac and test_frac must be positive, with a sum below 1")
    n_train = int(round(len(ids) * (1 - val_frac - test_frac)))
    n_trainval = int(round(len(ids) * (1 - test_frac)))
    return ids[:n_train], ids[n_train:n_trainval], ids[n_trainval:]


@dataclass
class Corpus:
    """Everything a notebook needs about a corpus: text, vocabulary, encoded splits."""

    text: str
    vocab: Vocab
    train: np.ndarray  # (n_train,) int64
    val: np.ndarray  # (n_val,) int64

    def summary(self) -> str:
        return (f"{len(self.text):,} characters, {len(self.vocab)} distinct; "
                f"train {len(self.train):,}, validation {len(self.val):,}")


def load_corpus(path: str | Path | None = None, val_frac: float = 0.1) -> Corpus:
    """Load a corpus (default: :func:`load_course_text`), build its vocabulary, split it.

    The vocabulary is built from the whole text, so every validation character has an id
    (a character seen only in validation still gets a probability from every model).
    """
    text = load_text(path)
    vocab = Vocab.from_text(text)
    train, val = train_val_split(vocab.encode(text), val_frac)
    return Corpus(text, vocab, train, val)


def make_streams(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Lay ``ids: (n,)`` out as ``batch_size`` contiguous streams: returns ``(B, L)``.

    ``L = n // B``; the last ``n % B`` ids are dropped. Row ``b`` is
    ``ids[b*L : (b+1)*L]``.
    """
    ids = np.asarray(ids)
    if len(ids) // batch_size < 2:
        raise ValueError(f"{len(ids)} ids are too few for {batch_size} streams")
    return batchify_stream(ids, batch_size)


def iter_chunks(streams: np.ndarray, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield consecutive ``(x, y)`` chunks of ``streams: (B, L)`` for truncated BPTT.

    ``x`` and ``y`` are ``(B, T)`` with ``T <= seq_len`` (the last chunk may be shorter)
    and ``y[:, t]`` is the character that follows ``x[:, t]`` in the stream (``y`` is
    ``x`` shifted left by one). Chunk ``k`` starts at column ``k * seq_len``, so each row continues the
    previous chunk's row: carry the hidden state from one chunk to the next.
    """
    L = streams.shape[1]
    for start in range(0, L - 1, seq_len):
        end = min(start + seq_len, L - 1)
        yield streams[:, start:end], streams[:, start + 1:end + 1]


def n_chunks(streams: np.ndarray, seq_len: int) -> int:
    """How many chunks :func:`iter_chunks` yields for ``streams: (B, L)``."""
    return -(-(streams.shape[1] - 1) // seq_len)
