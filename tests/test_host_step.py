"""The ``host`` step on the tiny trained design (slow: the rtl and bitstream steps run first)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codesign.flow import Design, run_flow

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_host_step_on_the_simulated_device(tiny_design):
    cfg = tiny_design.cfg.model_copy(deep=True)
    cfg.rtl.synth = False
    cfg.bitstream.hls4ml = False
    cfg.host.backends = ["reference", "csim", "rtl"]
    cfg.host.rtl_vectors = 200
    cfg.host.batch_sizes = [1, 64, 1024]
    cfg.host.repeats = 30
    design = Design(tiny_design.folder, cfg)
    summary = run_flow(design, ["vectors", "hls", "rtl", "bitstream", "host"], log=lambda *_: None)
    host = summary["steps"]["host"]
    ref = host["backends"]["reference"]
    assert ref["samples"] == 10000 and ref["mismatches"] == 0 and ref["first_mismatch"] is None
    assert ref["device"] == "simulated:reference" and ref["dma"] == "axi_dma_0"
    csim, rtl = host["backends"]["csim"], host["backends"]["rtl"]
    assert csim["samples"] == 10000 and csim["mismatches"] == 0 and csim["device"] == "simulated:csim"
    # the RTL backend comes from its own module; where it is missing the backend says so
    assert rtl.get("mismatches") == 0 or "not available" in rtl["skipped"]
    deepest = "simulated:rtl" if "skipped" not in rtl else "simulated:csim"
    assert host["device"] == deepest and host["mismatches"] == 0 and host["passed"]
    assert host["bitstream"].startswith("placeholder")
    assert set(host["latency"]) == {"1", "64", "1024"}
    overhead = host["host_overhead_us_per_request"]
    assert set(overhead) == {"batch_1", "batch_1024"} and 0 < overhead["batch_1024"] < overhead["batch_1"]
    latency = json.loads((design.path("host") / "latency.json").read_text())
    assert [b["batch_size"] for b in latency["reference"]["batches"]] == [1, 64, 1024]

    # the notebook's way: only environment variables select the simulated device
    bit = design.path("host") / "overlay" / "recommender.bit"
    script = textwrap.dedent(f"""
        import numpy as np
        from codesign.host import RecommenderOverlay
        ol = RecommenderOverlay({str(bit)!r})
        v = np.load({str(design.path('vectors') / 'vectors.npz')!r})
        got = ol.score(v["nodes"][:300], v["tokens"][:300])
        assert np.array_equal(got, v["expected"][:300].reshape(-1)), "scores differ"
        print(ol.device.name)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CODESIGN_SIM_DEVICE": "reference",
           "CODESIGN_SIM_DESIGN": str(design.folder)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("simulated:reference"), out.stderr[-2000:]
