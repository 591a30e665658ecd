"""The AXI-Stream top of a traced model, generated from its feeds and its stream layout.

``layout_of(fp, traced)`` derives the request/score layout (``codesign.stream``) from the
model's inputs; ``top_verilog(...)`` writes the module ``recommender``:

    s_axis -> [axis_request_gather, when a request spans several beats]
           -> axis_pipe_adapter (valid/ready, credits, output FIFO; kernels/rtl)
           -> front (FRONT_CYCLES = 1 register stage, per feed of the core):
                rom:   embedding_rom (registered read, two ids per block RAM)
                recip: non-zero flags of the ids, registered -> reciprocal table lookup
                mask:  non-zero flags, registered
                value: the request's field, registered
           -> recommender_core (da4ml, fully pipelined; its input register is the front's second
              register: the block RAM's output and the reciprocal lookup land in it) -> score word(s)

Each score element is the core's exact output sign-extended to an int32 on the score grid
(``score_frac_bits``), element 0 in the low bits. The front register keeps every path from the
stream port short; the count -> reciprocal lookup (5 LUT levels) runs between it and the core's
input register, beside the block RAM's clock-to-output. Latency: ``codesign.latency.top_cycles``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.fixedpoint import UNBOUNDED_IDS, FixedFormat, FixedPointModel
from codesign.latency import FRONT_CYCLES, fifo_addr_w
from codesign.stream import ID_BITS, MAX_STREAM_BITS, Field, StreamLayout, axis_ports, container_of

CORE = "recommender_core"
TOP = "recommender"


def layout_of(fp: FixedPointModel, traced=None, max_stream_bits: int = MAX_STREAM_BITS) -> StreamLayout:
    """The stream layout of ``fp``'s requests (one field per model input) and of its scores: as
    the traced core gives them (``traced``), else as the reference's output format (the simulated
    device's reference backend before any RTL exists)."""
    fields = []
    for op in fp.inputs:
        if op.ids:
            if op.id_limit != UNBOUNDED_IDS and op.id_limit > 2 ** ID_BITS:
                raise ValueError(f"input '{op.name}' has ids up to {op.id_limit - 1}, more than the "
                                 f"{ID_BITS}-bit id fields of the stream hold: use a smaller table")
            rows = None if op.id_limit == UNBOUNDED_IDS else int(op.id_limit)
            fields.append(Field(op.name, tuple(op.shape), "id", ID_BITS, container_of(ID_BITS), rows=rows))
        else:
            fmt = op.out
            if fmt.width > 32:
                raise ValueError(f"input '{op.name}' is {fmt.ap_type(False)}: wider than the 32-bit "
                                 "elements of the stream; give it a narrower precision")
            fields.append(Field(op.name, tuple(op.shape), "value", fmt.width, container_of(fmt.width),
                                signed=fmt.signed, frac=fmt.frac))
    if traced is not None:
        return StreamLayout.of(fields, traced.score_frac, score_count=len(traced.out_fmts),
                               score_signed=traced.score_signed, max_stream_bits=max_stream_bits)
    out = fp.output_format
    if out.width > 32:
        raise ValueError(f"the model's output is {out.ap_type(False)}: wider than a 32-bit score word")
    zeros = {f.name: np.zeros((1, *f.shape), np.int64 if f.kind == "id" else np.float64) for f in fields}
    count = int(np.asarray(fp.predict(zeros)).size)
    return StreamLayout.of(fields, out.frac, score_count=count, score_signed=True, max_stream_bits=max_stream_bits)


def pack_rows(table: np.ndarray, fmt: FixedFormat) -> list[int]:
    """Rows of a table of codes as integers: element 0 in the low bits, two's complement."""
    ints = np.asarray(table, np.int64) & ((1 << fmt.width) - 1)
    rows = []
    for row in ints.reshape(len(ints), -1):
        word = 0
        for j, v in enumerate(row):
            word |= int(v) << (j * fmt.width)
        rows.append(word)
    return rows


