"""The AXI-Stream packing of a request and of a score: defined once, used everywhere.

Generic over a model's inputs: a request is one ``Field`` per model input (integer ids, or
fixed-point codes of a format), placed in order in the request word, each element in a
byte-aligned container, element 0 in the lowest bits. The testbench, the PYNQ driver and the
generated RTL top (``codesign.rtl.top``) all use this one layout.

In memory a request is ``request_bytes`` contiguous little-endian bytes: beat 0 first, bits
7:0 of a beat in byte 0. The beat width (``stream_bits``) is the request rounded up to a power
of two (>= 32), at most ``max_stream_bits`` (1024: AXI DMA); a wider request is sent as
``beats_per_request`` beats. The default design (``nodes`` (6,) and ``tokens`` (8,) ids, 16-bit
containers) uses 224 bits of one 256-bit beat.

Score word: ``score_count`` int32 values (two's complement, ``score_frac_bits`` fractional
bits), element 0 in the low bits, in a beat of ``score_bits`` (a power of two >= 32 * count).
tlast: on the last beat of a transfer; the top copies it to that request's score.

Imports numpy only (the board's driver uses it).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

ID_BITS = 16
SCORE_BITS = 32
MAX_STREAM_BITS = 1024
CONTAINERS = (8, 16, 32)


def _pow2_at_least(n: int, floor: int = 32) -> int:
    return max(floor, 1 << (max(n, 1) - 1).bit_length())


@dataclass(frozen=True)
class Field:
    """One model input, per request."""

    name: str
    shape: tuple[int, ...]
    kind: str                  # "id": unsigned integer ids; "value": fixed-point codes of a format
    bits: int                  # significant bits of one element (ids: 16 = ID_BITS)
    container: int             # bits per element in the request word: 8, 16 or 32
    signed: bool = False       # value fields: two's complement
    frac: int = 0              # value fields: value = code * 2**-frac
    rows: int | None = None    # id fields read by an embedding: ids must be < rows (ROM depth)
    offset: int = 0            # bit offset of element 0 in the request word (set by StreamLayout.of)

    def __post_init__(self):
        if self.kind not in ("id", "value"):
            raise ValueError(f"field '{self.name}': kind must be 'id' or 'value', got {self.kind!r}")
        if self.container not in CONTAINERS or not 1 <= self.bits <= self.container:
            raise ValueError(f"field '{self.name}': {self.bits} bits do not fit a container of {self.container} "
                             f"(containers: {CONTAINERS})")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def count(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def min_code(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        if self.kind == "id":
            return (self.rows if self.rows is not None else 1 << self.bits) - 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "kind": self.kind, "bits": self.bits,
                "container": self.container, "signed": self.signed, "frac": self.frac, "rows": self.rows,
                "offset": self.offset}


def container_of(bits: int) -> int:
    """The smallest byte-aligned container (8, 16 or 32 bits) of ``bits``-bit elements."""
    for c in CONTAINERS:
        if bits <= c:
            return c
    raise ValueError(f"{bits}-bit elements do not fit a 32-bit container")


@dataclass(frozen=True)
class StreamLayout:
    """How requests and scores sit on the streams of one design."""

    fields: tuple[Field, ...]
    score_frac_bits: int
    score_count: int = 1
    score_signed: bool = True
    stream_bits: int = 32

    @classmethod
    def of(cls, fields, score_frac_bits: int, score_count: int = 1, score_signed: bool = True,
           max_stream_bits: int = MAX_STREAM_BITS) -> "StreamLayout":
        """Places ``fields`` in order (offsets, element 0 lowest) and sizes the beat."""
        placed, offset = [], 0
        names = set()
        for f in fields:
            if f.name in names:
                raise ValueError(f"two fields are named '{f.name}'")
            names.add(f.name)
            placed.append(replace(f, offset=offset))
            offset += f.count * f.container
        if max_stream_bits < 32 or max_stream_bits & (max_stream_bits - 1):
            raise ValueError(f"max_stream_bits must be a power of two >= 32, got {max_stream_bits}")
        if score_count < 1:
            raise ValueError(f"score_count must be at least 1, got {score_count}")
        return cls(tuple(placed), int(score_frac_bits), int(score_count), bool(score_signed),
                   min(_pow2_at_least(offset), max_stream_bits))

    @property
    def request_bits(self) -> int:
        """Bits of a request that carry fields."""
        return sum(f.count * f.container for f in self.fields)

    @property
    def beats_per_request(self) -> int:
        return max(1, -(-self.request_bits // self.stream_bits))

    @property
    def request_word_bits(self) -> int:
        return self.beats_per_request * self.stream_bits

    @property
    def request_bytes(self) -> int:
        return self.request_word_bits // 8

    @property
    def score_bits(self) -> int:
        return _pow2_at_least(SCORE_BITS * self.score_count)

    @property
    def score_bytes(self) -> int:
        return self.score_bits // 8

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"no field '{name}'; the layout has {', '.join(f.name for f in self.fields)}")

    # the default design's names (the driver of the two-input recommender reads these)
    @property
    def id_bits(self) -> int:
        return ID_BITS

    @property
    def n_nodes(self) -> int:
        return self.field("nodes").count

    @property
    def title_length(self) -> int:
        return self.field("tokens").count

    @property
    def node_rows(self) -> int | None:
        return self.field("nodes").rows

    @property
    def token_rows(self) -> int | None:
        return self.field("tokens").rows

    def to_dict(self) -> dict:
        return {"fields": [f.to_dict() for f in self.fields], "score_frac_bits": self.score_frac_bits,
                "score_count": self.score_count, "score_signed": self.score_signed,
                "stream_bits": self.stream_bits, "request_bits": self.request_bits,
                "beats_per_request": self.beats_per_request, "request_bytes": self.request_bytes,
                "score_bits": self.score_bits}

    @classmethod
    def from_dict(cls, d: dict) -> "StreamLayout":
        if "fields" in d:
            fields = tuple(Field(f["name"], tuple(f["shape"]), f["kind"], f["bits"], f["container"],
                                 f.get("signed", False), f.get("frac", 0), f.get("rows"), f.get("offset", 0))
                           for f in d["fields"])
            return cls(fields, d["score_frac_bits"], d.get("score_count", 1), d.get("score_signed", True),
                       d["stream_bits"])
        # the format before generic layouts: node ids then token ids, 16 bits each
        bits = d.get("id_bits", ID_BITS)
        fields = [Field("nodes", (d["n_nodes"],), "id", bits, container_of(bits), rows=d.get("node_rows")),
                  Field("tokens", (d["title_length"],), "id", bits, container_of(bits), rows=d.get("token_rows"))]
        return cls.of(fields, d["score_frac_bits"])


def _words(layout: StreamLayout, f: Field, buf: np.ndarray) -> np.ndarray:
    """A view of the field's elements (B, count) in a (B, request_bytes) uint8 buffer."""
    if f.offset % 8:
        raise ValueError(f"field '{f.name}' is not byte aligned")
    start = f.offset // 8
    nbytes = f.count * f.container // 8
    return buf[:, start:start + nbytes].view(f"<u{f.container // 8}")


