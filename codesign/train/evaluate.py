"""Scoring under the two evaluation protocols (sampled negatives and full ranking)."""
from __future__ import annotations

import weakref
from typing import Callable, Union

import numpy as np
import tensorflow as tf

from codesign.data.dataset import RecData
from codesign.metrics import hit_rate, ndcg

# scores of (user, item) node-id pairs
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


# one traced inference function per model, over any batch size: a tf.function made per call
# (or one per batch shape) retraces on every evaluation, which TensorFlow warns about
_PREDICT: "weakref.WeakKeyDictionary[tf.keras.Model, Callable]" = weakref.WeakKeyDictionary()


def _predict_fn(model: tf.keras.Model) -> Callable:
    """The model's inference as a tf.function with a batch-free input signature (cached)."""
    if model not in _PREDICT:
        signature = [tf.TensorSpec((None, *i.shape[1:]), i.dtype) for i in model.inputs]
        ref = weakref.ref(model)    # the cache must not keep the model alive
        _PREDICT[model] = tf.function(lambda *xs: ref()(list(xs), training=False), input_signature=signature)
    return _PREDICT[model]


def score(model: tf.keras.Model, inputs: dict[str, np.ndarray], batch: int = 16384) -> np.ndarray:
    """Model scores (B,) of prepared inputs, batched."""
    names = [i.name.split(":")[0] for i in model.inputs]
    predict = _predict_fn(model)
    n = len(inputs["nodes"])
    out = [predict(*[inputs[k][s:s + batch] for k in names]).numpy().ravel()
           for s in range(0, n, batch)]
    return np.concatenate(out) if out else np.zeros(0, dtype="float32")


def model_scorer(model: tf.keras.Model, data: RecData) -> Scorer:
    """Scores pairs with ``model`` on their evaluation ego-graphs."""
    dynamic = any(i.name.startswith("adjacency") for i in model.inputs)
    return lambda users, items: score(model, data.inputs(users, items, dynamic=dynamic))


def popularity_scorer(data: RecData) -> Scorer:
    """The popularity baseline: an item's number of training interactions."""
    counts = np.bincount(data.train[:, 1], minlength=data.n_nodes).astype("float32")
    return lambda users, items: counts[items]


def evaluate(model: Union[tf.keras.Model, Scorer], data: RecData, split: str = "test",
             full: bool = True, users: np.ndarray | None = None, per_user: bool = False) -> dict:
    """HR@10 and NDCG@10 against sampled negatives; NDCG@10 over all unseen items if ``full``.

    ``model`` is a Keras model or a scorer; ``users`` (0-based rows of the split) restricts
    the report, e.g. to the users whose held-out item is cold; ``per_user`` adds the array
    ``per_user_ndcg10`` (sampled protocol) for paired comparisons.
    """
    scorer = model_scorer(model, data) if isinstance(model, tf.keras.Model) else model
    held = data.valid if split == "valid" else data.test
    rows = np.arange(len(held)) if users is None else users
    s = candidate_scores(scorer, data, split, rows)
    user_ndcg = ndcg(s[:, 0], s[:, 1:])
    out = {"ndcg10": float(user_ndcg.mean()), "hr10": float(hit_rate(s[:, 0], s[:, 1:]).mean())}
    if per_user:
        out["per_user_ndcg10"] = user_ndcg
    if full:
        out["ndcg10_full"] = full_ranking_ndcg(scorer, data, split, rows)
    return out


def candidate_items(data: RecData, split: str, rows: np.ndarray | None = None) -> np.ndarray:
    """(rows, 1 + negatives) item node ids: each row's held-out item, then its sampled negatives."""
    held = data.valid if split == "valid" else data.test
    rows = np.arange(len(held)) if rows is None else rows
    return np.concatenate([held[rows, 1:2], data.negatives[split][rows]], axis=1)


def candidate_scores(scorer: Scorer, data: RecData, split: str, rows: np.ndarray | None = None) -> np.ndarray:
    """Scores (rows, 1 + negatives) of ``candidate_items``: column 0 is the held-out item."""
    held = data.valid if split == "valid" else data.test
    rows = np.arange(len(held)) if rows is None else rows
    items = candidate_items(data, split, rows)
    return scorer(np.repeat(held[rows, 0], items.shape[1]), items.ravel()).reshape(items.shape)


def full_ranking_ndcg(scorer: Scorer, data: RecData, split: str, rows: np.ndarray) -> float:
    """Mean NDCG@10 of the held-out item ranked among every item the user has not seen."""
    held = data.valid if split == "valid" else data.test
    other = data.test if split == "valid" else data.valid
    n_items = len(data.item_nodes)
    users = held[rows, 0]
    s = scorer(np.repeat(users, n_items), np.tile(data.item_nodes, len(users))).reshape(len(users), n_items)
    offset = data.n_users + 1
    row_of_user = np.full(data.n_users + 1, -1)
    row_of_user[users] = np.arange(len(users))
    seen_pairs = np.concatenate([data.train[:, :2], other[rows, :2]])
    r = row_of_user[seen_pairs[:, 0]]
    seen = np.zeros_like(s, dtype=bool)
    seen[r[r >= 0], seen_pairs[r >= 0, 1] - offset] = True
    target = held[rows, 1] - offset
    pos = s[np.arange(len(users)), target]
    seen[np.arange(len(users)), target] = True
    return float(ndcg(pos, np.where(seen, -np.inf, s)).mean())
