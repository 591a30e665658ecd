"""The Python fixed-point reference: the exact outputs the hardware must produce.

Every value is an integer *code* with a fixed-point format (``value = code * 2**-frac``);
all arithmetic below is integer numpy (int64), so accumulators are exact. The semantics of
the QKeras quantizers, read from QKeras 0.9.0's source, map onto ``ap_fixed`` like this:

- ``quantized_bits(b, i, keep_negative=True, alpha=1)``: ``round(x * 2**(b-1-i))`` with
  ``tf.round`` (round half to even), clipped to ``[-2**(b-1), 2**(b-1)-1]`` (symmetric=0):
  ``ap_fixed<b, i+1, AP_RND_CONV, AP_SAT>``.
- ``quantized_bits(b, i, keep_negative=False, alpha=1)``: ``ap_ufixed<b, i, AP_RND_CONV, AP_SAT>``.
- ``quantized_relu(b, i)``: relu then ``ap_ufixed<b, i, AP_RND_CONV, AP_SAT>`` (a negative
  value rounds to <= 0 and saturates to 0).

Layers between quantizers (dense, graph convolution, pooling) keep full precision: their
accumulator formats are inferred from the input formats and the actual constants (interval
arithmetic), so no value can overflow them. ``FixedPointModel.from_keras`` reads a model
built by ``codesign.models.hybrid.build_model`` (or any model of the supported layers);
``predict`` gives the exact outputs, ``trace`` every layer's codes.

Float parts (explicit precisions, hls4ml's notation ``fixed<W,I[,ROUND,OVERFLOW]>``):

- A float input, or a layer without quantizers, takes the precision the design config gives
  it (``precision.inputs.<input>``, ``precision.layers.<layer>`` as one precision or as
  ``{weight, bias, result}``), else ``precision.default`` (``fixed<16,6>``: TRN, WRAP, hls4ml's
  defaults). Each one is announced once as a ``PrecisionWarning`` naming the input/layer, the
  precision and the config key, and ``describe()`` records where it came from.
- Float weights (kernel, bias, embedding table, a fixed adjacency, GIN's 1+eps, a pool's 1/N)
  are rounded onto their precision like QKeras weights: round half to even, saturate. The
  HLS and RTL levels hold these exact grid values.
- A float layer with weights (dense, embedding aside, graph convolutions) keeps its exact
  accumulator, then quantizes its result onto the result precision with that precision's own
  rounding and overflow: ``TRN`` = floor, ``RND`` = half up, ``RND_CONV`` = half to even;
  ``WRAP`` = two's complement wrap-around, ``SAT`` = clip. QKeras quantizers keep RND_CONV/SAT.
- Layers without weights (relu, add, multiply, concatenate, reshape/flatten, sum/max pools)
  are exact: their output format covers every value (interval arithmetic).
- ``GlobalAvgPool`` over N nodes is ``sum * 1/N``: for N a power of two an exact shift (the
  sum's codes with log2(N) more fractional bits); otherwise the exact product of the sum and
  1/N rounded onto the layer's weight precision (``sum * q(1/N)``, not the exact mean), then
  quantized onto the layer's result precision like any float layer (as hls4ml's pooling
  result type).
- A ``BatchNormalization`` / ``QBatchNormalization`` right after a dense layer is folded into it
  in float (``W * g/sqrt(v+eps)``, ``(b - m) * g/sqrt(v+eps) + beta``), and the folded kernel
  and bias are then quantized with the dense layer's quantizers (or its config precision).

Op names: the op that gives a Keras layer's output carries the layer's name; the ops a layer
decomposes into before it are named ``<layer>/<part>`` (e.g. ``gcn/acc``, ``gin/agg``).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np

SUPPORTED_LAYERS = ("InputLayer", "QEmbedding", "QGCNConv", "QActivation", "NodeReadout",
                    "MaskedMeanPool", "Concatenate", "Multiply", "QDense",
                    "Dense", "Activation", "Flatten", "Reshape", "Add", "Embedding",
                    "BatchNormalization", "QBatchNormalization", "GCNConv", "GINConvBatch",
                    "QGraphSageConv", "GlobalSumPool", "GlobalAvgPool", "GlobalMaxPool")

# why a near miss is refused, and what to use instead
HINTS = {
    "GINConv": " (it takes a sparse adjacency; use Spektral's GINConvBatch with a dense (N, N) adjacency input)",
    "GraphSageConv": (" (Spektral's always L2-normalizes its output, which has no exact fixed-point form, and "
                      "takes a sparse adjacency; use codesign.models.layers.QGraphSageConv)"),
    "GlobalAttentionPool": " (attention needs a softmax: use GlobalSumPool, GlobalAvgPool or GlobalMaxPool)",
}

DEFAULT_PRECISION = "fixed<16,6>"  # hls4ml's default type: TRN, WRAP
ROUNDINGS = ("TRN", "RND", "RND_CONV")
OVERFLOWS = ("WRAP", "SAT")


UNBOUNDED_IDS = 2 ** 31 - 1  # id inputs no embedding reads: any int32 >= 0


class UnsupportedModelError(ValueError):
    """A layer or quantizer the fixed-point flow cannot map onto hardware."""


class PrecisionWarning(UserWarning):
    """A float input or layer took a precision from the design config or the default."""

    console = True    # shown on the console during a flow step too, not only in the step's log


# ----------------------------------------------------------------------------- formats

@dataclass(frozen=True)
class FixedFormat:
    """``ap_fixed<width, integer>`` (signed) or ``ap_ufixed<width, integer>``.

    ``rounding`` / ``overflow`` say how a value is put onto this format by ``from_codes``:
    QKeras quantizers are ``RND_CONV``/``SAT``; a config precision (hls4ml notation) carries
    its own (``TRN``/``WRAP`` unless given). Exact accumulators never round nor overflow.
    """

    width: int
    integer: int
    signed: bool = True
    rounding: str = "RND_CONV"
    overflow: str = "SAT"

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    def ap_type(self, quantizer: bool = True) -> str:
        """The HLS type; a quantizer rounds and overflows by its modes (QKeras: convergent,
        saturating), an accumulator wraps (it never needs to: its width covers every value)."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        modes = f",AP_{self.rounding},AP_{self.overflow}" if quantizer else ""
        return f"{base}<{self.width},{self.integer}{modes}>"

    def precision(self) -> str:
        """hls4ml's notation, e.g. ``fixed<16,6>`` (TRN, WRAP left out) or ``ufixed<8,2,RND_CONV,SAT>``."""
        base = "fixed" if self.signed else "ufixed"
        modes = "" if (self.rounding, self.overflow) == ("TRN", "WRAP") else f",{self.rounding},{self.overflow}"
        return f"{base}<{self.width},{self.integer}{modes}>"

    def quantize(self, x) -> np.ndarray:
        """Codes of real values: round half to even, saturate (what QKeras does; float weights
        on a config precision are rounded the same way, whatever its modes)."""
        scaled = np.asarray(x, dtype=np.float64) * 2.0 ** self.frac
        return np.clip(np.round(scaled), self.min_code, self.max_code).astype(np.int64)

    def from_codes(self, codes: np.ndarray, frac: int, rounding: str | None = None,
                   overflow: str | None = None) -> np.ndarray:
        """Codes at ``frac`` fractional bits re-quantized onto this format with ``rounding`` and
        ``overflow`` (default: the format's own; QKeras: RND_CONV, SAT)."""
        rounding, overflow = rounding or self.rounding, overflow or self.overflow
        codes, shift = np.asarray(codes, dtype=np.int64), frac - self.frac
        if rounding == "RND_CONV" or shift <= 0:
            codes = shift_round(codes, shift)
        elif rounding == "TRN":
            codes = codes >> shift
        elif rounding == "RND":
            codes = (codes + (1 << (shift - 1))) >> shift
        else:
            raise ValueError(f"rounding {rounding!r} is not supported; use one of {', '.join(ROUNDINGS)}")
        if overflow == "SAT":
            return np.clip(codes, self.min_code, self.max_code)
        if overflow == "WRAP":
            return ((codes - self.min_code) & ((1 << self.width) - 1)) + self.min_code
        raise ValueError(f"overflow {overflow!r} is not supported; use one of {', '.join(OVERFLOWS)}")

    def to_float(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(codes, dtype=np.float64) * self.lsb

    def contains(self, codes: np.ndarray) -> bool:
        codes = np.asarray(codes)
        return bool(codes.size == 0 or (codes.min() >= self.min_code and codes.max() <= self.max_code))

    def to_dict(self) -> dict:
        return {"width": self.width, "integer": self.integer, "signed": self.signed,
                "frac": self.frac, "ap_type": self.ap_type(False),
                "rounding": self.rounding, "overflow": self.overflow}

    @classmethod
    def covering(cls, lo: int, hi: int, frac: int) -> "FixedFormat":
        """The narrowest format with ``frac`` fractional bits holding codes ``lo..hi``."""
        lo, hi = int(min(lo, 0)), int(max(hi, 0))
        signed = lo < 0
        # at least 2 bits and 1 integer bit: ap_types' C model asserts on rounding a value
        # whose word lies wholly below the rounding position (or is 1 bit wide)
        width = max(2, frac + 1)
        while True:
            f = cls(width, width - frac, signed)
            if f.min_code <= lo and hi <= f.max_code:
                return f
            width += 1


_PRECISION = re.compile(r"^\s*(?:ap_)?(u?)fixed\s*<\s*(\d+)\s*,\s*(-?\d+)\s*"
                        r"(?:,\s*(?:AP_)?(\w+)\s*)?(?:,\s*(?:AP_)?(\w+)\s*)?(?:,\s*\d+\s*)?>\s*$")


def parse_precision(text: str) -> FixedFormat:
    """A precision in hls4ml's notation: ``fixed<W,I>``, ``ufixed<W,I>``, optionally with the
    rounding and overflow modes (``fixed<16,6,RND_CONV,SAT>``; default TRN, WRAP)."""
    m = _PRECISION.match(str(text))
    if not m:
        raise ValueError(f"precision {text!r} is not in hls4ml's notation; write e.g. 'fixed<16,6>', "
                         "'ufixed<8,2>' or 'fixed<16,6,RND_CONV,SAT>'")
    unsigned, width, integer, rounding, overflow = m.groups()
    rounding, overflow = (rounding or "TRN").upper(), (overflow or "WRAP").upper()
    if rounding not in ROUNDINGS:
        raise ValueError(f"precision {text!r}: rounding {rounding} is not supported; use one of "
                         f"{', '.join(ROUNDINGS)}")
    if overflow not in OVERFLOWS:
        raise ValueError(f"precision {text!r}: overflow {overflow} is not supported; use one of "
                         f"{', '.join(OVERFLOWS)}")
    if not 2 <= int(width) <= 32:
        raise ValueError(f"precision {text!r}: the width must be within 2..32 bits")
    return FixedFormat(int(width), int(integer), not unsigned, rounding, overflow)


def shift_round(codes: np.ndarray, shift: int) -> np.ndarray:
    """``codes / 2**shift`` rounded half to even (shift <= 0 multiplies, exactly)."""
    codes = np.asarray(codes, dtype=np.int64)
    if shift <= 0:
        return codes << -shift
    q = codes >> shift  # floor
    rest = codes - (q << shift)
    half = 1 << (shift - 1)
    return q + ((rest > half) | ((rest == half) & (q & 1 == 1)))


def align(codes: np.ndarray, frac: int, to_frac: int) -> np.ndarray:
    """Codes at ``frac`` expressed exactly at ``to_frac >= frac``."""
    if to_frac < frac:
        raise ValueError("align only adds fractional bits")
    return np.asarray(codes, dtype=np.int64) << (to_frac - frac)


def quantizer_format(quantizer) -> FixedFormat:
    """The ``ap_fixed`` format of a QKeras quantizer (object or string)."""
    from qkeras.quantizers import get_quantizer
    if isinstance(quantizer, str):
        quantizer = get_quantizer(quantizer)
    name = type(quantizer).__name__
    bits, integer = int(quantizer.bits), int(np.asarray(getattr(quantizer, "integer", 0)))
    if getattr(quantizer, "use_stochastic_rounding", False):
        raise UnsupportedModelError(f"{quantizer}: stochastic rounding has no hardware equivalent")
    if name == "quantized_bits":
        alpha = quantizer.alpha
        if alpha not in (None, 1, 1.0):
            raise UnsupportedModelError(
                f"{quantizer}: alpha={alpha!r} (a scale) is not supported; use alpha=1")
        if getattr(quantizer, "symmetric", 0):
            raise UnsupportedModelError(f"{quantizer}: symmetric=1 is not supported")
        keep_negative = bool(quantizer.keep_negative)
        if bits < 2:
            raise UnsupportedModelError(f"{quantizer}: 1-bit (binary) quantizers are not supported")
        return FixedFormat(bits, integer + keep_negative, keep_negative)
    if name == "quantized_relu":
        if bits < 2:
            raise UnsupportedModelError(f"{quantizer}: 1-bit quantizers are not supported")
        if quantizer.use_sigmoid or quantizer.negative_slope:
            raise UnsupportedModelError(f"{quantizer}: sigmoid / leaky variants are not supported")
        if not getattr(quantizer, "is_quantized_clip", True):
            raise UnsupportedModelError(f"{quantizer}: is_quantized_clip=False is not supported")
        return FixedFormat(bits, integer, False)
    raise UnsupportedModelError(f"quantizer {quantizer} ({name}) is not supported; "
                                "supported: quantized_bits(alpha=1), quantized_relu")


# ------------------------------------------------------------------------- interval math

def _interval_matmul(lo: np.ndarray, hi: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of ``x @ w`` for ``lo <= x <= hi`` (elementwise, broadcast over rows), integer."""
    lo, hi, w = (np.asarray(a, dtype=object) for a in (lo, hi, w))
    a, b = lo[..., :, None] * w, hi[..., :, None] * w
    return np.minimum(a, b).sum(-2), np.maximum(a, b).sum(-2)


def _covering(lo, hi, frac: int) -> FixedFormat:
    return FixedFormat.covering(int(np.min(lo)), int(np.max(hi)), frac)


# ------------------------------------------------------------------------------- layers

@dataclass
class Op:
    """One layer of the reference: inputs by name, output codes in ``out`` format."""

    name: str
    kind: str
    inputs: list[str]
    out: FixedFormat
    # formats that did not come from a quantizer: part -> {"precision": ..., "from": ...}
    precision: dict = field(default_factory=dict, kw_only=True)

    def forward(self, *values: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "inputs": self.inputs,
             "out": None if self.out is None else self.out.to_dict()}
        if self.precision:
            d["precision"] = self.precision
        return d


@dataclass
class InputOp(Op):
    """A model input: integer ids (``out`` = None-like id format) or values on a grid."""

    shape: tuple = ()
    ids: bool = True
    id_limit: int = 0  # ids must be < id_limit (set by the embedding that reads them)

    def forward(self, value):
        raise RuntimeError("inputs are fed, not computed")

    def encode(self, value: np.ndarray) -> np.ndarray:
        value = np.asarray(value)
        if value.shape[1:] != tuple(self.shape):
            raise ValueError(f"input '{self.name}' has shape {value.shape[1:]}, expected {tuple(self.shape)}")
        if self.ids:
            if not np.issubdtype(value.dtype, np.integer):
                if np.any(value != np.round(value)):
                    raise ValueError(f"input '{self.name}' holds ids: integers expected")
            value = value.astype(np.int64)
            if value.size and (value.min() < 0 or value.max() >= self.id_limit):
                raise ValueError(f"input '{self.name}' has ids outside 0..{self.id_limit - 1}")
            return value
        return self.out.quantize(value)

    def describe(self) -> dict:
        d = {**super().describe(), "shape": list(self.shape), "ids": self.ids}
        if self.ids:
            d["id_limit"] = self.id_limit
            d.pop("out")
        return d


@dataclass
class EmbeddingOp(Op):
    table: np.ndarray = field(default=None, repr=False)  # codes (V, D) in ``out``

    def forward(self, ids):
        return self.table[ids]


@dataclass
class QuantOp(Op):
    """QActivation: quantized_bits / quantized_relu of the input codes."""

    quantizer: str = ""
    in_frac: int = 0

    def forward(self, x):
        return self.out.from_codes(x, self.in_frac)

    def describe(self) -> dict:
        return {**super().describe(), "quantizer": self.quantizer}


@dataclass
class DenseOp(Op):
    """``x @ W + b`` (exact accumulator ``out``); W, b codes in their formats."""

    kernel: np.ndarray = field(default=None, repr=False)
    kernel_fmt: FixedFormat = None
    bias: np.ndarray | None = field(default=None, repr=False)
    bias_fmt: FixedFormat | None = None
    in_frac: int = 0

    def forward(self, x):
        acc = x.astype(np.int64) @ self.kernel
        acc = align(acc, self.in_frac + self.kernel_fmt.frac, self.out.frac)
        if self.bias is not None:
            acc = acc + align(self.bias, self.bias_fmt.frac, self.out.frac)
        return acc

    def describe(self) -> dict:
        return {**super().describe(), "kernel_fmt": self.kernel_fmt.to_dict(),
                "bias_fmt": None if self.bias_fmt is None else self.bias_fmt.to_dict()}


@dataclass
class GCNOp(Op):
    """``Â (x W) + b``; Â a constant (static) or the second input (dynamic)."""

    kernel: np.ndarray = field(default=None, repr=False)
    kernel_fmt: FixedFormat = None
    bias: np.ndarray | None = field(default=None, repr=False)
    bias_fmt: FixedFormat | None = None
    adjacency: np.ndarray | None = field(default=None, repr=False)  # static codes (N, N)
    adjacency_fmt: FixedFormat = None
    xw_fmt: FixedFormat = None  # exact format of x @ W
    in_frac: int = 0

    @property
    def static(self) -> bool:
        return self.adjacency is not None

    def forward(self, x, a=None):
        xw = x.astype(np.int64) @ self.kernel
        a = self.adjacency if a is None else a
        acc = np.matmul(a, xw)
        acc = align(acc, self.in_frac + self.kernel_fmt.frac + self.adjacency_fmt.frac, self.out.frac)
        if self.bias is not None:
            acc = acc + align(self.bias, self.bias_fmt.frac, self.out.frac)
        return acc

    def describe(self) -> dict:
        return {**super().describe(), "static": self.static, "kernel_fmt": self.kernel_fmt.to_dict(),
                "bias_fmt": None if self.bias_fmt is None else self.bias_fmt.to_dict(),
                "adjacency_fmt": self.adjacency_fmt.to_dict(), "xw_fmt": self.xw_fmt.to_dict()}


@dataclass
class ReadoutOp(Op):
    indices: list[int] = field(default_factory=list)

    def forward(self, x):
        return x[:, self.indices, :].reshape(len(x), -1)

    def describe(self) -> dict:
        return {**super().describe(), "indices": self.indices}


@dataclass
class MeanPoolOp(Op):
    """Sum of embeddings over non-pad tokens (``sum_fmt``) times ``recip[count]``."""

    recip: np.ndarray = field(default=None, repr=False)  # codes (L+1,)
    recip_fmt: FixedFormat = None
    sum_fmt: FixedFormat = None
    in_frac: int = 0

    def forward(self, emb, tokens):
        valid = tokens != 0
        total = (emb * valid[..., None]).sum(axis=1)
        return total * self.recip[valid.sum(axis=1)][:, None]

    def describe(self) -> dict:
        return {**super().describe(), "recip_fmt": self.recip_fmt.to_dict(),
                "sum_fmt": self.sum_fmt.to_dict(), "recip": self.recip.tolist()}


@dataclass
class ConcatOp(Op):
    in_fracs: list[int] = field(default_factory=list)

    def forward(self, *xs):
        return np.concatenate([align(x, f, self.out.frac) for x, f in zip(xs, self.in_fracs)], axis=-1)


@dataclass
class MultiplyOp(Op):
    """Elementwise product of two inputs (exact: fractional bits add up)."""

    def forward(self, a, b):
        return a.astype(np.int64) * b


@dataclass
class ReluOp(Op):
    """``max(x, 0)`` on the input's grid (unsigned out)."""

    def forward(self, x):
        return np.maximum(x, 0)


@dataclass
class ReshapeOp(Op):
    """Flatten / Reshape: the codes unchanged, the per-sample shape ``shape``."""

    shape: tuple = ()

    def forward(self, x):
        return np.asarray(x).reshape(len(x), *self.shape)

    def describe(self) -> dict:
        return {**super().describe(), "shape": list(self.shape)}


@dataclass
class AddOp(Op):
    """Exact sum of inputs of one shape, aligned to the largest fractional width."""

    in_fracs: list[int] = field(default_factory=list)

    def forward(self, *xs):
        return sum(align(x, f, self.out.frac) for x, f in zip(xs, self.in_fracs))


@dataclass
class AggregateOp(Op):
    """``y[n] = sum_m A[n, m] x[m] (+ c x[n])`` over the node axis (rank-3 (B, N, F) values).

    ``A``: ``matrix`` codes (N, N) in ``matrix_fmt`` (static), or the second input (dynamic,
    (B, N, N) on ``matrix_fmt``); ``self_coef`` (code in ``self_fmt``) adds ``c x`` (GIN's 1+eps).
    Exact: every term is aligned to ``out.frac``.
    """

    matrix: np.ndarray | None = field(default=None, repr=False)
    matrix_fmt: FixedFormat = None
    self_coef: int | None = None
    self_fmt: FixedFormat | None = None
    in_frac: int = 0

    @property
    def static(self) -> bool:
        return self.matrix is not None

    def forward(self, x, a=None):
        a = self.matrix if a is None else a
        acc = align(np.matmul(a.astype(np.int64), x.astype(np.int64)), self.in_frac + self.matrix_fmt.frac,
                    self.out.frac)
        if self.self_coef is not None:
            acc = acc + align(x.astype(np.int64) * self.self_coef, self.in_frac + self.self_fmt.frac, self.out.frac)
        return acc

    def describe(self) -> dict:
        d = {**super().describe(), "static": self.static, "matrix_fmt": self.matrix_fmt.to_dict()}
        if self.static:
            d["matrix"] = self.matrix.tolist()
        if self.self_coef is not None:
            d.update(self_coef=int(self.self_coef), self_fmt=self.self_fmt.to_dict())
        return d


@dataclass
class PoolOp(Op):
    """Sum or max over the node axis of (B, N, F) codes; ``scale`` (code in ``scale_fmt``)
    multiplies the sum (an average over N not a power of two: sum * q(1/N)); a power-of-two
    average is the sum read with log2(N) more fractional bits (``out.frac``)."""

    mode: str = "sum"
    scale: int | None = None
    scale_fmt: FixedFormat | None = None
    in_frac: int = 0

    def forward(self, x):
        x = np.asarray(x, dtype=np.int64)
        if self.mode == "max":
            return x.max(axis=1)
        total = x.sum(axis=1)
        return total if self.scale is None else total * self.scale

    def describe(self) -> dict:
        d = {**super().describe(), "mode": self.mode}
        if self.scale is not None:
            d.update(scale=int(self.scale), scale_fmt=self.scale_fmt.to_dict())
        return d


# -------------------------------------------------------------------------------- model

class FixedPointModel:
    """The exact integer twin of a quantized Keras model (see module docstring)."""

    def __init__(self, ops: list[Op], output: str, input_names: list[str], assumed: list[str] | None = None):
        self.ops = ops
        self.by_name = {op.name: op for op in ops}
        self.output = output
        self.input_names = input_names
        self.assumed = assumed or []  # the precision warnings of float parts

    @property
    def output_format(self) -> FixedFormat:
        return self.by_name[self.output].out

    @property
    def inputs(self) -> list[InputOp]:
        return [self.by_name[n] for n in self.input_names]

    def trace(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Codes of every layer's output (inputs encoded: ids, or codes on their grid)."""
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"missing input(s) {', '.join(missing)}; the model takes "
                             f"{', '.join(self.input_names)}")
        values = {n: self.by_name[n].encode(inputs[n]) for n in self.input_names}
        for op in self.ops:
            if op.name not in values:
                values[op.name] = op.forward(*(values[i] for i in op.inputs))
        return values

    def predict_codes(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.trace(inputs)[self.output]

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Exact outputs as float64 (exact: every code fits in 53 bits); (B,) for one unit."""
        out = self.output_format.to_float(self.predict_codes(inputs))
        return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out

    def describe(self) -> list[dict]:
        return [op.describe() for op in self.ops]

    @classmethod
    def from_keras(cls, model, precision=None) -> "FixedPointModel":
        """The op graph of ``model``; ``precision``: the design config's ``precision`` section
        (or a dict of the same shape, or None for the defaults) for its float parts."""
        return _Builder(model, precision).build()


class _Precisions:
    """The ``precision`` section of a design config: formats of float inputs and layers."""

    def __init__(self, precision=None):
        tree = {} if precision is None else (precision.model_dump() if hasattr(precision, "model_dump")
                                             else dict(precision))
        self.default = tree.get("default") or DEFAULT_PRECISION
        self.default_from = "default" if self.default == DEFAULT_PRECISION else "config precision.default"
        self.inputs = dict(tree.get("inputs") or {})
        self.layers = dict(tree.get("layers") or {})

    def input(self, name: str) -> tuple[FixedFormat, str]:
        if self.inputs.get(name):
            return parse_precision(self.inputs[name]), f"config precision.inputs.{name}"
        return parse_precision(self.default), self.default_from

    def layer(self, name: str, part: str) -> tuple[FixedFormat, str]:
        """``part``: weight, bias or result."""
        entry = self.layers.get(name)
        if isinstance(entry, str):
            return parse_precision(entry), f"config precision.layers.{name}"
        if isinstance(entry, dict) and entry.get(part):
            return parse_precision(entry[part]), f"config precision.layers.{name}.{part}"
        return parse_precision(self.default), self.default_from


_ACTIVATIONS = ("linear", "relu")
_DENSE = ("Dense", "QDense")
_BATCHNORM = ("BatchNormalization", "QBatchNormalization")


def _activation_name(act) -> str:
    if act is None:
        return "linear"
    return act if isinstance(act, str) else getattr(act, "__name__", str(act))


def _fold_batchnorm(bn, kernel: np.ndarray, bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of ``dense`` followed by the batch normalization ``bn`` (in float64)."""
    cfg = bn.get_config()
    axis = cfg.get("axis", -1)
    if axis not in (-1, [-1], len(bn.input_shape) - 1, [len(bn.input_shape) - 1]):
        raise UnsupportedModelError(f"batch normalization '{bn.name}' normalizes axis {axis}; only the "
                                    "last (feature) axis can be folded into the dense layer before it")
    var = np.asarray(bn.moving_variance.numpy(), np.float64)
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if getattr(bn, "gamma", None) is not None else 1.0
    beta = np.asarray(bn.beta.numpy(), np.float64) if getattr(bn, "beta", None) is not None else 0.0
    scale = gamma / np.sqrt(var + float(cfg.get("epsilon", 1e-3)))
    bias = np.zeros(kernel.shape[1]) if bias is None else np.asarray(bias, np.float64)
    return np.asarray(kernel, np.float64) * scale, (bias - mean) * scale + beta


class _Builder:
    """Walks a functional Keras model in topological order and makes the ops."""

    def __init__(self, model, precision=None):
        self.model = model
        self.prec = _Precisions(precision)
        self.ops: dict[str, Op] = {}          # every op by its name, in order
        self.layer_op: dict[str, Op] = {}     # a Keras layer's name -> the op giving its output
        self.assumed: dict[str, str] = {}     # layer/input name -> its precision warning
        self.used_keys: set[str] = set()
        config = model.get_config()
        self.inbound: dict[str, list[str]] = {}
        classes = {layer["name"]: layer["class_name"] for layer in config["layers"]}
        for layer in config["layers"]:
            nodes = layer.get("inbound_nodes") or []
            if len(nodes) > 1:
                raise UnsupportedModelError(f"layer '{layer['name']}' is called more than once "
                                            "(shared layers are not supported)")
            self.inbound[layer["name"]] = [entry[0] for entry in nodes[0]] if nodes else []
        # batch normalizations folded into the dense layer before them: dense name -> bn layer
        self.fold: dict[str, object] = {}
        for name, cls in classes.items():
            if cls not in _BATCHNORM:
                continue
            srcs = self.inbound[name]
            prev = srcs[0] if len(srcs) == 1 else None
            bn = model.get_layer(name)
            if prev is None or classes.get(prev) not in _DENSE:
                raise UnsupportedModelError(
                    f"batch normalization '{name}' ({cls}) reads {srcs or 'nothing'}, not a Dense/QDense "
                    "layer: it can only be folded into the dense layer right before it; move it after a "
                    "dense layer or remove it")
            readers = [n for n, ins in self.inbound.items() if prev in ins]
            act = _activation_name(model.get_layer(prev).get_config().get("activation"))
            if readers != [name] or act != "linear":
                raise UnsupportedModelError(
                    f"batch normalization '{name}' ({cls}) cannot be folded into dense '{prev}': the dense "
                    "layer must have no activation and no other reader (put the activation after the "
                    "batch normalization)")
            self.fold[prev] = bn

    # ------------------------------------------------------------------ bookkeeping
    def _add(self, op: Op) -> Op:
        if op.name in self.ops:
            raise UnsupportedModelError(f"two ops named '{op.name}'; rename the layer")
        self.ops[op.name] = op
        return op

    def _record(self, what: str, name: str, cls: str, key: str, parts: dict[str, tuple[FixedFormat, str]],
                op: Op) -> None:
        """Notes float parts of a layer/input on ``op`` and warns once about them."""
        if not parts:
            return
        noted = {part: {"precision": fmt.precision(), "from": source} for part, (fmt, source) in parts.items()}
        prefix = op.name.split("/")[0] + "/"
        for other in self.ops.values():        # the ops the layer decomposed into
            if other.name.startswith(prefix):
                keep = ("result",) if other.kind == "quant" else () if other.kind == "relu" else ("weight", "bias")
                other.precision.update({k: v for k, v in noted.items() if k in keep})
        op.precision.update(noted)
        groups: dict[tuple[str, str], list[str]] = {}
        for part, (fmt, source) in parts.items():
            groups.setdefault((fmt.precision(), source), []).append(part)
        described = "; ".join(
            f"{p} ({fmt_modes(p)}) for its {' and '.join(ps)} ({src})" for (p, src), ps in groups.items())
        self.used_keys.add(key)
        self.assumed[name] = (f"{what} '{name}' ({cls}) has no quantizer: using {described}; "
                              f"set {key} to change it")

    def _layer_precision(self, layer_name: str, part: str, parts: dict) -> FixedFormat:
        fmt, source = self.prec.layer(layer_name, part)
        parts[part] = (fmt, source)
        return fmt

    def build(self) -> FixedPointModel:
        for layer in self.model.layers:     # every class first, then the details of each layer
            kind = type(layer).__name__
            if kind not in SUPPORTED_LAYERS:
                raise UnsupportedModelError(
                    f"layer '{layer.name}' of class {kind} is not supported{HINTS.get(kind, '')}; supported "
                    f"layers: {', '.join(SUPPORTED_LAYERS)}")
        for layer in self.model.layers:
            handler = getattr(self, f"_{type(layer).__name__}")
            op = handler(layer, [self.layer_op[n] for n in self.inbound[layer.name] if n in self.layer_op])
            if op.name not in self.ops:
                self._add(op)
            self.layer_op[layer.name] = op
        outputs = self.model.output_names
        if len(outputs) != 1:
            raise UnsupportedModelError(f"the model has {len(outputs)} outputs; one is supported")
        if outputs[0] not in self.layer_op:
            raise UnsupportedModelError(f"output '{outputs[0]}' is not a layer of the model")
        for op in self.ops.values():
            if isinstance(op, InputOp) and op.out is None and not op.ids:
                self._grid(op)
            if isinstance(op, InputOp) and op.ids and not op.id_limit:
                op.id_limit = UNBOUNDED_IDS  # read by no embedding (only masks, or unused)
        for section, names in (("inputs", self.prec.inputs), ("layers", self.prec.layers)):
            known = list(self.model.input_names) if section == "inputs" else [l.name for l in self.model.layers]
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(f"precision.{section} names {', '.join(map(repr, unknown))}, which the model "
                                 f"does not have; its {section}: {', '.join(known)}")
        for message in self.assumed.values():
            warnings.warn(message, PrecisionWarning, stacklevel=3)
        output = self.layer_op[outputs[0]].name
        return FixedPointModel(list(self.ops.values()), output, list(self.model.input_names),
                               list(self.assumed.values()))

    # ---------------------------------------------------------------- inputs, grids
    def _InputLayer(self, layer, _):
        cfg = layer.get_config()
        if cfg.get("sparse") or cfg.get("ragged"):
            raise UnsupportedModelError(f"input '{layer.name}' is sparse/ragged; give it as a dense array "
                                        "(e.g. a dense (N, N) adjacency)")
        shape = tuple(cfg["batch_input_shape"][1:])
        if any(d is None for d in shape):
            raise UnsupportedModelError(f"input '{layer.name}' has shape {shape}: every dimension but the "
                                        "batch must be fixed")
        ids = "int" in str(cfg.get("dtype", "float32"))
        op = InputOp(layer.name, "input", [], None, shape=shape, ids=ids)
        if not ids and layer.name in self.prec.inputs:
            self._grid(op)
        return op

    def _grid(self, src: Op) -> Op:
        """``src`` with a format: a float input takes its config precision (or the default)."""
        if isinstance(src, InputOp) and not src.ids and src.out is None:
            fmt, source = self.prec.input(src.name)
            src.out = fmt
            self._record("input", src.name, "float input", f"precision.inputs.{src.name}",
                         {"values": (fmt, source)}, src)
        if src.out is None:
            raise UnsupportedModelError(f"'{src.name}' has no fixed-point format (an id input can only "
                                        "be read by an embedding)")
        return src

    def _quant_input(self, src: Op, fmt: FixedFormat) -> int:
        """Frac of ``src``; a float input takes ``fmt`` (the grid of the quantizer reading it)."""
        if isinstance(src, InputOp) and not src.ids and src.out is None:
            src.out = fmt
        return self._grid(src).out.frac

    # --------------------------------------------------------------------- weights
    def _weights(self, layer, values, quantizer: str | None, part: str, parts: dict,
                 precision_name: str | None = None) -> tuple[np.ndarray, FixedFormat]:
        """Codes and format of float ``values``: on the layer's quantizer ``quantizer`` (an
        attribute name) if it has one, else on its config precision (noted in ``parts``)."""
        q = getattr(layer, quantizer, None) if quantizer else None
        fmt = quantizer_format(q) if q is not None else self._layer_precision(
            precision_name or layer.name, part, parts)
        return fmt.quantize(np.asarray(values, dtype=np.float64 if q is None else np.float32)), fmt

    @staticmethod
    def _activation(layer, act=None) -> str:
        name = _activation_name(layer.get_config().get("activation") if act is None else act)
        if name not in _ACTIVATIONS:
            raise UnsupportedModelError(f"layer '{layer.name}' has activation {name!r}; supported: "
                                        f"{', '.join(_ACTIVATIONS)} (put a quantizer in a QActivation after it)")
        return name

    # ----------------------------------------------------------------- op makers
    def _tail(self, name: str, acc: Op, float_layer: bool, act: str, prec_name: str, parts: dict) -> Op:
        """The ops after an exact accumulator ``acc``: a float layer's result quantization,
        then relu; the last one is named ``name``."""
        ops_after = []
        if float_layer:
            fmt = self._layer_precision(prec_name, "result", parts)
            ops_after.append(("q", lambda src, n: QuantOp(n, "quant", [src.name], fmt, quantizer=
                                                          f"precision {fmt.precision()}", in_frac=src.out.frac)))
        if act == "relu":
            ops_after.append(("relu", lambda src, n: self._relu(n, src)))
        acc.name = name if not ops_after else f"{name}/acc"
        out = self._add(acc)
        for j, (part, make) in enumerate(ops_after):
            out = self._add(make(out, name if j == len(ops_after) - 1 else f"{name}/{part}"))
        return out

    def _dense_chain(self, name: str, src: Op, kernel: np.ndarray, bias, kfmt: FixedFormat,
                     bfmt, act: str, float_layer: bool, prec_name: str, parts: dict) -> Op:
        """``x @ W + b`` on the last axis (rank 2 or 3) with its exact accumulator, then ``_tail``."""
        frac = max(src.out.frac + kfmt.frac, bfmt.frac if bfmt else 0)
        lo, hi = _interval_matmul(np.full(kernel.shape[0], src.out.min_code),
                                  np.full(kernel.shape[0], src.out.max_code), kernel)
        shift = frac - src.out.frac - kfmt.frac
        lo, hi = lo * 2 ** shift, hi * 2 ** shift
        if bias is not None:
            b = align(bias, bfmt.frac, frac).astype(object)
            lo, hi = lo + b, hi + b
        acc = DenseOp(name, "dense", [src.name], _covering(lo, hi, frac), kernel=kernel, kernel_fmt=kfmt,
                      bias=bias, bias_fmt=bfmt, in_frac=src.out.frac)
        return self._tail(name, acc, float_layer, act, prec_name, parts)

    def _relu(self, name: str, src: Op) -> Op:
        return ReluOp(name, "relu", [src.name], FixedFormat.covering(0, src.out.max_code, src.out.frac))

    # -------------------------------------------------------------------- layers
    def _embedding(self, layer, ins, quantizer: str | None):
        (src,) = ins
        if not (isinstance(src, InputOp) and src.ids):
            raise UnsupportedModelError(f"embedding '{layer.name}' must read an integer id input "
                                        "(an Input with dtype int32)")
        parts: dict = {}
        table, fmt = self._weights(layer, layer.embeddings.numpy(), quantizer, "weight", parts)
        src.id_limit = table.shape[0] if not src.id_limit else min(src.id_limit, table.shape[0])
        op = EmbeddingOp(layer.name, "embedding", [src.name], fmt, table=table)
        self._record("layer", layer.name, type(layer).__name__, f"precision.layers.{layer.name}", parts, op)
        return op

    def _QEmbedding(self, layer, ins):
        return self._embedding(layer, ins, "embeddings_quantizer")

    def _Embedding(self, layer, ins):
        return self._embedding(layer, ins, None)

    def _QActivation(self, layer, ins):
        (src,) = ins
        fmt = quantizer_format(layer.quantizer)
        in_frac = self._quant_input(src, fmt)
        return QuantOp(layer.name, "quant", [src.name], fmt, quantizer=str(layer.quantizer), in_frac=in_frac)

    def _Activation(self, layer, ins):
        (src,) = ins
        act = self._activation(layer)
        src = self._grid(src)
        if act == "linear":
            return ReshapeOp(layer.name, "reshape", [src.name], src.out, shape=tuple(layer.output_shape[1:]))
        return self._relu(layer.name, src)

    def _dense(self, layer, ins, quantized: bool):
        (src,) = ins
        src = self._grid(src)
        rank = len(layer.input_shape)
        if rank not in (2, 3):
            raise UnsupportedModelError(f"dense '{layer.name}' has a rank-{rank} input; (batch, features) "
                                        "and (batch, nodes, features) are supported")
        act = self._activation(layer)
        kernel, bias = layer.kernel.numpy(), (layer.bias.numpy() if layer.use_bias else None)
        bn = self.fold.get(layer.name)
        if bn is not None:
            kernel, bias = _fold_batchnorm(bn, kernel, bias)
        kq = "kernel_quantizer_internal" if quantized else None
        bq = ("bias_quantizer_internal" if quantized else None) if bias is not None else None
        float_layer = not quantized or (getattr(layer, "kernel_quantizer_internal", None) is None and
                                        getattr(layer, "bias_quantizer_internal", None) is None)
        parts: dict = {}
        kcodes, kfmt = self._weights(layer, kernel, kq, "weight", parts)
        bcodes, bfmt = (None, None) if bias is None else self._weights(layer, bias, bq, "bias", parts)
        name = layer.name if bn is None else bn.name
        op = self._dense_chain(name, src, kcodes, bcodes, kfmt, bfmt, act, float_layer, layer.name, parts)
        self._record("layer", layer.name, type(layer).__name__, f"precision.layers.{layer.name}", parts, op)
        return op

    def _QDense(self, layer, ins):
        return self._dense(layer, ins, True)

    def _Dense(self, layer, ins):
        return self._dense(layer, ins, False)

    def _batchnorm(self, layer, ins):
        (src,) = ins  # the folded dense op, already named after this layer
        return src

    _BatchNormalization = _QBatchNormalization = _batchnorm

    def _Flatten(self, layer, ins):
        (src,) = ins
        src = self._grid(src)
        return ReshapeOp(layer.name, "reshape", [src.name], src.out, shape=tuple(layer.output_shape[1:]))

    _Reshape = _Flatten

    def _Add(self, layer, ins):
        ins = [self._grid(i) for i in ins]
        shapes = {tuple(s[1:]) for s in layer.input_shape}
        if len(shapes) != 1:
            raise UnsupportedModelError(f"add '{layer.name}' has inputs of shapes {sorted(shapes)}; "
                                        "broadcasting is not supported: give inputs of one shape")
        frac = max(i.out.frac for i in ins)
        lo = sum(i.out.min_code << (frac - i.out.frac) for i in ins)
        hi = sum(i.out.max_code << (frac - i.out.frac) for i in ins)
        return AddOp(layer.name, "add", [i.name for i in ins], FixedFormat.covering(lo, hi, frac),
                     in_fracs=[i.out.frac for i in ins])

    def _graph_inputs(self, layer, ins, static: bool):
        if static:
            if len(ins) != 1:
                raise UnsupportedModelError(f"graph layer '{layer.name}' has a static adjacency: it reads "
                                            "x alone")
            return self._grid(ins[0]), None
        if len(ins) != 2:
            raise UnsupportedModelError(f"graph layer '{layer.name}' needs [x, adjacency] inputs (a dense "
                                        "(N, N) adjacency input; sparse adjacencies are not supported)")
        x, a = ins
        if len(layer.input_shape[1]) != 3 or len(layer.input_shape[0]) != 3:
            raise UnsupportedModelError(f"graph layer '{layer.name}': x must be a (batch, N, F) and the "
                                        f"adjacency a dense (batch, N, N) input, got shapes {layer.input_shape}")
        return self._grid(x), a

    def _QGCNConv(self, layer, ins):
        return self._gcn(layer, ins)

    def _GCNConv(self, layer, ins):
        return self._gcn(layer, ins)

    def _gcn(self, layer, ins):
        act = self._activation(layer)
        static_adj = getattr(layer, "static_adjacency", None)
        static = static_adj is not None
        src, a_in = self._graph_inputs(layer, ins, static)
        parts: dict = {}
        kernel, kfmt = self._weights(layer, layer.kernel.numpy(), "kernel_quantizer", "weight", parts)
        bias, bfmt = (None, None) if not layer.use_bias else self._weights(
            layer, layer.bias.numpy(), "bias_quantizer", "bias", parts)
        float_layer = all(getattr(layer, q, None) is None for q in
                          ("kernel_quantizer", "bias_quantizer", "adjacency_quantizer"))
        n = int(layer.input_shape[0][-2] if isinstance(layer.input_shape, list) else layer.input_shape[-2])
        f_in = kernel.shape[0]
        xw_lo, xw_hi = _interval_matmul(np.full(f_in, src.out.min_code), np.full(f_in, src.out.max_code), kernel)
        xw_fmt = _covering(xw_lo, xw_hi, src.out.frac + kfmt.frac)
        if static:
            adjacency, afmt = self._weights(layer, static_adj, "adjacency_quantizer", "weight", parts)
            # bounds of Â @ XW, row by row (each XW row lies in [xw_lo, xw_hi])
            a = adjacency.astype(object)
            pos, neg = np.maximum(a, 0), np.minimum(a, 0)
            lo = pos.sum(1)[:, None] * xw_lo[None] + neg.sum(1)[:, None] * xw_hi[None]
            hi = pos.sum(1)[:, None] * xw_hi[None] + neg.sum(1)[:, None] * xw_lo[None]
        else:
            adjacency = None
            afmt = self._adjacency_grid(layer, a_in)
            corners = [c * x for c in (afmt.min_code, afmt.max_code) for x in (xw_lo, xw_hi)]
            lo = n * np.minimum.reduce(corners)[None]
            hi = n * np.maximum.reduce(corners)[None]
        frac = max(src.out.frac + kfmt.frac + afmt.frac, bfmt.frac if bfmt else 0)
        shift = frac - (src.out.frac + kfmt.frac + afmt.frac)
        lo, hi = lo * 2 ** shift, hi * 2 ** shift
        if bias is not None:
            b = align(bias, bfmt.frac, frac).astype(object)
            lo, hi = lo + b, hi + b
        acc = GCNOp(layer.name, "gcn", [src.name] + ([] if static else [a_in.name]), _covering(lo, hi, frac),
                    kernel=kernel, kernel_fmt=kfmt, bias=bias, bias_fmt=bfmt, adjacency=adjacency,
                    adjacency_fmt=afmt, xw_fmt=xw_fmt, in_frac=src.out.frac)
        op = self._tail(layer.name, acc, float_layer, act, layer.name, parts)
        self._record("layer", layer.name, type(layer).__name__, f"precision.layers.{layer.name}", parts, op)
        return op

    def _aggregate(self, name: str, src: Op, a_in: Op | None, matrix, mfmt: FixedFormat,
                   coef: int | None, cfmt: FixedFormat | None) -> Op:
        """An exact ``AggregateOp`` (bounds by interval arithmetic)."""
        x_lo, x_hi = src.out.min_code, src.out.max_code
        frac = src.out.frac + max(mfmt.frac, cfmt.frac if cfmt else 0)
        s_m = frac - src.out.frac - mfmt.frac
        if matrix is not None:
            a = matrix.astype(object)
            pos, neg = np.maximum(a, 0).sum(1), np.minimum(a, 0).sum(1)
            lo, hi = int(np.min(pos * x_lo + neg * x_hi)), int(np.max(pos * x_hi + neg * x_lo))
        else:
            n = a_in.shape[-1]
            corners = [c * x for c in (mfmt.min_code, mfmt.max_code) for x in (x_lo, x_hi)]
            lo, hi = n * min(corners), n * max(corners)
        lo, hi = lo << s_m, hi << s_m
        if coef is not None:
            s_c = frac - src.out.frac - cfmt.frac
            lo += min(coef * x_lo, coef * x_hi) << s_c
            hi += max(coef * x_lo, coef * x_hi) << s_c
        inputs = [src.name] + ([] if a_in is None else [a_in.name])
        return self._add(AggregateOp(name, "aggregate", inputs, FixedFormat.covering(lo, hi, frac), matrix=matrix,
                                     matrix_fmt=mfmt, self_coef=coef, self_fmt=cfmt, in_frac=src.out.frac))

    def _adjacency_grid(self, layer, a_in: Op) -> FixedFormat:
        """The grid of a dynamic adjacency input: the layer's adjacency quantizer (which must then
        be the input's grid), else the input's own precision."""
        aq = getattr(layer, "adjacency_quantizer", None)
        if aq is None:
            return self._grid(a_in).out
        afmt = quantizer_format(aq)
        self._quant_input(a_in, afmt)
        if (a_in.out.width, a_in.out.integer, a_in.out.signed) != (afmt.width, afmt.integer, afmt.signed):
            raise UnsupportedModelError(f"graph layer '{layer.name}': its adjacency input '{a_in.name}' is on "
                                        f"{a_in.out.precision()}, not on the layer's adjacency grid "
                                        f"{afmt.precision()}; set precision.inputs.{a_in.name} to it or drop it")
        return afmt

    def _GINConvBatch(self, layer, ins):
        src, a_in = self._graph_inputs(layer, ins, False)
        afmt = self._adjacency_grid(layer, a_in)
        parts: dict = {}
        eps = float(np.asarray(layer.eps).reshape(-1)[0])
        (coef,), cfmt = self._weights(layer, [1.0 + eps], None, "weight", parts)
        agg = self._aggregate(f"{layer.name}/agg", src, a_in, None, afmt, int(coef), cfmt)
        dense = [l for l in layer.mlp.layers]
        if any(type(l).__name__ not in ("Dense",) for l in dense):
            raise UnsupportedModelError(
                f"GIN layer '{layer.name}' has batch normalization after an activation in its MLP, which "
                "cannot be folded into a dense layer; build it with mlp_batchnorm=False")
        out = agg
        for j, d in enumerate(dense):
            last = j == len(dense) - 1
            act = self._activation(layer, d.get_config().get("activation"))
            kernel, kfmt = self._weights(d, d.kernel.numpy(), None, "weight", parts, layer.name)
            bias, bfmt = (None, None) if not d.use_bias else self._weights(d, d.bias.numpy(), None, "bias",
                                                                            parts, layer.name)
            out = self._dense_chain(layer.name if last else f"{layer.name}/mlp{j}", out, kernel, bias, kfmt,
                                    bfmt, act, True, layer.name, parts)
        self._record("layer", layer.name, "GINConvBatch", f"precision.layers.{layer.name}", parts, out)
        return out

    def _QGraphSageConv(self, layer, ins):
        static_adj = layer.static_adjacency
        static = static_adj is not None
        src, a_in = self._graph_inputs(layer, ins, static)
        parts: dict = {}
        act = self._activation(layer)
        if layer.aggregate_op == "mean" and not static:
            raise UnsupportedModelError(
                f"GraphSAGE layer '{layer.name}': mean aggregation over a dynamic adjacency divides by each "
                "node's degree at run time, which has no exact fixed-point form here; use aggregate='sum', or "
                "a static adjacency (then 1/degree is a constant of the layer)")
        if static:
            matrix, mfmt = self._weights(layer, layer.aggregation_matrix(), "adjacency_quantizer", "weight", parts)
            agg = self._aggregate(f"{layer.name}/agg", src, None, matrix, mfmt, None, None)
        else:
            agg = self._aggregate(f"{layer.name}/agg", src, a_in, None, self._adjacency_grid(layer, a_in), None, None)
        frac = max(src.out.frac, agg.out.frac)
        lo = min(src.out.min_code << (frac - src.out.frac), agg.out.min_code << (frac - agg.out.frac))
        hi = max(src.out.max_code << (frac - src.out.frac), agg.out.max_code << (frac - agg.out.frac))
        cat = self._add(ConcatOp(f"{layer.name}/cat", "concat", [src.name, agg.name],
                                 FixedFormat.covering(lo, hi, frac), in_fracs=[src.out.frac, agg.out.frac]))
        kernel, kfmt = self._weights(layer, layer.kernel.numpy(), "kernel_quantizer", "weight", parts)
        bias, bfmt = (None, None) if not layer.use_bias else self._weights(
            layer, layer.bias.numpy(), "bias_quantizer", "bias", parts)
        float_layer = layer.kernel_quantizer is None and layer.bias_quantizer is None
        out = self._dense_chain(layer.name, cat, kernel, bias, kfmt, bfmt, act, float_layer, layer.name, parts)
        self._record("layer", layer.name, "QGraphSageConv", f"precision.layers.{layer.name}", parts, out)
        return out

    def _pool(self, layer, ins, mode: str):
        if len(ins) != 1 or len(layer.input_shape) != 3:
            raise UnsupportedModelError(f"pool '{layer.name}' must read one (batch, nodes, features) input "
                                        "(Spektral's batch mode; disjoint mode is not supported)")
        src = self._grid(ins[0])
        n = int(layer.input_shape[1])
        if mode == "max":
            return PoolOp(layer.name, "pool", [src.name], src.out, mode="max", in_frac=src.out.frac)
        lo, hi = n * src.out.min_code, n * src.out.max_code
        if mode == "sum":
            return PoolOp(layer.name, "pool", [src.name], FixedFormat.covering(lo, hi, src.out.frac),
                          mode="sum", in_frac=src.out.frac)
        k = n.bit_length() - 1
        if n == 1 << k:   # a shift: the sum read with k more fractional bits
            return PoolOp(layer.name, "pool", [src.name], FixedFormat.covering(lo, hi, src.out.frac + k),
                          mode="avg", in_frac=src.out.frac)
        parts: dict = {}
        (scale,), sfmt = self._weights(layer, [1.0 / n], None, "weight", parts)
        scale = int(scale)
        acc = PoolOp(layer.name, "pool", [src.name], FixedFormat.covering(
            min(lo * scale, hi * scale), max(lo * scale, hi * scale), src.out.frac + sfmt.frac),
            mode="avg", scale=scale, scale_fmt=sfmt, in_frac=src.out.frac)
        op = self._tail(layer.name, acc, True, "linear", layer.name, parts)
        self._record("layer", layer.name, "GlobalAvgPool", f"precision.layers.{layer.name}", parts, op)
        return op

    def _GlobalSumPool(self, layer, ins):
        return self._pool(layer, ins, "sum")

    def _GlobalAvgPool(self, layer, ins):
        return self._pool(layer, ins, "avg")

    def _GlobalMaxPool(self, layer, ins):
        return self._pool(layer, ins, "max")

    def _NodeReadout(self, layer, ins):
        (src,) = ins
        return ReadoutOp(layer.name, "readout", [src.name], src.out, indices=list(layer.indices))

    def _MaskedMeanPool(self, layer, ins):
        emb, tokens = ins
        if not isinstance(tokens, InputOp) or not tokens.ids:
            raise UnsupportedModelError(f"pool '{layer.name}' must read token ids as its second input")
        length = int(tokens.shape[0])
        rq = getattr(layer, "recip_quantizer", None)
        if rq is None:
            raise UnsupportedModelError(f"layer '{layer.name}' (MaskedMeanPool) has no reciprocal quantizer: "
                                        "give it recip_quantizer")
        rfmt = quantizer_format(rq)
        counts = np.arange(length + 1, dtype=np.float32)
        recip = rfmt.quantize(np.divide(np.float32(1), counts, out=np.zeros_like(counts), where=counts > 0))
        sum_fmt = FixedFormat.covering(length * emb.out.min_code, length * emb.out.max_code, emb.out.frac)
        products = [c * r for c in range(length + 1) for r in (int(recip[c]),)]
        lo = min(min(p * emb.out.min_code, p * emb.out.max_code) for p in products)
        hi = max(max(p * emb.out.min_code, p * emb.out.max_code) for p in products)
        out = FixedFormat.covering(lo, hi, emb.out.frac + rfmt.frac)
        return MeanPoolOp(layer.name, "meanpool", [emb.name, tokens.name], out, recip=recip,
                          recip_fmt=rfmt, sum_fmt=sum_fmt, in_frac=emb.out.frac)

    def _Multiply(self, layer, ins):
        if len(ins) != 2:
            raise UnsupportedModelError(f"multiply '{layer.name}' has {len(ins)} inputs; two are supported")
        a, b = (self._grid(i).out for i in ins)
        corners = [x * y for x in (a.min_code, a.max_code) for y in (b.min_code, b.max_code)]
        return MultiplyOp(layer.name, "multiply", [i.name for i in ins],
                          FixedFormat.covering(min(corners), max(corners), a.frac + b.frac))

    def _Concatenate(self, layer, ins):
        if layer.axis not in (-1, len(layer.output_shape) - 1):
            raise UnsupportedModelError(f"concatenate '{layer.name}' must join the last axis")
        ins = [self._grid(i) for i in ins]
        frac = max(i.out.frac for i in ins)
        lo = min(i.out.min_code << (frac - i.out.frac) for i in ins)
        hi = max(i.out.max_code << (frac - i.out.frac) for i in ins)
        return ConcatOp(layer.name, "concat", [i.name for i in ins], FixedFormat.covering(lo, hi, frac),
                        in_fracs=[i.out.frac for i in ins])


def fmt_modes(precision: str) -> str:
    """``TRN, WRAP`` for a precision string (its rounding and overflow)."""
    f = parse_precision(precision)
    return f"{f.rounding}, {f.overflow}"