def table_literal(codes: np.ndarray, fmt: FixedFormat) -> str:
    """A Verilog literal of a small table of codes, entry c in bits [c*W +: W]."""
    word = 0
    for c, v in enumerate(np.asarray(codes, np.int64)):
        word |= (int(v) & ((1 << fmt.width) - 1)) << (c * fmt.width)
    return f"{len(codes) * fmt.width}'h{word:x}"


def write_hex(path: Path, rows: list[int], width: int) -> None:
    digits = (width + 3) // 4
    path.write_text("".join(f"{r:0{digits}x}\n" for r in rows))


def _id_slices(field: Field) -> list[str]:
    return [f"req[{field.offset + j * field.container} +: {field.bits}]" for j in range(field.count)]


def _score_element(j: int, fmt: FixedFormat | None, lo: int, frac: int) -> str:
    """An int32 of output element ``j`` (bits ``lo`` of the core output) on the score grid."""
    if fmt is None:
        return "32'd0"
    shift = frac - fmt.frac
    body = 32 - shift
    src = f"core_out[{lo} +: {fmt.width}]"
    ext = body - fmt.width
    sign = f"core_out[{lo + fmt.width - 1}]" if fmt.signed else "1'b0"
    parts = ([f"{{{ext}{{{sign}}}}}"] if ext > 0 else []) + [src] + ([f"{shift}'d0"] if shift else [])
    return "{" + ", ".join(parts) + "}"


