import numpy as np
import pytest

from codesign.metrics import hit_rate, ndcg, paired_difference


def test_rank_zero_and_outside_top_k():
    pos = np.array([5.0, 0.0])
    others = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    assert ndcg(pos, others, k=10).tolist() == [1.0, pytest.approx(1 / np.log2(5))]
    assert ndcg(pos, others, k=3).tolist() == [1.0, 0.0]
    assert hit_rate(pos, others, k=3).tolist() == [1.0, 0.0]


def test_hand_computed_rank_two():
    # two items score higher: rank 2 (0-based) -> 1/log2(4) = 0.5
    assert ndcg(np.array([1.0]), np.array([[3.0, 2.0, 0.5]]))[0] == pytest.approx(0.5)


def test_ties_count_in_expectation():
    # positive tied with one other item: rank 0 or 1 with equal chance
    got = ndcg(np.array([1.0]), np.array([[1.0, 0.0]]))[0]
    assert got == pytest.approx((1.0 + 1 / np.log2(3)) / 2)
    # tie straddling the cut-off at k=1: half a hit
    assert hit_rate(np.array([1.0]), np.array([[1.0, 0.0]]), k=1)[0] == pytest.approx(0.5)


def test_excluded_items_never_outrank():
    others = np.array([[-np.inf, -np.inf, 0.5]])
    assert ndcg(np.array([0.1]), others)[0] == pytest.approx(1 / np.log2(3))


def test_paired_difference_interval_brackets_the_mean():
    rng = np.random.default_rng(1)
    a = rng.random(500)
    res = paired_difference(a + 0.1, a)
    assert res["mean"] == pytest.approx(0.1)
    assert res["ci95"] == [pytest.approx(0.1), pytest.approx(0.1)]
    noisy = paired_difference(a, rng.random(500))
    assert noisy["ci95"][0] < noisy["mean"] < noisy["ci95"][1]
