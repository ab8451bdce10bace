"""text.train_val_test_split: three contiguous pieces, the training text as train_val_split's."""

import numpy as np
import pytest

from course_utils.data import text


@pytest.mark.parametrize("n", [100, 465_126, 1001])
def test_three_way_split_is_contiguous_and_keeps_the_two_way_training_text(n):
    ids = np.arange(n)
    tr, va, te = text.train_val_test_split(ids, 0.05, 0.05)
    assert np.array_equal(np.concatenate([tr, va, te]), ids)
    tr2, held = text.train_val_split(ids, 0.1)
    assert np.array_equal(tr, tr2) and np.array_equal(np.concatenate([va, te]), held)
    assert abs(len(va) - 0.05 * n) <= 1 and abs(len(te) - 0.05 * n) <= 1


def test_three_way_split_rejects_bad_fractions():
    for v, t in ((0, 0.1), (0.1, 0), (0.5, 0.5), (-0.1, 0.2)):
        with pytest.raises(ValueError):
            text.train_val_test_split(np.arange(10), v, t)
