"""How each op of the fixed-point graph (``codesign.fixedpoint``) becomes da4ml logic.

One function per op kind, registered with ``@tracer(kind)``: ``fn(op, *inputs) -> output``,
where every value is a da4ml ``FixedVariableArray`` without the batch axis whose real values
are the op's codes times ``2**-frac`` of its format. The RTL tracer walks the op graph and
calls these; it never reads a Keras layer or a layer name. The semantics (formats, rounding,
saturation) come from the op itself, so this module defines none of its own.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from da4ml.trace import FixedVariableArray, HWConfig

from codesign.fixedpoint import FixedFormat, Op

HW = HWConfig(1, -1, -1)

TRACERS: dict[str, Callable[..., FixedVariableArray]] = {}


def tracer(kind: str):
    """Registers ``fn`` as the da4ml replay of ops of ``kind``."""
    def register(fn):
        if kind in TRACERS:
            raise ValueError(f"op kind {kind!r} already has a tracer")
        TRACERS[kind] = fn
        return fn
    return register


def kif(fmt: FixedFormat) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integer bits without the sign, fractional bits) of a format."""
    return int(fmt.signed), fmt.integer - int(fmt.signed), fmt.frac


def inputs_of(fmts: list[FixedFormat], solver_options: dict | None = None) -> FixedVariableArray:
    """A flat da4ml input vector, one variable per format."""
    k, i, f = (np.array([kif(m)[j] for m in fmts]) for j in range(3))
    return FixedVariableArray.from_kif(k, i, f, HW, solver_options=solver_options)


def quantize_even(x: FixedVariableArray, fmt: FixedFormat) -> FixedVariableArray:
    """``fmt.from_codes`` in logic: round half to even, then saturate (relu when unsigned).

    da4ml rounds half up only; half to even adds ``s/2 - e`` plus ``e`` when the kept LSB is 1
    (s: target step, e: input step) and truncates: one adder, the LSB is a wire.
    Saturation is built from relus (``lo + relu(v - lo)``, ``hi - relu(hi - v)``) rather than
    da4ml's ``SAT`` mode: da4ml 0.5.2's SAT comparators give wrong RTL (and C++ ``predict``)
    on values whose internal scale factor is far from 1, which the CMVM solver produces.
    """
    if (fmt.rounding, fmt.overflow) != ("RND_CONV", "SAT"):
        return quantize_modes(x, fmt)   # a config precision (e.g. hls4ml's TRN, WRAP)
    k, i, f = kif(fmt)
    out = np.empty(x.shape, dtype=object)
    lo, hi = fmt.min_code * fmt.lsb, fmt.max_code * fmt.lsb
    for idx, v in np.ndenumerate(x._vars):
        f_in = v.kif[2]
        if f_in > f:
            s, e = 2.0 ** -f, 2.0 ** -f_in
            lsb = v.quantize(0, 1 - f, f)                    # bit of weight s: 0 or s
            v = v + lsb * (e / s) + (s / 2 - e)
            v = v.quantize(1, max(v.kif[1], i) + 1, f)        # truncate (never wraps)
        if v.low < lo:
            v = (v - lo).relu() + lo if lo else v.relu()
        if v.high > hi:
            v = hi - (hi - v).relu()
        out[idx] = v.quantize(k, i, f)                        # drops bits the range cannot use
    return FixedVariableArray(out, x.solver_options)


def trace_op(op: Op, *inputs: FixedVariableArray) -> FixedVariableArray:
    """The da4ml replay of one op (its kind's registered tracer)."""
    fn = TRACERS.get(op.kind)
    if fn is None:
        raise NotImplementedError(f"op '{op.name}' of kind {op.kind!r} has no RTL tracer; "
                                  f"traceable kinds: {', '.join(sorted(TRACERS))}")
    return fn(op, *inputs)


# ------------------------------------------------------------------------------ tracers

