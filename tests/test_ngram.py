"""Tests for course_utils.lessons.ngram: uniform, unigram and Kneser–Ney baselines."""

import math

import numpy as np
import pytest

from course_utils.lessons import ngram


@pytest.fixture(scope="module")
def random_text():
    rng = np.random.default_rng(0)
    # a Markov-ish sequence over 6 symbols with some structure
    ids = [0]
    for _ in range(3000):
        ids.append((ids[-1] + rng.choice([1, 2, 3], p=[0.7, 0.2, 0.1])) % 6)
    return np.array(ids)


def test_uniform_and_unigram():
    assert ngram.uniform_bpc(8) == 3.0
    u = ngram.Unigram(4, alpha=1.0).fit(np.array([0, 0, 0, 1]))
    np.testing.assert_allclose(u.p, [4 / 8, 2 / 8, 1 / 8, 1 / 8])
    assert u.bpc(np.array([0, 1])) == pytest.approx((1 + 2) / 2)


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("kn", [True, False])
def test_distributions_sum_to_one(random_text, order, kn):
    V = 7  # symbol 6 never occurs in training: it must still get probability > 0
    m = ngram.KneserNey(order, V, kneser_ney=kn).fit(random_text)
    for ctx in ([], [0], [1, 2], [3, 4, 5, 0], [6, 6, 6, 6], [5, 6, 1, 2]):
        p = m.probs(np.array(ctx, dtype=np.int64))
        assert p.shape == (V,)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(p > 0)


def test_log2_probs_match_probs(random_text):
    m = ngram.KneserNey(3, 6).fit(random_text[:2000])
    val = random_text[2000:2050]
    lp = m.log2_probs(val, history=random_text[:2000])
    ctx = list(random_text[1998:2000])
    for t, c in enumerate(val):
        assert lp[t] == pytest.approx(math.log2(m.probs(ctx[-2:])[c]), rel=1e-12)
        ctx.append(c)


def test_higher_order_helps_on_structured_text(random_text):
    tr, va = random_text[:2500], random_text[2500:]
    uni = ngram.Unigram(6).fit(tr).bpc(va)
    bi = ngram.KneserNey(2, 6).fit(tr).bpc(va, history=tr)
    assert bi < uni - 0.5  # the next symbol depends on the previous one
    # a deterministic periodic text is nearly free to predict at order 3
    per = np.tile(np.array([0, 1, 2, 3, 4]), 400)
    assert ngram.KneserNey(3, 5).fit(per[:1500]).bpc(per[1500:], history=per[:1500]) < 0.05


def test_kneser_ney_discounts_and_continuation_counts():
    # "abab...": continuation count of 'b' is 1 (only ever after 'a')
    ids = np.array([0, 1] * 20 + [2, 1])
    m = ngram.KneserNey(2, 3).fit(ids)
    assert m.counts[1]["\x01"] == 2  # 'b' follows 'a' and 'c'
    assert m.counts[1]["\x00"] == 1
    assert 0 < m.discount[2] <= 1


def test_sample_is_seeded(random_text):
    m = ngram.KneserNey(3, 6).fit(random_text)
    a, b = m.sample(30, context=[0, 1], seed=3), m.sample(30, context=[0, 1], seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (30,) and a.max() < 6


def test_baseline_table_order_and_monotone_on_real_text():
    from course_utils.data import text
    c = text.load_corpus()
    tr, va = c.train[:60_000], c.val[:8_000]
    rows = ngram.baseline_table(tr, va, len(c.vocab), orders=(2, 3))
    names = [r[0] for r in rows]
    assert names[:2] == ["uniform", "unigram"] and names[2].startswith("2-gram")
    bpcs = [r[1] for r in rows]
    assert bpcs[0] > bpcs[1] > bpcs[2] > bpcs[3]


def test_empirical_entropy_unigram_and_bigram_by_hand():
    ids = np.array([0, 1, 0, 1, 0, 2, 0, 1])  # counts: 0 ×4, 1 ×3, 2 ×1
    p = np.array([4, 3, 1]) / 8
    assert abs(ngram.empirical_entropy(ids, 1) - float(-(p * np.log(p)).sum())) < 1e-12
    # bigrams: after 0 -> 1,1,2,1 (3:1); after 1 -> 0,0 (certain); after 2 -> 0 (certain)
    h_after_0 = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert abs(ngram.empirical_entropy(ids, 2) - 4 * h_after_0 / 7) < 1e-12


def test_empirical_entropy_of_deterministic_and_iid_text():
    assert ngram.empirical_entropy(np.tile([0, 1, 2, 3], 50), 2) == 0.0  # the next char is known
    assert abs(ngram.empirical_entropy(np.tile([0, 1, 2, 3], 50), 1) - np.log(4)) < 1e-12
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, size=200_000)  # no dependence: a context tells nothing
    h1, h2 = ngram.empirical_entropy(ids, 1), ngram.empirical_entropy(ids, 2)
    assert h2 <= h1 and h1 - h2 < 1e-3 and abs(h1 - np.log(5)) < 1e-3
    with pytest.raises(ValueError):
        ngram.empirical_entropy(ids[:1], 2)


