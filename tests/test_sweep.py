"""codesign sweep: grid, Pareto front, resume, local and Dask executors."""
from __future__ import annotations

import json

import pytest

from codesign.config import ConfigError, parse_config
from codesign.sweep.runner import finished, format_table, grid, pareto, point_key, run_sweep, training_key

# small and short: each point trains hybrid_float + hybrid_quant for one epoch each
SWEEP = {"name": "sw",
         "model": {"gnn_channels": [2, 2], "fusion_units": [4]},
         "train": {"batch_size": 8192, "distill": {"enabled": False}},
         "rtl": {"timing_runs": 1},      # one timing estimate per point (yosys), no re-cut
         "sweep": {"bits": [4], "sizes": [2], "epochs": 1, "qat_epochs": 1}}


def test_grid_points_and_config_errors():
    cfg = parse_config({"sweep": {"bits": [4, 8], "sizes": [4, 8, 16]}})
    points = grid(cfg)
    assert sorted(points) == sorted(f"w{b}_s{s}" for b in (4, 8) for s in (4, 8, 16))
    tree = points["w4_s16"]
    assert tree["model"]["quant"]["weight_bits"] == 4 and tree["model"]["gnn_channels"] == [16, 16]
    assert tree["rtl"]["synth"] is False and "sweep" not in tree
    assert tree["model"]["fusion_units"] == [32] and tree["train"]["variants"] == ["hybrid_quant"]
    parse_config(tree)  # every point is a valid design
    with pytest.raises(ConfigError, match="sweep.bits"):
        parse_config({"sweep": {"bits": [1]}})


def test_grid_over_boards_and_clocks():
    cfg = parse_config({"sweep": {"bits": [8], "sizes": [4], "boards": ["pynq-z2", "zcu104"],
                                  "clocks_mhz": [100, 250]}})
    points = grid(cfg)
    assert sorted(points) == ["w8_s4_pynq-z2_100", "w8_s4_pynq-z2_250", "w8_s4_zcu104_100", "w8_s4_zcu104_250"]
    assert points["w8_s4_zcu104_250"]["board"] == "zcu104" and points["w8_s4_zcu104_250"]["rtl"]["clock_mhz"] == 250
    assert len({training_key(t) for t in points.values()}) == 1       # one training for all four
    with pytest.raises(ValueError, match="max_clock_mhz"):
        grid(parse_config({"sweep": {"clocks_mhz": [400]}}))
    auto = grid(parse_config({"sweep": {"bits": [8], "sizes": [4], "clocks_mhz": [100, "auto"]}}))
    assert sorted(auto) == ["w8_s4_pynq-z2_100", "w8_s4_pynq-z2_auto"] and auto["w8_s4_pynq-z2_auto"]["rtl"]["clock_mhz"] == "auto"
    with pytest.raises(ConfigError, match="unknown board"):
        parse_config({"sweep": {"boards": ["nope"]}})


def test_pareto_front():
    def p(i, ndcg, lut, ns):
        return {"id": i, "ndcg10": ndcg, "hardware": {"lut": lut, "latency_ns": ns}}
    points = [p("a", 0.30, 100, 50), p("b", 0.25, 50, 50), p("c", 0.24, 60, 60), p("d", 0.30, 100, 40)]
    assert pareto(points) == ["b", "d"]
    # fronts are per board: a point on another board does not dominate
    other = {**p("e", 0.40, 10, 10), "board": "zcu104"}
    assert pareto(points + [other]) == ["b", "d", "e"]
    from codesign.sweep.plot import latency_front
    assert [q["id"] for q in latency_front(points)] == ["b", "d"]


def _check_saved(root, ids):
    saved = json.loads((root / "sweep" / "sweep.json").read_text())
    assert sorted(r["id"] for r in saved["points"]) == ids and saved["errors"] == {}
    assert saved["pareto"] and (root / "sweep" / "pareto.png").stat().st_size > 1000
    for r in saved["points"]:
        h = r["hardware"]
        assert 0 <= r["ndcg10"] <= 1 and h["lut"] > 0 and h["lut_source"].startswith("da4ml")
        assert h["latency_cycles"] > h["core_stages"] > 0 and h["latency_ns"] > 0
        # every point has an estimated Fmax, and its latency is at the clock that is met
        assert h["fmax_mhz"] > 0 and h["clock_mhz"] == min(h["target_clock_mhz"], h["fmax_mhz"])
        assert h["latency_ns"] == pytest.approx(h["latency_cycles"] * 1000 / h["clock_mhz"], abs=0.01)
    assert (root / "sweep" / "latency.png").stat().st_size > 1000
    assert "LUT: da4ml estimate" in format_table(saved)


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
    assert finished(kept.parent, point_key(tree)) is not None
    tree["rtl"]["latency_cutoff"] = 4.0
    assert finished(kept.parent, point_key(tree)) is None


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
