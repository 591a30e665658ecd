"""Issue 10's acceptance: random models of ``tests.model_zoo`` from file to RTL simulation.

Each seed's model is saved to ``.h5`` and taken through ``codesign flow --model`` (``vectors``,
``hls`` with C simulation, ``rtl``, ``sim`` with Verilator) with a config that leaves out what
the check does not need (no yosys, no timing search, one simulator, few vectors). Every step
must report 0 mismatches against ``codesign.fixedpoint``.

Seeds 0..49 are one full cycle of the zoo: 0..24 the float/mixed models, 25..49 their quantized
twins; together they use every structural entry (start, graph layer, branch, readout, head) and
every class of ``fixedpoint.SUPPORTED_LAYERS`` but the default design's ``NodeReadout`` and
``MaskedMeanPool`` (``tests/test_own_model_flow.py``'s ids model has the latter; the default
design's flow tests the former). ``test_property_seeds_cover_every_layer`` checks this.
"""
from __future__ import annotations

import json
import os
import time
import warnings

import pytest
import yaml

from codesign.fixedpoint import SUPPORTED_LAYERS
from tests.model_zoo import BRANCHES, GRAPHS, HEADS, READOUTS, STARTS, layer_classes, zoo_model

PROPERTY_SEEDS = range(int(os.environ.get("CODESIGN_PROPERTY_FIRST", 0)),
                       int(os.environ.get("CODESIGN_PROPERTY_FIRST", 0)) + 50)
N_VECTORS = 300
CHEAP = {"rtl": {"simulators": ["verilator"], "verilator_vectors": N_VECTORS, "synth": False, "timing": False,
                 "latency_cutoff": 5.0},
         "hls": {"synth": False}}
COVERED_ELSEWHERE = {"NodeReadout", "MaskedMeanPool"}


def test_property_seeds_cover_every_layer():
    """Seeds 0..49 use every supported layer class and every entry of the zoo's tables."""
    seen, names = set(), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(50):
            z = zoo_model(seed)
            seen |= layer_classes(z.model)
            names.append(z.name)
    assert set(SUPPORTED_LAYERS) - COVERED_ELSEWHERE <= seen, set(SUPPORTED_LAYERS) - COVERED_ELSEWHERE - seen
    for table in (STARTS, GRAPHS, BRANCHES, READOUTS, HEADS):
        assert all(any(f"_{entry}_" in name + "_" for name in names) for entry in table), table


def run_zoo_flow(seed: int, tmp_path) -> dict:
    """``codesign flow --model`` on zoo seed ``seed`` with the cheap config; returns its summary."""
    from codesign.cli import main
    z = zoo_model(seed)
    path = tmp_path / f"zoo{seed}.h5"
    z.model.save(path)
    config = tmp_path / "cheap.yaml"
    config.write_text(yaml.safe_dump({**CHEAP, **({"precision": z.precision} if z.precision else {})}))
    out = tmp_path / f"zoo{seed}"
    code = main(["flow", "--model", str(path), "--out", str(out), "--config", str(config),
                 "--vectors", str(N_VECTORS)])
    summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
    assert code == 0, (z.name, {k: v for k, v in summary.get("steps", {}).items() if k in ("hls", "rtl", "sim")})
    summary["zoo_name"] = z.name
    return summary


@pytest.mark.slow
@pytest.mark.parametrize("seed", PROPERTY_SEEDS)
def test_zoo_model_file_to_rtl_simulation(seed, tmp_path):
    """One random model: 0 mismatches in C simulation and in Verilator RTL simulation."""
    start = time.monotonic()
    s = run_zoo_flow(seed, tmp_path)
    steps = s["steps"]
    assert steps["hls"]["mismatches"] == 0, (s["zoo_name"], steps["hls"])
    sim = steps["sim"]
    run = sim["simulators"]["verilator"]
    assert "skipped" not in run, run
    assert sim["passed"] and sim["mismatches"] == 0 and run["mismatches"] == 0, (s["zoo_name"], sim)
    assert run["samples"] == N_VECTORS and run["ii"] == (run["beats_per_request"] or 1), run
    log = os.environ.get("CODESIGN_PROPERTY_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps({"seed": seed, "name": s["zoo_name"], "seconds": round(time.monotonic() - start, 1),
                                 "hls_samples": steps["hls"].get("samples"), "sim_samples": run["samples"],
                                 "beats": run["beats_per_request"], "latency": run["latency_cycles"]}) + "\n")


# ------------------------------------------------ models the stream cannot carry: refused, never wrong

def _wide_models():
    """(model, precision, the phrase of its refusal) for each stream limit."""
    import tensorflow as tf
    from qkeras import QActivation, QDense
    from codesign.models.layers import QEmbedding
    ids = tf.keras.Input((3,), dtype="int32", name="ids")
    h = tf.keras.layers.Flatten(name="flat")(
        QEmbedding(70_000, 2, embeddings_quantizer="quantized_bits(6,1,alpha=1)", name="emb")(ids))
    many_ids = tf.keras.Model(ids, QDense(1, kernel_quantizer="quantized_bits(6,0,alpha=1)", name="out")(h))
    x = tf.keras.Input((4,), name="x")
    h = QActivation("quantized_bits(40,12,alpha=1)", name="x_q")(x)   # the input's grid: 40 bits
    wide_in = tf.keras.Model(x, QDense(1, kernel_quantizer="quantized_bits(6,0,alpha=1)", name="out")(h))
    x2 = tf.keras.Input((8,), name="x")      # exact accumulator: 24 + 16 + 3 bits
    wide_out = tf.keras.Model(x2, QDense(1, kernel_quantizer="quantized_bits(16,4,alpha=1)", name="out")(x2))
    return [(many_ids, {}, "16-bit id fields of the stream hold: use a smaller table"),
            (wide_in, {}, "wider than the 32-bit elements of the stream; give it a narrower precision"),
            (wide_out, {"inputs": {"x": "fixed<24,8>"}}, "wider than a 32-bit score word")]


def test_models_beyond_the_stream_limits_are_refused():
    """Ids beyond the 16-bit id field, a 40-bit input grid, a 43-bit output: each refused by the
    stream layout (which the rtl step and the simulated device derive) with the fix named."""
    from codesign.config import PrecisionConfig
    from codesign.fixedpoint import FixedPointModel
    from codesign.rtl.top import layout_of
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model, precision, phrase in _wide_models():
            fp = FixedPointModel.from_keras(model, PrecisionConfig(**precision))
            with pytest.raises(ValueError, match=phrase.replace("(", r"\(")):
                layout_of(fp)


def test_flow_refuses_a_score_wider_than_32_bits(tmp_path, capsys):
    """Through ``codesign flow --model``: C simulation runs (ap_fixed has no 32-bit limit), the
    ``rtl`` step refuses the 43-bit score with the reason instead of a wrong RTL."""
    from codesign.cli import main
    model, precision, _ = _wide_models()[2]
    path = tmp_path / "wide.h5"
    model.save(path)
    config = tmp_path / "cheap.yaml"
    config.write_text(yaml.safe_dump({**CHEAP, "precision": precision}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["flow", "--model", str(path), "--out", str(tmp_path / "wide"), "--config", str(config),
                     "--vectors", "50"])
    err = capsys.readouterr()
    assert code != 0
    assert "does not fit a 32-bit score word" in err.out + err.err, err
    assert json.loads((tmp_path / "wide" / "hls" / "hls.json").read_text())["mismatches"] == 0
    assert not (tmp_path / "wide" / "rtl" / "rtl.json").exists() and not (tmp_path / "wide" / "sim" / "sim.json").exists()
