"""Short model experiments on a design's real split (exploration for issue 11, not part of the flow).

    PYTHONPATH=$PWD python scripts/explore_model.py --out build/default --epochs 6 \
        --set model.score_skip=true --set train.batch_size=4096 [--quant] [--no-distill]

Trains ``hybrid_float`` (and with ``--quant`` its QAT twin) of the design folder's config with
the given overrides and prints validation/test NDCG@10, HR@10 and the seconds it took.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import numpy as np
import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="design folder whose data step is current")
    ap.add_argument("--set", action="append", default=[], help="dotted.key=yaml-value override")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--qat-epochs", type=int, default=None)
    ap.add_argument("--quant", action="store_true", help="also QAT the quantized twin from the float model")
    ap.add_argument("--kind", default="hybrid", choices=("hybrid", "gnn", "text"))
    ap.add_argument("--no-distill", action="store_true")
    ap.add_argument("--save-per-user", default=None, help="npz file for the per-user NDCG@10")
    args = ap.parse_args()

    from codesign.config import parse_config
    from codesign.data.dataset import RecData
    from codesign.models.hybrid import Shapes, build_model, copy_weights_by_name
    from codesign.train.evaluate import evaluate
    from codesign.train.loop import fit, seed_everything

    tree = yaml.safe_load(open(os.path.join(args.out, "design.yaml")))
    for item in args.set:
        key, value = item.split("=", 1)
        node = tree
        *path, last = key.split(".")
        for k in path:
            node = node.setdefault(k, {})
        node[last] = yaml.safe_load(value)
    cfg = parse_config(tree)
    data = RecData(Path(args.out) / "data", cfg.data)
    shapes = Shapes(data.n_nodes, data.vocab_size, data.k, data.node_tokens.shape[1])
    t = cfg.train
    out = {"set": args.set}
    seed_everything(t.seed)
    model = build_model(f"{args.kind}_float", cfg.model, shapes)
    if not args.no_distill and args.kind != "gnn" and t.distill.enabled:
        from codesign.data.movielens import load_movielens
        from codesign.train import teacher
        from codesign.train.distill import distill
        items = load_movielens()
        targets, _ = teacher.embed(teacher.item_texts(items.item_text, items.item_genres), t.distill.teacher)
        distill(model, data, targets, t.distill, t.seed)
    start = time.perf_counter()
    run = fit(model, data, epochs=args.epochs or t.epochs, learning_rate=t.learning_rate,
              batch_size=t.batch_size, negatives=cfg.data.train_negatives, patience=t.patience,
              seed=t.seed, desc="float")
    m = evaluate(model, data, "test", full=False, per_user=True)
    per_user = {"float": m.pop("per_user_ndcg10")}
    out["float"] = {**m, "valid": run["valid_ndcg10"], "best_epoch": run["best_epoch"],
                    "epochs_run": run["epochs_run"], "seconds": round(time.perf_counter() - start, 1),
                    "params": int(model.count_params())}
    if args.quant:
        seed_everything(t.seed)
        qmodel = build_model(f"{args.kind}_quant", cfg.model, shapes)
        copy_weights_by_name(model, qmodel)
        start = time.perf_counter()
        run = fit(qmodel, data, epochs=args.qat_epochs or t.qat_epochs, learning_rate=t.qat_learning_rate,
                  batch_size=t.batch_size, negatives=cfg.data.train_negatives, patience=t.patience,
                  seed=t.seed, desc="quant")
        m = evaluate(qmodel, data, "test", full=False, per_user=True)
        per_user["quant"] = m.pop("per_user_ndcg10")
        out["quant"] = {**m, "valid": run["valid_ndcg10"], "best_epoch": run["best_epoch"],
                        "epochs_run": run["epochs_run"], "seconds": round(time.perf_counter() - start, 1)}
    if args.save_per_user:
        np.savez(args.save_per_user, **per_user)
    print("RESULT", json.dumps(out))


if __name__ == "__main__":
    main()
