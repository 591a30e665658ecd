"""The console: a step's own lines and bars on the console, everything else in its log file;
a failure shows the log's tail and path; ``codesign flow`` ends with the summary block."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codesign.console import log_tail
from codesign.report.console_summary import RULE, format_summary

REPO = Path(__file__).resolve().parent.parent

# a step that makes every kind of noise the flow meets: Python warnings, logging, print of a
# library, output of C/C++ code on the descriptors, a child process; and its own line and bar
NOISY = textwrap.dedent("""
    import logging, os, subprocess, sys, warnings
    from codesign import cli, flow
    from codesign.console import progress, say

    flow.load_steps = lambda: None

    @flow.register_step("data", sections=("data",))
    def noisy(design):
        warnings.warn("keras.constraints.serialize is deprecated (third-party warning)", UserWarning)
        from codesign.fixedpoint import PrecisionWarning
        for _ in range(2):    # ours: on the console once, and in the log
            warnings.warn("layer 'gcn' (GCNConv) has no quantizers: using fixed<16,6>", PrecisionWarning)
        logging.getLogger("absl").warning("absl-style warning line")
        print("hls4ml-style print: Writing HLS project")
        os.write(2, b"C++ library: vpi_iterate returned NULL\\n")
        subprocess.run([sys.executable, "-c", "print('child process output')"], check=True)
        say("made 3 things")
        for _ in progress(range(5), "things", unit="thing"):
            pass
        if os.environ.get("NOISY_FAIL"):
            raise RuntimeError("the noisy step broke")
        (design.path("data") / "thing.txt").write_text("3")
        return {"things": 3}

    sys.exit(cli.main(["flow", "--out", sys.argv[1], "--steps", "data"] + sys.argv[2:]))
