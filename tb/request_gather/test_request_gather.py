"""cocotb bench of ``kernels/rtl/axis_request_gather.v`` (multi-beat requests -> one request word).

Requests are ``BEATS`` beats of ``BEAT_W`` bits; transfers (tlast on their last beat) hold
several requests. The gathered words must carry the same bytes in the same order (beat 0 in
the low bits), one output word per request, tlast on the word of a transfer's last request.
BEAT_W and BEATS are swept from pytest, under Verilator and Icarus.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

try:
    import cocotb
except ImportError:
    cocotb = None

HERE = Path(__file__).parent
KERNELS = HERE.parents[1] / "kernels" / "rtl"
PORTS = {"clk": "clk", "rst": "rst", "rst_active_low": False,
         "s_axis": {"tdata": "s_axis_tdata", "tvalid": "s_axis_tvalid", "tready": "s_axis_tready",
                    "tlast": "s_axis_tlast"},
         "m_axis": {"tdata": "m_tdata", "tvalid": "m_tvalid", "tready": "m_tready", "tlast": "m_tlast"}}


def _params() -> tuple[int, int]:
    return int(os.environ["BEAT_W"]), int(os.environ["BEATS"])


def _transfers(n_requests: int, seed: int = 0, max_len: int = 9) -> list[bytes]:
    """Random request bytes cut into transfers of 1..max_len requests."""
    beat_w, beats = _params()
    request_bytes = beat_w * beats // 8
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n_requests, request_bytes), dtype=np.uint8)
    cuts = np.cumsum(rng.integers(1, max_len + 1, n_requests))
    cuts = cuts[cuts < n_requests]
    return [chunk.tobytes() for chunk in np.split(data, cuts) if len(chunk)]


async def _start(dut, idle=0.0, backpressure=0.0, seed=0):
    from codesign.sim.tb import AxisTB
    tb = AxisTB(dut, PORTS)
    tb.set_traffic(idle, backpressure, seed=seed)
    await tb.reset()
    return tb


async def _send_all(tb, transfers):
    from cocotbext.axi import AxiStreamFrame
    for t in transfers:
        await tb.source.send(AxiStreamFrame(t))


async def _expect(tb, transfers):
    for i, t in enumerate(transfers):
        got = await tb.sink.recv()     # one output frame per transfer: tlast on its last request
        assert bytes(got.tdata) == t, f"transfer {i}: gathered bytes differ"


if cocotb is not None:
    @cocotb.test()
    async def full_throughput(dut):
        """Ready sink: one beat accepted per cycle, one request word every BEATS cycles, 1 cycle latency."""
        from codesign.sim.tb import Monitor
        _, beats = _params()
        tb = await _start(dut)
        mon = Monitor(tb)
        transfers = _transfers(120, seed=1)
        cocotb.start_soon(_send_all(tb, transfers))
        await _expect(tb, transfers)
        n_beats = 120 * beats
        assert len(mon.accepted) == n_beats and np.all(np.diff(mon.accepted) == 1), \
            f"stalled: max gap {np.diff(mon.accepted).max()} cycles between input beats"
        assert np.all(np.diff(mon.emitted) == beats), "a request word every BEATS cycles"
        latency = mon.emitted[0] - mon.accepted[beats - 1]
        dut._log.info("BEATS %d: %d beats in %d cycles, latency %d cycle(s) after the last beat",
                      beats, n_beats, mon.accepted[-1] - mon.accepted[0] + 1, latency)
        assert latency == 1

    @cocotb.test()
    async def random_traffic(dut):
        """Random source idle and sink backpressure: bytes, order and tlast preserved."""
        tb = await _start(dut, idle=0.3, backpressure=0.6, seed=5)
        transfers = _transfers(300, seed=2)
        cocotb.start_soon(_send_all(tb, transfers))
        await _expect(tb, transfers)

    @cocotb.test()
    async def held_output_blocks_only_the_last_beat(dut):
        """A stalled sink: the gather takes BEATS-1 beats of the next request, then waits; nothing lost."""
        from codesign.sim.tb import Monitor
        _, beats = _params()
        tb = await _start(dut)
        tb.sink.pause = True
        mon = Monitor(tb)
        transfers = _transfers(5, seed=3, max_len=1)
        cocotb.start_soon(_send_all(tb, transfers))
        await tb.cycles(10 * beats + 20)
        assert len(mon.accepted) == 2 * beats - 1, f"accepted {len(mon.accepted)} beats with the sink stalled"
        tb.sink.pause = False
        await _expect(tb, transfers)

    @cocotb.test()
    async def reset_drops_a_partial_request(dut):
        """Reset after some beats of a request: no stale word comes out, the next request is whole."""
        from cocotb.triggers import RisingEdge
        from cocotbext.axi import AxiStreamFrame
        beat_w, beats = _params()
        tb = await _start(dut)
        part = _transfers(1, seed=4)[0][:(beats - 1) * beat_w // 8]     # all but the last beat
        await tb.source.send(AxiStreamFrame(part))
        await tb.cycles(3 * beats + 5)
        await tb.reset()
        tb.source.clear()
        for _ in range(10):
            await RisingEdge(tb.clk)
        assert tb.sink.empty(), "a word came out of a partial request"
        transfers = _transfers(6, seed=6)
        cocotb.start_soon(_send_all(tb, transfers))
        await _expect(tb, transfers)


# beat widths: a narrow stream, and the DMA's widest (slow: wide Verilator models build slowly)
@pytest.mark.parametrize("beat_w", [32, pytest.param(1024, marks=pytest.mark.slow)])
@pytest.mark.parametrize("beats", [2, 3, 4])
def test_request_gather(tmp_path, rtl_sim, beat_w, beats):
    from codesign.sim.runner import run_cocotb
    run_cocotb(rtl_sim, [str(KERNELS / "axis_request_gather.v")], "axis_request_gather", "test_request_gather",
               tmp_path, module_dir=HERE, parameters={"BEAT_W": beat_w, "BEATS": beats},
               extra_env={"BEAT_W": beat_w, "BEATS": beats})
