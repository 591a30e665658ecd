"""The strong simple baselines: same split, negatives and metrics as the hybrid variants."""
import numpy as np

from codesign.data.step import load_data
from codesign.train.baselines import EASE_LAMBDAS, best_ease, ease_scorer, run_baselines
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


def test_baselines_on_the_design_split(tiny_design):
    data = load_data(tiny_design)
    metrics, per_user = run_baselines(data, embedding_dim=4, epochs=5)
    assert set(metrics) == {"popularity", "bpr_mf_4", "bpr_mf_64", "ease", "lightgcn_64"}
    for name, m in metrics.items():
        assert 0 < m["ndcg10"] <= m["hr10"] <= 1, name
        assert 0 < m["ndcg10_full"] < m["ndcg10"], name
        assert per_user[name].shape == (len(data.test),)
    assert metrics["ease"]["lambda"] in EASE_LAMBDAS
    _, lam, valid = best_ease(data)
    assert valid[lam] == max(valid.values())
    # a personalised model beats the popularity ranking on the same negatives
    assert metrics["ease"]["ndcg10"] > metrics["popularity"]["ndcg10"]
    assert metrics["popularity"] == {k: v for k, v in evaluate(popularity_scorer(data), data, "test").items()}
