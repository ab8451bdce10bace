"""Tests of course_utils.data.tasks."""

import numpy as np
import pytest

from course_utils.data import tasks


def test_one_hot():
    x = tasks.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert x.shape == (2, 2, 3) and x.dtype == np.float32
    assert x.sum() == 4 and x[0, 1, 2] == 1 and x[1, 0, 1] == 1


def test_delayed_recall_targets():
    x, y, s = tasks.delayed_recall(4, 20, 3, 5, np.random.default_rng(0))
    assert x.shape == (4, 20, 5) and y.shape == (4, 20) and s.shape == (4, 20)
    assert (y[:, :3] == tasks.IGNORE).all()
    assert (y[:, 3:] == s[:, :-3]).all()
    assert (x.argmax(-1) == s).all()
    x2, _, _ = tasks.delayed_recall(4, 20, 3, 5, np.random.default_rng(0))
    assert (x == x2).all()
    with pytest.raises(ValueError):
        tasks.delayed_recall(1, 5, 5, 2, np.random.default_rng(0))


def test_batchify_stream():
    b = tasks.batchify_stream(np.arange(23), 4)
    assert b.shape == (4, 5)
    assert list(b[1]) == [5, 6, 7, 8, 9]
    assert tasks.batchify_stream(np.zeros((10, 3)), 2).shape == (2, 5, 3)
    with pytest.raises(ValueError):
        tasks.batchify_stream(np.arange(3), 4)
