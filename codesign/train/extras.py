"""The training-efficiency parts of the flow: distillation and the LoRA comparison.

``TrainingExtras.prepare`` is called on every freshly built model before it trains (it
distills the text tower when the design asks for it and the teacher is installed);
``TrainingExtras.report`` returns ``{"distill": ...}`` for ``steps.train`` of the summary.
The comparisons no later step needs (the tower trained from scratch, LoRA against full
fine-tuning) run in the ``experiments`` step after the hardware steps:
``distill_comparison`` and ``lora_report``.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from codesign.console import say
from codesign.data.dataset import RecData
from codesign.data.movielens import load_movielens
from codesign.flow import Design
from codesign.metrics import paired_difference
from codesign.models.hybrid import build_model, split_variant
from codesign.train import teacher
from codesign.train.distill import cold_rows, cosine_report, distill, has_text_tower, holdout_split
from codesign.train.evaluate import evaluate
from codesign.train.loop import fit, seed_everything, start_from_gnn


class TrainingExtras:
    def __init__(self, design: Design, data: RecData, shapes):
        self.design, self.data, self.shapes = design, data, shapes
        self.cfg = design.cfg.train
        self._targets: np.ndarray | None = None
        self.teacher_info: dict = {}
        self.students: dict[str, tuple[tf.keras.Model, tf.keras.Model, dict]] = {}

    def targets(self) -> np.ndarray | None:
        """Teacher embeddings of every item (cached), or None when the teacher is missing."""
        if self._targets is None and not self.teacher_info:
            items = load_movielens()
            texts = teacher.item_texts(items.item_text, items.item_genres)
            try:
                self._targets, self.teacher_info = teacher.embed(texts, self.cfg.distill.teacher)
            except teacher.TeacherUnavailable as err:
                say(f"distillation skipped: {err}; the text tower trains from scratch")
                self.teacher_info = {"skipped": str(err), "fallback": "text tower trained from scratch"}
        return self._targets

    def prepare(self, variant: str, model: tf.keras.Model) -> None:
        """Distills ``model``'s text tower unless it is off, absent, or copied from a float twin."""
        _, quantized = split_variant(variant)
        if (not self.cfg.distill.enabled or not has_text_tower(model)
                or (quantized and self.cfg.qat_from_float)):
            return
        targets = self.targets()
        if targets is None:
            return
        net, report = distill(model, self.data, targets, self.cfg.distill, self.cfg.seed)
        say(f"{variant}: distilled text tower, held-out cosine to teacher "
            f"{report['cosine_to_teacher']:.3f} (mean-vector baseline {report['cosine_mean_baseline']:.3f})")
        self.students[variant] = (model, net, report)

    def report(self) -> dict:
        return {"distill": self._distill_report()} if self.cfg.distill.enabled else {}

    def _distill_report(self) -> dict:
        dcfg = self.cfg.distill
        out = {"teacher": dcfg.teacher, **self.teacher_info, "cold_threshold": dcfg.cold_threshold}
        if "hybrid_float" not in self.students:
            out.setdefault("skipped", "hybrid_float was not distilled (no teacher or not trained)")
            return out
        model, net, report = self.students["hybrid_float"]
        cold = cold_rows(self.data, dcfg.cold_threshold)
        tokens = self.data.node_tokens[self.data.item_nodes]
        train, held = holdout_split(len(tokens), dcfg.holdout, self.cfg.seed)
        after = cosine_report(net, tokens, self._targets, train, held)
        out.update(report)
        out["cosine_after_recommendation_training"] = after["cosine_to_teacher"]
        out["cold_test_users"] = int(len(cold))
        with_ = _scores(model, self.data, cold)
        out.update({"compared_variant": "hybrid_float", "ndcg10_with": with_["ndcg10"],
                    "ndcg10_full_with": with_["ndcg10_full"], "cold_ndcg10_with": with_["cold_ndcg10"],
                    "cold_ndcg10_full_with": with_["cold_ndcg10_full"]})
        return out


def distill_comparison(design: Design, data: RecData, shapes, distilled: tf.keras.Model,
                       report: dict) -> dict:
    """``report`` (the train step's distillation entry) plus hybrid_float trained from scratch:
    NDCG@10 with/without on all and on cold test items, each with its paired 95% interval."""
    tcfg, dcfg = design.cfg.train, design.cfg.train.distill
    out = dict(report)
    if "ndcg10_with" not in out:
        return out
    cold = cold_rows(data, dcfg.cold_threshold)
    with_users = evaluate(distilled, data, "test", full=False, per_user=True)["per_user_ndcg10"]
    model = _train_without(design, data, shapes)
    without = _scores(model, data, cold)
    without_users = evaluate(model, data, "test", full=False, per_user=True)["per_user_ndcg10"]
    out.update({"ndcg10_without": without["ndcg10"], "ndcg10_full_without": without["ndcg10_full"],
                "cold_ndcg10_without": without["cold_ndcg10"],
                "cold_ndcg10_full_without": without["cold_ndcg10_full"],
                "with_minus_without": paired_difference(with_users, without_users, seed=tcfg.seed)})
    if len(cold):
        out["cold_with_minus_without"] = paired_difference(with_users[cold], without_users[cold], seed=tcfg.seed)
    say(f"distillation: NDCG@10 {out['ndcg10_with']:.4f} with, {out['ndcg10_without']:.4f} "
          f"without; cold items {out['cold_ndcg10_with']:.4f} with, {out['cold_ndcg10_without']:.4f} without")
    return out


def lora_report(design: Design, data: RecData, shapes) -> dict:
    """LoRA against full fine-tuning on the temporal adaptation task (``train.lora``)."""
    from codesign.train.adapt import lora_experiment
    lora = lora_experiment(design, data, shapes)
    for run in [lora["lora"]] + lora["also"]:
        say(f"LoRA on {'+'.join(run['targets'])} vs full fine-tuning: time ratio {run['time_ratio']:.3f}, "
              f"trainable ratio {run['trainable_ratio']:.4f}, NDCG@10 ratio {run['ndcg10_ratio']:.3f}")
    return lora


def _train_without(design: Design, data: RecData, shapes) -> tf.keras.Model:
    """hybrid_float trained exactly like the main one, but from a text tower at random."""
    cfg, tcfg = design.cfg, design.cfg.train
    seed_everything(tcfg.seed)
    model = build_model("hybrid_float", cfg.model, shapes)
    frozen = []
    if tcfg.hybrid_from_gnn:   # from the same trained GNN-only twin as the main one
        from codesign.train.step import load_trained
        frozen = start_from_gnn(model, load_trained(design, "gnn_float"), tcfg.grow_frozen)
    fit(model, data, epochs=tcfg.epochs, learning_rate=tcfg.learning_rate,
        batch_size=tcfg.batch_size, negatives=cfg.data.train_negatives, patience=tcfg.patience,
        seed=tcfg.seed, desc="hybrid_float (no distillation)")
    for layer in frozen:
        layer.trainable = True
    return model


def _scores(model: tf.keras.Model, data: RecData, cold: np.ndarray) -> dict:
    overall = evaluate(model, data, "test", full=True)
    out = {"ndcg10": overall["ndcg10"], "ndcg10_full": overall["ndcg10_full"],
           "cold_ndcg10": None, "cold_ndcg10_full": None}
    if len(cold):
        c = evaluate(model, data, "test", full=True, users=cold)
        out.update(cold_ndcg10=c["ndcg10"], cold_ndcg10_full=c["ndcg10_full"])
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in out.items()}
