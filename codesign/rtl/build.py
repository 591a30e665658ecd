"""Verilog of a traced model: the da4ml core, ROM init files and a parameter wrapper.

``build_rtl`` writes into ``out`` (a design's ``rtl/`` folder):
``core/`` (da4ml project of ``recommender_core``: ``src/*.v``, ``src/static/``),
``node_rom.hex`` / ``token_rom.hex`` (generated from the trained model, never committed),
``recommender.v`` (the top ``recommender``: ``kernels/rtl/recommender_top.v`` with this
design's parameters) and ``build.json`` (sources, widths, latency, stream layout).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codesign.latency import core_latency, fifo_addr_w, top_cycles
from codesign.rtl.trace import Fmt, Traced
from codesign.stream import ID_BITS, Field, StreamLayout, axis_ports

KERNELS = Path(__file__).resolve().parents[2] / "kernels" / "rtl"


def pack_rows(table: np.ndarray, fmt: Fmt) -> list[int]:
    """Rows of a quantized table as integers: element 0 in the low bits, two's complement."""
    ints = fmt.to_int(table) & ((1 << fmt.bits) - 1)
    rows = []
    for row in ints:
        word = 0
        for j, v in enumerate(row):
            word |= int(v) << (j * fmt.bits)
        rows.append(word)
    return rows


def write_hex(path: Path, rows: list[int], width: int) -> None:
    digits = (width + 3) // 4
    path.write_text("".join(f"{r:0{digits}x}\n" for r in rows))


def write_core(comb, name: str, out: Path, latency_cutoff, clock_ns: float) -> dict:
    """da4ml RTL project of ``comb`` as module ``name``; returns widths and latency in cycles.

    ``latency_cutoff``: da4ml adder levels per stage, or a ready ``Pipeline`` of ``comb``
    (``codesign.rtl.pipeline.cut``: stages cut by delay).
    """
    import shutil
    from da4ml.codegen import RTLModel
    shutil.rmtree(out, ignore_errors=True)    # no stage file of an earlier cut may linger
    if isinstance(latency_cutoff, (int, float)):
        solution, cutoff = comb, float(latency_cutoff)
    else:
        solution, cutoff = latency_cutoff, -1
    model = RTLModel(solution, name, out, flavor="verilog", latency_cutoff=cutoff,
                     clock_period=clock_ns, print_latency=False)
    model.write()
    meta = json.loads((out / "metadata.json").read_text())
    in_w = int(np.sum(comb.inp_kifs.sum(0)))
    out_w = int(np.sum(comb.out_kifs.sum(0)))
    sources = sorted(str(p) for p in (out / "src").glob("*.v"))
    return {"module": name, "stages": int(meta["latency"]),
            # input and output registered: model_inp -> stage registers -> model_out
            "latency": core_latency(int(meta["latency"])),
            "in_bits": in_w, "out_bits": out_w, "adder_cost": float(meta["cost"]),
            "sources": sources, "libdirs": [str(out / "src" / "static")]}


def _table_literal(values: np.ndarray, fmt: Fmt) -> str:
    """A Verilog literal of a small table, entry c in bits [c*W +: W]."""
    word = 0
    for c, v in enumerate(fmt.to_int(values)):
        word |= int(v) << (c * fmt.bits)
    return f"{len(values) * fmt.bits}'h{word:x}"


def _verilog_params(params: dict) -> str:
    def lit(v):
        if isinstance(v, str):
            return v if v[0].isdigit() else f'"{v}"'
        return str(int(v))
    return ",\n        ".join(f".{k}({lit(v)})" for k, v in params.items())


