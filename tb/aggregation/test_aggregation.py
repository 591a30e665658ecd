"""cocotb bench of the graph aggregation kernel: Y = Â·X with the static star Â as constants.

The core comes from da4ml (adder trees, no multipliers); ``aggregation_top.v`` wraps it
for AXI-Stream. Reference: numpy Â @ X (exact on the fixed-point grids).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

try:
    import cocotb
except ImportError:
    cocotb = None

HERE = Path(__file__).parent


def pack_bits(values: list[int], widths: list[int]) -> int:
    word, pos = 0, 0
    for v, w in zip(values, widths):
        word |= (int(v) & ((1 << w) - 1)) << pos
        pos += w
    return word


def unpack_bits(word: int, fmts: list[dict]) -> np.ndarray:
    """Values of the packed elements, each a ``FixedFormat.to_dict()``."""
    out, pos = [], 0
    for f in fmts:
        w = f["width"]
        v = (word >> pos) & ((1 << w) - 1) if w else 0
        if f["signed"] and w and v >> (w - 1):
            v -= 1 << w
        out.append(v * 2.0 ** -f["frac"])
        pos += w
    return np.array(out)


if cocotb is not None:
    @cocotb.test()
    async def aggregation_vectors(dut):
        """Random X under random idle and backpressure; every Y exact; latency as built."""
        from cocotbext.axi import AxiStreamFrame
        from codesign.sim.tb import AxisTB, Monitor
        cfg = json.loads(Path(os.environ["AGG_CONFIG"]).read_text())
        from codesign.fixedpoint import FixedFormat
        adj, n, c = np.array(cfg["adj"]), cfg["n"], cfg["channels"]
        fmt = FixedFormat(cfg["fmt"]["width"], cfg["fmt"]["integer"], cfg["fmt"]["signed"])
        rng = np.random.default_rng(0)
        ints = rng.integers(fmt.min_code, fmt.max_code + 1, (300, n * c))
        x = fmt.to_float(ints)
        expected = np.einsum("ij,bjc->bic", adj, x.reshape(-1, n, c)).reshape(len(x), -1)
        in_bytes, out_bytes = cfg["params"]["IN_W"] // 8, cfg["params"]["OUT_W"] // 8
        width = fmt.width
        tb = AxisTB(dut)
        await tb.reset()
        mon = Monitor(tb)
        beats = b"".join(pack_bits(r, [width] * len(r)).to_bytes(in_bytes, "little") for r in ints[:50])
        await tb.source.send(AxiStreamFrame(beats))           # full rate first: latency
        got = await tb.sink.recv()
        assert mon.emitted[0] - mon.accepted[0] == cfg["latency_cycles"]
        tb.set_traffic(idle=0.3, backpressure=0.4, seed=2)
        beats += b"".join(pack_bits(r, [width] * len(r)).to_bytes(in_bytes, "little") for r in ints[50:])
        await tb.source.send(AxiStreamFrame(beats[50 * in_bytes:]))
        got2 = await tb.sink.recv()
        data = bytes(got.tdata) + bytes(got2.tdata)
        ys = np.array([unpack_bits(int.from_bytes(data[i:i + out_bytes], "little"), cfg["out_fmts"])
                       for i in range(0, len(data), out_bytes)])
        assert ys.shape == expected.shape
        bad = np.argwhere(ys != expected)
        assert bad.size == 0, f"{len(bad)} mismatches, first {bad[0]}: {expected[tuple(bad[0])]} vs {ys[tuple(bad[0])]}"


@pytest.mark.parametrize("fanout,channels", [(2, 4), (3, 2)])
def test_aggregation(tmp_path, rtl_sim, fanout, channels):
    from codesign.data.egograph import star_adjacency
    from codesign.rtl.build import build_aggregation
    from codesign.fixedpoint import FixedFormat, quantizer_format
    from codesign.sim.runner import run_cocotb
    grid = FixedFormat(8, 0, False)                                # the model's 8-bit Â grid
    adj = grid.to_float(grid.quantize(star_adjacency(fanout)))
    fmt = quantizer_format("quantized_relu(8,2)")                  # an activation's format
    build = build_aggregation(adj, channels, fmt, tmp_path / "rtl")
    cfg = {**build, "adj": adj.tolist(), "n": adj.shape[0], "channels": channels, "fmt": fmt.to_dict()}
    (tmp_path / "agg.json").write_text(json.dumps(cfg))
    run_cocotb(rtl_sim, build["sources"], build["toplevel"], "test_aggregation", tmp_path / "sim",
               module_dir=HERE, libdirs=build["libdirs"], parameters=build["params"],
               extra_env={"AGG_CONFIG": tmp_path / "agg.json"})
