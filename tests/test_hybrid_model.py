"""The hybrid's direct dot-product terms (``model.embedding_product``, ``model.score_skip``):
wiring, bit-exact fixed-point reference, C simulation and the LoRA head split."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from codesign.fixedpoint import FixedPointModel
from tests.random_models import random_model

DOT = {"embedding_product": True, "score_skip": True}


def test_products_reach_the_score_past_the_mlp():
    model = random_model(model=DOT)
    names = [layer.name for layer in model.layers]
    assert {"embedding_interaction", "embedding_interaction_q", "score_concat"} <= set(names)
    parts = {t.name.split("/")[0] for t in model.get_layer("score_concat").input}
    assert parts == {"fusion0_relu", "interaction_q", "embedding_interaction_q"}
    # the MF term reads the embeddings before any graph layer
    own = {t.name.split("/")[0] for t in model.get_layer("embedding_interaction").input}
    assert own == {"user_embedding_readout", "item_embedding_readout"}
    assert model.get_layer("user_embedding_readout").input.name.startswith("node_embedding")
    # 16-wide hidden layer + 2 x 4 products into the score
    assert model.get_layer("score").kernel.shape == (8 + 4 + 4, 1)
    plain = random_model()
    assert "score_concat" not in [layer.name for layer in plain.layers]


def test_text_variant_has_no_embedding_product():
    names = [layer.name for layer in random_model(model=DOT, variant="text_quant").layers]
    assert "embedding_interaction" not in names and "score_concat" in names


@pytest.mark.parametrize("adjacency", ["static", "dynamic"])
def test_reference_is_bit_exact(adjacency):
    from codesign.vectors.make import corner_inputs, keras_vs_reference, random_inputs
    model = random_model(adjacency, model=DOT)
    fp = FixedPointModel.from_keras(model)
    inputs = random_inputs(fp, 3000, np.random.default_rng(0))
    corners, _ = corner_inputs(fp, inputs)
    for batch in (corners, inputs):
        r = keras_vs_reference(model, fp, batch)
        assert r["mismatches"] == 0, r
    assert {"embedding_interaction", "score_concat", "score"} <= set(r["layers"])


def test_csim_equals_reference(tmp_path):
    from codesign.hls.csim import HlsSettings, run_csim
    from codesign.vectors.make import corner_inputs, random_inputs
    from codesign.vectors.step import on_grid
    model = random_model(model=DOT, scale=1.0)
    fp = FixedPointModel.from_keras(model)
    inputs = random_inputs(fp, 1500, np.random.default_rng(0))
    corners, _ = corner_inputs(fp, inputs)
    inputs = on_grid(fp, {k: np.concatenate([inputs[k], corners[k]]) for k in inputs})
    expected = fp.predict(inputs)
    settings = HlsSettings(io_type="io_parallel", strategy="Latency", reuse_factor=1, backend="Vitis",
                           board="pynq-z2", part="xc7z020clg400-1")
    result, _ = run_csim(model, fp, inputs, expected, tmp_path, settings)
    assert result["samples"] == len(expected) and result["mismatches"] == 0, result


def test_lora_head_split_keeps_the_skip():
    from codesign.train.adapt import split_head
    from codesign.train.lora import add_lora
    adapted = add_lora(random_model(model=DOT, variant="hybrid_float"), ["text_dense", "fusion", "score"], 2, 4.0)
    rng = np.random.default_rng(0)
    x = {"nodes": rng.integers(0, 60, (256, 6)).astype("int32"),
         "tokens": rng.integers(0, 30, (256, 5)).astype("int32")}
    prefix, head = split_head(adapted)
    assert "score_concat" in [layer.name for layer in head.layers]
    np.testing.assert_array_equal(head.predict(prefix.predict(x, verbose=0), verbose=0),
                                  adapted.predict(x, verbose=0))
