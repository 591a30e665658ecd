"""hls4ml extension: C simulation equals the fixed-point reference; reports and errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from codesign.fixedpoint import FixedPointModel, UnsupportedModelError
from codesign.hls.csim import HlsSettings, failure_message, run_csim
from codesign.hls.synth import check_baseline, parse_csynth_xml, run_synthesis, vendor_tool
from codesign.vectors.make import corner_inputs, random_inputs
from codesign.vectors.step import on_grid
from tests.random_models import random_model

FIXTURES = Path(__file__).parent / "fixtures" / "hls"


def _vectors(fp, n=1500, seed=0):
    inputs = random_inputs(fp, n, np.random.default_rng(seed))
    corners, _ = corner_inputs(fp, inputs)
    inputs = on_grid(fp, {k: np.concatenate([inputs[k], corners[k]]) for k in inputs})
    return inputs, fp.predict(inputs)


@pytest.mark.parametrize("adjacency, io_type, strategy, reuse, backend", [
    ("static", "io_stream", "Latency", 1, "VivadoAccelerator"),  # inputs packed into one request
    ("dynamic", "io_parallel", "Resource", 2, "Vitis"),
])
def test_csim_equals_reference(tmp_path, adjacency, io_type, strategy, reuse, backend):
    model = random_model(adjacency, scale=1.0)
    fp = FixedPointModel.from_keras(model)
    inputs, expected = _vectors(fp)
    settings = HlsSettings(io_type=io_type, strategy=strategy, reuse_factor=reuse, backend=backend,
                           board="pynq-z2", part="xc7z020clg400-1")
    result, _ = run_csim(model, fp, inputs, expected, tmp_path, settings)
    assert result["samples"] == len(expected) and result["mismatches"] == 0, result
    firmware = tmp_path / "project" / "firmware"
    assert (tmp_path / "project" / "build_prj.tcl").is_file()
    assert (firmware / "nnet_utils" / "nnet_codesign.h").is_file()
    code = (firmware / "myproject.cpp").read_text()
    assert f"gcn_{adjacency}" in code and "masked_mean_pool" in code
    if adjacency == "static":  # the constant operator is an adder tree of constant products
        assert "propagate" in (firmware / "parameters.h").read_text()
    if backend == "VivadoAccelerator":
        assert "request_slice" in code and (tmp_path / "project" / "axi_stream_driver.py").is_file()


def test_a_wrong_precision_is_caught_and_located(tmp_path):
    model = random_model("static", scale=1.0)
    fp = FixedPointModel.from_keras(model)
    inputs, expected = _vectors(fp, n=300)
    from codesign.hls import csim
    settings = HlsSettings()
    original = csim.convert

    def narrow(*args, **kwargs):  # a too-narrow accumulator in gcn1: what a wrong rule would do
        return original(*args, **kwargs, overrides={"gcn1": {"accum": "ap_fixed<10,2>", "result": "ap_fixed<10,2>"}})
    csim.convert = narrow
    try:
        result, _ = run_csim(model, fp, inputs, expected, tmp_path, settings)
    finally:
        csim.convert = original
    assert result["mismatches"] > 0 and result["first_mismatch"]["index"] >= 0
    assert result["first_bad_layer"]["layer"] == "gcn1"
    assert "'gcn1'" in failure_message(result)


def test_hls_step_on_the_tiny_design(tiny_design):
    from codesign.boards import load_board
    from codesign.cli import main
    from codesign.flow import run_flow
    run_flow(tiny_design, ["vectors"], log=lambda *_: None)
    folder = str(tiny_design.folder)
    # another board than the design's: its own project in hls-zcu104/, never over the design's hls/
    assert main(["hls", "--out", folder, "--config", f"{folder}/design.yaml", "--board", "zcu104"]) == 0
    summary = json.loads((tiny_design.folder / "summary.json").read_text())
    hls = summary["steps"]["hls-zcu104"]
    project = tiny_design.folder / "hls-zcu104"
    csim = json.loads((project / "csim.json").read_text())
    assert csim["samples"] >= 10_000 and csim["mismatches"] == 0 and csim["first_mismatch"] is None
    assert hls["samples"] == csim["samples"] and hls["mismatches"] == 0
    assert csim["part"] == load_board("zcu104").part
    assert csim["compile_seconds"] + csim["csim_seconds"] < 180
    csynth = json.loads((project / "csynth.json").read_text())
    assert ("skipped" in csynth) == (vendor_tool(csim["backend"]) is None)


def test_bring_your_own_model(tmp_path):
    from codesign.cli import main
    model = random_model("dynamic")
    path = tmp_path / "mine.keras"
    model.save(path)
    out = tmp_path / "out"
    assert main(["hls", "--model", str(path), "--out", str(out), "--vectors", "1000"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"]["hls"]["samples"] >= 1000 and summary["steps"]["hls"]["mismatches"] == 0
    assert (out / "hls" / "csim.json").is_file() and (out / "vectors" / "vectors.npz").is_file()


def test_unsupported_layer_is_named(tmp_path, capsys):
    import tensorflow as tf
    from codesign.cli import main
    x = tf.keras.Input((4,), name="x")
    model = tf.keras.Model(x, tf.keras.layers.LayerNormalization(name="norm")(x))
    path = tmp_path / "bad.h5"
    model.save(path)
    assert main(["hls", "--model", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "'norm'" in err and "LayerNormalization" in err and "QGCNConv" in err
    with pytest.raises(UnsupportedModelError):
        FixedPointModel.from_keras(model)


@pytest.mark.parametrize("name, tool", [("vivado_hls_2020.1_csynth.xml", "vivado_hls"),
                                        ("vitis_hls_2023.2_csynth.xml", "vitis_hls")])
def test_csynth_report_parser(name, tool):
    r = parse_csynth_xml(FIXTURES / name)
    assert r["latency_min"] == 11 and r["latency_max"] == 12 and r["ii_min"] == r["ii_max"] == 1
    assert r["resources"] == {"bram_18k": 4, "dsp": 0, "ff": 11234, "lut": 30512, "uram": 0}
    assert r["available"]["lut"] == 53200 and r["estimated_clock_ns"] == 8.514 and r["target_clock_ns"] == 10.0
    baseline = check_baseline(r, tool, "tiny", FIXTURES / "baselines")
    if tool == "vitis_hls":  # LUTs within 10 % of the baseline, the rest equal
        assert baseline["status"] == "match", baseline
        r["latency_max"] = 20
        assert check_baseline(r, tool, "tiny", FIXTURES / "baselines")["changes"] == ["latency_max: 12 -> 20"]
    else:
        assert baseline["status"] == "no baseline"


def test_csynth_parser_rejects_other_files(tmp_path):
    bad = tmp_path / "x.xml"
    bad.write_text("<profile><UserAssignments/></profile>")
    with pytest.raises(ValueError, match="not a csynth report"):
        parse_csynth_xml(bad)
    with pytest.raises(FileNotFoundError):
        parse_csynth_xml(tmp_path / "missing.xml")


@pytest.mark.skipif(shutil.which("vitis_hls") is not None or shutil.which("vivado_hls") is not None,
                    reason="a vendor tool is on PATH")
def test_synthesis_is_skipped_with_a_reason_without_the_tool():
    for backend in ("Vitis", "Vivado", "VivadoAccelerator"):
        assert "is not on PATH" in run_synthesis(None, backend)["skipped"]
