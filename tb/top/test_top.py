"""cocotb bench of the generated AXI-Stream top (``codesign/rtl/top.py``).

cocotb tests (run inside the simulator; inputs through environment variables):
``CODESIGN_BUILD`` build.json of the ``rtl`` step (or any top plus ``CODESIGN_PORTS``),
``CODESIGN_VECTORS`` .npz with one array per model input (by name) and ``expected`` (from
``codesign.fixedpoint``), ``CODESIGN_N`` how many,
``CODESIGN_RESULT`` where the measurement JSON goes.

The pytest function at the bottom builds a small random-weight design and runs the tests
under each simulator through cocotb's runner.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

try:
    import cocotb
except ImportError:  # collected by pytest without cocotb
    cocotb = None

CHUNK = 256   # requests per transfer (tlast on the last), like one DMA transfer


def _load():
    from codesign.stream import StreamLayout
    build = json.loads(Path(os.environ["CODESIGN_BUILD"]).read_text())
    layout = StreamLayout.from_dict(build["stream"])
    vec = np.load(os.environ["CODESIGN_VECTORS"])
    n = min(int(os.environ.get("CODESIGN_N", len(vec["expected"]))), len(vec["expected"]))
    inputs = {f.name: vec[f.name][:n] for f in layout.fields}
    expected = np.asarray(vec["expected"][:n], np.float64).reshape(n, layout.score_count)
    return build, layout, inputs, expected[:, 0] if layout.score_count == 1 else expected


def _rows(inputs: dict, start: int, stop: int | None = None) -> dict:
    return {k: v[start:stop] for k, v in inputs.items()}


def _tb(dut):
    from codesign.sim.tb import AxisTB, port_map_from_env
    return AxisTB(dut, port_map_from_env())


async def _send(tb, layout, inputs):
    from cocotbext.axi import AxiStreamFrame
    from codesign.stream import pack_requests
    requests = pack_requests(layout, inputs)       # (B, request_bytes): beat 0 of a request first
    for start in range(0, len(requests), CHUNK):
        await tb.source.send(AxiStreamFrame(requests[start:start + CHUNK].tobytes()))


async def _receive(tb, layout, n):
    from codesign.stream import unpack_scores
    data = bytearray()
    frames = []
    size = layout.score_bytes
    while len(data) < size * n:
        frame = await tb.sink.recv()
        frames.append(len(frame.tdata) // size)
        data += bytes(frame.tdata)
    return unpack_scores(layout, np.frombuffer(bytes(data), np.uint8)), frames


def _write_result(update: dict):
    path = os.environ.get("CODESIGN_RESULT")
    if not path:
        return
    path = Path(path)
    result = json.loads(path.read_text()) if path.is_file() else {}
    result.update(update)
    path.write_text(json.dumps(result, indent=2))


if cocotb is not None:
    @cocotb.test()
    async def full_throughput(dut):
        """No idle, no backpressure: latency (first beat in to first beat out) and II."""
        from codesign.sim.tb import Monitor
        _, layout, inputs, expected = _load()
        n = min(len(expected), 200)
        tb = _tb(dut)
        await tb.reset()
        mon = Monitor(tb)
        cocotb.start_soon(_send(tb, layout, _rows(inputs, 0, n)))
        got, frames = await _receive(tb, layout, n)
        assert np.array_equal(got, expected[:n]), f"{np.sum(got != expected[:n])} mismatches"
        assert frames == [min(CHUNK, n - s) for s in range(0, n, CHUNK)], f"tlast framing {frames}"
        beats = layout.beats_per_request
        gaps = np.diff(mon.accepted[::beats])        # cycles between the first beats of requests
        ii = float(np.median(gaps))
        latency = mon.emitted[0] - mon.accepted[0]
        dut._log.info("latency %d cycles, II %.2f cycles (max gap %d)", latency, ii, gaps.max())
        assert len(mon.accepted) == n * beats and gaps.max() == beats, "the top stalled at full throughput"
        _write_result({"latency_cycles": int(latency), "ii": ii, "ii_max": int(gaps.max()),
                       "beats_per_request": layout.beats_per_request})

    @cocotb.test()
    async def vectors_random_traffic(dut):
        """Every vector, with random source idle and sink backpressure; writes the scores."""
        _, layout, inputs, expected = _load()
        tb = _tb(dut)
        tb.set_traffic(idle=0.3, backpressure=0.3, seed=int(os.environ.get("CODESIGN_SEED", "1")))
        await tb.reset()
        start = time.perf_counter()
        cocotb.start_soon(_send(tb, layout, inputs))
        got, _ = await _receive(tb, layout, len(expected))
        seconds = time.perf_counter() - start
        if os.environ.get("CODESIGN_SCORES"):
            np.save(os.environ["CODESIGN_SCORES"], got)
        _write_result({"samples": len(got), "wall_seconds": seconds,
                       "requests_per_second": len(got) / seconds})
        bad = np.flatnonzero((got != expected).reshape(len(got), -1).any(axis=1))
        assert bad.size == 0, f"{bad.size} mismatches; first at {bad[0]}: expected {expected[bad[0]]}, got {got[bad[0]]}"

    @cocotb.test()
    async def reset_mid_stream(dut):
        """A reset in the middle of a stream drops what is in flight; the next stream is clean."""
        from cocotb.triggers import RisingEdge
        _, layout, inputs, expected = _load()
        n = min(len(expected), 64)
        tb = _tb(dut)
        tb.set_traffic(backpressure=0.5, seed=7)
        await tb.reset()
        task = cocotb.start_soon(_send(tb, layout, _rows(inputs, 0, n)))
        await tb.cycles(n // 2)
        task.cancel()
        await tb.reset()
        tb.source.clear()
        tb.sink.clear()
        for _ in range(50):      # nothing stale may come out after the reset
            await RisingEdge(tb.clk)
        assert tb.sink.empty(), "scores of requests sent before the reset came out after it"
        cocotb.start_soon(_send(tb, layout, _rows(inputs, 0, n)))
        got, _ = await _receive(tb, layout, n)
        assert np.array_equal(got, expected[:n]), f"{np.sum(got != expected[:n])} mismatches after reset"


# ---------------------------------------------------------------- pytest entry (the runner)

def test_top_random_model(tmp_path, rtl_sim, small_rtl_design):
    """The top of a small random-weight design: exact scores, II = 1, reset, traffic."""
    build, vectors = small_rtl_design
    result = tmp_path / "result.json"
    from codesign.sim.runner import run_cocotb
    run_cocotb(rtl_sim, build["sources"], build["toplevel"], "test_top", tmp_path / "sim",
               module_dir=Path(__file__).parent, libdirs=build["libdirs"],
               extra_env={"CODESIGN_BUILD": build["path"], "CODESIGN_VECTORS": vectors,
                          "CODESIGN_N": "300", "CODESIGN_RESULT": result})
    got = json.loads(result.read_text())
    assert got["samples"] == 300 and got["ii"] == got["beats_per_request"] == build["stream"]["beats_per_request"]
    assert got["latency_cycles"] == build["latency_cycles"]


def test_top_vitis_port_map(tmp_path, small_rtl_design):
    """The same bench through a port map onto a top with Vitis conventions (ap_ctrl_hs, axis)."""
    from codesign.sim.runner import run_cocotb
    from codesign.sim.tb import vitis_stream_ports
    build, vectors = small_rtl_design
    wrapper = Path(__file__).parents[1] / "vitis_adapter" / "vitis_style_top.v"
    result = tmp_path / "result.json"
    run_cocotb("icarus", build["sources"] + [str(wrapper)], "vitis_style_top", "test_top", tmp_path / "sim",
               module_dir=Path(__file__).parent, libdirs=build["libdirs"],
               parameters={"IN_W": build["stream"]["stream_bits"]},
               extra_env={"CODESIGN_BUILD": build["path"], "CODESIGN_VECTORS": vectors, "CODESIGN_N": "100",
                          "CODESIGN_RESULT": result,
                          "CODESIGN_PORTS": json.dumps(vitis_stream_ports("in_r", "out_r", ap_ctrl="hs"))})
    got = json.loads(result.read_text())
    assert got["samples"] == 100 and got["ii"] == 1


GATHER = Path(__file__).parents[2] / "kernels" / "rtl" / "axis_request_gather.v"


def wide_value_model():
    """A grid input of 70 x 12 bits (16-bit containers: 1,120 bits, two 1024-bit beats) -> dense."""
    import tensorflow as tf
    from qkeras import QActivation, QDense
    x = tf.keras.Input((70,), name="x")
    h = QActivation("quantized_bits(12,4,alpha=1)", name="x_q")(x)
    out = QDense(2, kernel_quantizer="quantized_bits(6,0,alpha=1)", bias_quantizer="quantized_bits(8,0,alpha=1)",
                 name="head")(h)
    model = tf.keras.Model(x, out)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_top_requests_over_several_beats(tmp_path, rtl_sim, make_rtl_design):
    """A request wider than a beat: the generated top gathers its beats; exact scores (two per
    request), one request per BEATS cycles, the latency codesign.latency computes."""
    from codesign.sim.runner import run_cocotb
    assert GATHER.is_file(), f"{GATHER} is missing: the generated top instantiates it for multi-beat requests"
    build, vectors = make_rtl_design(wide_value_model(), tmp_path, n=200)
    assert build["stream"]["beats_per_request"] == 2 and build["stream"]["score_count"] == 2
    result = tmp_path / "result.json"
    run_cocotb(rtl_sim, build["sources"], build["toplevel"], "test_top", tmp_path / "sim",
               module_dir=Path(__file__).parent, libdirs=build["libdirs"],
               extra_env={"CODESIGN_BUILD": build["path"], "CODESIGN_VECTORS": vectors, "CODESIGN_RESULT": result})
    got = json.loads(result.read_text())
    assert got["samples"] == 200 and got["ii"] == got["beats_per_request"] == 2
    assert got["latency_cycles"] == build["latency_cycles"]
