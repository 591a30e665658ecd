"""HLS C simulation of the layers users bring equals the fixed-point reference bit for bit.

Models come from ``tests.model_zoo`` (every layer of the README's table over seeds 0..14);
each C simulation compiles an hls4ml project with g++ (~20-60 s), so the default run keeps
the issue's example (through ``codesign hls --model`` on a saved ``.h5``) and two zoo models,
the others are ``slow``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from codesign.fixedpoint import SUPPORTED_LAYERS, FixedPointModel
from codesign.hls.convert import layer_precisions
from codesign.hls.csim import HlsSettings, run_csim
from codesign.hls.oplayers import hls_name, op_layers
from codesign.vectors.make import corner_inputs, random_inputs
from codesign.vectors.step import on_grid
from tests.model_zoo import BRANCHES, GRAPHS, HEADS, READOUTS, STARTS, issue_example, layer_classes, zoo_model

N_VECTORS = 1000
ZOO_SEEDS = range(15)  # every entry of every structural table of the zoo (checked below)
FAST_SEEDS = (4, 7)    # GIN + relu + sum pool; dynamic GraphSAGE + concat + avg pool + folded BN


def _fp(z) -> FixedPointModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FixedPointModel.from_keras(z.model, z.precision)


def _vectors(fp, n=N_VECTORS, seed=0):
    inputs = random_inputs(fp, n, np.random.default_rng(seed))
    corners, _ = corner_inputs(fp, inputs)
    inputs = on_grid(fp, {k: np.concatenate([inputs[k], corners[k]]) for k in inputs})
    return inputs, fp.predict(inputs)


def _csim_exact(z, folder: Path, settings: HlsSettings) -> dict:
    fp = _fp(z)
    inputs, expected = _vectors(fp)
    result, _ = run_csim(z.model, fp, inputs, expected, folder, settings)
    assert result["samples"] == len(expected) > N_VECTORS, result
    assert result["mismatches"] == 0, (z.name, result.get("first_mismatch"), result.get("first_bad_layer"))
    return result


def test_zoo_seeds_cover_every_layer_and_get_hls_layers():
    """The C-simulated seeds use every supported layer class (the default design's NodeReadout and
    MaskedMeanPool are in test_hls.py) and every op kind, and every op of theirs gets an hls4ml
    layer and types (no compilation: fast)."""
    seen_classes, seen_kinds, names = set(), set(), []
    for seed in ZOO_SEEDS:
        z = zoo_model(seed)
        fp = _fp(z)
        layers, inputs, outputs = op_layers(fp)
        precisions = layer_precisions(fp)
        hls_names = {layer["name"] for layer in layers}
        missing = {op.kind for op in fp.ops if hls_name(op.name) not in hls_names}
        assert missing <= {"reshape"} and outputs == [hls_name(fp.output)]  # consecutive reshapes: one
        assert hls_names <= set(precisions) and all("result" in p["Precision"] for p in precisions.values())
        seen_classes |= layer_classes(z.model)
        seen_kinds |= {op.kind for op in fp.ops}
        names.append(z.name)
    assert set(SUPPORTED_LAYERS) - {"NodeReadout", "MaskedMeanPool"} <= seen_classes
    assert {"input", "dense", "gcn", "aggregate", "pool", "relu", "reshape", "add", "concat", "multiply",
            "quant", "embedding"} <= seen_kinds
    for table in (STARTS, GRAPHS, BRANCHES, READOUTS, HEADS):
        assert all(any(f"_{entry}_" in name + "_" for name in names) for entry in table), table


def test_precision_types_carry_the_ops_rounding_and_overflow():
    """A float layer's result quantization is typed with its config precision's modes."""
    z = issue_example()
    fp = _fp(z)
    precisions = layer_precisions(fp)
    quant = precisions[hls_name("gcn/q")]["Precision"]["result"]
    assert quant == "ap_fixed<16,6,AP_TRN,AP_WRAP>"  # the default precision, hls4ml's modes
    assert precisions["score_q"]["Precision"]["result"].endswith("AP_RND_CONV,AP_SAT>")  # a QKeras quantizer
    assert precisions["a"]["Precision"]["result"] == "ap_ufixed<4,1>"


def test_issue_example_through_codesign_hls_model(tmp_path):
    """The issue's model (float input, per-node QDense, float GCNConv, Flatten, dense head, final
    QActivation) saved to .h5 goes through ``codesign hls --model``: 0 mismatches."""
    from codesign.cli import main
    z = issue_example()
    path = tmp_path / "issue.h5"
    z.model.save(path)
    config = tmp_path / "design.yaml"
    config.write_text(f"name: issue\nprecision: {json.dumps(z.precision)}\n")
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["hls", "--model", str(path), "--out", str(out), "--config", str(config)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    hls = summary["steps"]["hls"]
    assert hls["mismatches"] == 0 and hls["samples"] > N_VECTORS
    code = (Path(hls["project"]) / "firmware" / "myproject.cpp").read_text()
    assert "node_dense" in code and "gcn_dynamic" in code
    formats = json.loads((out / "vectors" / "formats.json").read_text())
    gcn_q = next(layer for layer in formats["layers"] if layer["name"] == "gcn/q")
    assert gcn_q["out"]["rounding"] == "TRN" and gcn_q["out"]["overflow"] == "WRAP"


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_zoo_model_csim_equals_reference(tmp_path, seed):
    _csim_exact(zoo_model(seed), tmp_path, HlsSettings())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [s for s in ZOO_SEEDS if s not in FAST_SEEDS])
def test_zoo_model_csim_equals_reference_slow(tmp_path, seed):
    _csim_exact(zoo_model(seed), tmp_path, HlsSettings())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [4, 6, 8, 13, "issue"])  # aggregate, node dense, pools, add, reshapes
def test_zoo_model_csim_io_stream(tmp_path, seed):
    z = issue_example() if seed == "issue" else zoo_model(seed)
    result = _csim_exact(z, tmp_path, HlsSettings(io_type="io_stream"))
    assert result["io_type"] == "io_stream"


@pytest.mark.slow
def test_a_too_narrow_aggregation_is_caught_and_located(tmp_path):
    """The comparison can fail: GIN's aggregation with a too-narrow accumulator is found by name."""
    from codesign.hls import csim
    z = zoo_model(4)
    fp = _fp(z)
    inputs, expected = _vectors(fp, n=300)
    original = csim.convert

    def narrow(*args, **kwargs):
        return original(*args, **kwargs, overrides={hls_name("gin/agg"): {"accum": "ap_fixed<6,2>",
                                                                         "result": "ap_fixed<6,2>"}})
    csim.convert = narrow
    try:
        result, _ = run_csim(z.model, fp, inputs, expected, tmp_path, HlsSettings())
    finally:
        csim.convert = original
    assert result["mismatches"] > 0
    assert result["first_bad_layer"]["layer"] == "gin/agg"
