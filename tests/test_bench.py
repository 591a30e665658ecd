"""The ``bench`` step: every runtime measured or skipped with a reason, outputs verified."""
from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest

from codesign.bench.run import best_cpu, format_table, run_bench
from codesign.bench.timing import MIN_REPEATS, batch_of, time_call
from codesign.config import ConfigError, parse_config
from codesign.flow import Design, load_steps, run_step
from tests.conftest import TINY

SHORT = {"batch_sizes": [1, 8], "repeats": 5, "warmup": 2, "verify_samples": 256, "max_seconds": 2.0}
RUNTIMES = ["tf_eager", "tf_function", "tf_xla", "onnxruntime", "tflite_int8"]


def _copy(tiny_design: Design, folder, bench: dict) -> Design:
    """The tiny design's data and trained models in ``folder``, with its own bench section."""
    for step in ("data", "train"):
        shutil.copytree(tiny_design.path(step), folder / step)
    return Design(folder, parse_config({**TINY, "bench": bench}))


@pytest.fixture(scope="module")
def bench(tiny_design, tmp_path_factory):
    """The bench step (in its own process) on the tiny design (its train step saves the float
    twin hybrid_float beside the quantized variants)."""
    design = _copy(tiny_design, tmp_path_factory.mktemp("bench"), SHORT)
    load_steps()
    assert (design.path("train") / "hybrid_float.keras").is_file()
    start = time.perf_counter()
    result = run_step(design, "bench", log=lambda *_: None)
    return design, result, time.perf_counter() - start


def test_every_runtime_measured_or_skipped(bench):
    design, result, _ = bench
    stored = json.loads((design.path("bench") / "baselines.json").read_text())
    assert stored["table"] == result["table"]
    assert set(result["runs"]) == {"cpu", "gpu"}
    for runtime in RUNTIMES:
        for precision in ("float", "quant"):
            run = result["runs"]["cpu"][runtime][precision]
            if "skipped" in run:
                assert run["skipped"].strip(), f"{runtime}/{precision} skipped without a reason"
                continue
            assert set(run["batches"]) == {"1", "8"}
            for batch, t in run["batches"].items():
                assert t["repeats"] >= MIN_REPEATS
                assert 0 < t["p50_us"] <= t["p99_us"]
                assert t["p50_us_per_request"] == pytest.approx(t["p50_us"] / int(batch))
                assert t["throughput_rps"] > 0
            assert run["verify"]["samples"] == 256
    # TensorFlow and ONNX Runtime convert this model: they must be measured, not skipped
    for runtime in ("tf_eager", "tf_function", "tf_xla", "onnxruntime"):
        assert all("batches" in result["runs"]["cpu"][runtime][p] for p in ("float", "quant"))
    import tensorflow as tf
    if not tf.config.list_physical_devices("GPU"):
        assert result["runs"]["gpu"] == {"skipped": "no GPU visible to TensorFlow"}
    measured = sum(len(r.get("batches", {})) for per in result["runs"]["cpu"].values() for r in per.values())
    assert len(result["table"]) == measured


def test_outputs_verified(bench):
    _, result, _ = bench
    cpu = result["runs"]["cpu"]
    for runtime in ("tf_eager", "tf_function", "tf_xla", "onnxruntime"):
        quant = cpu[runtime]["quant"]["verify"]
        assert quant["tolerance"] == 0.0 and quant["within_tolerance"], (runtime, quant)
        assert quant["vs_reference"]["mismatches"] == 0, (runtime, quant["vs_reference"])
        flt = cpu[runtime]["float"]["verify"]
        assert flt["max_abs_diff"] <= flt["tolerance"] and flt["within_tolerance"], (runtime, flt)
    int8 = cpu["tflite_int8"]["quant"]
    if "skipped" not in int8:
        assert int8["verify"]["tolerance_metric"] == "pearson_r"
        assert int8["verify"]["max_abs_diff"] > 0   # int8 is a different model: its error is recorded
    marked = {f"cpu/{r}/{p}" for r, per in cpu.items() for p, run in per.items()
              if "verify" in run and not run["verify"]["within_tolerance"]}
    assert set(result["beyond_tolerance"]) == marked


def test_onnx_twin_matches(bench):
    design, result, _ = bench
    quant = result["onnx"]["quant"]
    assert (design.path("bench") / quant["file"]).is_file() and quant["file"] == "hybrid_quant.onnx"
    assert quant["vs_reference"]["mismatches"] == 0 and quant["max_abs_diff"] == 0.0
    assert quant["weights_folded"] and quant["quantized_weights"]["tensors"] >= 8
    flt = result["onnx"]["float"]
    assert (design.path("bench") / "hybrid_float.onnx").is_file()
    assert flt["within_tolerance"] and flt["tolerance"] > 0


