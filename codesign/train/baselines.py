"""Strong simple baselines on the design's own split, negatives and metrics.

What a recommender-systems engineer tries first: popularity, BPR matrix factorization (at
the design's embedding size and at 64 dimensions), EASE (closed form, λ chosen on the
validation split), a float LightGCN on the full training graph, and item transitions (what
followed the user's last items in the training sequences: the held-out items are each user's
last ratings, so the order of ratings is a signal too). Each is a scorer of
(user, item) node-id pairs, evaluated with the same ``evaluate`` as the hybrid variants.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from codesign.console import progress
from codesign.data.dataset import RecData
from codesign.train.evaluate import Scorer, evaluate, popularity_scorer

EASE_LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
TRANSITION_WINDOWS = (1, 2, 3, 5, 10, 20)


@dataclass(frozen=True)
class BprSettings:
    """BPR training of a factorization (``layers`` = 0) or LightGCN (``layers`` > 0)."""

    dim: int
    layers: int = 0
    epochs: int = 60
    learning_rate: float = 5e-3
    l2: float = 1e-5
    batch_size: int = 4096
    patience_checks: int = 3     # validation every 5 epochs
    seed: int = 0


def bpr_settings(dim: int, layers: int, epochs: int, seed: int) -> BprSettings:
    """BPR-MF (``layers`` 0) or LightGCN (3 layers, learning rate 1e-2) as the baselines train them."""
    return BprSettings(dim=dim, layers=layers, epochs=epochs, learning_rate=1e-2 if layers else 5e-3, seed=seed)


def _interaction_matrix(data: RecData) -> np.ndarray:
    """Binary users x items matrix of the training interactions (row u-1, column item index)."""
    x = np.zeros((data.n_users, len(data.item_nodes)), dtype=np.float64)
    x[data.train[:, 0] - 1, data.train[:, 1] - data.n_users - 1] = 1.0
    return x


def ease_scorer(data: RecData, lam: float) -> Scorer:
    """EASE (Steck 2019): item-item weights B = I - P / diag(P), P = (XᵀX + λI)⁻¹."""
    x = _interaction_matrix(data)
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    scores = x @ b
    offset = data.n_users + 1
    return lambda users, items: scores[np.asarray(users) - 1, np.asarray(items) - offset]


def best_ease(data: RecData) -> tuple[Scorer, float, dict]:
    """EASE with λ chosen on the validation split's NDCG@10."""
    valid = {lam: evaluate(ease_scorer(data, lam), data, "valid", full=False)["ndcg10"] for lam in EASE_LAMBDAS}
    lam = max(valid, key=valid.get)
    return ease_scorer(data, lam), lam, valid


def transition_scorer(data: RecData, window: int) -> Scorer:
    """Item transitions: T[i, j] counts how often j came at most ``window`` ratings after i in a
    user's training sequence (by time); a pair scores the sum of T over the user's last
    ``window`` training items, ties broken by popularity."""
    order = np.lexsort((np.arange(len(data.train)), data.train[:, 2], data.train[:, 0]))
    users, items = data.train[order, 0], data.train[order, 1] - data.n_users - 1
    n = len(data.item_nodes)
    counts = np.zeros((n, n))
    for step in range(1, window + 1):
        same = users[step:] == users[:-step]
        np.add.at(counts, (items[:-step][same], items[step:][same]), 1.0)
    recent = np.zeros((data.n_users, n))
    ends = np.flatnonzero(np.r_[users[1:] != users[:-1], True])       # each user's last row
    starts = np.r_[0, ends[:-1] + 1]
    for step in range(window):
        ok = ends - step >= starts
        recent[users[ends[ok]] - 1, items[ends[ok] - step]] = 1.0
    popularity = np.bincount(items, minlength=n)
    scores = recent @ counts + 1e-6 * popularity / max(popularity.max(), 1)
    offset = data.n_users + 1
    return lambda u, i: scores[np.asarray(u) - 1, np.asarray(i) - offset]


def best_transitions(data: RecData) -> tuple[Scorer, int, dict]:
    """Item transitions with the window chosen on the validation split's NDCG@10."""
    scorers = {w: transition_scorer(data, w) for w in TRANSITION_WINDOWS}
    valid = {w: evaluate(s, data, "valid", full=False)["ndcg10"] for w, s in scorers.items()}
    window = max(valid, key=valid.get)
    return scorers[window], window, valid


def _normalized_adjacency(data: RecData) -> tf.SparseTensor:
    """D^-1/2 A D^-1/2 of the undirected user-item training graph over all node ids."""
    u, i = data.train[:, 0], data.train[:, 1]
    rows, cols = np.concatenate([u, i]), np.concatenate([i, u])
    deg = np.bincount(rows, minlength=data.n_nodes).astype(np.float64)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1.0)), 0.0)
    vals = (inv[rows] * inv[cols]).astype(np.float32)
    order = np.lexsort((cols, rows))
    return tf.SparseTensor(np.stack([rows[order], cols[order]], 1).astype(np.int64), vals[order],
                           (data.n_nodes, data.n_nodes))


