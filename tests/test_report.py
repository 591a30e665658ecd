"""report.html: verdicts, skipped tools, sweep section, and the CLI's error without a summary."""
from __future__ import annotations

import json

from codesign.cli import main
from codesign.report.report import render, write_report


def _summary(sim_mismatches: int = 0) -> dict:
    sim = {"samples": 100, "mismatches": sim_mismatches,
           "first_mismatch": {"index": 7, "expected": 12, "got": 13} if sim_mismatches else None}
    return {"design": "unit", "config": {"board": "pynq-z2"},
            "steps": {"vectors": {"keras_vs_reference": {"samples": 100, "mismatches": 0, "first_mismatch": None}},
                      "hls": {"samples": 100, "mismatches": 0, "first_mismatch": None, "backend": "Vitis",
                              "io_type": "io_parallel", "strategy": "Latency", "reuse_factor": 1,
                              "part": "xc7z020clg400-1",
                              "csynth": {"skipped": "vitis_hls is not on PATH"}},
                      "sim": {"simulators": {"verilator": sim}, "latency_cycles": 13, "ii": 1.0,
                              "latency_ns": 130.0, "clock_mhz": 100.0,
                              "keras_cpu_batch1": {"median_us": 500.0, "how": "batch 1"}}}}


def test_report_verdicts_and_skipped_synthesis(tmp_path):
    page = render(tmp_path, _summary())
    assert page.count('class="PASS"') == 3 and 'class="FAIL"' not in page
    assert "synthesis skipped: vitis_hls is not on PATH" in page
    assert "The train step has not run." in page
    failing = render(tmp_path, _summary(sim_mismatches=3))
    assert 'class="FAIL">FAIL' in failing and '"index": 7' in failing


def test_report_of_a_partial_flow(tmp_path):
    """A sweep point: rtl without synthesis, no sim, no hls; a step with a skipped tool."""
    steps = {"rtl": {"latency_cycles": 11, "latency_ns": 110.0, "clock_mhz": 100.0,
                     "stream": {"request_bits": 256, "beats_per_request": 1}},
             "sim": {"skipped": "no simulator on PATH"}}
    page = render(tmp_path, {"design": "point", "config": {}, "steps": steps})
    assert "No resource estimate (rtl.synth is off)." in page and "110.0 ns" in page
    # with a timing estimate: its table, and the latency at the met clock with its label
    steps["rtl"].update(latency_cycles=12, target_clock_mhz=100.0, timing={
        "label": "estimated before place & route (yosys cell delays + 0.5 ns/net)", "net_delay_ns": 0.5,
        "worst_ns": 12.5, "worst_ns_cells_only": 8.0, "fmax_mhz": 80.0, "fmax_mhz_cells_only": 125.0,
        "clock_mhz": 100.0, "slack_ns": -2.5, "margin": 0.125, "meets": False, "cell_model": "7-series",
        "critical_path": {"start": "core.stage3_inp", "end": "core.stage4_inp", "stage": 3, "lut_levels": 7,
                          "carry4": 9, "carry_bits": 36}})
    page = render(tmp_path, {"design": "point", "config": {}, "steps": steps})
    assert "12.50 ns" in page and "-2.50 ns" in page and "core.stage3_inp" in page
    assert "150.0 ns</b> at\n80.0 MHz (estimated before place &amp; route; target 100.0 MHz)" in page
    assert "sim</td><td>RTL simulation (cocotb)</td>" in page and 'class="skipped">skipped' in page
    steps["rtl"]["resources"] = {"skipped": "yosys is not on PATH"}
    assert "Resource estimate skipped: yosys is not on PATH" in render(tmp_path, {"steps": steps})


