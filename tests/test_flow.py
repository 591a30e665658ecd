"""End to end: a tiny training run, reproducibility, the step cache and the CLI."""
import json

import numpy as np
import pytest

from codesign.cli import main
from codesign.config import parse_config
from codesign.flow import Design, run_flow
from tests.conftest import TINY


def test_tiny_training_writes_the_summary(tiny_design):
    summary = json.loads((tiny_design.folder / "summary.json").read_text())
    assert summary["design"] == "tiny"
    models = summary["steps"]["train"]["models"]
    assert set(models) == {"hybrid_quant", "gnn_quant", "text_quant"}
    for m in models.values():
        assert 0 < m["ndcg10"] <= m["hr10"] <= 1
        assert 0 < m["ndcg10_full"] < m["ndcg10"]
        assert m["params"] > 0 and m["train_seconds"] > 0
    # one epoch already beats a random ranking of 100 candidates (NDCG@10 ~ 0.04)
    assert models["hybrid_quant"]["ndcg10"] > 0.08
    assert (tiny_design.path("train") / "hybrid_quant.keras").is_file()
    assert (tiny_design.path("train") / "curves.png").is_file()
    paired = summary["steps"]["train"]["paired_ndcg10"]
    assert set(paired) == {"hybrid_quant_minus_gnn_quant", "hybrid_quant_minus_text_quant",
                          "hybrid_quant_minus_popularity"}
    for p in paired.values():
        assert p["ci95"][0] <= p["mean"] <= p["ci95"][1]


def test_second_identical_run_gives_identical_metrics(tiny_design, tmp_path):
    again = Design(tmp_path, parse_config(TINY))
    run_flow(again, ["data", "train"], log=lambda *_: None)
    first = tiny_design.result("train")["models"]
    second = again.result("train")["models"]
    for variant in first:
        for key in ("ndcg10", "hr10", "ndcg10_full", "params"):
            assert first[variant][key] == second[variant][key], (variant, key)


def test_changed_config_reruns_only_what_it_affects(tiny_design, tmp_path):
    logs = []
    design = Design(tiny_design.folder, parse_config(TINY))
    run_flow(design, ["data", "train"], log=logs.append)
    assert logs == ["[data] up to date, cached in " + str(design.path("data")),
                    "[train] up to date, cached in " + str(design.path("train"))]
    changed = Design(tiny_design.folder, parse_config({**TINY, "data": {"title_length": 6}}))
    assert not changed.is_current("data") and not changed.is_current("train")
    changed = Design(tiny_design.folder, parse_config({**TINY, "train": {**TINY["train"], "epochs": 2}}))
    assert changed.is_current("data") and not changed.is_current("train")


def test_train_without_data_says_what_to_run(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "codesign flow --out" in capsys.readouterr().err


def test_cli_rejects_bad_config_and_steps(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  gnn_chanels: [4]\n")
    assert main(["flow", "--out", str(tmp_path), "--config", str(bad)]) == 2
    assert "unknown key 'model.gnn_chanels'" in capsys.readouterr().err
    assert main(["flow", "--out", str(tmp_path), "--steps", "data,synth"]) == 2
    assert "unknown step(s) synth" in capsys.readouterr().err


def test_eval_prints_the_table(tiny_design, capsys):
    assert main(["eval", "--out", str(tiny_design.folder)]) == 0
    out = capsys.readouterr().out
    assert "hybrid_quant" in out and "ndcg10_full" in out


def test_quantized_model_reloads_on_its_grid(tiny_design):
    from codesign.train.step import load_trained
    quant = load_trained(tiny_design, "hybrid_quant")
    names = [l.name for l in quant.layers]
    assert "gcn0" in names and "title_pool" in names and "score" in names
    # quantized tables really sit on the 8-bit grid
    table = quant.get_layer("node_embedding").quantized_table().numpy()
    assert np.all(table * 2 ** 7 == np.round(table * 2 ** 7))
