"""Training one model: sampled-negative BCE, early stopping on validation NDCG@10."""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from codesign.console import Progress
from codesign.data.dataset import RecData
from codesign.train.evaluate import evaluate


STEPS_PER_EXECUTION = 32


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow, and makes TensorFlow's ops deterministic."""
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def fit(model: tf.keras.Model, data: RecData, *, epochs: int, learning_rate: float,
        batch_size: int, negatives: int, patience: int, seed: int, desc: str) -> dict:
    """Trains ``model`` in place and restores its best epoch; returns the history."""
    dynamic = any(i.name.startswith("adjacency") for i in model.inputs)
    # several steps per call of the traced train function: the model is tiny, so Python's
    # per-step overhead dominates (same updates, same numbers; ~2x faster epochs measured)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate),
                  loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
                  steps_per_execution=STEPS_PER_EXECUTION)
    rng = np.random.default_rng(seed)
    best, best_epoch, best_weights, history = -1.0, -1, None, []
    start = time.perf_counter()
    bar = Progress(epochs, f"train {desc}", unit="epoch")
    for epoch in range(epochs):
        x, y = data.training_epoch(rng, negatives, dynamic)
        loss = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0).history["loss"][-1]
        val = evaluate(model, data, "valid", full=False)["ndcg10"]
        history.append({"epoch": epoch, "loss": float(loss), "valid_ndcg10": val})
        if val > best:
            best, best_epoch, best_weights = val, epoch, model.get_weights()
        bar.note(f"loss {loss:.4f}, valid NDCG@10 {val:.4f} (best {best:.4f})")
        bar.update()
        if epoch - best_epoch >= patience:
            break
    bar.close()
    model.set_weights(best_weights)
    return {"seconds": time.perf_counter() - start, "best_epoch": best_epoch,
            "valid_ndcg10": best, "epochs_run": len(history), "history": history}


def start_from_gnn(model: tf.keras.Model, gnn: tf.keras.Model, freeze: bool) -> list[tf.keras.layers.Layer]:
    """Starts a hybrid ``model`` from its trained GNN-only twin (``grow_weights``); with
    ``freeze``, the layers taken over unchanged are frozen. Returns the frozen layers (set them
    trainable again after training)."""
    from codesign.models.hybrid import grow_weights
    kept, _ = grow_weights(gnn, model)
    frozen = [model.get_layer(name) for name in kept] if freeze else []
    for layer in frozen:
        layer.trainable = False
    return frozen
