"""A model of your own through the whole flow: ``codesign flow --model FILE`` runs vectors, hls,
rtl and sim on it (slow: HLS C simulation, a da4ml trace, a cocotb run)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from codesign.cli import main

Q8 = "quantized_bits(8,0,alpha=1)"
# no yosys run, one simulator: the test is about the model reading, not the estimates
FAST = {"rtl": {"simulators": ["verilator", "icarus"], "verilator_vectors": 400, "icarus_vectors": 100,
                "synth": False, "timing": False, "latency_cutoff": 5.0},
        "hls": {"synth": False}}


def _randomize(model, seed: int = 0, scale: float = 0.5):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, scale, w.shape).astype("float32") for w in layer.get_weights()])
    return model


def ids_model():
    """Integer ids only: embedding -> masked mean pool -> dense layers, two outputs."""
    import tensorflow as tf
    from qkeras import QActivation, QDense
    from codesign.models.layers import MaskedMeanPool, QEmbedding
    ids = tf.keras.Input((5,), dtype="int32", name="words")
    emb = QEmbedding(40, 4, embeddings_quantizer=Q8, name="emb")(ids)
    h = MaskedMeanPool(recip_quantizer="quantized_bits(8,0,alpha=1,keep_negative=False)", name="pool")([emb, ids])
    h = QActivation("quantized_bits(8,2,alpha=1)", name="pool_q")(h)
    h = QDense(6, kernel_quantizer=Q8, bias_quantizer=Q8, name="hidden")(h)
    h = QActivation("quantized_relu(8,2)", name="hidden_relu")(h)
    out = QDense(2, kernel_quantizer=Q8, bias_quantizer=Q8, name="out")(h)
    return _randomize(tf.keras.Model(ids, out, name="ids_model"))


def grid_model():
    """A float (grid) input quantized first, then a dense head: the top packs it as a value field."""
    import tensorflow as tf
    from qkeras import QActivation, QDense
    x = tf.keras.Input((7,), name="x")
    h = QActivation("quantized_bits(6,2,alpha=1)", name="x_q")(x)
    h = QDense(5, kernel_quantizer=Q8, bias_quantizer=Q8, name="hidden")(h)
    h = QActivation("quantized_relu(8,2)", name="hidden_relu")(h)
    out = QDense(1, kernel_quantizer=Q8, bias_quantizer=Q8, name="score")(h)
    return _randomize(tf.keras.Model(x, out, name="grid_model"), seed=1)


def _run(tmp_path, model, extra: list[str] = (), config: dict | None = None) -> dict:
    path = tmp_path / f"{model.name}.h5"
    model.save(path)
    config_file = tmp_path / "fast.yaml"
    config_file.write_text(yaml.safe_dump({**FAST, **(config or {})}))
    out = tmp_path / model.name
    code = main(["flow", "--model", str(path), "--out", str(out), "--config", str(config_file),
                 "--vectors", "200", *extra])
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0, summary["steps"].get("sim")
    return summary


@pytest.mark.slow
def test_ids_model_through_the_flow(tmp_path):
    s = _run(tmp_path, ids_model())["steps"]
    for step in ("data", "train", "bench"):
        assert s[step]["skipped"] == "a model of your own: no training data"
    assert s["hls"]["mismatches"] == 0
    assert "tcl" in s["bitstream"]["files"] and s["host"]["mismatches"] == 0      # the driver on its layout
    sim = s["sim"]
    assert sim["passed"] and sim["mismatches"] == 0
    for run in sim["simulators"].values():
        if "skipped" not in run:
            assert run["mismatches"] == 0 and run["ii"] == 1
    assert s["rtl"]["stream"]["score_count"] == 2
    assert [f["kind"] for f in s["rtl"]["feeds"]] == ["rom", "recip"]


@pytest.mark.slow
def test_grid_model_with_own_inputs_through_the_flow(tmp_path):
    x = np.round(np.random.default_rng(3).uniform(-4, 3.75, (30, 7)) * 4) / 4    # on the grid, in range
    np.savez(tmp_path / "mine.npz", x=x)
    s = _run(tmp_path, grid_model(), ["--inputs", str(tmp_path / "mine.npz")])["steps"]
    frozen = np.load(tmp_path / "grid_model" / "vectors" / "vectors.npz")
    assert np.sum(frozen["kind"] == "own") == 30 and np.array_equal(frozen["x"][frozen["kind"] == "own"], x)
    assert s["hls"]["mismatches"] == 0 and s["sim"]["passed"] and s["sim"]["mismatches"] == 0
    (field,) = s["rtl"]["stream"]["fields"]
    assert (field["name"], field["kind"], field["bits"], field["frac"]) == ("x", "value", 6, 3)


def test_own_model_errors_name_the_fix(tmp_path, capsys):
    def error(*args) -> str:
        assert main(["flow", *args]) == 2
        return capsys.readouterr().err
    assert "does not exist" in error("--model", str(tmp_path / "none.h5"), "--out", str(tmp_path / "o"))
    path = tmp_path / "g.h5"
    grid_model().save(path)
    assert "--steps does not go with --model" in error("--model", str(path), "--out", str(tmp_path / "o"),
                                                       "--steps", "rtl")
    assert "--inputs" in error("--model", str(path), "--out", str(tmp_path / "o"), "--inputs", str(tmp_path / "n.npz"))
    assert not (tmp_path / "o").exists()          # checked before anything is written


@pytest.mark.slow
def test_issue_example_model_through_the_flow(tmp_path):
    """The issue's model (``tests.model_zoo.issue_example``: float input, per-node QDense, float
    GCNConv, Flatten, a dense head and a final QActivation) with its precision config: 0
    mismatches in C simulation and in RTL simulation (every installed simulator)."""
    from tests.model_zoo import issue_example
    z = issue_example()
    s = _run(tmp_path, z.model, config={"precision": z.precision})["steps"]
    assert s["hls"]["mismatches"] == 0 and s["hls"]["samples"] >= 200
    sim = s["sim"]
    assert sim["passed"] and sim["mismatches"] == 0
    ran = {name: run for name, run in sim["simulators"].items() if "skipped" not in run}
    assert "verilator" in ran, sim["simulators"]
    for run in ran.values():
        assert run["mismatches"] == 0 and run["samples"] > 0 and run["ii"] == 1
    assert [f["name"] for f in s["rtl"]["stream"]["fields"]] == ["x", "a"]


@pytest.mark.slow
def test_sim_step_when_the_first_simulator_is_missing(tmp_path, monkeypatch):
    """rtl.simulators [icarus, verilator] with Icarus not installed: icarus is recorded as skipped,
    Verilator runs, the step completes (it once loaded sim/icarus/vectors.npz, never written)."""
    import shutil
    from codesign.sim import runner
    which = shutil.which
    monkeypatch.setattr(runner.shutil, "which", lambda name, **kw: None if name == "iverilog" else which(name, **kw))
    path = tmp_path / "g.h5"
    grid_model().save(path)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**FAST, "rtl": {**FAST["rtl"], "simulators": ["icarus", "verilator"]}}))
    out = tmp_path / "g"
    assert main(["flow", "--model", str(path), "--out", str(out), "--config", str(config), "--vectors", "50"]) == 0
    sim = json.loads((out / "sim" / "rtlsim.json").read_text())
    assert "iverilog" in sim["skipped_simulators"]["icarus"] and sim["simulator"] == "verilator"
    assert sim["passed"] and sim["mismatches"] == 0 and sim["keras_cpu_batch1"]["median_us"] > 0
