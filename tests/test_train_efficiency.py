"""Teacher cache, distillation, LoRA (merge, parameter counts) and their summary entries."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from codesign.config import parse_config
from codesign.data.dataset import RecData
from codesign.data.movielens import load_movielens
from codesign.flow import Design, run_flow
from codesign.models.hybrid import Shapes, build_model
from codesign.train import teacher
from codesign.train.distill import cosine, distill, holdout_split, student
from codesign.train.lora import LoRAQDense, LoRAQEmbedding, add_lora, merge_lora, trainable_count

SHAPES = Shapes(n_nodes=60, vocab_size=30, fanout=2, title_length=8)


def _inputs(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"nodes": rng.integers(0, SHAPES.n_nodes, (n, SHAPES.graph_nodes)).astype("int32"),
            "tokens": rng.integers(0, SHAPES.vocab_size, (n, SHAPES.title_length)).astype("int32")}


def _model(variant: str = "hybrid_quant", fusion=(8, 4)) -> tf.keras.Model:
    cfg = parse_config({"model": {"embedding_dim": 4, "gnn_channels": [4, 4], "token_dim": 6,
                                  "text_dim": 5, "fusion_units": list(fusion)}})
    tf.keras.utils.set_random_seed(1)
    return build_model(variant, cfg.model, SHAPES)


def _train_a_little(model: tf.keras.Model, x: dict) -> None:
    y = (np.random.default_rng(1).random(len(x["nodes"])) > 0.5).astype("float32")
    model.compile(tf.keras.optimizers.Adam(0.05), tf.keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)


@pytest.mark.parametrize("variant", ["hybrid_quant", "hybrid_float"])
def test_lora_merged_equals_unmerged_and_only_adapters_train(variant):
    base = _model(variant)
    x = _inputs(512)
    adapted = add_lora(base, ["text_dense", "fusion"], rank=2, alpha=4.0)
    np.testing.assert_array_equal(adapted.predict(x, verbose=0), base.predict(x, verbose=0))
    frozen = {l.name: [w.numpy().copy() for w in l.weights] for l in adapted.layers}
    _train_a_little(adapted, x)
    out = adapted.predict(x, verbose=0)
    assert np.abs(out - base.predict(x, verbose=0)).max() > 0, "the adapters did not learn anything"
    for layer in adapted.layers:
        if isinstance(layer, LoRAQDense):
            assert [w.name.split("/")[-1].split(":")[0] for w in layer.trainable_weights] == ["lora_a", "lora_b"]
            assert np.abs(layer.lora_b.numpy()).max() > 0
        for w, w0 in zip(layer.weights, frozen[layer.name]):
            if w.trainable and isinstance(layer, LoRAQDense):
                continue
            np.testing.assert_array_equal(w.numpy(), w0)  # base weights never move
    merged = merge_lora(adapted)
    assert not any(isinstance(l, LoRAQDense) for l in merged.layers)
    assert {type(l).__name__ for l in merged.layers if l.name.startswith(("fusion", "text_dense"))} >= {"QDense"}
    np.testing.assert_array_equal(merged.predict(x, verbose=0), out)


def test_lora_trainable_parameter_counts():
    base = _model()
    assert trainable_count(base) == base.count_params()
    adapted = add_lora(base, ["text_dense", "fusion"], rank=3, alpha=6.0)
    # text_dense 6->5; fusion0 (user 4 + item 4 + text 5 + user x item 4)->8; fusion1 8->4
    assert base.get_layer("fusion0").kernel.shape[0] == 17
    expected = 3 * ((6 + 5) + (17 + 8) + (8 + 4))  # rank * (in + out) per adapted layer
    assert trainable_count(adapted) == expected
    assert sorted(l.name for l in adapted.layers if l.trainable_weights) == ["fusion0", "fusion1", "text_dense"]
    with pytest.raises(ValueError, match="match no dense or embedding layer"):
        add_lora(base, ["nothing_like_this"], 2, 4.0)


@pytest.mark.parametrize("variant", ["hybrid_quant", "hybrid_float"])
def test_embedding_lora_merges_into_a_plain_table(variant):
    base = _model(variant)
    x = _inputs(512)
    adapted = add_lora(base, ["node_embedding", "fusion1"], rank=2, alpha=2.0)
    # rank * (rows + dim) for the table, rank * (in + out) for fusion1 (8 -> 4)
    assert trainable_count(adapted) == 2 * (SHAPES.n_nodes + 4) + 2 * (8 + 4)
    np.testing.assert_array_equal(adapted.predict(x, verbose=0), base.predict(x, verbose=0))
    table = base.get_layer("node_embedding").get_weights()[0]
    _train_a_little(adapted, x)
    layer = adapted.get_layer("node_embedding")
    assert isinstance(layer, LoRAQEmbedding)
    np.testing.assert_array_equal(layer.embeddings.numpy(), table)  # the base table never moves
    update = (layer.merged_table() - layer.embeddings).numpy()
    assert np.abs(update).max() > 0 and np.linalg.matrix_rank(update) <= 2
    merged = merge_lora(adapted)
    assert type(merged.get_layer("node_embedding")).__name__ == "QEmbedding"
    np.testing.assert_array_equal(merged.predict(x, verbose=0), adapted.predict(x, verbose=0))


def test_lora_head_split_matches_the_whole_model():
    from codesign.train.adapt import split_head
    adapted = add_lora(_model(), ["text_dense", "fusion"], 2, 4.0)
    x = _inputs(256)
    _train_a_little(adapted, x)
    prefix, head = split_head(adapted)
    np.testing.assert_array_equal(head.predict(prefix.predict(x, verbose=0), verbose=0),
                                  adapted.predict(x, verbose=0))


needs_teacher = pytest.mark.skipif(
    not teacher.available("all-MiniLM-L6-v2"), reason=f"teacher extra not installed: {teacher.INSTALL_HINT}")


@needs_teacher
def test_teacher_cache_invalidates_on_text_and_settings(tmp_path):
    texts = ["Toy Story (1995). Genres: Animation, Children's, Comedy.", "GoldenEye (1995). Genres: Action."]
    first, info = teacher.embed(texts, cache_dir=tmp_path)
    assert first.shape == (2, 384) and not info["cached"]
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1, rtol=1e-5)
    again, info = teacher.embed(texts, cache_dir=tmp_path)
    assert info["cached"]
    np.testing.assert_array_equal(again, first)
    changed, info = teacher.embed([texts[0], "GoldenEye (1995). Genres: Thriller."], cache_dir=tmp_path)
    assert not info["cached"]
    np.testing.assert_allclose(changed[0], first[0], atol=1e-5)
    assert cosine(changed[1:], first[1:])[0] < 0.9999
    raw, info = teacher.embed(texts, normalize=False, cache_dir=tmp_path)
    assert not info["cached"]
    assert len(list(tmp_path.glob("*.npy"))) == 3


def test_teacher_missing_falls_back(monkeypatch, tiny_design):
    from codesign.train.extras import TrainingExtras
    from codesign.train.step import shapes_of
    monkeypatch.setitem(teacher.TEACHERS, "all-MiniLM-L6-v2", "a_package_that_is_not_installed")
    data = RecData(tiny_design.path("data"), tiny_design.cfg.data)
    extras = TrainingExtras(tiny_design, data, shapes_of(data))
    assert extras.targets() is None
    assert "codesign[teacher]" in extras.teacher_info["skipped"]
    assert extras.teacher_info["fallback"] == "text tower trained from scratch"
    model = build_model("hybrid_float", tiny_design.cfg.model, shapes_of(data))
    before = model.get_layer("text_dense").get_weights()[0].copy()
    extras.prepare("hybrid_float", model)
    np.testing.assert_array_equal(model.get_layer("text_dense").get_weights()[0], before)


@needs_teacher
def test_distillation_beats_the_mean_vector_and_trains_the_shared_tower(tiny_design):
    from codesign.train.step import shapes_of
    data = RecData(tiny_design.path("data"), tiny_design.cfg.data)
    items = load_movielens()
    targets, _ = teacher.embed(teacher.item_texts(items.item_text, items.item_genres))
    model = build_model("hybrid_float", tiny_design.cfg.model, shapes_of(data))
    before = model.get_layer("text_dense").get_weights()[0].copy()
    cfg = tiny_design.cfg.train.distill.model_copy(update={"epochs": 15})
    net, report = distill(model, data, targets, cfg, seed=0)
    assert report["cosine_to_teacher"] > report["cosine_mean_baseline"]
    assert not np.array_equal(model.get_layer("text_dense").get_weights()[0], before)
    assert "distill_head" not in [l.name for l in model.layers]
    train, held = holdout_split(len(targets), cfg.holdout, 0)
    assert len(np.intersect1d(train, held)) == 0 and len(train) + len(held) == len(targets)


def test_flow_summary_has_distill_and_lora(tmp_path):
    tree = {"name": "tiny-eff",
            "model": {"embedding_dim": 4, "gnn_channels": [4, 4], "token_dim": 4, "text_dim": 4,
                      "fusion_units": [8]},
            "train": {"epochs": 1, "qat_epochs": 1, "batch_size": 8192, "variants": ["hybrid_quant"],
                      "hybrid_from_gnn": True, "grow_frozen": True,
                      "distill": {"epochs": 5}, "lora": {"base_epochs": 1, "epochs": 1, "negatives": 2,
                                                          "also": [{"targets": ["node_embedding"]}]}}}
    design = Design(tmp_path, parse_config(tree))
    summary = run_flow(design, ["data", "train", "experiments"], log=lambda *_: None)
    train, experiments = summary["steps"]["train"], summary["steps"]["experiments"]
    assert "lora" not in train   # the comparisons run after the hardware steps
    lora = experiments["lora"]
    assert "2 sampled negatives per positive" in lora["task"]     # lora.negatives, not data.train_negatives
    for key in ("time_ratio", "ndcg10_ratio", "trainable_ratio"):
        assert isinstance(lora[key], float) and lora[key] > 0
    assert lora["merge_max_abs_diff"] == 0.0
    assert lora["lora"]["trainable"] < lora["full"]["trainable"] == train["models"]["hybrid_quant"]["params"]
    # the hybrid grew from the GNN-only twin, which trained first and is kept for the experiments
    assert (tmp_path / "train" / "gnn_float.keras").is_file()
    # hybrid_quant grew from gnn_quant (its GNN kept as it is) with hybrid_float's text tower
    from codesign.models.modelfile import load_model_file, package_classes
    saved = {v: load_model_file(tmp_path / "train" / f"{v}.keras", package_classes())
             for v in ("gnn_quant", "hybrid_quant")}
    for name in ("node_embedding", "gcn0", "gcn1"):
        for mine, theirs in zip(saved["hybrid_quant"].get_layer(name).get_weights(),
                                saved["gnn_quant"].get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    assert train["models"]["hybrid_quant"]["train_seconds"] > train["models"]["hybrid_quant"]["own_train_seconds"]
    also = {tuple(run["targets"]): run for run in lora["also"]}
    assert ("node_embedding",) in also and not also[("node_embedding",)]["cache_frozen"]
    assert also[("node_embedding",)]["merge_max_abs_diff"] == 0.0
    page = (tmp_path / "report.html").read_text()
    assert "LoRA against full fine-tuning" in page and "LoRA r=4 on node_embedding" in page
    distill_ = experiments["distill"]
    if teacher.available("all-MiniLM-L6-v2"):
        for key in ("ndcg10_with", "ndcg10_without", "cosine_to_teacher"):
            assert isinstance(distill_[key], float)
        lo, hi = distill_["with_minus_without"]["ci95"]
        assert lo <= distill_["with_minus_without"]["mean"] <= hi
        assert "Distilled minus from scratch" in page
        assert "ndcg10_without" not in train["distill"]
    else:
        assert "skipped" in distill_
