"""Small quantized models with random weights, for the reference and HLS tests."""
from __future__ import annotations

import numpy as np

from codesign.config import parse_config
from codesign.models.hybrid import Shapes, build_model


def random_model(adjacency: str = "static", scale: float = 0.6, seed: int = 1, variant: str = "hybrid_quant",
                 model: dict | None = None, fanout: int = 2, title_length: int = 5,
                 n_nodes: int = 60, vocab: int = 30):
    """``build_model`` on a small config (overridable) with normal(0, scale) weights."""
    tree = {"adjacency": adjacency, "embedding_dim": 4, "gnn_channels": [4, 4], "token_dim": 4,
            "text_dim": 4, "fusion_units": [8], **(model or {})}
    cfg = parse_config({"model": tree})
    keras_model = build_model(variant, cfg.model, Shapes(n_nodes, vocab, fanout, title_length))
    rng = np.random.default_rng(seed)
    for layer in keras_model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, scale, w.shape).astype("float32") for w in layer.get_weights()])
    return keras_model