def test_report_includes_the_sweep_when_it_ran(tmp_path):
    (tmp_path / "sweep").mkdir()
    point = {"id": "b8_s8", "bits": 8, "size": 8, "ndcg10": 0.27, "pareto": True,
             "hardware": {"lut": 29000, "ff": 7000, "dsp": 16, "latency_cycles": 13, "latency_ns": 130.0}}
    (tmp_path / "sweep" / "sweep.json").write_text(json.dumps(
        {"label": "short training", "points": [point], "pareto": ["b8_s8"], "errors": {}}))
    path = write_report(tmp_path, _summary())
    page = path.read_text()
    assert "Sweep: accuracy against resources and latency" in page and "b8_s8" in page
    assert not (tmp_path / "report.tmp").exists()


def test_report_command_without_summary_names_the_fix(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 2
    assert f"run 'codesign flow --out {tmp_path}' first" in capsys.readouterr().err


def test_report_of_results_from_an_older_codesign(tmp_path):
    """Stale entries kept in summary.json may lack fields the template reads: rendered, not fatal."""
    steps = {"bench": {"runs": {"cpu": {}, "gpu": {"skipped": "no GPU"}}, "machine": {"cpu": "x"},
                       "stale": "its code changed"},
             "rtl": {"latency_cycles": 11, "stale": "its code changed"},
             "host": {"backends": {"reference": {"samples": 10}}}}
    page = render(tmp_path, {"design": "old", "config": {}, "steps": steps})
    assert "Not current" in page and "bench: its code changed" in page and "rtl: its code changed" in page
    assert "CPU/GPU baselines" not in page        # a stale result's section is not shown


def test_report_says_which_paired_differences_are_significant(tmp_path):
    """The accuracy section states, per paired comparison, whether the 95% interval clears 0."""
    model = {"ndcg10": 0.31, "hr10": 0.59, "ndcg10_full": 0.04, "params": 1000, "train_seconds": 10.0}
    train = {"models": {"hybrid_quant": model}, "paired_ndcg10": {
        "hybrid_quant_minus_bpr_mf_8": {"mean": 0.021, "ci95": [0.007, 0.035]},
        "hybrid_quant_minus_gnn_quant": {"mean": 0.0036, "ci95": [-0.0005, 0.0078]},
        "hybrid_quant_minus_lightgcn_64": {"mean": -0.02, "ci95": [-0.03, -0.01]}}}
    page = render(tmp_path, {"design": "unit", "config": {}, "steps": {"train": train}})
    rows = {line.split("</td>")[0].removeprefix("<tr><td>"): line for line in page.splitlines()
            if "_minus_" not in line and " − " in line}
    assert "better (interval above 0)" in rows["hybrid_quant − bpr_mf_8"]
    assert "no significant difference (interval includes 0)" in rows["hybrid_quant − gnn_quant"]
    assert "worse (interval below 0)" in rows["hybrid_quant − lightgcn_64"]


def test_report_says_how_the_training_graphs_were_built(tmp_path):
    model = {"ndcg10": 0.31, "hr10": 0.59, "ndcg10_full": 0.04, "params": 1000, "train_seconds": 10.0}
    train = {"models": {"hybrid_quant": model}, "sequential_neighbours": True, "fanout": 2}
    page = render(tmp_path, {"design": "unit", "config": {}, "steps": {"train": train}})
    assert "in the user's 2 neighbour slots, the items the user rated just before it" in page
    assert "title tokens was marked" not in page
    train.update(sequential_neighbours=False, title_match=8, title_match_levels=2)
    page = render(tmp_path, {"design": "unit", "config": {}, "steps": {"train": train}})
    assert "in the user's 2 neighbour slots" not in page
    assert "the titles of the user's last 8 items" in page and "clipped at 2" in page and "3x the vocabulary" in page


def test_console_summary_says_whether_the_clock_or_only_the_margin_is_missed():
    from codesign.report.console_summary import clock_verdict
    t = {"clock_mhz": 100.0, "margin": 0.125}
    assert clock_verdict({**t, "meets": True, "slack_ns": 1.6}) == "meets 100 MHz with 12.5% margin"
    assert clock_verdict({**t, "meets": False, "slack_ns": 1.13}) == \
        "meets 100 MHz, not the 12.5% margin (slack +1.13 ns)"
    assert clock_verdict({**t, "meets": False, "slack_ns": -0.2}) == "MISSES 100 MHz"
