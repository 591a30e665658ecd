"""Scoring a model under the two evaluation protocols (sampled and full ranking)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from codesign.data.dataset import RecData
from codesign.metrics import hit_rate, ndcg


def score(model: tf.keras.Model, inputs: dict[str, np.ndarray], batch: int = 16384) -> np.ndarray:
    """Model scores (B,) of prepared inputs, batched."""
    names = [i.name.split(":")[0] for i in model.inputs]
    predict = tf.function(lambda *xs: model(list(xs), training=False))
    n = len(inputs["nodes"])
    out = [predict(*[inputs[k][s:s + batch] for k in names]).numpy().ravel()
           for s in range(0, n, batch)]
    return np.concatenate(out) if out else np.zeros(0, dtype="float32")


def _uses_adjacency(model: tf.keras.Model) -> bool:
    return any(i.name.startswith("adjacency") for i in model.inputs)


def sampled_scores(model: tf.keras.Model, data: RecData, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores of each user's held-out item and of its fixed sampled negatives."""
    held = data.valid if split == "valid" else data.test
    negatives = data.negatives[split]
    items = np.concatenate([held[:, 1:2], negatives], axis=1)
    users = np.repeat(held[:, 0], items.shape[1])
    s = score(model, data.inputs(users, items.ravel(), dynamic=_uses_adjacency(model))).reshape(items.shape)
    return s[:, 0], s[:, 1:]


def evaluate(model: tf.keras.Model, data: RecData, split: str = "test", full: bool = True,
             users: np.ndarray | None = None) -> dict:
    """HR@10 and NDCG@10 against sampled negatives; NDCG@10 over all unseen items if ``full``.

    ``users`` (0-based rows of the split) restricts the report, e.g. to cold items' users.
    """
    pos, neg = sampled_scores(model, data, split)
    rows = np.arange(len(pos)) if users is None else users
    per_user = ndcg(pos[rows], neg[rows])
    out = {"ndcg10": float(per_user.mean()), "hr10": float(hit_rate(pos[rows], neg[rows]).mean()),
           "per_user_ndcg10": per_user}
    if full:
        out["ndcg10_full"] = float(full_ranking_ndcg(model, data, split, rows))
    return out


def full_ranking_ndcg(model: tf.keras.Model, data: RecData, split: str, rows: np.ndarray) -> float:
    """Mean NDCG@10 of the held-out item ranked among every item the user has not seen."""
    held = data.valid if split == "valid" else data.test
    other = data.test if split == "valid" else data.valid
    n_items = len(data.item_nodes)
    users = held[rows, 0]
    s = score(model, data.inputs(np.repeat(users, n_items), np.tile(data.item_nodes, len(users)),
                                 dynamic=_uses_adjacency(model))).reshape(len(users), n_items)
    offset = data.n_users + 1
    seen = np.zeros_like(s, dtype=bool)
    row_of_user = {u: r for r, u in enumerate(users)}
    for u, i in np.concatenate([data.train[:, :2], other[rows, :2]]):
        r = row_of_user.get(int(u))
        if r is not None:
            seen[r, i - offset] = True
    target = held[rows, 1] - offset
    pos = s[np.arange(len(users)), target]
    seen[np.arange(len(users)), target] = True
    return float(ndcg(pos, np.where(seen, -np.inf, s)).mean())
