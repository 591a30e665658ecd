"""cocotb bench of one DMA transfer through the recommender top, bytes in and bytes out.

The request beats go into the top's input stream exactly as the AXI DMA (MM2S) reads them
from memory, as one frame (tlast on the last beat); the score beats that come out are
saved exactly as the DMA (S2MM) would write them, with the length of each output frame.
Used by the simulated PYNQ device's ``rtl`` backend (``codesign/simdevice/rtl.py``);
the Verilator build is made once and this bench runs once per transfer.

Environment: ``CODESIGN_BUILD`` build.json of the ``rtl`` step (or any top plus
``CODESIGN_PORTS``), ``CODESIGN_REQUESTS`` .npy of (n, request_bytes) uint8,
``CODESIGN_BEATS`` where the (n, score_bytes) uint8 output goes (.npy), ``CODESIGN_RESULT``
where the frame lengths and cycle counts go (JSON).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

try:
    import cocotb
except ImportError:  # imported without cocotb
    cocotb = None

MARGIN_CYCLES = 1000   # beyond one request per cycle plus the pipeline latency


if cocotb is not None:
    @cocotb.test()
    async def dma_transfer(dut):
        """One transfer: every request beat in, every score beat out, within a cycle deadline."""
        from cocotb.triggers import with_timeout
        from cocotbext.axi import AxiStreamFrame
        from codesign.sim.tb import AxisTB, Monitor, port_map_from_env
        from codesign.stream import StreamLayout

        build = json.loads(Path(os.environ["CODESIGN_BUILD"]).read_text())
        layout = StreamLayout.from_dict(build["stream"])
        requests = np.load(os.environ["CODESIGN_REQUESTS"])
        n, score_bytes = len(requests), layout.score_bytes
        tb = AxisTB(dut, port_map_from_env())
        await tb.reset()
        mon = Monitor(tb)
        cocotb.start_soon(tb.source.send(AxiStreamFrame(requests.tobytes())))
        deadline = n + int(build.get("latency_cycles", 0)) + MARGIN_CYCLES
        data, frames = bytearray(), []
        while len(data) < n * score_bytes:
            left = deadline - mon.cycle
            assert left > 0, f"the top produced {len(data) // score_bytes} of {n} scores in {deadline} cycles"
            frame = await with_timeout(tb.sink.recv(), left * tb.period_ns, "ns")
            frames.append(len(frame.tdata))
            data += bytes(frame.tdata)
        np.save(os.environ["CODESIGN_BEATS"], np.frombuffer(bytes(data), np.uint8).reshape(-1, score_bytes))
        Path(os.environ["CODESIGN_RESULT"]).write_text(json.dumps({
            "requests": n, "frame_bytes": frames, "cycles": mon.cycle,
            "first_in": mon.accepted[0] if mon.accepted else None,
            "first_out": mon.emitted[0] if mon.emitted else None}))