def encode_values(f: Field, values: np.ndarray) -> np.ndarray:
    """Integer codes of a value field's real values (which must lie on its grid and range)."""
    q = np.asarray(values, np.float64) * 2.0 ** f.frac
    codes = np.round(q).astype(np.int64)
    if not np.array_equal(codes, q):
        raise ValueError(f"input '{f.name}': values are not on the 2^-{f.frac} grid of its format")
    if codes.size and (codes.min() < f.min_code or codes.max() > f.max_code):
        raise ValueError(f"input '{f.name}': values outside [{f.min_code * 2.0 ** -f.frac}, "
                         f"{f.max_code * 2.0 ** -f.frac}] (its {f.bits}-bit format)")
    return codes


def pack_requests(layout: StreamLayout, inputs, tokens=None, out: np.ndarray | None = None) -> np.ndarray:
    """(B, request_bytes) uint8: the requests as the DMA reads them from memory.

    ``inputs``: {field name: array (B, *shape)}; id fields integer ids, value fields floats on
    the field's grid (or integer codes). ``pack_requests(layout, nodes, tokens)`` (the two-input
    recommender) is still accepted. ``out`` (uint8, C-contiguous, at least B rows of
    ``request_bytes``): pack into its first B rows (the driver packs into its DMA buffer).
    """
    if not isinstance(inputs, dict):
        inputs = {"nodes": inputs, "tokens": tokens}
    missing = [f.name for f in layout.fields if f.name not in inputs]
    if missing:
        raise ValueError(f"requests lack input(s) {', '.join(missing)}; the layout takes "
                         f"{', '.join(f.name for f in layout.fields)}")
    arrays = {}
    n = None
    for f in layout.fields:
        a = np.asarray(inputs[f.name])
        if a.shape[1:] != f.shape or (n is not None and len(a) != n):
            raise ValueError(f"input '{f.name}' must be (B, {', '.join(map(str, f.shape))}); got {a.shape}")
        n = len(a)
        if f.kind == "id":
            if a.size and not np.issubdtype(a.dtype, np.integer) and np.any(a != np.round(a)):
                raise ValueError(f"input '{f.name}' holds ids: integers expected")
            codes = a.astype(np.int64)
            if codes.size and (codes.min() < 0 or codes.max() > f.max_code):
                raise ValueError(f"input '{f.name}': ids must be in [0, {f.max_code}]")
        else:
            codes = a.astype(np.int64) if np.issubdtype(a.dtype, np.integer) else encode_values(f, a)
            if codes.size and (codes.min() < f.min_code or codes.max() > f.max_code):
                raise ValueError(f"input '{f.name}': codes outside [{f.min_code}, {f.max_code}]")
        arrays[f.name] = codes.reshape(n, -1)
    n = n or 0
    if out is None:
        out = np.zeros((n, layout.request_bytes), np.uint8)
    elif out.dtype != np.uint8 or out.ndim != 2 or out.shape[1] != layout.request_bytes or len(out) < n:
        raise ValueError(f"out must be uint8 (>= {n}, {layout.request_bytes}), got {out.dtype} {out.shape}")
    buf = out[:n]
    buf[:] = 0
    for f in layout.fields:
        mask = (1 << f.container) - 1
        _words(layout, f, buf)[:] = arrays[f.name] & mask
    return buf