""")

THIRD_PARTY = ("Warning", "warning", "vpi_iterate", "HLS project", "child process", "absl")


def run_noisy(folder: Path, *args: str, fail: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **({"NOISY_FAIL": "1"} if fail else {})}
    script = folder.parent / "code" / "noisy_step.py"   # a file in its own folder: the flow hashes it
    script.parent.mkdir(exist_ok=True)
    script.write_text(NOISY)
    return subprocess.run([sys.executable, str(script), str(folder), *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def test_noise_goes_to_the_step_log_and_the_console_stays_short(tmp_path):
    proc = run_noisy(tmp_path / "D")
    assert proc.returncode == 0, proc.stderr
    console = proc.stdout + proc.stderr
    log = (tmp_path / "D" / "data" / "data.log").read_text()
    for noise in ("keras.constraints.serialize", "absl-style warning line", "Writing HLS project",
                  "vpi_iterate returned NULL", "child process output"):
        assert noise in log, noise
        assert noise not in console, noise
    ours = "warning: layer 'gcn' (GCNConv) has no quantizers: using fixed<16,6>"
    assert proc.stdout.count(ours) == 1 and ours in log
    assert not [line for line in console.splitlines() if any(t in line for t in THIRD_PARTY) and ours not in line]
    # the step's own line on the console and in the log; the bar's final state in the log
    assert "  made 3 things" in proc.stdout and "[codesign] made 3 things" in log
    assert "things: 5/5 thing" in log
    # the log is not one of the step's outputs (it differs between two honest runs)
    result = json.loads((tmp_path / "D" / "data" / "data.json").read_text())
    assert "thing.txt" in result["outputs"] and "data.log" not in result["outputs"]
    # the summary block is last
    lines = proc.stdout.rstrip().splitlines()
    block = lines[lines.index(RULE):]
    assert block[-1] == RULE and block[1].startswith("summary of design")
    assert not [line for line in block if line.startswith("[data]")]
    assert len(console.splitlines()) < 30


def test_a_failing_step_shows_its_log_tail_and_path(tmp_path):
    folder = tmp_path / "D"
    assert run_noisy(folder).returncode == 0
    before = (folder / "data" / "data.log").read_bytes()
    proc = run_noisy(folder, "--force", fail=True)
    assert proc.returncode == 2
    failed = folder / "data.failed.log"
    assert f"[data] full log: {failed}" in proc.stderr
    assert "| RuntimeError: the noisy step broke" in proc.stderr      # the traceback's end is in the log
    assert proc.stderr.rstrip().splitlines()[-1] == "error: the noisy step broke"
    assert "| C++ library: vpi_iterate returned NULL" in proc.stderr   # the log's tail, marked
    assert "vpi_iterate returned NULL" in failed.read_text()
    # the previous result is back untouched, with its own log
    assert (folder / "data" / "data.log").read_bytes() == before
    # a run that succeeds again drops the failed log
    assert run_noisy(folder, "--force").returncode == 0 and not failed.exists()


def test_log_tail_skips_blank_lines_and_bar_redraws(tmp_path):
    log = tmp_path / "x.log"
    log.write_bytes(b"first\n\n  \nbar 1/3\rbar 2/3\rbar 3/3\n" + b"".join(b"line %d\n" % i for i in range(30)))
    tail = log_tail(log, 32)
    assert tail[:2] == ["first", "bar 3/3"] and tail[-1] == "line 29" and len(tail) == 32
    assert log_tail(tmp_path / "missing.log") == []


def test_summary_block_from_a_summary_json(tmp_path):
    """Every section from the stored results; a step that did not run says so."""
    summary = {"design": "d", "steps": {
        "train": {"models": {"hybrid_quant": {"ndcg10": 0.27, "hr10": 0.54}},
                  "baselines": {"ease": {"ndcg10": 0.31, "hr10": 0.6}},
                  "paired_ndcg10": {"hybrid_quant_minus_ease": {"mean": -0.04, "ci95": [-0.05, -0.03]}},
                  "seconds": 300.0},
        "vectors": {"keras_vs_reference": {"samples": 100, "mismatches": 0}, "seconds": 2.0},
        "rtl": {"latency_cycles": 21, "target_clock_mhz": 100.0, "clock_mhz": 100.0,
                "resources": {"lut": 3000, "ff": 1000, "dsp": 2, "bram36_equivalent": 1.0, "part": "xc7z020",
                              "share": {"lut": 0.0564, "ff": 0.0094, "dsp": 0.0091, "bram36": 0.0071}},
                "timing": {"skipped": "rtl.timing is off"}, "seconds": 60.0},
        "bench": {"table": [{"device": "cpu", "runtime": "onnxruntime", "precision": "float", "batch": 1,
                             "p50_us_per_request": 21.0, "p99_us_per_request": 30.0, "throughput_rps": 5e4,
                             "within_tolerance": True}]},
    }}
    text = format_summary(summary, tmp_path)
    assert "hybrid_quant - ease" in text and "-0.0400" in text and "(baseline)" in text
    assert "[-0.0500, -0.0300]  below 0" in text      # the interval's verdict
    assert "quantized Keras model" in text and "PASS   0 / 100" in text
    assert "hls4ml C simulation" in text and "not run" in text
    assert "resources on xc7z020: LUT 3,000 (5.6%)" in text and "BRAM36 1 (0.7%)" in text
    assert "21 cycles = 210.0 ns at 100 MHz (at the target clock, no timing evidence)" in text
    assert "onnxruntime float p50 21.0 us" in text and "100x lower" in text
    assert "train 300 s" in text and f"report: {tmp_path / 'report.html'}" in text
    assert text.splitlines()[-1] == RULE


@pytest.mark.slow
def test_real_steps_keep_their_noise_in_their_logs(tiny_design, tmp_path):
    """The train and vectors steps of the tiny design through the command line: TensorFlow's and
    Keras' warnings in the step logs, none on the console, the summary block last."""
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_design.folder, folder)
    proc = subprocess.run([sys.executable, "-m", "codesign.cli", "flow", "--out", str(folder), "--steps",
                           "data,train,vectors", "--force"], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)},
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = proc.stdout + proc.stderr
    for step in ("data", "train", "vectors"):
        assert (folder / step / f"{step}.log").is_file()
    train_log = (folder / "train" / "train.log").read_text()
    assert "Warning" in train_log or "WARNING" in train_log, train_log[-2000:]
    assert not [line for line in console.splitlines() if "Warning" in line or "WARNING" in line], console
    assert proc.stdout.rstrip().splitlines()[-1] == RULE


def test_plain_progress_lines_thin_out(monkeypatch):
    """Without a terminal a bar prints a line after 60 s, then after 120 s more, 240 s more...:
    a wait of an hour is six lines, not thousands."""
    from codesign import console
    clock = [0.0]
    monkeypatch.setattr(console.time, "monotonic", lambda: clock[0])
    lines = []
    monkeypatch.setattr(console, "_streams", lambda: (None, type("S", (), {"write": lambda _, t: lines.append(t)})()))
    bar = console._Plain(None, "wait", "s")
    for _ in range(3600):
        clock[0] += 1
        bar.update()
    assert [line.split(": ")[1] for line in lines] == ["60 s\n", "180 s\n", "420 s\n", "900 s\n", "1860 s\n"]
