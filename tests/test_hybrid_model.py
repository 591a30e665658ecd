"""The hybrid's direct dot-product terms (``model.embedding_product``, ``model.score_skip``):
wiring, bit-exact fixed-point reference, C simulation and the LoRA head split."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from codesign.fixedpoint import FixedPointModel
from tests.random_models import random_model

DOT = {"embedding_product": True, "score_skip": True}
TEXT = {**DOT, "text_product": "gnn"}


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


@pytest.mark.parametrize("adjacency, extra, layer", [
    ("static", {}, "embedding_interaction"), ("dynamic", {}, "embedding_interaction"),
    ("static", {"text_product": "embedding"}, "text_interaction"),
    ("static", {"text_product": "gnn"}, "text_interaction")])
def test_reference_is_bit_exact(adjacency, extra, layer):
    from codesign.vectors.make import corner_inputs, keras_vs_reference, random_inputs
    model = random_model(adjacency, model={**DOT, **extra})
    fp = FixedPointModel.from_keras(model)
    inputs = random_inputs(fp, 3000, np.random.default_rng(0))
    corners, _ = corner_inputs(fp, inputs)
    for batch in (corners, inputs):
        r = keras_vs_reference(model, fp, batch)
        assert r["mismatches"] == 0, r
    assert {layer, "score_concat", "score"} <= set(r["layers"])


@pytest.mark.parametrize("config", ["products", "text_product"])
def test_csim_equals_reference(tmp_path, config):
    from codesign.hls.csim import HlsSettings, run_csim
    from codesign.vectors.make import corner_inputs, random_inputs
    from codesign.vectors.step import on_grid
    model = random_model(model=DOT if config == "products" else TEXT, scale=1.0)
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



@pytest.mark.parametrize("side", ["embedding", "gnn"])
def test_text_product_reaches_the_score(side):
    model = random_model(model={**DOT, "text_product": side})
    parts = {t.name.split("/")[0] for t in model.get_layer("score_concat").input}
    assert parts == {"fusion0_relu", "interaction_q", "embedding_interaction_q", "text_interaction_q"}
    user = {"embedding": "user_text_readout", "gnn": "user_readout"}[side]
    assert {t.name.split("/")[0] for t in model.get_layer("text_interaction").input} == {user, "text_relu"}
    assert model.get_layer("score").kernel.shape == (8 + 3 * 4, 1)
    # GNN-only and text-only variants have no title product (the text variant's own
    # interaction already is user x title)
    for variant in ("gnn_quant", "text_quant"):
        names = [layer.name for layer in random_model(model=TEXT, variant=variant).layers]
        assert "text_interaction" not in names


def test_text_product_needs_equal_widths():
    with pytest.raises(ValueError, match="model.text_dim"):
        random_model(model={**TEXT, "text_dim": 3})


def test_lora_head_split_recomputes_the_text_product():
    """The title product reads text_relu, whose text_dense carries an adapter: the head must
    recompute it (a prefix-computed product would be stale once the adapter has moved)."""
    from codesign.train.adapt import adapters_in_head, split_head
    from codesign.train.lora import add_lora
    adapted = add_lora(random_model(model=TEXT, variant="hybrid_float"), ["text_dense", "fusion", "score"], 2, 4.0)
    rng = np.random.default_rng(0)
    for layer in adapted.layers:   # adapters away from their zero start
        for w in layer.trainable_weights:
            w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))
    x = {"nodes": rng.integers(0, 60, (256, 6)).astype("int32"),
         "tokens": rng.integers(0, 30, (256, 5)).astype("int32")}
    assert adapters_in_head(adapted)
    prefix, head = split_head(adapted)
    assert {"text_dense", "text_interaction", "score_concat"} <= {layer.name for layer in head.layers}
    np.testing.assert_array_equal(head.predict(prefix.predict(x, verbose=0), verbose=0),
                                  adapted.predict(x, verbose=0))


@pytest.mark.parametrize("variant", ["hybrid_float", "hybrid_quant"])
def test_hybrid_grown_from_the_gnn_starts_as_the_gnn(variant):
    """grow_weights: the GNN's weights, zero fusion rows for the text block, so the hybrid
    starts out scoring exactly like the GNN-only model; the text tower keeps its own weights."""
    from codesign.models.hybrid import grow_weights
    gnn = random_model(model=TEXT, variant=variant.replace("hybrid", "gnn"), scale=0.5)
    hybrid = random_model(model=TEXT, variant=variant, seed=2)
    text_before = hybrid.get_layer("text_dense").get_weights()[0].copy()
    copied, grown = grow_weights(gnn, hybrid)
    assert set(grown) == {"fusion0", "score"}   # new text block, new text product block
    assert len(copied) + len(grown) == sum(1 for layer in gnn.layers if layer.get_weights())
    kernel = hybrid.get_layer("fusion0").get_weights()[0]
    blocks = [t.name.split("/")[0] for t in hybrid.get_layer("fusion_concat").input]
    text_rows = slice(4 * blocks.index("text_relu"), 4 * blocks.index("text_relu") + 4)
    assert not kernel[text_rows].any() and kernel.any()
    np.testing.assert_array_equal(hybrid.get_layer("text_dense").get_weights()[0], text_before)
    rng = np.random.default_rng(0)
    x = {"nodes": rng.integers(0, 60, (512, 6)).astype("int32"),
         "tokens": rng.integers(0, 30, (512, 5)).astype("int32")}
    np.testing.assert_allclose(hybrid.predict(x, verbose=0), gnn.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_grow_weights_refuses_mismatched_layers():
    from codesign.models.hybrid import grow_weights
    small = random_model(model={"fusion_units": [6]}, variant="gnn_float")
    with pytest.raises(ValueError, match="fusion0"):
        grow_weights(small, random_model(variant="hybrid_float"))


@pytest.mark.parametrize("freeze", [True, False])
def test_start_from_gnn_freezes_only_what_it_took_over(freeze):
    from codesign.train.loop import start_from_gnn
    gnn = random_model(model=DOT, variant="gnn_float", scale=0.3)
    hybrid = random_model(model=DOT, variant="hybrid_float", seed=2, scale=0.3)
    frozen = start_from_gnn(hybrid, gnn, freeze)
    names = {layer.name for layer in frozen}
    assert names == ({"node_embedding", "gcn0", "gcn1", "score"} if freeze else set())
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in hybrid.layers}
    rng = np.random.default_rng(0)
    x = {"nodes": rng.integers(0, 60, (512, 6)).astype("int32"),
         "tokens": rng.integers(1, 30, (512, 5)).astype("int32")}
    hybrid.compile(tf.keras.optimizers.Adam(0.05), tf.keras.losses.BinaryCrossentropy(from_logits=True))
    hybrid.fit(x, (rng.random(512) > 0.5).astype("float32"), batch_size=64, epochs=2, verbose=0)
    for layer in hybrid.layers:
        moved = any(not np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights()))
        if layer.name in names:
            assert not moved, layer.name
        elif layer.name in ("fusion0", "text_dense", "token_embedding"):
            assert moved, layer.name
