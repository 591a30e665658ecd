"""Where the node embedding table starts: ``train.embedding_init``.

The ego-graph GNN sees 6 nodes of a request; a BPR-MF (``bpr_mf``) or a 3-layer LightGCN
(``lightgcn``) trained on the whole training graph (the baselines' BPR training, at the design's
embedding size) gives every row all of its interactions. Its table, scaled into the embedding
quantizer's range, is where each float variant trained afresh starts its ``node_embedding``; it
trains on from there (and QAT follows as before), so the hardware is the same.
"""
from __future__ import annotations

import numpy as np

from codesign.config import DesignConfig
from codesign.console import say
from codesign.data.dataset import RecData
from codesign.train.baselines import bpr_settings, dot_scorer, fit_bpr
from codesign.train.evaluate import evaluate


def initial_table(data: RecData, cfg: DesignConfig) -> tuple[np.ndarray | None, dict | None]:
    """The pretrained node table (n_nodes, embedding_dim) and its record, or (None, None) for
    ``train.embedding_init: random`` (Keras' own initializer)."""
    method = cfg.train.embedding_init
    if method == "random":
        return None, None
    dim = cfg.model.embedding_dim
    settings = bpr_settings(dim, 3 if method == "lightgcn" else 0, cfg.train.baselines.epochs, cfg.train.seed)
    table, info = fit_bpr(data, settings, f"embedding init: {method} {dim}")
    test = evaluate(dot_scorer(table), data, "test", full=False)
    # inside the quantizer's range (QAT clips beyond it); a common scale keeps every dot product's ranking
    scale = 0.9 * 2.0 ** cfg.model.quant.embedding_integer / max(float(np.abs(table).max()), 1e-12)
    record = {"method": method, **info, "scale": scale, "table_ndcg10": test["ndcg10"], "table_hr10": test["hr10"]}
    say(f"embedding init: {method} at {dim} dims on the full training graph, "
        f"{info['train_seconds']:.0f} s; its own dot product NDCG@10 {test['ndcg10']:.4f}")
    return (table * scale).astype(np.float32), record