def top_verilog(traced, layout: StreamLayout, core: dict, rom_files: dict[str, str]) -> tuple[str, list[str]]:
    """The Verilog of the top and the kernels/rtl modules it instantiates.

    ``core``: ``write_core``'s record (``latency``, ``out_bits``); ``rom_files``: feed op -> hex file.
    """
    lines: list[str] = []
    add = lines.append
    modules = ["axis_pipe_adapter"]
    req_w = layout.request_word_bits
    adapter_latency = FRONT_CYCLES + core["latency"]
    feed_regs = []
    for n, feed in enumerate(traced.feeds):
        fld = layout.field(feed.source)
        name = f"f{n}_{feed.kind}"
        add(f"    // feed {n}: {feed.kind} of '{feed.op}' from input '{feed.source}' "
            f"({feed.size} x {feed.fmt.ap_type(False)})")
        add(f"    wire [{feed.bits - 1}:0] {name}_q;")
        if feed.kind == "rom":
            if "embedding_rom" not in modules:
                modules.append("embedding_rom")
            dim = feed.shape[-1]
            row_w = dim * feed.fmt.width
            ids = _id_slices(fld)
            add(f"    wire [{feed.bits - 1}:0] {name}_rows;")
            for j in range(0, len(ids), 2):      # two ids per block RAM (both ports)
                second = j + 1 < len(ids)
                add(f"    wire [{row_w - 1}:0] {name}_b{j};")
                add(f"    embedding_rom #(.WIDTH({row_w}), .DEPTH({feed.table.shape[0]}), .ADDR_W({fld.bits}), "
                    f".INIT_FILE(\"{rom_files[feed.op]}\")) {name}_rom{j} (")
                add(f"        .clk(clk), .addr_a({ids[j]}), .addr_b({ids[j + 1] if second else f'{fld.bits}' + chr(39) + 'd0'}),")
                add(f"        .data_a({name}_rows[{j * row_w} +: {row_w}]), .data_b({name}_b{j}));")
                if second:
                    add(f"    assign {name}_rows[{(j + 1) * row_w} +: {row_w}] = {name}_b{j};")
            add(f"    assign {name}_q = {name}_rows;                // the core registers it")
        elif feed.kind in ("recip", "mask"):
            ids = _id_slices(fld)
            add(f"    reg  [{len(ids) - 1}:0] {name}_nz;")
            add("    always @(posedge clk) begin")
            for j, s in enumerate(ids):
                add(f"        {name}_nz[{j}] <= |{s};")
            add("    end")
            if feed.kind == "mask":
                add(f"    assign {name}_q = {name}_nz;")
            else:
                count_w = max(1, int(len(ids)).bit_length())
                add(f"    localparam [{len(feed.table) * feed.fmt.width - 1}:0] {name.upper()}_TABLE = "
                    f"{table_literal(feed.table, feed.fmt)};")
                add(f"    reg  [{count_w - 1}:0] {name}_count;")
                add(f"    integer {name}_t;")
                add("    always @(*) begin")
                add(f"        {name}_count = 0;")
                add(f"        for ({name}_t = 0; {name}_t < {len(ids)}; {name}_t = {name}_t + 1)")
                add(f"            {name}_count = {name}_count + {name}_nz[{name}_t];")
                add("    end")
                add(f"    assign {name}_q = {name.upper()}_TABLE[{name}_count * {feed.fmt.width} "
                    f"+: {feed.fmt.width}];")
        else:   # value: the field's elements, packed for the core, one register
            slices = [f"req[{fld.offset + j * fld.container} +: {feed.fmt.width}]" for j in range(fld.count)]
            add(f"    reg  [{feed.bits - 1}:0] {name}_a;")
            add(f"    always @(posedge clk) {name}_a <= {{{', '.join(reversed(slices))}}};")
            add(f"    assign {name}_q = {name}_a;")
        feed_regs.append(f"{name}_q")
        add("")
    if sum(f.bits for f in traced.feeds) != core["in_bits"]:
        raise RuntimeError(f"da4ml core input is {core['in_bits']} bits, the feeds give "
                           f"{sum(f.bits for f in traced.feeds)}")
    scores, lo = [], 0
    for j, fmt in enumerate(traced.out_fmts):
        scores.append(_score_element(j, fmt, lo, layout.score_frac_bits))
        lo += 0 if fmt is None else fmt.width
    pad = layout.score_bits - 32 * len(scores)
    score_expr = ", ".join(([f"{pad}'d0"] if pad else []) + list(reversed(scores)))
    if layout.beats_per_request > 1:
        modules.append("axis_request_gather")
        front = f"""    wire [{req_w - 1}:0] g_tdata;
    wire g_tvalid, g_tready, g_tlast;
    axis_request_gather #(.BEAT_W({layout.stream_bits}), .BEATS({layout.beats_per_request})) gather (
        .clk(clk), .rst(rst),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .s_axis_tlast(s_axis_tlast),
        .m_tdata(g_tdata), .m_tvalid(g_tvalid), .m_tready(g_tready), .m_tlast(g_tlast));
"""
        adapter_in = ".s_axis_tdata(g_tdata), .s_axis_tvalid(g_tvalid), .s_axis_tready(g_tready), .s_axis_tlast(g_tlast)"
    else:
        front = ""
        adapter_in = (".s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready), "
                      ".s_axis_tlast(s_axis_tlast)")
    fields = "; ".join(f"{f.name} {f.kind} {f.shape} at bit {f.offset}" for f in layout.fields)
    text = f"""// Generated by codesign rtl (codesign/rtl/top.py): the AXI-Stream top of this design.
// Request ({layout.request_bits} bits used, {layout.beats_per_request} x {layout.stream_bits}-bit beat): {fields}.
// Score: {layout.score_count} int32 with {layout.score_frac_bits} fractional bits, element 0 lowest.
// Latency: codesign/latency.py top_cycles (gather, 1 front stage, the core, the output FIFO).
`timescale 1ns / 1ps
module {TOP} (
{axis_ports(layout)}
);
    wire [{req_w - 1}:0] req;
    wire [{core['out_bits'] - 1}:0] core_out;
    wire [{layout.score_bits - 1}:0] score = {{{score_expr}}};
{front}
    axis_pipe_adapter #(.IN_W({req_w}), .OUT_W({layout.score_bits}), .LATENCY({adapter_latency}),
                        .FIFO_ADDR_W({fifo_addr_w(adapter_latency)})) adapter (
        .clk(clk), .rst(rst),
        {adapter_in},
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
        .m_axis_tlast(m_axis_tlast),
        .pipe_in(req), .pipe_out(score));

{chr(10).join(lines)}
    {CORE} core (
        .clk(clk),
        .model_inp({{{', '.join(reversed(feed_regs))}}}),
        .model_out(core_out));
endmodule
"""
    return text, modules