def unpack_requests(layout: StreamLayout, beats: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of ``pack_requests``: {name: ids int32 or values float64 (B, *shape)}."""
    buf = np.ascontiguousarray(beats, dtype=np.uint8).reshape(-1, layout.request_bytes)
    out = {}
    for f in layout.fields:
        w = _words(layout, f, buf).astype(np.int64) & ((1 << f.bits) - 1)
        if f.kind == "id":
            out[f.name] = w.astype(np.int32).reshape(-1, *f.shape)
        else:
            if f.signed:
                w = np.where(w >= 1 << (f.bits - 1), w - (1 << f.bits), w)
            out[f.name] = (w * 2.0 ** -f.frac).reshape(-1, *f.shape)
    return out


def pack_scores(layout: StreamLayout, scores: np.ndarray) -> np.ndarray:
    """(B, score_bytes) uint8 score beats of float scores (which must lie on the score grid)."""
    q = np.asarray(scores, np.float64).reshape(-1, layout.score_count) * 2.0 ** layout.score_frac_bits
    ints = np.round(q).astype(np.int64)
    if not np.array_equal(ints, q) or np.abs(ints).max(initial=0) >= 2 ** 31:
        raise ValueError(f"scores are not int32 values on the 2^-{layout.score_frac_bits} grid")
    words = np.zeros((len(ints), layout.score_bytes // 4), "<i4")
    words[:, :layout.score_count] = ints
    return words.view(np.uint8).reshape(len(ints), layout.score_bytes)


def unpack_scores(layout: StreamLayout, beats: np.ndarray) -> np.ndarray:
    """Float scores from score beats: (B,) when ``score_count`` is 1, else (B, score_count)."""
    words = np.ascontiguousarray(beats, dtype=np.uint8).reshape(-1, layout.score_bytes).view("<i4")
    scores = words[:, :layout.score_count].astype(np.float64) * 2.0 ** -layout.score_frac_bits
    return scores[:, 0] if layout.score_count == 1 else scores


def axis_ports(layout: StreamLayout, clock: str = "clk", reset: str = "rst") -> str:
    """Verilog port declarations of a top with this layout: request stream in, score stream out."""
    return f"""    input  wire {clock},
    input  wire {reset},
    input  wire [{layout.stream_bits - 1}:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    input  wire s_axis_tlast,
    output wire [{layout.score_bits - 1}:0] m_axis_tdata,
    output wire m_axis_tvalid,
    input  wire m_axis_tready,
    output wire m_axis_tlast"""
