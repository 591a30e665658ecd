"""``codesign deploy``: the bundle's content, its driver without TensorFlow, refusals, notebook 03."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codesign.deploy import NOTEBOOK, _driver

NO_HEAVY = ("import sys\n"
            "for name in ('tensorflow', 'keras', 'qkeras', 'hls4ml', 'da4ml', 'spektral', 'torch', 'yaml'):\n"
            "    sys.modules[name] = None   # importing any of them now fails\n")


def _import_in(folder: Path) -> subprocess.CompletedProcess:
    """Imports the driver from ``folder`` in a fresh interpreter where TensorFlow & co. cannot import."""
    code = NO_HEAVY + ("import codesign, codesign.host, codesign.stream\n"
                       "from codesign.host.driver import RecommenderOverlay\n"
                       "print(codesign.__file__)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def test_driver_copy_imports_without_tensorflow(tmp_path):
    files = _driver(tmp_path)
    assert {"codesign/__init__.py", "codesign/stream.py", "codesign/host/__init__.py",
            "codesign/host/driver.py"} <= set(files)
    run = _import_in(tmp_path)
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).resolve() == (tmp_path / "codesign" / "__init__.py").resolve()
    # the check can fail: a package that imports TensorFlow is refused the same way
    (tmp_path / "codesign" / "__init__.py").write_text("import tensorflow\n")
    assert _import_in(tmp_path).returncode != 0


def test_deploy_refuses_without_the_steps(tmp_path, tiny_design):
    from codesign.cli import main
    from codesign.deploy import deploy
    with pytest.raises(FileNotFoundError, match="no design folder"):
        deploy(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="codesign flow --out"):
        deploy(tmp_path)
    # a trained design without vectors, rtl and bitstream: says which step to run
    import shutil
    folder = tmp_path / "trained"
    shutil.copytree(tiny_design.folder, folder, ignore=shutil.ignore_patterns("vectors", "rtl", "bitstream", "hls"))
    with pytest.raises(RuntimeError, match=f"the vectors step has not run in {folder}: run 'codesign flow "
                                           f"--out {folder} --steps vectors'"):
        deploy(folder)
    assert main(["deploy", "--out", str(folder)]) == 2
    assert not (folder / "deploy").exists()


@pytest.mark.slow
def test_deploy_bundle(deployable_design, tmp_path):
    from codesign.cli import main
    from codesign.stream import StreamLayout
    folder = deployable_design.folder
    assert main(["deploy", "--out", str(folder)]) == 0
    out = folder / "deploy"
    manifest = json.loads((out / "manifest.json").read_text())
    build = json.loads((folder / "rtl" / "build.json").read_text())
    assert json.loads((out / "stream.json").read_text()) == StreamLayout.from_dict(build["stream"]).to_dict()
    assert (out / "recommender.hwh").read_bytes() == (folder / "bitstream" / "recommender.hwh").read_bytes()
    bit = folder / "bitstream" / "recommender.bit"
    assert (out / "recommender.bit").is_file() == bit.is_file() == manifest["bit_built"]
    if not bit.is_file():   # no Vivado here: the note says how to build it
        command = json.loads((folder / "bitstream" / "bitstream.json").read_text())["command"]
        assert command in (out / "BITSTREAM.md").read_text() and "skipped" in manifest
    with np.load(out / "vectors.npz") as z, np.load(folder / "vectors" / "vectors.npz") as ref:
        assert sorted(z.files) == ["expected", "nodes", "tokens"]
        for key in z.files:
            assert np.array_equal(z[key], ref[key])
    assert (out / NOTEBOOK.name).read_bytes() == NOTEBOOK.read_bytes()
    assert sorted(manifest["files"]) == sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    run = _import_in(out)
    assert run.returncode == 0, run.stderr
    # deploying again replaces the bundle in one piece
    (out / "stale.txt").write_text("old")
    assert main(["deploy", "--out", str(folder)]) == 0
    assert not (out / "stale.txt").exists() and not (folder / "deploy.tmp").exists()


@pytest.mark.slow
def test_notebook_03_on_the_simulated_device(deployable_design, tmp_path, monkeypatch):
    """The notebook, run as on a board, against the simulated device (reference backend)."""
    import nbformat
    from nbclient import NotebookClient
    from codesign.bench.run import representative
    from codesign.bench.runtimes import convert_tflite_int8, export_onnx
    from codesign.deploy import deploy
    from codesign.train.step import load_trained
    design = deployable_design
    model = load_trained(design, "hybrid_quant")          # what the bench step exports (quant precision)
    export_onnx(model, design.path("bench") / "hybrid_quant.onnx")
    (design.path("bench") / "hybrid_quant_int8.tflite").write_bytes(
        convert_tflite_int8(model, representative(design, 50, 0)))
    deploy(design.folder)
    out = design.folder / "deploy"
    monkeypatch.setenv("CODESIGN_SIM_DEVICE", "reference")
    # the bundle first on the path, as the kernel's working directory is on a user's: the notebook
    # must still reach the installed codesign package (the simulated device is not in the bundle)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(out), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("CODESIGN_NB_REPEATS", "5")
    monkeypatch.setenv("CODESIGN_NB_WARMUP", "1")
    monkeypatch.setenv("CODESIGN_NB_OUT", str(tmp_path))
    nb = nbformat.read(out / NOTEBOOK.name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(out)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    n = len(np.load(out / "vectors.npz")["expected"])
    assert f"PASS: 0 mismatches over {n} requests" in text
    assert "simulated device: True" in text and f"driver {out}" not in text
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    results = json.loads((tmp_path / "on_board_results.json").read_text())
    assert results["bit_exact"]["mismatches"] == 0 and results["bit_exact"]["device"] == "simulated:reference"
    assert [b["batch_size"] for b in results["latency"]["batches"]] == [1, 8, 64, 256, 1024]
    for name, runtime in (("hybrid_quant.onnx", "onnxruntime"), ("hybrid_quant_int8.tflite", "tflite")):
        cpu = results["cpu"][name]
        assert cpu["runtime"] == runtime and [b["batch_size"] for b in cpu["batches"]] == [1, 8, 64, 256, 1024]
        assert all(b["p50_us"] > 0 for b in cpu["batches"]) and np.isfinite(cpu["max_abs_diff_to_reference"])