def test_repeated_fraction_counts_windows_seen_in_training(random_text):
    tr = np.array([0, 1, 2, 3, 4, 5])
    # windows of [9, 1, 2, 3, 8]: (9,1) (1,2) (2,3) (3,8): two were seen in training
    assert ngram.repeated_fraction(tr, np.array([9, 1, 2, 3, 8]), 2) == 0.5
    assert ngram.repeated_fraction(tr, np.array([1, 2, 3, 8]), 3) == 0.5
    assert ngram.repeated_fraction(tr, tr, 6) == 1.0
    # brute force on a longer text
    a, b, k = random_text[:2000], random_text[2000:], 7
    wins = {tuple(a[i:i + k]) for i in range(len(a) - k + 1)}
    ref = np.mean([tuple(b[i:i + k]) in wins for i in range(len(b) - k + 1)])
    assert ngram.repeated_fraction(a, b, k) == pytest.approx(ref, abs=0)
    with pytest.raises(ValueError):
        ngram.repeated_fraction(tr, np.array([1, 2]), 3)
    with pytest.raises(ValueError):
        ngram.repeated_fraction(tr, tr, 0)


def test_substring_index_planted_copy_random_text_and_brute_force():
    """The novelty check of notebook 08: a copied passage is found in full, independent
    random text is not, a half-copied text lands in between, and every window agrees with
    a brute-force search."""
    rng = np.random.default_rng(1)
    train = rng.integers(0, 50, size=20_000)
    index = ngram.SubstringIndex(train, ks=(20, 40))
    assert index.ks == (20, 40)
    copy = train[5_000:5_600]  # a planted copy of a training passage
    fresh = rng.integers(0, 50, size=600)  # new random text: P(a 20-window seen) ~ 20000/50^20
    for k in (20, 40):
        assert index.share(copy, k) == 1.0
        assert index.share(fresh, k) == 0.0
        mixed = np.concatenate([copy[:300], fresh[:300]])
        found = index.found(mixed, k)
        assert found.shape == (600 - k + 1,)
        # the windows inside the copied half are found; those that reach into the random half are not
        assert found[:300 - k + 1].all() and not found[300 - k + 1:].any()
        assert index.share(mixed, k) == pytest.approx((300 - k + 1) / (600 - k + 1), abs=0)
    # brute force on structured text, where matches are frequent but not certain
    rt = rng.choice(4, size=3_000, p=[0.7, 0.1, 0.1, 0.1])
    a, b, k = rt[:2_000], rt[2_000:], 9
    wins = {tuple(a[i:i + k]) for i in range(len(a) - k + 1)}
    ref = np.array([tuple(b[i:i + k]) in wins for i in range(len(b) - k + 1)])
    got = ngram.SubstringIndex(a, ks=(k,)).found(b, k)
    assert 0 < ref.mean() < 1 and np.array_equal(got, ref)
    with pytest.raises(ValueError):
        index.share(copy, 30)  # not indexed
    with pytest.raises(ValueError):
        index.share(copy[:10], 20)  # shorter than k
    with pytest.raises(ValueError):
        ngram.SubstringIndex(train, ks=(0,))
