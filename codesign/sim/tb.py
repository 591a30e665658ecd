"""Reusable cocotb testbench pieces: clock, reset, AXI-Stream source and sink, port maps.

``AxisTB(dut, ports)`` owns the clock, the (synchronous) reset, an ``AxiStreamSource`` on the
input stream and an ``AxiStreamSink`` on the output stream (cocotbext-axi). ``ports`` maps
our names to the DUT's, so the same bench drives our tops (``clk``, ``rst``, ``s_axis_*``,
``m_axis_*``) and Vitis/hls4ml-generated ones (``ap_clk``, ``ap_rst_n``, ``<port>_TDATA``…).

Driving a Vitis/hls4ml top with the top bench (``tb/top/test_top.py``): pass its Verilog
files as the source list, its module as toplevel and the port map as JSON in
``CODESIGN_PORTS`` (``vitis_stream_ports("in_r", "out_r", ap_ctrl="hs")``); the request
and score beats must follow ``codesign/stream.py`` (a request is ``beats_per_request``
beats, tlast on a transfer's last beat; for an hls4ml top, put a width adapter in front that
maps one request to its input stream). ``ap_ctrl_hs`` /
``ap_ctrl_chain`` tops run free: ap_start (and ap_continue) are held high after reset.
"""
from __future__ import annotations

import itertools
import json
import os
import random
from dataclasses import dataclass, field

OUR_PORTS = {
    "clk": "clk", "rst": "rst", "rst_active_low": False,
    "s_axis": {"tdata": "s_axis_tdata", "tvalid": "s_axis_tvalid", "tready": "s_axis_tready",
               "tlast": "s_axis_tlast"},
    "m_axis": {"tdata": "m_axis_tdata", "tvalid": "m_axis_tvalid", "tready": "m_axis_tready",
               "tlast": "m_axis_tlast"},
}


def vitis_stream_ports(in_port: str = "in_r", out_port: str = "out_r", ap_ctrl: str = "none") -> dict:
    """Port map of a Vitis HLS top with ``axis`` ports ``in_port``/``out_port``.

    Vitis names stream ports ``<name>_TDATA/_TVALID/_TREADY/_TLAST``, the clock ``ap_clk`` and
    the active-low reset ``ap_rst_n`` (hls4ml's VivadoAccelerator top: ``in_r``/``out_r``).
    ``ap_ctrl``: ``none`` (hls4ml's stream tops), ``hs`` (ap_start held high after reset:
    a free-running kernel) or ``chain`` (ap_start and ap_continue held high).
    """
    def axis(name):
        return {s: f"{name}_T{s[1:].upper()}" for s in ("tdata", "tvalid", "tready", "tlast")}
    tie = {"none": [], "hs": ["ap_start"], "chain": ["ap_start", "ap_continue"]}
    if ap_ctrl not in tie:
        raise ValueError(f"ap_ctrl {ap_ctrl!r} is not one of {', '.join(tie)}")
    return {"clk": "ap_clk", "rst": "ap_rst_n", "rst_active_low": True,
            "s_axis": axis(in_port), "m_axis": axis(out_port), "tie_high": tie[ap_ctrl]}


def port_map_from_env() -> dict:
    """The port map passed by the runner (``CODESIGN_PORTS``, JSON), else ours."""
    text = os.environ.get("CODESIGN_PORTS")
    return json.loads(text) if text else OUR_PORTS


def random_pattern(p_active: float, seed: int):
    """Endless 0/1 pattern: 1 (pause) with probability 1 - p_active."""
    rng = random.Random(seed)
    return (int(rng.random() >= p_active) for _ in itertools.count())


@dataclass
class AxisTB:
    dut: object
    ports: dict = field(default_factory=lambda: OUR_PORTS)
    period_ns: float = 10.0

    def __post_init__(self):
        import cocotb
        from cocotb.clock import Clock
        from cocotbext.axi import AxiStreamSink, AxiStreamSource

        dut, p = self.dut, self.ports
        self.clk = getattr(dut, p["clk"])
        self.rst = getattr(dut, p["rst"])
        self.active_low = bool(p.get("rst_active_low"))
        cocotb.start_soon(Clock(self.clk, self.period_ns, unit="ns").start())
        self.source = AxiStreamSource(_bus(dut, p["s_axis"]), self.clk, self.rst,
                                      reset_active_level=not self.active_low)
        self.sink = AxiStreamSink(_bus(dut, p["m_axis"]), self.clk, self.rst,
                                  reset_active_level=not self.active_low)
        for part in (self.source, self.sink):
            part.log.setLevel("ERROR")     # no per-frame logging (nor frames flushed by a reset)
        self.s_valid = getattr(dut, p["s_axis"]["tvalid"])
        self.s_ready = getattr(dut, p["s_axis"]["tready"])
        self.m_valid = getattr(dut, p["m_axis"]["tvalid"])
        self.m_ready = getattr(dut, p["m_axis"]["tready"])

    def set_traffic(self, idle: float = 0.0, backpressure: float = 0.0, seed: int = 0) -> None:
        """Random source pauses with probability ``idle``, sink stalls with ``backpressure``."""
        self.source.set_pause_generator(random_pattern(1 - idle, seed) if idle else None)
        self.sink.set_pause_generator(random_pattern(1 - backpressure, seed + 1) if backpressure else None)

    async def reset(self, cycles: int = 4) -> None:
        from cocotb.triggers import RisingEdge
        for name in self.ports.get("tie_high", []):   # block-level handshake of a Vitis top
            getattr(self.dut, name).value = 0
        self.rst.value = 0 if self.active_low else 1
        for _ in range(cycles):
            await RisingEdge(self.clk)
        self.rst.value = 1 if self.active_low else 0
        await RisingEdge(self.clk)
        for name in self.ports.get("tie_high", []):
            getattr(self.dut, name).value = 1

    async def cycles(self, n: int) -> None:
        from cocotb.triggers import ClockCycles
        await ClockCycles(self.clk, n)


class Monitor:
    """Counts cycles and records when input beats are accepted and output beats leave."""

    def __init__(self, tb: AxisTB):
        import cocotb
        self.tb = tb
        self.cycle = 0
        self.accepted: list[int] = []
        self.emitted: list[int] = []
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        from cocotb.triggers import RisingEdge
        tb = self.tb
        while True:
            await RisingEdge(tb.clk)
            self.cycle += 1
            if _high(tb.s_valid) and _high(tb.s_ready):
                self.accepted.append(self.cycle)
            if _high(tb.m_valid) and _high(tb.m_ready):
                self.emitted.append(self.cycle)

    def clear(self):
        self.accepted.clear()
        self.emitted.clear()


def _bus(dut, signals: dict):
    """An AXI-Stream bus whose signals have arbitrary names (``{"tdata": "in_r_TDATA", ...}``)."""
    from cocotb_bus.bus import Bus
    optional = {k: v for k, v in signals.items() if k != "tdata"}
    bus = Bus(dut, None, {"tdata": signals["tdata"]}, optional_signals=optional)
    bus._optional_signals = list(optional)   # what cocotbext-axi's AxiStreamBus carries
    return bus


def _high(sig) -> bool:
    v = sig.value
    return v.is_resolvable and int(v) == 1
