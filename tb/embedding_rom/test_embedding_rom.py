"""cocotb bench of ``kernels/rtl/embedding_rom.v``: both read ports, one-cycle latency,
contents equal to a quantized table written by ``codesign.rtl.build`` (pack_rows/write_hex)."""
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
KERNELS = HERE.parents[1] / "kernels" / "rtl"

if cocotb is not None:
    @cocotb.test()
    async def reads_every_row(dut):
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge, RisingEdge
        rows = json.loads(Path(os.environ["ROM_ROWS"]).read_text())
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        rng = np.random.default_rng(0)
        order = list(range(len(rows))) + list(rng.integers(0, len(rows), 200))
        pending = None
        for k, a in enumerate(order):
            b = order[-1 - k]
            await FallingEdge(dut.clk)
            if pending is not None:       # the address presented one edge earlier
                pa, pb = pending
                assert int(dut.data_a.value) == rows[pa], f"row {pa}"
                assert int(dut.data_b.value) == rows[pb], f"row {pb}"
            dut.addr_a.value, dut.addr_b.value = int(a), int(b)
            pending = (a, b)
            await RisingEdge(dut.clk)


@pytest.mark.parametrize("depth,dim,bits", [(37, 8, 8), (100, 4, 6)])
def test_embedding_rom(tmp_path, rtl_sim, depth, dim, bits):
    from codesign.rtl.build import pack_rows, write_hex
    from codesign.fixedpoint import FixedFormat
    from codesign.sim.runner import run_cocotb
    fmt = FixedFormat(bits, 1, True)
    rng = np.random.default_rng(depth)
    codes = rng.integers(fmt.min_code, fmt.max_code + 1, (depth, dim))     # a table of codes
    rows = pack_rows(codes, fmt)
    write_hex(tmp_path / "rom.hex", rows, dim * bits)
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    run_cocotb(rtl_sim, [str(KERNELS / "embedding_rom.v")], "embedding_rom", "test_embedding_rom",
               tmp_path / "sim", module_dir=HERE,
               parameters={"WIDTH": dim * bits, "DEPTH": depth, "ADDR_W": 16,
                           "INIT_FILE": f'"{tmp_path / "rom.hex"}"'},
               extra_env={"ROM_ROWS": tmp_path / "rows.json"})
