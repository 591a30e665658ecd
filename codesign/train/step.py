"""Flow step ``train``: every model variant, float first, then QAT from the float twin."""
from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from codesign.console import say
from codesign.data.dataset import RecData
from codesign.data.step import load_data
from codesign.flow import Design, register_step, write_json
from codesign.metrics import paired_difference
from codesign.models.hybrid import Shapes, build_model, copy_weights_by_name, split_variant
from codesign.train.baselines import run_baselines
from codesign.train.evaluate import evaluate, popularity_scorer
from codesign.train.loop import fit, seed_everything, start_from_gnn
from codesign.train.plots import plot_curves


def shapes_of(data: RecData) -> Shapes:
    return Shapes(data.n_nodes, data.vocab_size, data.k, data.node_tokens.shape[1])


def train_variants(design: Design, data: RecData, variants: list[str], prepare=None,
                   init: tuple[np.ndarray | None, dict | None] = (None, None)) -> tuple[dict, dict]:
    """Trains the variants (and the float twins their QAT starts from); returns metrics.

    ``prepare(variant, model)``, when given, runs on each new model before it trains. ``init``
    (``pretrain.initial_table``): the node table every float variant trained afresh starts from.
    """
    cfg, tcfg = design.cfg, design.cfg.train
    models: dict[str, tf.keras.Model] = {}
    runs: dict[str, dict] = {}

    def train(variant: str) -> None:
        if variant in models:
            return
        kind, quantized = split_variant(variant)
        grow = kind == "hybrid" and tcfg.hybrid_from_gnn
        twin = "gnn_quant" if quantized else "gnn_float"
        if grow:
            train(twin)
        seed_everything(tcfg.seed)
        model = build_model(variant, cfg.model, shapes_of(data))
        epochs, lr = tcfg.epochs, tcfg.learning_rate
        pretrain, frozen = 0.0, []
        table, record = init
        if table is not None and not grow and not (quantized and tcfg.qat_from_float):
            model.get_layer("node_embedding").set_weights([table])
            pretrain = record["train_seconds"]
        if prepare is not None:
            prepare(variant, model)
        if grow:
            # the GNN-only twin plus a text tower (its rows in the fusion start at zero): the
            # text's gain is measured on the same GNN, and the hybrid converges in a few epochs.
            # hybrid_quant grows from gnn_quant, its text tower from hybrid_float's: the GNN is
            # not quantization-trained a second time, apart from the GNN-only one
            frozen = start_from_gnn(model, models[twin], tcfg.grow_frozen)
            pretrain = runs[twin]["total_seconds"]
        if quantized and tcfg.qat_from_float:
            train(f"{kind}_float")
            if grow:
                text_layers = {layer.name for layer in model.layers} - {layer.name for layer in models[twin].layers}
                copy_weights_by_name(models[f"{kind}_float"], model, only=text_layers)
                pretrain += runs[f"{kind}_float"]["seconds"]
            else:
                copy_weights_by_name(models[f"{kind}_float"], model)
                pretrain = runs[f"{kind}_float"]["total_seconds"]
            epochs, lr = tcfg.qat_epochs, tcfg.qat_learning_rate
        run = fit(model, data, epochs=epochs, learning_rate=lr, batch_size=tcfg.batch_size,
                  negatives=cfg.data.train_negatives, patience=tcfg.patience, seed=tcfg.seed,
                  desc=variant)
        for layer in frozen:
            layer.trainable = True
        run["total_seconds"] = run["seconds"] + pretrain
        models[variant], runs[variant] = model, run

    design.path("train").mkdir(parents=True, exist_ok=True)
    out, per_user = {}, {}
    for variant in variants:
        train(variant)
        model = models[variant]
        metrics = evaluate(model, data, "test", full=True, per_user=True)
        per_user[variant] = metrics.pop("per_user_ndcg10")
        run = runs[variant]
        out[variant] = {**metrics, "params": int(model.count_params()),
                        "train_seconds": round(run["total_seconds"], 2),
                        "own_train_seconds": round(run["seconds"], 2),
                        "best_epoch": run["best_epoch"], "epochs_run": run["epochs_run"],
                        "valid_ndcg10": run["valid_ndcg10"]}
        model.save(design.path("train") / f"{variant}.keras")
        write_json(design.path("train") / f"{variant}.history.json", {"history": run["history"]})
        say(f"{variant}: NDCG@10 {metrics['ndcg10']:.4f}  HR@10 {metrics['hr10']:.4f}  "
            f"full NDCG@10 {metrics['ndcg10_full']:.4f}")
    for variant, model in models.items():   # the float twins too (the experiments step reads them)
        if variant not in variants:
            model.save(design.path("train") / f"{variant}.keras")
    return out, per_user