def test_folding_check_can_fail(bench):
    """The float twin's ONNX stores the raw (unquantized) weights: the check must notice."""
    from codesign.bench.runtimes import quantized_weights_in_onnx
    from codesign.fixedpoint import FixedPointModel
    from codesign.train.step import load_trained
    design, _, _ = bench
    fp = FixedPointModel.from_keras(load_trained(design, "hybrid_quant"))
    found = quantized_weights_in_onnx(fp, design.path("bench") / "hybrid_float.onnx")
    assert found["missing"] and found["stored_quantized"] < found["tensors"]


def test_summary_fields(bench):
    _, result, seconds = bench
    assert result["machine"]["threads"] == 1
    assert result["machine"]["tensorflow_threads"] == {"intra_op": 1, "inter_op": 1, "set": True}
    assert result["paper"]["label"] == "reported by the paper (modelled in R), not measured"
    rows = [r for r in result["table"] if r["device"] == "cpu" and r["within_tolerance"]]
    fastest = min((r for r in rows if r["batch"] == 1), key=lambda r: r["p50_us"])
    assert result["best_cpu"]["latency"]["p50_us"] == fastest["p50_us"]
    assert result["best_cpu"]["throughput"]["batch"] == 8
    text = format_table(result)
    assert "not measured" in text and "best CPU: latency" in text
    same = result["best_cpu"]["same_scores"]["latency"]
    assert same["runtime"] != "tflite_int8" and same["p50_us"] >= fastest["p50_us"]
    print(f"bench step on the tiny design: {seconds:.0f} s")


def test_in_process_run_records_threads_not_applied(tiny_design, tmp_path):
    """In process (TensorFlow already running: the thread setting is recorded as not applied);
    the train step's float twin is benched beside the quantized model."""
    design = _copy(tiny_design, tmp_path, {**SHORT, "runtimes": ["onnxruntime"], "batch_sizes": [1]})
    load_steps()
    result = run_bench(design, log=lambda *_: None)
    assert set(result["runs"]["cpu"]["onnxruntime"]) == {"quant", "float"}
    assert result["machine"]["tensorflow_threads"]["set"] is False


def test_best_cpu_ignores_runtimes_beyond_tolerance():
    def row(runtime, batch, p50, ok, rps=1.0):
        return {"device": "cpu", "runtime": runtime, "precision": "float", "batch": batch, "p50_us": p50,
                "p99_us": p50, "throughput_rps": rps, "within_tolerance": ok, "tolerance_metric": "max_abs_diff"}
    table = [row("fast_but_wrong", 1, 1.0, False, 9e9), row("slow", 1, 50.0, True), row("ok", 1, 20.0, True),
             row("slow", 64, 500.0, True, 100.0), row("ok", 64, 900.0, True, 70.0)]
    best = best_cpu(table)
    assert best["latency"]["runtime"] == "ok" and best["throughput"]["runtime"] == "slow"
    assert "skipped" in best_cpu([row("x", 1, 1.0, False)])


def test_timing_respects_budget_and_pool():
    calls = []
    t = time_call(lambda x: calls.append(time.sleep(0.002)), {"a": np.zeros((4, 2))}, repeats=10_000, warmup=2,
                  max_seconds=0.02)
    assert MIN_REPEATS <= t["repeats"] < 100 and len(calls) == t["repeats"] + 2 and t["batch"] == 4
    assert t["p50_us"] >= 2000 and t["throughput_rps"] <= 4 / 0.002
    with pytest.raises(ValueError, match="exceeds the 4 requests"):
        batch_of({"a": np.zeros((4, 2))}, 8)


@pytest.mark.parametrize("bench_cfg, key", [({"batch_sizes": [0]}, "bench.batch_sizes"),
                                            ({"runtimes": ["tensorrt"]}, "bench.runtimes.0"),
                                            ({"repeat": 3}, "bench.repeat")])
def test_bad_config_named(bench_cfg, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config({"bench": bench_cfg})


def test_cli_needs_a_design(tmp_path, capsys):
    from codesign.bench.__main__ import main
    assert main(["--out", str(tmp_path)]) == 2
    assert "design.yaml does not exist" in capsys.readouterr().err


def test_report_section(bench, tmp_path):
    from codesign.report.report import render
    _, result, _ = bench
    page = render(tmp_path, {"design": "tiny", "config": {}, "steps": {"bench": result}})
    assert "CPU/GPU baselines (bench)" in page and "<h3>onnxruntime (CPU)</h3>" in page
    assert "reported by the paper (modelled in R), not measured" in page
    assert page.count("beyond tolerance") == sum(not r["within_tolerance"] for r in result["table"])


def test_deadline(tiny_design, tmp_path):
    """A benchmark that outlives bench.timeout_seconds is stopped with a message naming the key."""
    design = _copy(tiny_design, tmp_path, {**SHORT, "timeout_seconds": 1})
    load_steps()
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"did not finish within 1 s \(bench.timeout_seconds\)"):
        run_step(design, "bench", log=lambda *_: None)
    assert time.perf_counter() - start < 30
    assert not (design.path("bench") / "bench.json").exists()
