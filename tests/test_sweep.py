"""codesign sweep: grid, estimate, Pareto front, resume, local and Dask executors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from codesign.config import ConfigError, parse_config
from codesign.models.hybrid import Shapes, build_model
from codesign.sweep.estimate import estimate
from codesign.sweep.runner import finished, grid, pareto, point_key, run_sweep

# small and short: each point trains hybrid_float + hybrid_quant for one epoch each
SWEEP = {"name": "sw",
         "model": {"gnn_channels": [2, 2], "fusion_units": [4]},
         "train": {"batch_size": 8192, "distill": {"enabled": False}},
         "sweep": {"bits": [4], "sizes": [2], "epochs": 1, "qat_epochs": 1}}


def test_grid_points_and_config_errors():
    cfg = parse_config({"sweep": {"bits": [4, 8], "sizes": [4, 8, 16]}})
    points = grid(cfg)
    assert sorted(points) == sorted(f"w{b}_s{s}" for b in (4, 8) for s in (4, 8, 16))
    tree = points["w4_s16"]
    assert tree["model"]["quant"]["weight_bits"] == 4 and tree["model"]["gnn_channels"] == [16, 16]
    assert tree["model"]["fusion_units"] == [32] and tree["train"]["variants"] == ["hybrid_quant"]
    parse_config(tree)  # every point is a valid design
    with pytest.raises(ConfigError, match="sweep.bits"):
        parse_config({"sweep": {"bits": [1]}})


def test_estimate_grows_with_bits():
    shapes = Shapes(n_nodes=50, vocab_size=20, fanout=2, title_length=8)
    luts = []
    for bits in (4, 8):
        cfg = parse_config({"model": {"quant": {"weight_bits": bits, "activation_bits": bits,
                                                "embedding_bits": bits}}})
        est = estimate(build_model("hybrid_quant", cfg.model, shapes), latency_cutoff=5, clock_ns=10.0)
        assert est["stages"] >= 1 and est["latency_ns"] == est["stages"] * 10.0 and "estimate" in est["label"]
        luts.append(est["lut"])
    assert 0 < luts[0] < luts[1]


def test_pareto_front():
    def p(i, ndcg, lut, ns):
        return {"id": i, "ndcg10": ndcg, "estimate": {"lut": lut, "latency_ns": ns}}
    points = [p("a", 0.30, 100, 50), p("b", 0.25, 50, 50), p("c", 0.24, 60, 60), p("d", 0.30, 100, 40)]
    assert pareto(points) == ["b", "d"]


def _check_saved(root, ids):
    saved = json.loads((root / "sweep" / "sweep.json").read_text())
    assert sorted(r["id"] for r in saved["points"]) == ids and saved["errors"] == {}
    assert saved["pareto"] and (root / "sweep" / "pareto.png").stat().st_size > 1000
    for r in saved["points"]:
        assert 0 <= r["ndcg10"] <= 1 and r["estimate"]["lut"] > 0


def test_sweep_resumes(tmp_path):
    logs = []
    cfg = parse_config(SWEEP)
    first = run_sweep(tmp_path, cfg, log=logs.append)           # local process pool
    assert not first["errors"] and [r["id"] for r in first["points"]] == ["w4_s2"]
    kept = tmp_path / "sweep" / "points" / "w4_s2" / "point.json"
    stamp = kept.stat().st_mtime_ns
    again = run_sweep(tmp_path, cfg, log=logs.append)
    assert "1 kept, 0 to run" in logs[-1] and kept.stat().st_mtime_ns == stamp
    assert again["points"] == first["points"]
    _check_saved(tmp_path, ["w4_s2"])
    # a point whose config changed is not taken as finished
    tree = grid(cfg)["w4_s2"]
    assert finished(kept.parent, point_key(tree, 5.0)) is not None
    assert finished(kept.parent, point_key(tree, 4.0)) is None
    tree["model"]["quant"]["recip_bits"] = 6
    assert finished(kept.parent, point_key(tree, 5.0)) is None


@pytest.mark.slow
def test_grown_sweep_runs_only_new_points_on_dask(tmp_path):
    distributed = pytest.importorskip("distributed")
    logs = []
    run_sweep(tmp_path, parse_config(SWEEP), log=logs.append)
    kept = tmp_path / "sweep" / "points" / "w4_s2" / "point.json"
    stamp = kept.stat().st_mtime_ns
    # the grid grows (as after an interruption): the finished point is kept, the new one runs on Dask
    bigger = parse_config({**SWEEP, "sweep": {**SWEEP["sweep"], "bits": [4, 6]}})
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        second = run_sweep(tmp_path, bigger, scheduler=cluster.scheduler_address, log=logs.append)
    assert any("1 kept, 1 to run (dask" in line for line in logs), logs
    assert kept.stat().st_mtime_ns == stamp and not second["errors"]
    _check_saved(tmp_path, ["w4_s2", "w6_s2"])


def test_traced_datapath_matches_the_keras_model():
    """The estimate traces the real model: same layers, same order, same fixed-point grid.

    The trace rounds half up where QKeras may round a tie differently, so a few samples may
    differ by a few LSBs of the score; most must agree exactly.
    """
    import tensorflow as tf
    from da4ml.trace import comb_trace
    from codesign.sweep.estimate import trace_model

    shapes = Shapes(n_nodes=60, vocab_size=30, fanout=2, title_length=8)
    tf.keras.utils.set_random_seed(3)
    model = build_model("hybrid_quant", parse_config({}).model, shapes)
    inputs, out = trace_model(model)
    comb = comb_trace(np.concatenate([np.ravel(v._vars) for v in inputs]), np.ravel(out._vars))
    probe = tf.keras.Model(model.inputs, [model.get_layer("node_embedding").output,
                                          model.get_layer("title_pool_q").output, model.output])
    rng = np.random.default_rng(0)
    x = {"nodes": rng.integers(0, 60, (200, 6)).astype("int32"),
         "tokens": rng.integers(0, 30, (200, 8)).astype("int32")}
    emb, pooled, score = probe.predict(x, verbose=0)
    flat = np.concatenate([emb.reshape(len(emb), -1), pooled], axis=1)
    traced = np.array([comb(row)[0] for row in flat])
    diff = np.abs(traced - score.ravel())
    assert np.mean(diff == 0) >= 0.9, np.sort(diff)[-10:]
    assert diff.max() < 0.05
