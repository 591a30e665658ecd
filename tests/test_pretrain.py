"""train.embedding_init: the node table starts from a full-graph LightGCN of the design's size."""
import numpy as np
import pytest

from codesign.data.step import load_data
from codesign.flow import Design
from codesign.train.baselines import dot_scorer
from codesign.train.evaluate import evaluate
from codesign.train.pretrain import initial_table
from codesign.train.step import train_variants


def test_random_init_is_keras_own(tiny_design):
    assert initial_table(load_data(tiny_design), tiny_design.cfg) == (None, None)


def test_fresh_float_variants_start_from_the_lightgcn_table(tiny_design, tmp_path):
    data = load_data(tiny_design)
    cfg = tiny_design.cfg.model_copy(deep=True)
    cfg.train.embedding_init, cfg.train.baselines.epochs = "lightgcn", 5
    table, record = initial_table(data, cfg)
    assert table.shape == (data.n_nodes, cfg.model.embedding_dim) and table.dtype == np.float32
    # scaled into the 8-bit embedding quantizer's range (embedding_integer 0), ranking unchanged
    assert np.abs(table).max() == pytest.approx(0.9)
    assert record["method"] == "lightgcn" and record["layers"] == 3
    assert evaluate(dot_scorer(table), data, "test", full=False)["ndcg10"] == pytest.approx(record["table_ndcg10"], abs=1e-3)

    started = {}

    def note(variant, model):
        started[variant] = model.get_layer("node_embedding").get_weights()[0].copy()

    models, _ = train_variants(Design(tmp_path / "twin", cfg), data, ["hybrid_quant", "text_quant"],
                               prepare=note, init=(table, record))
    assert set(started) == {"hybrid_float", "hybrid_quant", "text_float", "text_quant"}
    for variant in ("hybrid_float", "text_float"):        # trained afresh: from the table
        np.testing.assert_array_equal(started[variant], table)
    for variant in ("hybrid_quant", "text_quant"):        # QAT: from the float twin, not the table
        assert not np.array_equal(started[variant], table)
    # the table's training counts in the variants' training time
    assert models["hybrid_quant"]["train_seconds"] >= record["train_seconds"] + models["hybrid_quant"]["own_train_seconds"]
