"""Flow step ``experiments``: training comparisons no later step needs, after the hardware steps.

The text tower distilled against trained from scratch (all and cold test items, paired 95%
intervals) and LoRA against full fine-tuning. They read the trained ``hybrid_float`` and the
train step's distillation entry, so the hardware steps never wait for them; they stay in the
default flow and in the report (``steps.experiments``).
"""
from __future__ import annotations

import json

from codesign.data.step import load_data
from codesign.flow import Design, register_step
from codesign.train.extras import distill_comparison, lora_report


@register_step("experiments", sections=("data", "model", "train"), after=("train",))
def experiments_step(design: Design) -> dict:
    from codesign.train.step import load_trained, shapes_of
    tcfg = design.cfg.train
    data = load_data(design)
    shapes = shapes_of(data)
    out: dict = {}
    if tcfg.distill.enabled and tcfg.distill.compare:
        report = json.loads((design.path("train") / "metrics.json").read_text()).get("distill", {})
        if "ndcg10_with" in report:
            out["distill"] = distill_comparison(design, data, shapes, load_trained(design, "hybrid_float"), report)
        else:
            out["distill"] = {**report, "skipped": report.get("skipped", "hybrid_float was not distilled")}
    if tcfg.lora.enabled:
        out["lora"] = lora_report(design, data, shapes)
    if not out:
        out["skipped"] = "train.distill.compare and train.lora.enabled are both off"
    design.path("experiments").mkdir(parents=True, exist_ok=True)
    return out
