"""Tests for course_utils.data.text: corpus, vocabulary, split, stream batching for TBPTT."""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import text


def test_course_corpus_is_the_shipped_file_byte_for_byte():
    """The corpus is the course's own file, the same on every Python: its bytes hash to a
    fixed value (Python 3.11.7's pydoc_data.topics, joined in sorted-key order)."""
    data = text.CORPUS_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "71f2ff5d99bdc1f9c48c5c2353ad138201c5ca1c377e0226857ef8fa89b8bcee")
    assert text.CORPUS_SHA256 == hashlib.sha256(data).hexdigest()
    a = text.load_course_text()
    assert a == text.load_text() == data.decode("utf-8")
    assert len(a) == 465_126 and len(set(a)) == 103 and "\r" not in a
    corpus = text.load_corpus()
    assert (len(corpus.train), len(corpus.val)) == (418_613, 46_513)


def test_the_corpus_licence_and_source_ship_beside_it():
    folder = text.CORPUS_FILE.parent
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert text.CORPUS_SHA256 in readme and "Python Software Foundation" in readme
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in (
        folder / "LICENSE-PSF.txt").read_text(encoding="utf-8")


# What a notebook, test or benchmark must not read: the running interpreter's own files or
# version, whose text and numbers change with each Python release.
INTERPRETER_READS = re.compile(
    r"pydoc_data|import pydoc\b|sys\.version|platform\.python_version|sysconfig\.get_path")


def _code_of(path):
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return path.read_text(encoding="utf-8")


def test_nothing_reads_the_interpreters_own_files_or_version():
    """Printed numbers must not depend on the Python version: no notebook reads the
    interpreter's files or version, and no course module, test or benchmark imports
    pydoc_data (benchmarks may record the version in their results' provenance)."""
    root = Path(__file__).resolve().parents[1]
    notebooks = sorted((root / "solutions").glob("*.ipynb")) + sorted(
        (root / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        found = INTERPRETER_READS.findall(_code_of(path))
        assert not found, f"{path.name} reads {found}"
    imports_pydoc = re.compile(r"^\s*(from|import)\s+pydoc", re.MULTILINE)
    for folder in ("src", "tests", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            assert not imports_pydoc.search(path.read_text(encoding="utf-8")), path


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
