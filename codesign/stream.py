"""The AXI-Stream packing of a request and of a score: defined once, used everywhere.

The testbench, the PYNQ driver, the simulated device and the generated Verilog top all pack
and unpack through this module; it imports numpy only (it runs on the board).

A design's request is its model inputs, one ``Field`` each, in order: every element sits in
its own byte-aligned container (8, 16 or 32 bits), element 0 of field 0 in the lowest bits,
the rest of the request word zero. ``id`` fields carry unsigned ids (read by an embedding
ROM: ids < ``rows``); ``value`` fields carry the fixed-point codes of their format
(``value = code * 2**-frac``, two's complement when ``signed``, sign-extended to the
container). In memory a request is ``request_bytes`` contiguous little-endian bytes: beat 0
first, bits 7:0 of a beat in byte 0 — what the DMA reads.

The request stream is ``stream_bits`` wide: the used bits rounded up to a power of two
(>= 32), at most ``max_stream_bits`` (1024, the AXI DMA's widest stream). Why one beat when
it fits: the core is fully pipelined (II = 1), so a whole request per beat lets the top take
one request per clock cycle. A wider request is sent as ``beats_per_request`` beats (the top
gathers them with ``kernels/rtl/axis_request_gather.v``), tlast on the last beat of a transfer.

Score word (``score_bits``, a power of two >= 32 * score_count): ``score_count`` int32
values (two's complement) with ``score_frac_bits`` fractional bits, element 0 lowest.

Default design: "nodes" (6 ids) and "tokens" (8 ids), 16-bit containers: 224 bits used,
one 256-bit beat; scores one int32 per request.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field as dc_field
from functools import cached_property

import numpy as np

ID_BITS = 16
SCORE_BITS = 32
MAX_STREAM_BITS = 1024
KINDS = ("id", "value")
CONTAINERS = (8, 16, 32)



def container_of(bits: int) -> int:
    """The smallest byte-aligned container (8, 16 or 32 bits) of ``bits``-bit elements."""
    for c in CONTAINERS:
        if bits <= c:
            return c
    raise ValueError(f"{bits}-bit elements do not fit a 32-bit container")

@dataclass(frozen=True)
class Field:
    """One model input, per request."""

    name: str                 # the model input's name (e.g. "nodes", "tokens", "x")
    shape: tuple[int, ...]    # its shape per request (without the batch axis)
    kind: str                 # "id": unsigned integer ids; "value": fixed-point codes of a format
    bits: int                 # significant bits of one element (ids: 16 = ID_BITS)
    container: int            # bits per element in the request word: 8, 16 or 32
    signed: bool = False      # value fields: two's complement
    frac: int = 0             # value fields: value = code * 2**-frac
    rows: int | None = None   # id fields read by an embedding: ids must be < rows (ROM depth)
    offset: int = 0           # bit offset of element 0 in the request word (set by StreamLayout.of)

    def __post_init__(self):
        shape = (self.shape,) if isinstance(self.shape, (int, np.integer)) else self.shape
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))
        where = f"stream field {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a stream field needs a non-empty name, got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.container not in CONTAINERS:
            raise ValueError(f"{where}: container {self.container} is not one of {CONTAINERS} bits")
        if not 1 <= self.bits <= self.container:
            raise ValueError(f"{where}: {self.bits} bits do not fit its {self.container}-bit container: "
                             f"use a container of at least {self.bits} bits (at most 32)")
        if any(s < 1 for s in self.shape):
            raise ValueError(f"{where}: shape {self.shape} has an empty axis")
        if self.kind == "id" and (self.signed or self.frac):
            raise ValueError(f"{where}: id fields are unsigned integers (signed=False, frac=0)")
        if self.kind == "value" and self.rows is not None:
            raise ValueError(f"{where}: rows (an embedding ROM depth) belongs to id fields, not value fields")
        if self.rows is not None and not 1 <= self.rows <= 2 ** self.bits:
            raise ValueError(f"{where}: rows {self.rows} is not in 1..2**{self.bits}")
        if self.offset < 0 or self.offset % 8:
            raise ValueError(f"{where}: offset {self.offset} is not a non-negative multiple of 8 bits")

    @property
    def count(self) -> int:
        """Elements per request."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def width(self) -> int:
        """Bits the field takes in the request word (``count`` containers)."""
        return self.count * self.container

    @property
    def code_range(self) -> tuple[int, int]:
        """(lowest, highest) code: ids below ``rows`` (or 2**bits), value codes of the format."""
        if self.kind == "id":
            return 0, (self.rows if self.rows is not None else 2 ** self.bits) - 1
        if self.signed:
            return -2 ** (self.bits - 1), 2 ** (self.bits - 1) - 1
        return 0, 2 ** self.bits - 1

    def describe(self) -> str:
        """``fixed<bits, bits-frac>`` grid / id range, for messages."""
        lo, hi = self.code_range
        if self.kind == "id":
            return (f"the embedding ROM (ids 0..{hi})" if self.rows is not None
                    else f"the {self.bits}-bit ids (0..{hi})")
        t = "fixed" if self.signed else "ufixed"
        return (f"{t}<{self.bits},{self.bits - self.frac}> (grid 2^-{self.frac}, "
                f"range {lo * 2.0 ** -self.frac:g}..{hi * 2.0 ** -self.frac:g})")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


