"""Distillation of the text tower from the teacher's title embeddings.

The student is the recommender's own text tower (``token_embedding`` -> ``title_pool`` ->
``title_pool_q`` -> ``text_dense`` -> ``text_relu``) followed by a float projection head to the
teacher's width, used only here: the head is dropped afterwards and never reaches hardware.
Loss: 1 - cosine(head(student(tokens)), teacher). A share of the items is held out and the
cosine on those is the report. The tower's layers are shared with the recommender, so
distilling trains the recommender's text tower in place, before recommendation training.
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from codesign.config import DistillConfig
from codesign.data.dataset import RecData

TOWER = ("token_embedding", "title_pool", "title_pool_q", "text_dense", "text_relu")


def has_text_tower(model: tf.keras.Model) -> bool:
    return all(any(l.name == n for l in model.layers) for n in TOWER)


def student(model: tf.keras.Model, teacher_dim: int) -> tf.keras.Model:
    """tokens -> the model's text tower (shared layers) -> a fresh projection head."""
    tokens = tf.keras.Input(model.get_layer("title_pool").input[1].shape[1:], dtype="int32", name="tokens")
    t = model.get_layer("token_embedding")(tokens)
    t = model.get_layer("title_pool")([t, tokens])
    for name in TOWER[2:]:
        t = model.get_layer(name)(t)
    head = tf.keras.layers.Dense(teacher_dim, name="distill_head")(t)
    return tf.keras.Model(tokens, head, name="text_student")


def holdout_split(n_items: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) item indices, a fixed random share held out."""
    order = np.random.default_rng(seed).permutation(n_items)
    n_held = max(1, int(round(share * n_items)))
    return np.sort(order[n_held:]), np.sort(order[:n_held])


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(1)


def distill(model: tf.keras.Model, data: RecData, targets: np.ndarray, cfg: DistillConfig,
            seed: int) -> tuple[tf.keras.Model, dict]:
    """Trains ``model``'s text tower towards ``targets`` (n_items, dim); returns (student, report)."""
    tokens = data.node_tokens[data.item_nodes]
    train, held = holdout_split(len(tokens), cfg.holdout, seed)
    net = student(model, targets.shape[1])
    net.compile(optimizer=tf.keras.optimizers.Adam(cfg.learning_rate), loss=tf.keras.losses.CosineSimilarity())
    start = time.perf_counter()
    tf.keras.utils.set_random_seed(seed)
    net.fit(tokens[train], targets[train], batch_size=128, epochs=cfg.epochs, shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    report = {"seconds": round(seconds, 2), "epochs": cfg.epochs, "train_items": int(len(train)),
              "heldout_items": int(len(held)),
              **cosine_report(net, tokens, targets, train, held)}
    return net, report


def cosine_report(net: tf.keras.Model, tokens: np.ndarray, targets: np.ndarray,
                  train: np.ndarray, held: np.ndarray) -> dict:
    """Mean cosine to the teacher on held-out and training titles, and a trivial baseline.

    The baseline predicts the mean teacher vector of the training titles for every title:
    a student has learned something only where it beats that.
    """
    pred = net.predict(tokens, batch_size=4096, verbose=0)
    mean = np.repeat(targets[train].mean(0, keepdims=True), len(held), axis=0)
    return {"cosine_to_teacher": float(cosine(pred[held], targets[held]).mean()),
            "cosine_train_items": float(cosine(pred[train], targets[train]).mean()),
            "cosine_mean_baseline": float(cosine(mean, targets[held]).mean())}


def cold_rows(data: RecData, threshold: int, split: str = "test") -> np.ndarray:
    """Rows of the split whose held-out item has at most ``threshold`` training interactions."""
    counts = np.bincount(data.train[:, 1], minlength=data.n_nodes)
    held = data.test if split == "test" else data.valid
    return np.flatnonzero(counts[held[:, 1]] <= threshold)