def build_rtl(traced: Traced, out: Path, latency_cutoff, clock_ns: float) -> dict:
    """Writes the recommender RTL of ``traced`` into ``out``; returns ``build.json``'s content.

    ``latency_cutoff``: da4ml adder levels per stage, or a ``Pipeline`` of ``traced.comb``.
    """
    spec = traced.spec
    if spec.token_table is None or not spec.gcn:
        raise ValueError("the RTL top needs the hybrid model (graph and text towers): use hybrid_quant")
    out = Path(out).resolve()     # absolute: the paths go into Verilog and scripts
    out.mkdir(parents=True, exist_ok=True)
    core = write_core(traced.comb, "recommender_core", out / "core", latency_cutoff, clock_ns)
    node_w = spec.embedding_dim * spec.node_fmt.bits
    tok_w = spec.token_dim * spec.token_fmt.bits
    expected_in = spec.n_graph_nodes * node_w + spec.title_length * tok_w + spec.recip_fmt.bits
    if core["in_bits"] != expected_in:
        raise RuntimeError(f"da4ml core input is {core['in_bits']} bits, the top feeds {expected_in}")
    write_hex(out / "node_rom.hex", pack_rows(spec.node_table, spec.node_fmt), node_w)
    write_hex(out / "token_rom.hex", pack_rows(spec.token_table, spec.token_fmt), tok_w)
    layout = StreamLayout.of([Field("nodes", (spec.n_graph_nodes,), "id", ID_BITS, 16, rows=len(spec.node_table)),
                              Field("tokens", (spec.title_length,), "id", ID_BITS, 16, rows=len(spec.token_table))],
                             traced.out_fmt.f)
    if layout.beats_per_request > 1:     # recommender_top.v takes a request per beat (the generated top gathers)
        raise ValueError(f"a request needs {layout.request_bits} bits, more than one {layout.stream_bits}-bit beat "
                         f"of recommender_top.v: reduce data.fanout or data.title_length")
    params = {
        "N": spec.n_graph_nodes, "L": spec.title_length, "ID_W": ID_BITS,
        "IN_W": layout.stream_bits,
        "NODE_W": node_w, "NODE_DEPTH": len(spec.node_table), "NODE_INIT": str(out / "node_rom.hex"),
        "RECIP_W": spec.recip_fmt.bits, "RECIP_TABLE": _table_literal(spec.recip, spec.recip_fmt),
        "TOK_W": tok_w, "TOK_DEPTH": len(spec.token_table), "TOK_INIT": str(out / "token_rom.hex"),
        "CORE_OUT_W": core["out_bits"], "CORE_LATENCY": core["latency"],
        "SCORE_SIGNED": traced.out_fmt.k, "OUT_W": layout.score_bits,
        "FIFO_ADDR_W": fifo_addr_w(core["latency"] + 2),   # the adapter's LATENCY (recommender_top.v)
    }
    ports = ("clk, rst, s_axis_tdata, s_axis_tvalid, s_axis_tready, s_axis_tlast, "
             "m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast")
    (out / "recommender.v").write_text(f"""// Generated by codesign rtl: the recommender top with this design's parameters.
`timescale 1ns / 1ps
module recommender (
{axis_ports(layout)}
);
    recommender_top #(
        {_verilog_params(params)}
    ) top ({", ".join(f".{p}({p})" for p in ports.split(", "))});
endmodule
""")
    sources = [str(out / "recommender.v"), str(KERNELS / "recommender_top.v"),
               str(KERNELS / "axis_pipe_adapter.v"), str(KERNELS / "embedding_rom.v")] + core["sources"]
    sources += [str(KERNELS / "axis_request_gather.v")] if layout.beats_per_request > 1 else []
    build = {"toplevel": "recommender", "sources": sources, "libdirs": core["libdirs"],
             "params": params, "core": {k: v for k, v in core.items() if k not in ("sources", "libdirs")},
             "latency_cycles": top_cycles(core["stages"]), "stream": layout.to_dict(),
             "score_format": vars(traced.out_fmt),
             "latency_cutoff": latency_cutoff if isinstance(latency_cutoff, (int, float)) else None,
             "solver_options": traced.solver_options, "trace_check": traced.check}
    (out / "build.json").write_text(json.dumps(build, indent=2))
    return build


def build_aggregation(adj: np.ndarray, channels: int, fmt: Fmt, out: Path, latency_cutoff: float = 5) -> dict:
    """The graph aggregation kernel alone: Y = Â·X, Â constant (``kernels/rtl/aggregation_top.v``).

    X (N, channels) on ``fmt`` packs into the input beat element by element (row-major, LSB
    first); Y comes back packed the same way with the per-element formats in ``out_fmts``.
    """
    from da4ml.trace import FixedVariableArray, comb_trace
    from codesign.rtl.trace import HW
    out = Path(out).resolve()
    n = adj.shape[0]
    shape = (n * channels,)
    x = FixedVariableArray.from_kif(np.full(shape, fmt.k), np.full(shape, fmt.i), np.full(shape, fmt.f), HW)
    y = np.asarray(adj) @ x.reshape(n, channels)
    comb = comb_trace(list(x._vars.ravel()), list(y._vars.ravel()))
    core = write_core(comb, "aggregation_core", out / "core", latency_cutoff, 10.0)
    in_w = -(-core["in_bits"] // 8) * 8
    out_w = -(-core["out_bits"] // 8) * 8
    params = {"CORE_IN_W": core["in_bits"], "IN_W": in_w, "CORE_OUT_W": core["out_bits"], "OUT_W": out_w,
              "CORE_LATENCY": core["latency"], "FIFO_ADDR_W": fifo_addr_w(core["latency"])}
    out_fmts = [vars(Fmt(int(k), int(i), int(f))) for k, i, f in zip(*comb.out_kifs)]
    return {"toplevel": "aggregation_top", "params": params, "core": core, "out_fmts": out_fmts,
            "sources": [str(KERNELS / "aggregation_top.v"), str(KERNELS / "axis_pipe_adapter.v")] + core["sources"],
            "libdirs": core["libdirs"], "latency_cycles": core["latency"] + 1}
