"""The strong simple baselines: same split, negatives and metrics as the hybrid variants."""
import numpy as np

from codesign.data.step import load_data
from codesign.train.baselines import (EASE_LAMBDAS, TRANSITION_WINDOWS, best_ease, best_transitions, ease_scorer,
                                      run_baselines, transition_scorer)
from codesign.train.evaluate import evaluate, popularity_scorer


def test_ease_closed_form_on_a_tiny_matrix():
    # two items always bought together: EASE scores the missing one of the pair highest
    class Tiny:
        n_users, item_nodes = 3, np.array([4, 5, 6])
        train = np.array([[1, 4], [1, 5], [2, 4], [2, 5], [3, 4], [3, 6]])
    s = ease_scorer(Tiny, 1.0)
    x = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1]], float)
    p = np.linalg.inv(x.T @ x + np.eye(3))
    b = np.eye(3) - p / np.diag(p)
    np.testing.assert_allclose(s(np.array([1, 1, 1]), np.array([4, 5, 6])), (x @ b)[0])


def test_transitions_count_what_followed_the_users_last_items():
    # user 1 rated 5 then 6; user 2 rated 5, 7, then 6; user 3 only 5; user 4 rated 7 then 5
    class Tiny:
        n_users, item_nodes = 4, np.array([5, 6, 7])
        train = np.array([[1, 6, 2], [1, 5, 1], [2, 5, 1], [2, 7, 2], [2, 6, 3], [3, 5, 1], [4, 7, 1], [4, 5, 2]])
    one = transition_scorer(Tiny, 1)
    # window 1: 5 -> 6 (user 1), 5 -> 7 (user 2), 7 -> 6 (user 2), 7 -> 5 (user 4); users 3, 4 last rated 5
    np.testing.assert_array_equal(np.round(one(np.array([3, 3, 3]), np.array([5, 6, 7]))), [0, 1, 1])
    # user 2 last rated 6, which nothing followed: popularity breaks the tie (5 and 6 rated 3 and 2 times)
    s = one(np.array([2, 2, 2]), np.array([5, 6, 7]))
    assert s[0] > s[1] > 0 and s.max() < 1e-5
    two = transition_scorer(Tiny, 2)
    # window 2 (adds 5 -> 6 two steps on): user 2's last two are 6 and 7; 7 -> 6 and 7 -> 5 followed
    np.testing.assert_array_equal(np.round(two(np.array([2, 2, 2]), np.array([5, 6, 7]))), [1, 1, 0])
    # user 1's last two are 6 and 5: 5 -> 6 twice (users 1, 2), 5 -> 7 once
    np.testing.assert_array_equal(np.round(two(np.array([1, 1, 1]), np.array([5, 6, 7]))), [0, 2, 1])


def test_baselines_on_the_design_split(tiny_design):
    data = load_data(tiny_design)
    metrics, per_user = run_baselines(data, embedding_dim=4, epochs=5)
    assert set(metrics) == {"popularity", "bpr_mf_4", "bpr_mf_64", "ease", "lightgcn_64", "transitions"}
    for name, m in metrics.items():
        assert 0 < m["ndcg10"] <= m["hr10"] <= 1, name
        assert 0 < m["ndcg10_full"] < m["ndcg10"], name
        assert per_user[name].shape == (len(data.test),)
    assert metrics["ease"]["lambda"] in EASE_LAMBDAS
    _, lam, valid = best_ease(data)
    assert valid[lam] == max(valid.values())
    assert metrics["transitions"]["window"] in TRANSITION_WINDOWS
    _, window, valid = best_transitions(data)
    assert valid[window] == max(valid.values()) and metrics["transitions"]["window"] == window
    # a personalised model beats the popularity ranking on the same negatives
    assert metrics["ease"]["ndcg10"] > metrics["popularity"]["ndcg10"]
    assert metrics["popularity"] == {k: v for k, v in evaluate(popularity_scorer(data), data, "test").items()}