def _vars(x) -> np.ndarray:
    return x._vars if isinstance(x, FixedVariableArray) else np.asarray(x)


def _wrap(like: FixedVariableArray, vars_: np.ndarray) -> FixedVariableArray:
    return FixedVariableArray(np.asarray(vars_, dtype=object), like.solver_options)


def _values(codes: np.ndarray | None, fmt: FixedFormat | None) -> np.ndarray | None:
    """Real values of constant codes (exact in float64)."""
    return None if codes is None else np.asarray(codes, np.float64) * 2.0 ** -fmt.frac


@tracer("quant")
def _quant(op, x):
    return quantize_even(x, op.out)


@tracer("dense")
def _dense(op, x):
    y = x @ _values(op.kernel, op.kernel_fmt)
    return y if op.bias is None else y + _values(op.bias, op.bias_fmt)


@tracer("gcn")
def _gcn(op, x, a=None, rows: list[int] | None = None):
    """``Â (X W) + b``. Static Â: Â·(X·W) (the dense products keep the narrow input), or, when
    only ``rows`` of the output are read, (Â[rows]·X)·W (the dense products on those rows
    only). Dynamic Â (``a``, core inputs on its grid): (Â·X)·W, a product of variables."""
    kernel = _values(op.kernel, op.kernel_fmt)
    if a is None:
        adj = _values(op.adjacency, op.adjacency_fmt)
        y = (adj[rows] @ x) @ kernel if rows is not None else adj @ (x @ kernel)
    else:
        if rows is not None:
            a = a[rows]
        y = (a @ x) @ kernel
    return y if op.bias is None else y + _values(op.bias, op.bias_fmt)


@tracer("readout")
def _readout(op, x):
    return x[list(op.indices)].reshape(-1)


@tracer("meanpool")
def _meanpool(op, emb, recip, mask=None):
    """Sum over the ids of the embedding rows times the reciprocal of the count of non-zero ids
    (``recip``: a core input fed by the top). Padding rows are zero already (the ROM's row 0)
    unless ``mask`` (one bit per id, fed by the top) is given."""
    if mask is not None:
        emb = _wrap(emb, _vars(emb) * _vars(mask)[:, None])
    total = np.sum(emb, axis=0)
    return total * recip


@tracer("concat")
def _concat(op, *xs):
    return _wrap(xs[0], np.concatenate([_vars(x) for x in xs], axis=-1))


@tracer("multiply")
def _multiply(op, a, b):
    return a * b


# ------------------------------------------------------------------ layers users bring
# (op kinds added with the supported-layer table; see codesign.fixedpoint)

def quantize_modes(x: FixedVariableArray, fmt: FixedFormat) -> FixedVariableArray:
    """``fmt.from_codes`` in logic for every rounding (TRN floor, RND half up, RND_CONV half to
    even) and overflow (WRAP: da4ml's own wrap-around; SAT: relus, see ``quantize_even``)."""
    k, i, f = kif(fmt)
    out = np.empty(x.shape, dtype=object)
    lo, hi = fmt.min_code * fmt.lsb, fmt.max_code * fmt.lsb
    s = 2.0 ** -f
    for idx, v in np.ndenumerate(x._vars):
        f_in = v.kif[2]
        if f_in > f:
            e = 2.0 ** -f_in
            if fmt.rounding == "RND_CONV":
                v = v + v.quantize(0, 1 - f, f) * (e / s) + (s / 2 - e)
            elif fmt.rounding == "RND":
                v = v + s / 2
            v = v.quantize(1, max(v.kif[1], i) + 1, f)          # floor (never wraps)
        if fmt.overflow == "SAT":
            if v.low < lo:
                v = (v - lo).relu() + lo if lo else v.relu()
            if v.high > hi:
                v = hi - (hi - v).relu()
        out[idx] = v.quantize(k, i, f)                           # WRAP (a no-op once saturated)
    return FixedVariableArray(out, x.solver_options)


