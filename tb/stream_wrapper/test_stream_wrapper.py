"""cocotb bench of ``kernels/rtl/axis_pipe_adapter.v`` (valid/ready, credits, FIFO, tlast, reset).

The datapath under the adapter is a register chain computing x + 1 (``pipe_delay_top.v``);
LATENCY and the FIFO depth are swept from pytest.
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


def _frames(n: int, seed: int = 0, max_len: int = 20):
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2 ** 32 - 1, n, dtype=np.uint64).astype("<u4")
    cuts = np.cumsum(rng.integers(1, max_len, n))
    cuts = cuts[cuts < n]
    return [w for w in np.split(words, cuts) if len(w)]


async def _run(dut, frames, idle=0.0, backpressure=0.0):
    from codesign.sim.tb import AxisTB
    from cocotbext.axi import AxiStreamFrame
    tb = AxisTB(dut)
    tb.set_traffic(idle, backpressure, seed=3)
    await tb.reset()
    for f in frames:
        await tb.source.send(AxiStreamFrame(f.tobytes()))
    for f in frames:
        got = await tb.sink.recv()      # one received frame per sent frame: tlast kept
        assert np.array_equal(np.frombuffer(bytes(got.tdata), "<u4"), (f + 1).astype("<u4"))
    return tb


if cocotb is not None:
    @cocotb.test()
    async def full_rate(dut):
        """Sink always ready: one beat per cycle, latency = LATENCY + 1 (FIFO), never stalls."""
        from codesign.sim.tb import Monitor
        from codesign.sim.tb import AxisTB
        from cocotbext.axi import AxiStreamFrame
        tb = AxisTB(dut)
        await tb.reset()
        mon = Monitor(tb)
        words = np.arange(200, dtype="<u4")
        await tb.source.send(AxiStreamFrame(words.tobytes()))
        got = await tb.sink.recv()
        assert np.array_equal(np.frombuffer(bytes(got.tdata), "<u4"), words + 1)
        assert np.all(np.diff(mon.accepted) == 1) and len(mon.accepted) == 200
        assert mon.emitted[0] - mon.accepted[0] == int(os.environ["LATENCY"]) + 1

    @cocotb.test()
    async def random_traffic(dut):
        """Random source idle and sink backpressure; frames (tlast) preserved."""
        await _run(dut, _frames(600), idle=0.3, backpressure=0.6)

    @cocotb.test()
    async def full_backpressure_never_overflows(dut):
        """The sink stalls for a long time: the adapter stops accepting, nothing is lost."""
        from codesign.sim.tb import AxisTB
        from cocotbext.axi import AxiStreamFrame
        tb = AxisTB(dut)
        await tb.reset()
        tb.sink.pause = True
        words = np.arange(100, dtype="<u4")
        await tb.source.send(AxiStreamFrame(words.tobytes()))
        await tb.cycles(300)
        assert int(tb.s_ready.value) == 0, "accepting while the FIFO and the pipeline are full"
        tb.sink.pause = False
        got = await tb.sink.recv()
        assert np.array_equal(np.frombuffer(bytes(got.tdata), "<u4"), words + 1)

    @cocotb.test()
    async def reset_mid_stream(dut):
        """Reset while beats are in flight: nothing stale comes out, the next stream is clean."""
        from codesign.sim.tb import AxisTB
        from cocotbext.axi import AxiStreamFrame
        tb = AxisTB(dut)
        tb.set_traffic(backpressure=0.5, seed=1)
        await tb.reset()
        await tb.source.send(AxiStreamFrame(np.arange(300, dtype="<u4").tobytes()))
        await tb.cycles(40)
        await tb.reset()
        tb.source.clear()
        tb.sink.clear()
        await tb.cycles(30)
        assert tb.sink.empty()
        words = np.arange(1000, 1050, dtype="<u4")
        await tb.source.send(AxiStreamFrame(words.tobytes()))
        got = await tb.sink.recv()
        assert np.array_equal(np.frombuffer(bytes(got.tdata), "<u4"), words + 1)


@pytest.mark.parametrize("latency,fifo_addr_w", [(1, 2), (4, 3), (5, 3), (9, 4)])
def test_stream_wrapper(tmp_path, rtl_sim, latency, fifo_addr_w):
    from codesign.sim.runner import run_cocotb
    run_cocotb(rtl_sim, [str(HERE / "pipe_delay_top.v"), str(KERNELS / "axis_pipe_adapter.v")],
               "pipe_delay_top", "test_stream_wrapper", tmp_path, module_dir=HERE,
               parameters={"LATENCY": latency, "FIFO_ADDR_W": fifo_addr_w},
               extra_env={"LATENCY": latency})