def _pow2_at_least(bits: int) -> int:
    return max(32, 1 << (max(bits, 1) - 1).bit_length())


@dataclass(frozen=True)
class StreamLayout:
    """How requests and scores sit on the streams of one design (build one with ``of``)."""

    fields: tuple[Field, ...]
    score_frac_bits: int
    score_count: int = 1          # output elements per request, each an int32 (two's complement)
    score_signed: bool = True
    stream_bits: int = dc_field(default=0)   # 0: derived (see ``of``)
    max_stream_bits: int = dc_field(default=MAX_STREAM_BITS, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "fields", tuple(self.fields))
        if not self.fields:
            raise ValueError("a stream layout needs at least one field")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"stream field names must be unique, got {names}")
        spans = sorted((f.offset, f.offset + f.width, f.name) for f in self.fields)
        for (a0, a1, an), (b0, b1, bn) in zip(spans, spans[1:]):
            if b0 < a1:
                raise ValueError(f"stream fields {an!r} (bits {a0}..{a1 - 1}) and {bn!r} (bits {b0}..{b1 - 1}) "
                                 f"overlap")
        if not isinstance(self.score_count, int) or self.score_count < 1:
            raise ValueError(f"score_count must be a positive integer, got {self.score_count!r}")
        if self.stream_bits == 0:
            width = _pow2_at_least(self.request_bits)
            object.__setattr__(self, "stream_bits", min(width, self.max_stream_bits))
        w = self.stream_bits
        if w < 32 or w > MAX_STREAM_BITS or w & (w - 1):
            raise ValueError(f"stream_bits {w} is not a power of two in 32..{MAX_STREAM_BITS}")

    @classmethod
    def of(cls, fields, score_frac_bits: int, score_count: int = 1, score_signed: bool = True,
           max_stream_bits: int = MAX_STREAM_BITS) -> "StreamLayout":
        """Places ``fields`` in order (their ``offset`` is set here, each element in its
        container, element 0 lowest); ``stream_bits`` = the smallest power of two >=
        max(32, request_bits), capped at ``max_stream_bits`` (then a request takes several beats)."""
        if max_stream_bits < 32 or max_stream_bits > MAX_STREAM_BITS or max_stream_bits & (max_stream_bits - 1):
            raise ValueError(f"max_stream_bits {max_stream_bits} is not a power of two in 32..{MAX_STREAM_BITS}")
        placed, offset = [], 0
        for f in fields:
            placed.append(Field(f.name, f.shape, f.kind, f.bits, f.container, f.signed, f.frac, f.rows, offset))
            offset += placed[-1].width
        return cls(tuple(placed), int(score_frac_bits), int(score_count), bool(score_signed),
                   max_stream_bits=max_stream_bits)

    # ---------------------------------------------------------------- sizes
    @property
    def request_bits(self) -> int:
        """Bits of a request that carry fields (the rest of the request word is zero)."""
        return max(f.offset + f.width for f in self.fields)

    @property
    def beats_per_request(self) -> int:
        return -(-self.request_bits // self.stream_bits)

    @property
    def request_word_bits(self) -> int:
        return self.beats_per_request * self.stream_bits

    @property
    def request_bytes(self) -> int:
        return self.request_word_bits // 8

    @property
    def score_bits(self) -> int:
        """Beat width of the score stream: a power of two >= 32 * score_count."""
        return _pow2_at_least(SCORE_BITS * self.score_count)

    @property
    def score_bytes(self) -> int:
        return self.score_bits // 8

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        """The field called ``name`` (``KeyError`` listing the names otherwise)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"the stream has no field {name!r}; its fields: {', '.join(self.names)}")

    @cached_property
    def _gaps(self) -> tuple[tuple[int, int], ...]:
        """Byte ranges of a request that no field covers (zeroed on every pack)."""
        covered = np.zeros(self.request_bytes, bool)
        for f in self.fields:
            covered[f.offset // 8:(f.offset + f.width) // 8] = True
        edges = np.flatnonzero(np.diff(np.concatenate([[1], covered.astype(np.int8), [1]])))
        return tuple((int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]))

    @cached_property
    def _places(self) -> tuple[tuple[str, int, int, str], ...]:
        """(name, first byte, end byte, little-endian container dtype) of every field."""
        return tuple((f.name, f.offset // 8, (f.offset + f.width) // 8,
                      f"<{'i' if f.signed else 'u'}{f.container // 8}") for f in self.fields)

    # ---------------------------------------------------------------- (de)serialization
    def to_dict(self) -> dict:
        """JSON-ready: the fields and score format, plus the derived sizes (for readers)."""
        return {"fields": [f.to_dict() for f in self.fields], "score_frac_bits": self.score_frac_bits,
                "score_count": self.score_count, "score_signed": self.score_signed,
                "stream_bits": self.stream_bits, "request_bits": self.request_bits,
                "beats_per_request": self.beats_per_request, "request_bytes": self.request_bytes,
                "score_bits": self.score_bits, "score_bytes": self.score_bytes}

    @classmethod
    def from_dict(cls, d: dict) -> "StreamLayout":
        """Inverse of ``to_dict``; also reads the old two-field format (``n_nodes``, ``title_length``, ...)."""
        if "fields" not in d:
            if "n_nodes" not in d or "title_length" not in d:
                raise KeyError("a stream layout needs 'fields' (or the old 'n_nodes' and 'title_length')")
            bits = int(d.get("id_bits", ID_BITS))
            container = container_of(bits)
            return cls.of([Field("nodes", (int(d["n_nodes"]),), "id", bits, container, rows=d.get("node_rows")),
                           Field("tokens", (int(d["title_length"]),), "id", bits, container,
                                 rows=d.get("token_rows"))],
                          int(d["score_frac_bits"]), score_count=int(d.get("score_bits", SCORE_BITS)) // SCORE_BITS)
        fields = tuple(Field(f["name"], tuple(f["shape"]), f["kind"], int(f["bits"]), int(f["container"]),
                             bool(f.get("signed", False)), int(f.get("frac", 0)), f.get("rows"),
                             int(f.get("offset", 0))) for f in d["fields"])
        layout = cls(fields, int(d["score_frac_bits"]), int(d.get("score_count", 1)),
                     bool(d.get("score_signed", True)), int(d.get("stream_bits", 0)))
        for key in ("request_bits", "beats_per_request", "request_bytes", "score_bits"):
            if key in d and d[key] != getattr(layout, key):
                raise ValueError(f"stream layout: {key} {d[key]} does not match its fields ({getattr(layout, key)})")
        return layout


# -------------------------------------------------------------------- requests

def _bad_codes(field: Field, arr: np.ndarray, bad: np.ndarray) -> ValueError:
    """The error naming ``field``, its grid/range, how many elements are bad and the first one."""
    flat = bad.reshape(-1)
    where = tuple(int(i) for i in np.unravel_index(int(np.argmax(flat)), arr.shape))
    what = "ids outside" if field.kind == "id" else "values off the grid or outside the range of"
    hint = "" if field.kind == "id" else f" (quantize the input to {field.describe().split(' ')[0]} first)"
    return ValueError(f"{field.name}: {int(flat.sum())} {what} {field.describe()}; first at index {where}: "
                      f"{arr[where]!r}{hint}")


def encode_values(field: Field, values) -> np.ndarray:
    """Integer codes of ``values``: ids as given (checked against ``rows`` / 2**bits), reals on
    ``field``'s grid as int64 codes; ``TypeError``/``ValueError`` naming the field, its grid and
    range, and the first bad element otherwise."""
    arr = np.asarray(values)
    lo, hi = field.code_range
    if field.kind == "id":
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{field.name}: ids must be an integer array, got dtype {arr.dtype}")
        if arr.size and (arr.min() < lo or arr.max() > hi):
            raise _bad_codes(field, arr, (arr < lo) | (arr > hi))
        return arr
    if arr.dtype.kind not in "iufb":
        raise TypeError(f"{field.name}: values must be a real array, got dtype {arr.dtype}")
    scaled = arr * (2.0 ** field.frac)
    codes = np.rint(scaled)
    if arr.size and (not np.array_equal(codes, scaled) or codes.min() < lo or codes.max() > hi):
        raise _bad_codes(field, arr, (codes != scaled) | (codes < lo) | (codes > hi))
    return codes.astype(np.int64)


def _batch(layout: StreamLayout, inputs: dict) -> tuple[int, dict]:
    """(B, {name: array (B, *shape)}) of ``inputs``; one request may omit the batch axis."""
    if not isinstance(inputs, dict):
        raise TypeError(f"requests are a dict of input arrays by name ({', '.join(layout.names)}), "
                        f"got {type(inputs).__name__}")
    if len(inputs) != len(layout.fields) or any(f.name not in inputs for f in layout.fields):
        missing = [n for n in layout.names if n not in inputs]
        extra = [n for n in inputs if n not in layout.names]
        raise ValueError(f"the stream's inputs are {', '.join(layout.names)}; "
                         + "; ".join(p for p in (missing and f"missing {', '.join(missing)}",
                                                 extra and f"unknown {', '.join(map(str, extra))}") if p))
    arrays, n = {}, None
    for f in layout.fields:
        arr = np.asarray(inputs[f.name])
        if arr.ndim != len(f.shape) + 1 or arr.shape[1:] != f.shape:
            if arr.shape != f.shape:
                raise ValueError(f"{f.name} must have shape (batch, {', '.join(map(str, f.shape))}) "
                                 f"(or {f.shape} for one request), got {arr.shape}")
            arr = arr[None]
        if n is None:
            n = len(arr)
        elif len(arr) != n:
            raise ValueError(f"every input must hold the same number of requests: {layout.fields[0].name} "
                             f"has {n}, {f.name} {len(arr)}")
        arrays[f.name] = arr
    return n, arrays


def check_requests(layout: StreamLayout, inputs: dict) -> tuple[int, dict]:
    """(B, {name: integer codes (B, *shape)}) of ``inputs``: names, shapes, ids and grids
    checked, every message naming the field (``pack_codes`` packs the result)."""
    n, arrays = _batch(layout, inputs)
    return n, {f.name: encode_values(f, arrays[f.name]) for f in layout.fields}


def pack_requests(layout: StreamLayout, inputs: dict, out: np.ndarray | None = None) -> np.ndarray:
    """(B, request_bytes) uint8: the requests as the DMA reads them from memory.

    ``inputs``: one array per field by name, (B, *shape) or the field's shape for one request;
    id fields integer ids (< rows, < 2**bits), value fields reals on the field's grid.
    ``out`` (uint8, at least B rows of ``request_bytes``): pack into its first B rows instead of a
    new array (the driver packs straight into its DMA buffer). One assignment per field.
    """
    n, codes = check_requests(layout, inputs)
    return pack_codes(layout, codes, n, out)


def pack_codes(layout: StreamLayout, codes: dict, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """``pack_requests`` of codes checked by ``check_requests`` (each (n, *shape))."""
    if out is None:
        out = np.zeros((n, layout.request_bytes), np.uint8)
    elif out.dtype != np.uint8 or out.ndim != 2 or out.shape[1] != layout.request_bytes or len(out) < n:
        raise ValueError(f"out must be uint8 (>= {n}, {layout.request_bytes}), got {out.dtype} {out.shape}")
    else:
        for a, b in layout._gaps:
            out[:n, a:b] = 0
    rows = out[:n]
    for name, start, stop, dtype in layout._places:
        # the field's bytes of every request, seen as its containers: one casting assignment
        rows[:, start:stop].view(dtype)[...] = codes[name].reshape(n, -1)
    return rows


def unpack_requests(layout: StreamLayout, beats: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of ``pack_requests``: {name: (B, *shape)}, ids int32, values float64."""
    data = np.ascontiguousarray(beats, dtype=np.uint8).reshape(-1, layout.request_bytes)
    n, out = len(data), {}
    for f in layout.fields:
        start = f.offset // 8
        raw = np.ascontiguousarray(data[:, start:start + f.width // 8]).view(f"<u{f.container // 8}")
        codes = raw.astype(np.int64) & ((1 << f.bits) - 1)
        if f.signed:
            codes = np.where(codes >> (f.bits - 1), codes - (1 << f.bits), codes)
        codes = codes.reshape((n, *f.shape))
        out[f.name] = codes.astype(np.int32) if f.kind == "id" else codes * 2.0 ** -f.frac
    return out


# -------------------------------------------------------------------- scores

def pack_scores(layout: StreamLayout, scores: np.ndarray) -> np.ndarray:
    """(B, score_bytes) uint8 score words of float scores (which must lie on the score grid),
    ``scores`` (B,) or (B, score_count)."""
    q = np.asarray(scores, np.float64).reshape(-1, layout.score_count) * 2.0 ** layout.score_frac_bits
    ints = np.round(q).astype(np.int64)
    lo, hi = (-2 ** 31, 2 ** 31 - 1) if layout.score_signed else (0, 2 ** 32 - 1)
    if not np.array_equal(ints, q) or (ints.size and (ints.min() < lo or ints.max() > hi)):
        raise ValueError(f"scores are not {'int32' if layout.score_signed else 'uint32'} values on the "
                         f"2^-{layout.score_frac_bits} grid")
    words = ints.astype("<i4" if layout.score_signed else "<u4").view(np.uint8)
    if layout.score_bytes == 4 * layout.score_count:
        return words.reshape(-1, layout.score_bytes)
    out = np.zeros((len(words), layout.score_bytes), np.uint8)
    out[:, :words.shape[1]] = words
    return out


def unpack_scores(layout: StreamLayout, beats: np.ndarray) -> np.ndarray:
    """Float scores of score words (bytes as received): (B,) when score_count == 1 else (B, score_count)."""
    ints = unpack_score_words(layout, beats)
    scores = ints.astype(np.float64) * 2.0 ** -layout.score_frac_bits
    return scores.reshape(-1) if layout.score_count == 1 else scores


def unpack_score_words(layout: StreamLayout, beats: np.ndarray) -> np.ndarray:
    """The raw int32 (uint32 when unsigned) score words, (B, score_count)."""
    data = np.ascontiguousarray(beats, dtype=np.uint8).reshape(-1, layout.score_bytes)
    words = np.ascontiguousarray(data[:, :4 * layout.score_count])
    return words.view("<i4" if layout.score_signed else "<u4")


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
