"""The rtl and sim steps end to end on the tiny trained design (slow: Verilator build, yosys)."""
from __future__ import annotations

import json

import pytest

from codesign.flow import Design, run_flow


@pytest.mark.slow
def test_rtl_and_sim_steps_on_tiny_design(tiny_design):
    cfg = tiny_design.cfg.model_copy(deep=True)
    cfg.rtl.verilator_vectors, cfg.rtl.icarus_vectors = 2000, 200
    design = Design(tiny_design.folder, cfg)
    summary = run_flow(design, ["vectors", "rtl", "sim"], log=lambda *_: None)
    rtl, sim = summary["steps"]["rtl"], summary["steps"]["sim"]
    assert rtl["resources"]["lut"] > 0 and rtl["fits"]
    # cut for the board's clock by the timing estimate; latency at the clock that is met
    t = rtl["timing"]
    assert t["fmax_mhz"] > 0 and t["meets"] and rtl["pipelining"]["met"]
    assert rtl["latency"]["clock_mhz"] == rtl["target_clock_mhz"] == 100.0
    assert summary["latency"]["latency_ns"] == rtl["latency_ns"] == rtl["latency_cycles"] * 10.0
    assert (design.path("rtl") / "resources.json").is_file()
    report = json.loads((design.path("sim") / "rtlsim.json").read_text())
    assert report["passed"] and report["mismatches"] == 0
    for name, run in report["simulators"].items():
        if "skipped" not in run:
            assert run["mismatches"] == 0 and run["samples"] == (2000 if name == "verilator" else 200)
            assert run["ii"] == run["beats_per_request"] == 1
            assert run["latency_cycles"] == rtl["latency_cycles"]
    assert report["latency_ns"] == rtl["latency_ns"]
