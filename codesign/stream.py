"""The AXI-Stream packing of a request and of a score: defined once, used everywhere.

The testbench, the PYNQ driver and the reference all pack and unpack through these
functions; the Verilog top (``kernels/rtl/recommender_top.v``) implements the same layout.

Request beat (``request_bits`` wide, one beat per request):
    ``N`` node ids, then ``L`` title token ids, each an unsigned ``id_bits`` (16) field,
    field 0 in the lowest bits, the rest zero. In memory this is a little-endian array of
    ``uint16``: ``[nodes..., tokens..., 0...]`` — what the DMA reads, byte 0 = bits 7:0.
    Default design: 6 + 8 ids = 224 bits, padded to a 256-bit stream.
Score beat (32 bits): the exact score accumulator as a two's-complement ``int32`` with
    ``score_frac_bits`` fractional bits (score = int32 / 2**score_frac_bits).
tlast: on the last beat of a transfer; the top copies it to that request's score.

Why one beat: the core is fully pipelined (II = 1). Packing a whole request into a single
beat lets the top accept one request per clock cycle; a narrower stream (e.g. 64 bits) would
make the core wait ``beats`` cycles per request for nothing. The width is the request size
rounded up to a power of two (AXI DMA and interconnect widths), at most 1024 bits.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

ID_BITS = 16
SCORE_BITS = 32
MAX_STREAM_BITS = 1024


@dataclass(frozen=True)
class StreamLayout:
    """How requests and scores sit on the streams of one design."""

    n_nodes: int
    title_length: int
    score_frac_bits: int
    id_bits: int = ID_BITS

    @property
    def request_fields(self) -> int:
        return self.n_nodes + self.title_length

    @property
    def request_bits(self) -> int:
        """Input stream width: the request rounded up to a power of two (>= 32)."""
        used = self.request_fields * self.id_bits
        width = max(32, 1 << (used - 1).bit_length())
        if width > MAX_STREAM_BITS:
            raise ValueError(f"a request needs {used} bits, more than the {MAX_STREAM_BITS}-bit AXI DMA "
                             f"stream: reduce data.fanout or data.title_length")
        return width

    @property
    def request_bytes(self) -> int:
        return self.request_bits // 8

    @property
    def beats_per_request(self) -> int:
        return 1

    score_bits: int = SCORE_BITS
    # depths of the node and token embedding ROMs (ids must stay below them); optional so
    # layouts written before they existed still load (then only the id width is checked)
    node_rows: int | None = None
    token_rows: int | None = None

    def to_dict(self) -> dict:
        return {**asdict(self), "request_bits": self.request_bits, "beats_per_request": self.beats_per_request}

    @classmethod
    def from_dict(cls, d: dict) -> "StreamLayout":
        return cls(d["n_nodes"], d["title_length"], d["score_frac_bits"], d.get("id_bits", ID_BITS),
                   d.get("score_bits", SCORE_BITS), d.get("node_rows"), d.get("token_rows"))


def pack_requests(layout: StreamLayout, nodes: np.ndarray, tokens: np.ndarray,
                  out: np.ndarray | None = None) -> np.ndarray:
    """(B, request_bytes) uint8: the request beats as the DMA reads them from memory.

    ``out`` (uint8, C-contiguous, at least B rows of ``request_bytes``): pack into its first B
    rows instead of a new array (the driver packs straight into its DMA buffer).
    """
    nodes, tokens = np.atleast_2d(nodes), np.atleast_2d(tokens)
    if nodes.shape[1] != layout.n_nodes or tokens.shape[1] != layout.title_length:
        raise ValueError(f"requests must be nodes (B, {layout.n_nodes}) and tokens (B, {layout.title_length}); "
                         f"got {nodes.shape} and {tokens.shape}")
    for ids in (nodes, tokens):
        if ids.size and (ids.min() < 0 or ids.max() >= 2 ** layout.id_bits):
            raise ValueError(f"ids must be in [0, 2**{layout.id_bits})")
    n = len(nodes)
    if out is None:
        out = np.zeros((n, layout.request_bytes), np.uint8)
    elif out.dtype != np.uint8 or out.ndim != 2 or out.shape[1] != layout.request_bytes or len(out) < n:
        raise ValueError(f"out must be uint8 (>= {n}, {layout.request_bytes}), got {out.dtype} {out.shape}")
    words = out[:n].view("<u2")
    words[:, :layout.n_nodes] = nodes
    words[:, layout.n_nodes:layout.request_fields] = tokens
    words[:, layout.request_fields:] = 0
    return out[:n]


def unpack_requests(layout: StreamLayout, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``pack_requests``: (nodes, tokens) int32 arrays."""
    words = np.ascontiguousarray(beats, dtype=np.uint8).reshape(-1, layout.request_bytes).view("<u2")
    ids = words[:, :layout.request_fields].astype(np.int32)
    return ids[:, :layout.n_nodes], ids[:, layout.n_nodes:]


def pack_scores(layout: StreamLayout, scores: np.ndarray) -> np.ndarray:
    """(B, 4) uint8 score beats of float scores (which must lie on the score grid)."""
    q = np.asarray(scores, np.float64) * 2.0 ** layout.score_frac_bits
    ints = np.round(q).astype(np.int64)
    if not np.array_equal(ints, q) or np.abs(ints).max(initial=0) >= 2 ** 31:
        raise ValueError(f"scores are not int32 values on the 2^-{layout.score_frac_bits} grid")
    return ints.astype("<i4").view(np.uint8).reshape(-1, 4)


def unpack_scores(layout: StreamLayout, beats: np.ndarray) -> np.ndarray:
    """Float scores from score beats (bytes as received from the stream/DMA)."""
    ints = np.ascontiguousarray(beats, dtype=np.uint8).reshape(-1).view("<i4")
    return ints.astype(np.float64) * 2.0 ** -layout.score_frac_bits


def axis_ports(layout: StreamLayout, clock: str = "clk", reset: str = "rst") -> str:
    """Verilog port declarations of a top with this layout: request stream in, score stream out."""
    return f"""    input  wire {clock},
    input  wire {reset},
    input  wire [{layout.request_bits - 1}:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    input  wire s_axis_tlast,
    output wire [{layout.score_bits - 1}:0] m_axis_tdata,
    output wire m_axis_tvalid,
    input  wire m_axis_tready,
    output wire m_axis_tlast"""
