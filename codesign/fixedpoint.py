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
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SUPPORTED_LAYERS = ("InputLayer", "QEmbedding", "QGCNConv", "QActivation", "NodeReadout",
                    "MaskedMeanPool", "Concatenate", "Multiply", "QDense")


UNBOUNDED_IDS = 2 ** 31 - 1  # id inputs no embedding reads: any int32 >= 0


class UnsupportedModelError(ValueError):
    """A layer or quantizer the fixed-point flow cannot map onto hardware."""


# ----------------------------------------------------------------------------- formats

@dataclass(frozen=True)
class FixedFormat:
    """``ap_fixed<width, integer>`` (signed) or ``ap_ufixed<width, integer>``."""

    width: int
    integer: int
    signed: bool = True

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
        """The HLS type; a quantizer rounds (convergent) and saturates, an accumulator wraps
        (it never needs to: its width covers every value)."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        modes = ",AP_RND_CONV,AP_SAT" if quantizer else ""
        return f"{base}<{self.width},{self.integer}{modes}>"

    def quantize(self, x) -> np.ndarray:
        """Codes of real values: round half to even, saturate (what QKeras does)."""
        scaled = np.asarray(x, dtype=np.float64) * 2.0 ** self.frac
        return np.clip(np.round(scaled), self.min_code, self.max_code).astype(np.int64)

    def from_codes(self, codes: np.ndarray, frac: int) -> np.ndarray:
        """Codes at ``frac`` fractional bits re-quantized onto this format (RND_CONV, SAT)."""
        return np.clip(shift_round(np.asarray(codes, dtype=np.int64), frac - self.frac),
                       self.min_code, self.max_code)

    def to_float(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(codes, dtype=np.float64) * self.lsb

    def contains(self, codes: np.ndarray) -> bool:
        codes = np.asarray(codes)
        return bool(codes.size == 0 or (codes.min() >= self.min_code and codes.max() <= self.max_code))

    def to_dict(self) -> dict:
        return {"width": self.width, "integer": self.integer, "signed": self.signed,
                "frac": self.frac, "ap_type": self.ap_type(False)}

    @classmethod
    def covering(cls, lo: int, hi: int, frac: int) -> "FixedFormat":
        """The narrowest format with ``frac`` fractional bits holding codes ``lo..hi``."""
        lo, hi = int(min(lo, 0)), int(max(hi, 0))
        signed = lo < 0
        width = 2  # ap_types assert on some operations of 1-bit unsigned values
        while True:
            f = cls(width, width - frac, signed)
            if f.min_code <= lo and hi <= f.max_code:
                return f
            width += 1


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

    def forward(self, *values: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "inputs": self.inputs,
                "out": None if self.out is None else self.out.to_dict()}


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


# -------------------------------------------------------------------------------- model

class FixedPointModel:
    """The exact integer twin of a quantized Keras model (see module docstring)."""

    def __init__(self, ops: list[Op], output: str, input_names: list[str]):
        self.ops = ops
        self.by_name = {op.name: op for op in ops}
        self.output = output
        self.input_names = input_names

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
    def from_keras(cls, model) -> "FixedPointModel":
        return _Builder(model).build()


class _Builder:
    """Walks a functional Keras model in topological order and makes the ops."""

    def __init__(self, model):
        self.model = model
        self.ops: dict[str, Op] = {}
        config = model.get_config()
        self.inbound: dict[str, list[str]] = {}
        for layer in config["layers"]:
            nodes = layer.get("inbound_nodes") or []
            if len(nodes) > 1:
                raise UnsupportedModelError(f"layer '{layer['name']}' is called more than once "
                                            "(shared layers are not supported)")
            self.inbound[layer["name"]] = [entry[0] for entry in nodes[0]] if nodes else []

    def build(self) -> FixedPointModel:
        for layer in self.model.layers:
            kind = type(layer).__name__
            handler = getattr(self, f"_{kind}", None)
            if handler is None:
                raise UnsupportedModelError(
                    f"layer '{layer.name}' of class {kind} is not supported; supported layers: "
                    f"{', '.join(SUPPORTED_LAYERS)}")
            op = handler(layer, [self.ops[n] for n in self.inbound[layer.name] if n in self.ops])
            self.ops[layer.name] = op
        outputs = self.model.output_names
        if len(outputs) != 1:
            raise UnsupportedModelError(f"the model has {len(outputs)} outputs; one is supported")
        if outputs[0] not in self.ops:
            raise UnsupportedModelError(f"output '{outputs[0]}' is not a layer of the model")
        for op in self.ops.values():
            if isinstance(op, InputOp) and op.out is None and not op.ids:
                raise UnsupportedModelError(f"input '{op.name}' feeds no quantizer: its grid is unknown")
            if isinstance(op, InputOp) and op.ids and not op.id_limit:
                op.id_limit = UNBOUNDED_IDS  # read by no embedding (only masks, or unused)
        return FixedPointModel(list(self.ops.values()), outputs[0], list(self.model.input_names))

    # each handler: (keras layer, input ops) -> op
    def _InputLayer(self, layer, _):
        shape = tuple(layer.get_config()["batch_input_shape"][1:])
        dtype = layer.get_config().get("dtype", "float32")
        ids = "int" in str(dtype)
        return InputOp(layer.name, "input", [], None, shape=shape, ids=ids)

    @staticmethod
    def _require_quantizer(layer, attr: str, what: str):
        q = getattr(layer, attr, None)
        if q is None:
            raise UnsupportedModelError(f"layer '{layer.name}' ({type(layer).__name__}) has no {what} "
                                        f"quantizer: a float layer has no fixed-point equivalent")
        return q

    def _weights(self, layer, values, quantizer, what: str) -> tuple[np.ndarray, FixedFormat]:
        fmt = quantizer_format(self._require_quantizer(layer, quantizer, what))
        return fmt.quantize(np.asarray(values, dtype=np.float32)), fmt

    def _QEmbedding(self, layer, ins):
        (src,) = ins
        if not (isinstance(src, InputOp) and src.ids):
            raise UnsupportedModelError(f"embedding '{layer.name}' must read an integer id input")
        table, fmt = self._weights(layer, layer.embeddings.numpy(), "embeddings_quantizer", "embeddings")
        src.id_limit = table.shape[0] if not src.id_limit else min(src.id_limit, table.shape[0])
        return EmbeddingOp(layer.name, "embedding", [src.name], fmt, table=table)

    def _quant_input(self, src: Op, fmt: FixedFormat) -> int:
        """Frac of ``src``; a float input takes ``fmt`` (the grid of the quantizer reading it)."""
        if isinstance(src, InputOp) and not src.ids and src.out is None:
            src.out = fmt
        if src.out is None:
            raise UnsupportedModelError(f"'{src.name}' has no fixed-point format")
        return src.out.frac

    def _QActivation(self, layer, ins):
        (src,) = ins
        fmt = quantizer_format(layer.quantizer)
        in_frac = self._quant_input(src, fmt)
        return QuantOp(layer.name, "quant", [src.name], fmt, quantizer=str(layer.quantizer), in_frac=in_frac)

    def _check_linear(self, layer):
        act = layer.get_config().get("activation", "linear")
        if act not in (None, "linear"):
            raise UnsupportedModelError(f"layer '{layer.name}' has activation {act!r}; put the "
                                        "activation in a QActivation layer after it")

    def _bias(self, layer):
        if not layer.use_bias:
            return None, None
        return self._weights(layer, layer.bias.numpy(), "bias_quantizer_internal"
                             if hasattr(layer, "bias_quantizer_internal") else "bias_quantizer", "bias")

    def _QDense(self, layer, ins):
        (src,) = ins
        self._check_linear(layer)
        if src.out is None:
            raise UnsupportedModelError(f"dense '{layer.name}' reads '{src.name}', which is not on a grid")
        if len(layer.input_shape) != 2:
            raise UnsupportedModelError(f"dense '{layer.name}' has a rank-{len(layer.input_shape)} input; "
                                        "only (batch, features) is supported")
        kernel, kfmt = self._weights(layer, layer.kernel.numpy(), "kernel_quantizer_internal", "kernel")
        bias, bfmt = self._bias(layer)
        frac = max(src.out.frac + kfmt.frac, bfmt.frac if bfmt else 0)
        lo, hi = _interval_matmul(np.full(kernel.shape[0], src.out.min_code),
                                  np.full(kernel.shape[0], src.out.max_code), kernel)
        shift = frac - src.out.frac - kfmt.frac
        lo, hi = lo * 2 ** shift, hi * 2 ** shift
        if bias is not None:
            b = align(bias, bfmt.frac, frac).astype(object)
            lo, hi = lo + b, hi + b
        return DenseOp(layer.name, "dense", [src.name], _covering(lo, hi, frac), kernel=kernel,
                       kernel_fmt=kfmt, bias=bias, bias_fmt=bfmt, in_frac=src.out.frac)

    def _QGCNConv(self, layer, ins):
        self._check_linear(layer)
        src = ins[0]
        if src.out is None:
            raise UnsupportedModelError(f"graph layer '{layer.name}' reads '{src.name}', which is not on a grid")
        kernel, kfmt = self._weights(layer, layer.kernel.numpy(), "kernel_quantizer", "kernel")
        bias, bfmt = self._bias(layer)
        afmt = quantizer_format(self._require_quantizer(layer, "adjacency_quantizer", "adjacency"))
        static = layer.static_adjacency is not None
        if not static and len(ins) != 2:
            raise UnsupportedModelError(f"graph layer '{layer.name}' needs [x, adjacency] inputs")
        n = int(layer.input_shape[0][-2] if isinstance(layer.input_shape, list) else layer.input_shape[-2])
        f_in = kernel.shape[0]
        xw_lo, xw_hi = _interval_matmul(np.full(f_in, src.out.min_code), np.full(f_in, src.out.max_code), kernel)
        xw_fmt = _covering(xw_lo, xw_hi, src.out.frac + kfmt.frac)
        if static:
            adjacency = afmt.quantize(layer.static_adjacency)
            # bounds of Â @ XW, row by row (each XW row lies in [xw_lo, xw_hi])
            a = adjacency.astype(object)
            pos, neg = np.maximum(a, 0), np.minimum(a, 0)
            lo = pos.sum(1)[:, None] * xw_lo[None] + neg.sum(1)[:, None] * xw_hi[None]
            hi = pos.sum(1)[:, None] * xw_hi[None] + neg.sum(1)[:, None] * xw_lo[None]
        else:
            adjacency = None
            self._quant_input(ins[1], afmt)
            corners = [c * x for c in (afmt.min_code, afmt.max_code) for x in (xw_lo, xw_hi)]
            lo = n * np.minimum.reduce(corners)[None]
            hi = n * np.maximum.reduce(corners)[None]
        frac = max(src.out.frac + kfmt.frac + afmt.frac, bfmt.frac if bfmt else 0)
        shift = frac - (src.out.frac + kfmt.frac + afmt.frac)
        lo, hi = lo * 2 ** shift, hi * 2 ** shift
        if bias is not None:
            b = align(bias, bfmt.frac, frac).astype(object)
            lo, hi = lo + b, hi + b
        return GCNOp(layer.name, "gcn", [i.name for i in ins], _covering(lo, hi, frac), kernel=kernel,
                     kernel_fmt=kfmt, bias=bias, bias_fmt=bfmt, adjacency=adjacency, adjacency_fmt=afmt,
                     xw_fmt=xw_fmt, in_frac=src.out.frac)

    def _NodeReadout(self, layer, ins):
        (src,) = ins
        return ReadoutOp(layer.name, "readout", [src.name], src.out, indices=list(layer.indices))

    def _MaskedMeanPool(self, layer, ins):
        emb, tokens = ins
        if not isinstance(tokens, InputOp) or not tokens.ids:
            raise UnsupportedModelError(f"pool '{layer.name}' must read token ids as its second input")
        length = int(tokens.shape[0])
        rfmt = quantizer_format(self._require_quantizer(layer, "recip_quantizer", "reciprocal"))
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
        a, b = (i.out for i in ins)
        corners = [x * y for x in (a.min_code, a.max_code) for y in (b.min_code, b.max_code)]
        return MultiplyOp(layer.name, "multiply", [i.name for i in ins],
                          FixedFormat.covering(min(corners), max(corners), a.frac + b.frac))

    def _Concatenate(self, layer, ins):
        if layer.axis not in (-1, len(layer.output_shape) - 1):
            raise UnsupportedModelError(f"concatenate '{layer.name}' must join the last axis")
        frac = max(i.out.frac for i in ins)
        lo = min(i.out.min_code << (frac - i.out.frac) for i in ins)
        hi = max(i.out.max_code << (frac - i.out.frac) for i in ins)
        return ConcatOp(layer.name, "concat", [i.name for i in ins], FixedFormat.covering(lo, hi, frac),
                        in_fracs=[i.out.frac for i in ins])
