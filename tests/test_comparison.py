"""The one comparison (FPGA, driver, CPU, GPU, paper) built from a summary's steps."""
from __future__ import annotations

from pathlib import Path

from codesign.report.comparison import comparison, format_comparison, latency_plot, resource_plot, resources
from codesign.report.report import render


def _latency(p50: float, p99: float, batch: int, rps: float) -> dict:
    return {"per_batch_us": {"p50": p50 * batch, "p90": p99 * batch, "p99": p99 * batch, "max": p99 * batch},
            "per_request_us": {"p50": p50, "p90": p99, "p99": p99, "max": p99}, "throughput_rps": rps,
            "split_us": {}, "host_overhead_us_per_request": 1.0}


def _bench_row(runtime: str, batch: int, p50: float, ok: bool = True) -> dict:
    return {"device": "cpu", "runtime": runtime, "precision": "quant", "batch": batch, "p50_us": p50 * batch,
            "p99_us": 2 * p50 * batch, "p50_us_per_request": p50, "p99_us_per_request": 2 * p50,
            "throughput_rps": batch / (p50 * batch * 1e-6), "within_tolerance": ok}


STEPS = {
    "rtl": {"latency_cycles": 12, "clock_mhz": 100.0,
            "resources": {"lut": 5320, "ff": 100, "dsp": 0, "bram36_equivalent": 1.5, "part": "xc7z020clg400-1",
                          "share": {"lut": 0.1, "ff": 0.001, "dsp": 0.0, "bram36": 0.0107}}},
    "sim": {"latency_cycles": 12, "ii": 1, "clock_mhz": 100.0, "simulator": "verilator"},
    "host": {"device": "simulated:rtl", "latency_device": "simulated:reference",
             "latency": {"1": _latency(40.0, 90.0, 1, 25000.0), "1024": _latency(0.5, 0.9, 1024, 2e6)},
             "backends": {"reference": {"device": "simulated:reference", "samples": 10, "mismatches": 0,
                                        "first_mismatch": None},
                          "rtl": {"skipped": "no RTL build"}}},
    "bench": {"table": [_bench_row("onnxruntime", 1, 30.0), _bench_row("onnxruntime", 1024, 1.0),
                        _bench_row("tf_function", 1, 600.0), _bench_row("tf_function", 1024, 2.0, ok=False)],
              "runs": {"cpu": {}, "gpu": {"skipped": "no GPU visible to TensorFlow"}},
              "paper": {"latency_ms": [40, 60], "label": "reported by the paper (modelled in R), not measured"}},
}


def test_rows_in_order_with_their_sources():
    rows = comparison(STEPS)
    assert [r["kind"] for r in rows] == ["FPGA kernel", "driver", "CPU", "CPU", "GPU", "paper"]
    fpga, driver, onnx, tf, gpu, paper = rows
    assert fpga["p50_us"] == 12 / 100.0 and fpga["throughput_rps"] == 100e6 and "verilator" in fpga["note"]
    assert driver["p50_us"] == 40.0 and driver["p99_us"] == 90.0 and driver["throughput_batch"] == 1024
    assert "simulated:reference" in driver["what"] and "model on this CPU" in driver["note"]
    assert onnx["p50_us"] == 30.0 and onnx["throughput_batch"] == 1024 and onnx["note"] == ""
    assert "beyond its accuracy tolerance" in tf["note"]
    assert not gpu["measured"] and gpu["note"] == "no GPU visible to TensorFlow"
    assert not paper["measured"] and paper["p50_us"] == 40e3 and "not measured" in paper["note"]
    text = format_comparison(rows)
    assert "FPGA kernel" in text and "onnxruntime quant" in text and "40-60 ms" in text
    assert latency_plot(rows).startswith("data:image/png;base64,")
    assert format_comparison([]).startswith("comparison: nothing measured yet")


def test_resources_and_report_page(tmp_path: Path):
    used = resources(STEPS)
    assert {r["resource"]: r["share"] for r in used} == STEPS["rtl"]["resources"]["share"]
    assert used[0]["source"].startswith("yosys") and used[0]["part"] == "xc7z020clg400-1"
    assert resource_plot(used).startswith("data:image/png;base64,") and resource_plot([]) is None
    html = render(tmp_path, {"design": "t", "steps": {"host": STEPS["host"]}})
    assert "One comparison: FPGA, driver, CPU, GPU, paper" in html and "latency per request, log scale" in html
    assert "PYNQ driver, simulated:reference</td><td>10</td><td>0</td>" in html     # bit-exactness rows
    assert "PYNQ driver, rtl</td>" in html
