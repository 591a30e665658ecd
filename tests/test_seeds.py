"""The seed-spread script (``python -m codesign.train.seeds``)."""
from __future__ import annotations

import json

from codesign.train.seeds import main, spread, table


def _run(seed: int, hybrid: float, lo: float, hi: float) -> dict:
    return {"seed": seed, "ndcg10": {"hybrid_quant": hybrid, "gnn_quant": 0.30},
            "paired_ndcg10": {"hybrid_quant_minus_gnn_quant": {
                "mean": hybrid - 0.30, "ci95": [lo, hi],
                "verdict": "above 0" if lo > 0 else "below 0" if hi < 0 else "includes 0"}}}


def test_spread_counts_the_verdicts_and_takes_the_median():
    runs = [_run(0, 0.31, 0.001, 0.02), _run(1, 0.29, -0.02, -0.001), _run(2, 0.305, -0.01, 0.02)]
    s = spread(runs)
    assert s["ndcg10"]["hybrid_quant"] == {"median": 0.305, "min": 0.29, "max": 0.31}
    assert s["paired_ndcg10"]["hybrid_quant_minus_gnn_quant"] == {
        "median_mean": 0.305 - 0.30, "above 0": 1, "includes 0": 1, "below 0": 1}
    text = table(runs, s)
    assert "median 0.3050 [0.2900, 0.3100]" in text and "1 / 1 / 1" in text


def test_two_seeds_of_the_tiny_design(tiny_design, capsys):
    """Seed 0 repeats the train step's own numbers (a run depends on its seed alone)."""
    assert main(["--out", str(tiny_design.folder), "--seeds", "0,1"]) == 0
    result = json.loads((tiny_design.folder / "seeds" / "seeds.json").read_text())
    assert result["seeds"] == [0, 1]
    trained = json.loads(tiny_design.json_path("train").read_text())["models"]
    assert result["runs"][0]["ndcg10"]["hybrid_quant"] == trained["hybrid_quant"]["ndcg10"]
    assert "popularity" in result["runs"][1]["ndcg10"]
    assert "per training seed [0, 1]" in capsys.readouterr().out


def test_bad_seeds_and_missing_folder_are_named(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--seeds", "a,b"]) == 2
    assert "comma-separated integers" in capsys.readouterr().err
    assert main(["--out", str(tmp_path)]) == 2
    assert "design.yaml does not exist" in capsys.readouterr().err
