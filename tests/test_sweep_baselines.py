"""The sweep against the baselines: the default grid, the baselines read for the plot, their
crossings, the labelled lines on the Pareto plot, the console table and the report line."""
from __future__ import annotations

import json

import pytest

from codesign.config import load_config
from codesign.sweep.plot import baseline_label, pareto_plot
from codesign.sweep.runner import baseline_lines, crossings, format_table, grid, sweep_baselines

BASE = {"popularity": 0.17, "bpr_mf_8": 0.2962, "bpr_mf_64": 0.2996, "ease": 0.3099, "lightgcn_64": 0.3193}


def _point(pid: str, bits: int, size: int, ndcg: float, lut: int) -> dict:
    return {"id": pid, "bits": bits, "size": size, "ndcg10": ndcg, "pareto": True,
            "hardware": {"lut": lut, "lut_source": "da4ml estimate (core, not synthesis)", "ff": None,
                         "dsp": None, "core_stages": 9, "latency_cycles": 13, "latency_ns": 130.0,
                         "clock_mhz": 100.0, "fmax_mhz": 110.0}}


def _metrics(path, baselines: dict) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"models": {}, "baselines": {
        k: {"ndcg10": v, "hr10": 0.5} for k, v in baselines.items()}}))


def test_default_grid_spans_sizes_around_the_design():
    cfg = load_config()                      # the embedded default design's sweep section
    sizes, bits = cfg.sweep.sizes, cfg.sweep.bits
    # smaller and larger than the design itself, so the points fall on both sides of the baselines
    assert min(sizes) < cfg.model.embedding_dim < max(sizes) and min(bits) < cfg.model.quant.weight_bits
    points = grid(cfg)
    assert len(points) == len(sizes) * len(bits)
    big = points[f"w8_s{max(sizes)}"]
    # a point keeps the design's architecture and data (same split as the baselines)
    assert big["model"]["embedding_product"] and big["model"]["score_skip"]
    assert big["data"] == cfg.model_dump()["data"]
    assert big["train"]["epochs"] == cfg.sweep.epochs


def test_baselines_from_the_design_folder_else_from_a_point(tmp_path):
    root = tmp_path / "sweep"
    assert sweep_baselines(tmp_path, root) == {}
    _metrics(root / "points" / "w4_s4" / "train" / "metrics.json", {"popularity": 0.2, "bpr_mf_4": 0.25})
    _metrics(root / "points" / "w8_s8" / "train" / "metrics.json", {"popularity": 0.2, "bpr_mf_8": 0.29})
    got = sweep_baselines(tmp_path, root)      # no train step in the folder: every point's baselines
    assert got == {"source": "the sweep points' train steps",
                   "ndcg10": {"popularity": 0.2, "bpr_mf_4": 0.25, "bpr_mf_8": 0.29}}
    _metrics(tmp_path / "train" / "metrics.json", BASE)        # the design's own train step wins
    assert sweep_baselines(tmp_path, root) == {"source": "train/metrics.json", "ndcg10": BASE}


def test_crossings_and_table():
    points = [_point("w4_s4", 4, 4, 0.25, 3000), _point("w8_s8", 8, 8, 0.303, 30000),
              _point("w8_s16", 8, 16, 0.315, 110000)]
    cross = crossings(points, BASE)
    assert cross["bpr_mf_8"] == {"below": ["w4_s4"], "above": ["w8_s8", "w8_s16"]}
    assert cross["ease"] == {"below": ["w4_s4", "w8_s8"], "above": ["w8_s16"]}
    assert cross["lightgcn_64"]["above"] == [] and cross["popularity"]["below"] == []
    result = {"points": points, "baselines": {"source": "train/metrics.json", "ndcg10": BASE},
              "crossings": cross}
    table = format_table(result)
    assert "BPR-MF 8        0.2962  points below 1, at or above 2" in table
    assert "EASE            0.3099  points below 2, at or above 1" in table
    assert baseline_lines({"points": points})[0].startswith("baselines: none yet")


def test_baseline_labels():
    assert [baseline_label(k) for k in BASE] == ["popularity", "BPR-MF 8", "BPR-MF 64", "EASE", "LightGCN 64"]
    assert baseline_label("something_new") == "something_new"


@pytest.mark.parametrize("baselines", [BASE, None])
def test_pareto_plot_draws_labelled_baselines(tmp_path, baselines, monkeypatch):
    import matplotlib.axes
    drawn, texts = [], []
    real_axhline, real_annotate = matplotlib.axes.Axes.axhline, matplotlib.axes.Axes.annotate
    monkeypatch.setattr(matplotlib.axes.Axes, "axhline",
                        lambda self, y, *a, **k: drawn.append((y, k.get("label"))) or real_axhline(self, y, *a, **k))
    monkeypatch.setattr(matplotlib.axes.Axes, "annotate",
                        lambda self, text, *a, **k: texts.append(text) or real_annotate(self, text, *a, **k))
    points = [_point("w4_s4", 4, 4, 0.25, 3000), _point("w8_s16", 8, 16, 0.315, 110000)]
    path = pareto_plot(points, tmp_path / "pareto.png", baselines)
    assert path.stat().st_size > 1000
    if baselines is None:
        assert drawn == []
        return
    assert sorted(drawn) == sorted((v, f"{baseline_label(k)} {v:.3f}") for k, v in BASE.items())
    assert "EASE 0.310" in texts and "BPR-MF 8 0.296" in texts


def test_report_lists_the_baselines_of_the_sweep(tmp_path):
    from codesign.report.report import render
    (tmp_path / "sweep").mkdir()
    points = [_point("w4_s4", 4, 4, 0.25, 3000)]
    (tmp_path / "sweep" / "sweep.json").write_text(json.dumps(
        {"label": "short training", "points": points, "pareto": ["w4_s4"], "errors": {},
         "baselines": {"source": "train/metrics.json", "ndcg10": {"ease": 0.3099}},
         "crossings": crossings(points, {"ease": 0.3099})}))
    page = render(tmp_path, {"design": "d", "config": {}, "steps": {}})
    assert "Baselines drawn on the Pareto plot" in page and "ease 0.3099 (1 points below, 0 at or above)" in page