@tracer("relu")
def trace_relu(op, x: FixedVariableArray) -> FixedVariableArray:
    """``max(x, 0)`` on the same grid."""
    return x.relu()


@tracer("reshape")
def trace_reshape(op, x: FixedVariableArray) -> FixedVariableArray:
    """Flatten / Reshape: wires only."""
    return x.reshape(tuple(op.shape))


@tracer("add")
def trace_add(op, *xs: FixedVariableArray) -> FixedVariableArray:
    """Exact elementwise sum (da4ml aligns the binary points)."""
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


@tracer("aggregate")
def trace_aggregate(op, x: FixedVariableArray, a: FixedVariableArray | None = None) -> FixedVariableArray:
    """``A @ x (+ c x)`` over the node axis: a constant ``A`` is an adder tree (da4ml's CMVM),
    a dynamic one multiplies (N x N x F products)."""
    if a is None:
        y = (op.matrix * op.matrix_fmt.lsb) @ x
    else:
        y = FixedVariableArray(np.matmul(a._vars, x._vars), x.solver_options)
    if op.self_coef is not None:
        y = y + x * (op.self_coef * op.self_fmt.lsb)
    return y


def _max(a, b):
    """``max(a, b)`` as ``b + relu(a - b)`` (relus, not da4ml's comparators: see ``quantize_even``)."""
    return b + (a - b).relu()


@tracer("pool")
def trace_pool(op, x: FixedVariableArray) -> FixedVariableArray:
    """Sum / max over the node axis (axis 0 without the batch); an average is the sum times
    ``2**-k`` (N = 2**k: wires) or times the constant ``q(1/N)``."""
    rows = [x._vars[n] for n in range(x.shape[0])]
    if op.mode == "max":
        best = rows[0]
        for r in rows[1:]:
            best = np.array([_max(p, q) for p, q in zip(best, r)], dtype=object)
        return FixedVariableArray(best, x.solver_options)
    total = FixedVariableArray(np.sum(np.stack(rows), axis=0), x.solver_options)
    if op.mode == "avg":
        factor = op.scale * op.scale_fmt.lsb if op.scale is not None else 2.0 ** (op.in_frac - op.out.frac)
        total = total * factor
    return total


def replay(op: Op, formats: list[FixedFormat], values: list[np.ndarray]) -> np.ndarray:
    """Codes of ``op`` computed by its da4ml logic (``trace_op``, ``comb_trace``, and da4ml's
    bit-exact C++ interpreter, which the RTL follows; its Python interpreter where a value is
    wider than the C++ one's 32 bits) on input codes ``values`` (batch first) on ``formats``:
    the op-by-op check of a tracer against ``op.forward``."""
    from da4ml.trace import comb_trace
    shapes = [v.shape[1:] for v in values]
    sizes = [int(np.prod(s)) for s in shapes]
    inp = inputs_of([f for f, n in zip(formats, sizes) for _ in range(n)])
    parts, pos = [], 0
    for shape, n in zip(shapes, sizes):
        parts.append(inp[pos:pos + n].reshape(shape))
        pos += n
    out = trace_op(op, *parts)
    comb = comb_trace(list(inp._vars.ravel()), list(np.ravel(out._vars)))
    data = np.concatenate([f.to_float(v.reshape(len(v), -1)) for f, v in zip(formats, values)], axis=1)
    if max(f.width for f in [*formats, op.out]) <= 32:
        got = np.asarray(comb.predict(data), dtype=np.float64)
    else:   # da4ml 0.5.2's C++ interpreter wraps values wider than 32 bits: its Python one, row by row
        got = np.array([[float(v) for v in comb(row)] for row in data])
    got = got.reshape(len(data), *out.shape)
    codes = got / op.out.lsb
    if not np.array_equal(codes, np.round(codes)):
        raise AssertionError(f"op '{op.name}': the traced logic gives values off the grid of {op.out.precision()}")
    return codes.astype(np.int64)