def paired_comparisons(per_user: dict[str, np.ndarray], base: str = "hybrid_quant") -> dict:
    """Per-user NDCG@10 differences of ``base`` against every other variant (95% bootstrap)."""
    if base not in per_user:
        return {}
    return {f"{base}_minus_{v}": paired_difference(per_user[base], per_user[v])
            for v in per_user if v != base}


def baseline_scores(design: Design, data: RecData) -> tuple[dict, dict]:
    """The baselines' test metrics and per-user NDCG@10 (popularity alone when
    ``train.baselines`` is off), trained with the design's ``train.seed``."""
    bcfg = design.cfg.train.baselines
    if bcfg.enabled:
        return run_baselines(data, design.cfg.model.embedding_dim, bcfg.epochs, design.cfg.train.seed)
    popularity = evaluate(popularity_scorer(data), data, "test", full=True, per_user=True)
    per_user = popularity.pop("per_user_ndcg10")
    return {"popularity": popularity}, {"popularity": per_user}


def _own_model_changed(design: Design, result: dict) -> str | None:
    from codesign.hls.byom import own_model_changed
    return own_model_changed(design)


@register_step("train", sections=("model", "train"), after=("data",), recheck=_own_model_changed)
def train_step(design: Design) -> dict:
    if design.cfg.model_file:      # a model of your own: copied in (its hash keys the later steps)
        from codesign.hls.byom import take_own_model
        return take_own_model(design)
    from codesign.train.extras import TrainingExtras  # distillation, LoRA (issue 5)
    from codesign.train.pretrain import initial_table
    data = load_data(design)
    extras = TrainingExtras(design, data, shapes_of(data))
    init = initial_table(data, design.cfg)
    models, per_user = train_variants(design, data, list(design.cfg.train.variants), prepare=extras.prepare,
                                      init=init)
    baselines, baseline_per_user = baseline_scores(design, data)
    np.savez(design.path("train") / "per_user_ndcg10.npz", **per_user,
             **{f"baseline_{k}": v for k, v in baseline_per_user.items()})
    comparisons = paired_comparisons({**per_user, **baseline_per_user})
    result = {"models": models, "paired_ndcg10": comparisons, "baselines": baselines,
              "embedding_init": init[1] or {"method": "random"},
              "sequential_neighbours": design.cfg.data.sequential_neighbours, "fanout": data.k,
              "title_match": design.cfg.data.title_match, "title_match_levels": design.cfg.data.title_match_levels,
              **extras.report()}
    write_json(design.path("train") / "metrics.json", result)
    plot_curves({v: json.loads((design.path("train") / f"{v}.history.json").read_text())["history"]
                 for v in models}, design.path("train") / "curves.png")
    return result


# the comparisons after the hardware steps (distillation vs from scratch, LoRA): their own step
import codesign.train.experiments  # noqa: E402,F401  (registers the ``experiments`` step)


def load_trained(design: Design, variant: str = "hybrid_quant") -> tf.keras.Model:
    """A trained variant of a design (the ``train`` step must be current); a design of a model of
    your own (``model_file``) gives that model, whatever the variant."""
    if design.cfg.model_file:
        from codesign.hls.byom import load_own_model
        return load_own_model(design)
    path = design.path("train") / f"{variant}.keras"
    if not design.is_current("train") or not path.is_file():
        raise RuntimeError(f"no current trained model {path}: run "
                           f"'codesign flow --out {design.folder} --steps data,train' first")
    from codesign.models.modelfile import load_model_file, package_classes
    return load_model_file(path, package_classes())
