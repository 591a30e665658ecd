"""``python -m codesign.train.textsignal --out DESIGN_FOLDER``: how much the titles could still add.

An upper-bound check for the text tower (issue 11). A title-overlap score, the cosine between the
candidate's bag of title tokens (words, year, genre tags) and the mean bag of the user's last k
training items (the ego-graph's user neighbours), is late-fused with a trained variant's score:
``z(model) + w * z(overlap)`` per user's candidate list, ``w`` chosen on the validation split.
Prints and writes ``train/text_signal.json``: NDCG@10 of the model, the overlap alone and the
fusion, and the paired 95% interval of the fusion minus the model. An interval above 0 means the
titles carry a signal the model misses.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from codesign.data.dataset import RecData, title_counts
from codesign.metrics import interval_verdict, ndcg, paired_difference
from codesign.train.evaluate import Scorer, candidate_items, candidate_scores

WEIGHTS = tuple(np.round(np.arange(0.0, 1.0001, 0.05), 2))


def token_bags(data: RecData, nodes: np.ndarray) -> np.ndarray:
    """Multi-hot (len(nodes), vocab) rows of the nodes' title tokens (padding and unknown left out)."""
    return title_counts(data.node_tokens, nodes[:, None], data.title_vocab).astype(np.float32)


def overlap_scores(data: RecData, split: str) -> np.ndarray:
    """(users, candidates) cosine of each candidate's token bag with the mean bag of the user's
    last k training items."""
    held = data.valid if split == "valid" else data.test
    items = candidate_items(data, split)
    last = data.inputs(held[:, 0], held[:, 1])["nodes"][:, 2:2 + data.k]
    history = _unit(token_bags(data, last.ravel()).reshape(len(held), data.k, -1).mean(1))
    return np.einsum("uv,ucv->uc", history, _unit(token_bags(data, items.ravel()).reshape(*items.shape, -1)))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def _z(s: np.ndarray) -> np.ndarray:
    return (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-9)


def _ndcg(s: np.ndarray) -> np.ndarray:
    return ndcg(s[:, 0], s[:, 1:])


def text_signal(scorer: Scorer, data: RecData) -> dict:
    """The fusion's NDCG@10 against the model's alone (see the module docstring)."""
    model = {sp: candidate_scores(scorer, data, sp) for sp in ("valid", "test")}
    overlap = {sp: overlap_scores(data, sp) for sp in ("valid", "test")}
    valid = {float(w): float(_ndcg(_z(model["valid"]) + w * _z(overlap["valid"])).mean()) for w in WEIGHTS}
    weight = max(valid, key=valid.get)
    alone, fused = _ndcg(model["test"]), _ndcg(_z(model["test"]) + weight * _z(overlap["test"]))
    diff = paired_difference(fused, alone)
    return {"weight": weight, "valid_ndcg10_by_weight": valid, "model_ndcg10": float(alone.mean()),
            "overlap_ndcg10": float(_ndcg(overlap["test"]).mean()), "fused_ndcg10": float(fused.mean()),
            "fused_minus_model": {**diff, "verdict": interval_verdict(diff)}}


def main(argv: list[str] | None = None) -> int:
    from codesign.config import ConfigError
    from codesign.flow import design_tool_parser, existing_design, write_json
    parser = design_tool_parser("python -m codesign.train.textsignal", __doc__, "a current train step")
    parser.add_argument("--variant", default="gnn_quant", help="the trained variant to fuse with (default gnn_quant)")
    args = parser.parse_args(argv)
    try:
        design = existing_design(Path(args.out), "data,train")
        from codesign.data.step import load_data
        from codesign.train.evaluate import model_scorer
        from codesign.train.step import load_trained
        data = load_data(design)
        scorer = model_scorer(load_trained(design, args.variant), data)
    except (ConfigError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = {"variant": args.variant, **text_signal(scorer, data)}
    write_json(design.path("train") / "text_signal.json", out)
    d = out["fused_minus_model"]
    print(f"{args.variant} NDCG@10 {out['model_ndcg10']:.4f}; title overlap alone {out['overlap_ndcg10']:.4f}; "
          f"fused (weight {out['weight']:g}, chosen on valid) {out['fused_ndcg10']:.4f}: "
          f"{d['mean']:+.4f} [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}], {d['verdict']}")
    print(f"written: {design.path('train') / 'text_signal.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