def fit_bpr(data: RecData, s: BprSettings, desc: str) -> tuple[np.ndarray, dict]:
    """BPR (one sampled negative per positive, Adam, early stopping on valid NDCG@10); returns
    the best epoch's final node table (n_nodes, dim): a pair's score is its rows' dot product."""
    tf.keras.utils.set_random_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    emb = tf.Variable(tf.random.normal((data.n_nodes, s.dim), stddev=0.1, seed=s.seed))
    adj = _normalized_adjacency(data) if s.layers else None
    opt = tf.keras.optimizers.Adam(s.learning_rate)

    def final() -> tf.Tensor:
        if not s.layers:
            return emb
        h, total = emb, emb
        for _ in range(s.layers):
            h = tf.sparse.sparse_dense_matmul(adj, h)
            total = total + h
        return total / (s.layers + 1)

    @tf.function
    def step(u, i, j):
        with tf.GradientTape() as tape:
            e = final()
            eu, ei, ej = tf.gather(e, u), tf.gather(e, i), tf.gather(e, j)
            diff = tf.reduce_sum(eu * (ei - ej), 1)
            base = tf.gather(emb, tf.concat([u, i, j], 0))
            loss = -tf.reduce_mean(tf.math.log_sigmoid(diff)) + s.l2 * tf.reduce_mean(tf.reduce_sum(base ** 2, 1))
        opt.apply_gradients([(tape.gradient(loss, emb), emb)])
        return loss

    best, best_epoch, bad, start = -1.0, 0, 0, time.perf_counter()
    for epoch in progress(range(s.epochs), desc, unit="epoch"):
        order = rng.permutation(len(data.train))
        negs = rng.choice(data.item_nodes, len(order))
        for b in range(0, len(order), s.batch_size):
            idx = order[b:b + s.batch_size]
            step(data.train[idx, 0], data.train[idx, 1], negs[b:b + s.batch_size])
        if (epoch + 1) % 5 and epoch + 1 != s.epochs:
            continue
        table = final().numpy()
        val = evaluate(dot_scorer(table), data, "valid", full=False)["ndcg10"]
        if val > best:
            best, best_epoch, bad, kept = val, epoch + 1, 0, table
        else:
            bad += 1
            if bad >= s.patience_checks:
                break
    return kept, {"dim": s.dim, "layers": s.layers, "best_epoch": best_epoch, "valid_ndcg10": best,
                  "train_seconds": round(time.perf_counter() - start, 2)}


def dot_scorer(table: np.ndarray) -> Scorer:
    """A (user, item) scorer of a node table: the dot product of the pair's rows."""
    return lambda users, items: np.sum(table[np.asarray(users)] * table[np.asarray(items)], 1)


def train_bpr(data: RecData, s: BprSettings, desc: str) -> tuple[Scorer, dict]:
    """``fit_bpr``'s table as a scorer, and its training record."""
    table, info = fit_bpr(data, s, desc)
    return dot_scorer(table), info


def run_baselines(data: RecData, embedding_dim: int, epochs: int = 60, seed: int = 0) -> tuple[dict, dict]:
    """Every baseline's test metrics (and how it was chosen), and its per-user NDCG@10."""
    scorers: dict[str, tuple[Scorer, dict]] = {"popularity": (popularity_scorer(data), {})}
    for dim in sorted({embedding_dim, 64}):
        scorers[f"bpr_mf_{dim}"] = train_bpr(data, bpr_settings(dim, 0, epochs, seed), f"bpr_mf_{dim}")
    start = time.perf_counter()
    ease, lam, valid = best_ease(data)
    scorers["ease"] = (ease, {"lambda": lam, "valid_ndcg10_by_lambda": {str(k): v for k, v in valid.items()},
                              "train_seconds": round(time.perf_counter() - start, 2)})
    scorers["lightgcn_64"] = train_bpr(data, bpr_settings(64, 3, epochs, seed), "lightgcn_64")
    start = time.perf_counter()
    transitions, window, valid = best_transitions(data)
    scorers["transitions"] = (transitions, {"window": window,
                                            "valid_ndcg10_by_window": {str(k): v for k, v in valid.items()},
                                            "train_seconds": round(time.perf_counter() - start, 2)})
    metrics, per_user = {}, {}
    for name, (scorer, info) in scorers.items():
        m = evaluate(scorer, data, "test", full=True, per_user=True)
        per_user[name] = m.pop("per_user_ndcg10")
        metrics[name] = {**m, **info}
    return metrics, per_user
