"""``python -m codesign.train.seeds --out DESIGN_FOLDER --seeds 0,1,2``: how much of the accuracy
is the training seed.

For each seed the design's variants and the baselines train exactly as in the ``train`` step
(same split, same evaluation negatives, same schedule; only ``train.seed`` differs), in
``DESIGN_FOLDER/seeds/seed<k>/``. Prints and writes ``seeds/seeds.json``: per seed the NDCG@10
of every model and the paired 95% interval of ``hybrid_quant`` against each; over the seeds the
median, min and max of each, and how many seeds put each interval above, around or below 0.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from codesign.config import ConfigError
from codesign.data.dataset import RecData
from codesign.flow import Design, design_tool_parser, existing_design, write_json
from codesign.metrics import interval_verdict


def run_seed(design: Design, data: RecData, seed: int) -> dict:
    """NDCG@10 of the variants and baselines trained with ``train.seed = seed``, and the paired
    intervals of ``hybrid_quant`` against each."""
    from codesign.train.extras import TrainingExtras
    from codesign.train.pretrain import initial_table
    from codesign.train.step import baseline_scores, paired_comparisons, shapes_of, train_variants
    cfg = design.cfg.model_copy(deep=True)
    cfg.train.seed = seed
    twin = Design(design.folder / "seeds" / f"seed{seed}", cfg)
    extras = TrainingExtras(twin, data, shapes_of(data))
    models, per_user = train_variants(twin, data, list(cfg.train.variants), prepare=extras.prepare,
                                      init=initial_table(data, cfg))
    baselines, baseline_per_user = baseline_scores(twin, data)
    paired = paired_comparisons({**per_user, **baseline_per_user})
    return {"seed": seed, "ndcg10": {**{v: m["ndcg10"] for v, m in models.items()},
                                     **{b: m["ndcg10"] for b, m in baselines.items()}},
            "paired_ndcg10": {k: {**d, "verdict": interval_verdict(d)} for k, d in paired.items()}}


def spread(runs: list[dict]) -> dict:
    """Median, min and max of each model's NDCG@10 over the seeds; verdict counts per interval."""
    names = runs[0]["ndcg10"]
    out = {"ndcg10": {n: {"median": float(np.median([r["ndcg10"][n] for r in runs])),
                          "min": min(r["ndcg10"][n] for r in runs), "max": max(r["ndcg10"][n] for r in runs)}
                      for n in names}, "paired_ndcg10": {}}
    for name in runs[0]["paired_ndcg10"]:
        means = [r["paired_ndcg10"][name]["mean"] for r in runs]
        verdicts = [r["paired_ndcg10"][name]["verdict"] for r in runs]
        out["paired_ndcg10"][name] = {"median_mean": float(np.median(means)),
                                      **{v: verdicts.count(v) for v in ("above 0", "includes 0", "below 0")}}
    return out


def table(runs: list[dict], summary: dict) -> str:
    seeds = [r["seed"] for r in runs]
    lines = [f"NDCG@10 (test) per training seed {seeds}"]
    for n, s in summary["ndcg10"].items():
        per = " ".join(f"{r['ndcg10'][n]:.4f}" for r in runs)
        lines.append(f"  {n:<14} {per}   median {s['median']:.4f} [{s['min']:.4f}, {s['max']:.4f}]")
    lines.append("paired NDCG@10 difference of hybrid_quant: mean per seed; seeds whose 95% interval is "
                 "above / includes / below 0")
    for name, s in summary["paired_ndcg10"].items():
        per = " ".join(f"{r['paired_ndcg10'][name]['mean']:+.4f}" for r in runs)
        lines.append(f"  {name.replace('hybrid_quant_minus_', '- '):<16} {per}   "
                     f"{s['above 0']} / {s['includes 0']} / {s['below 0']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = design_tool_parser("python -m codesign.train.seeds", __doc__, "a current data step")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default 0,1,2)")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        print(f"error: --seeds takes comma-separated integers, got {args.seeds!r}", file=sys.stderr)
        return 2
    folder = Path(args.out)
    try:
        design = existing_design(folder, "data")
        if design.cfg.model_file:
            raise ConfigError("a design of a model of your own (model_file) has no training to repeat")
        from codesign.data.step import load_data
        data = load_data(design)
    except (ConfigError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    runs = []
    for seed in seeds:
        print(f"== seed {seed} ({len(runs) + 1}/{len(seeds)})", flush=True)
        runs.append(run_seed(design, data, seed))
    summary = spread(runs)
    write_json(folder / "seeds" / "seeds.json", {"seeds": seeds, "runs": runs, "summary": summary})
    print(table(runs, summary))
    print(f"written: {folder / 'seeds' / 'seeds.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
