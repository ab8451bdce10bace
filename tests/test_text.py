"""Tests for course_utils.data.text: corpus, vocabulary, split, stream batching for TBPTT."""

import sys

import numpy as np
import pytest

from course_utils.data import text


def test_pydoc_corpus_is_deterministic_and_sized():
    a, b = text.load_pydoc_topics(), text.load_pydoc_topics()
    assert a == b
    assert 300_000 < len(a) < 700_000
    assert 80 <= len(set(a)) <= 130
    if sys.version_info[:2] == (3, 11):
        assert len(a) == 465_126 and len(set(a)) == 103


def test_load_text_reads_utf8_file_and_normalises_newlines(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes("héllo\r\nwörld\r".encode())
    assert text.load_text(p) == "héllo\nwörld\n"
    corpus = text.load_corpus(p, val_frac=0.25)
    assert corpus.vocab.decode(np.concatenate([corpus.train, corpus.val])) == "héllo\nwörld\n"


def test_vocab_roundtrip_and_sorted_ids():
    v = text.Vocab.from_text("banana!")
    assert v.chars == ["!", "a", "b", "n"]
    ids = v.encode("banana")
    assert ids.dtype == np.int64 and ids.tolist() == [2, 1, 3, 1, 3, 1]
    assert v.decode(ids) == "banana" and len(v) == 4
    with pytest.raises(KeyError):
        v.encode("z")


def test_split_is_contiguous():
    ids = np.arange(100)
    tr, va = text.train_val_split(ids, 0.1)
    assert tr.tolist() == list(range(90)) and va.tolist() == list(range(90, 100))
    with pytest.raises(ValueError):
        text.train_val_split(ids, 1.5)


def test_streams_and_chunks_continue_each_row():
    ids = np.arange(103)
    s = text.make_streams(ids, 4)  # L = 25, 3 ids dropped
    assert s.shape == (4, 25)
    assert s[1].tolist() == list(range(25, 50))
    chunks = list(text.iter_chunks(s, 10))
    assert len(chunks) == text.n_chunks(s, 10) == 3
    assert [c[0].shape for c in chunks] == [(4, 10), (4, 10), (4, 4)]
    for x, y in chunks:
        np.testing.assert_array_equal(y, x + 1)  # y is the next character
    # chunk k+1 continues row b exactly where chunk k stopped
    np.testing.assert_array_equal(chunks[1][0][:, 0], chunks[0][0][:, -1] + 1)
    # every input except the last column of the streams is used once
    xs = np.concatenate([x for x, _ in chunks], axis=1)
    np.testing.assert_array_equal(xs, s[:, :-1])


def test_make_streams_rejects_too_short():
    with pytest.raises(ValueError):
        text.make_streams(np.arange(5), 4)
