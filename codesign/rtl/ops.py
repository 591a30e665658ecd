"""How each op of the fixed-point graph (``codesign.fixedpoint``) becomes da4ml logic.

One function per op kind, registered with ``@tracer(kind)``: ``fn(op, *inputs) -> output``,
where every value is a da4ml ``FixedVariableArray`` without the batch axis whose real values
are the op's codes times ``2**-frac`` of its format. The RTL tracer walks the op graph and
calls these; it never reads a Keras layer or a layer name. The semantics (formats, rounding,
saturation) come from the op itself, so this module defines none of its own.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Callable

import numpy as np
from da4ml.trace import FixedVariableArray, HWConfig
from da4ml.trace.fixed_variable import FixedVariable

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


# da4ml keeps each variable's scale (``_factor``, an exact power of two) and its bounds as
# ``Decimal``s. The CMVM solver hands out factors as small as 2**-50; at Python's default 28
# significant digits their products round, the bounds drift off the power-of-two grid and the
# traced logic is off by one step in places (seen: one output of the default design's first
# dense layer of the head one LSB high in every request with the hard_dc 0 solver; da4ml's own
# SAT comparators wrong near zero). Every trace runs with enough digits for those factors to stay exact.
DECIMAL_DIGITS = 160


def exact_decimals():
    """Context manager: da4ml's ``Decimal`` arithmetic exact for the factors a trace produces."""
    import decimal
    return decimal.localcontext(prec=DECIMAL_DIGITS)


def add_const(v, c, depth: int = 3):
    """``v + c`` (``c`` a constant) with the constant add moved off the critical path: when ``v``
    is an adder ``a + b`` whose input ``b`` arrives earlier (da4ml's latency), ``a + (b + c)``
    instead of ``(a + b) + c``; when both arrive together, the same one adder further down, up to
    ``depth`` adders. Exact (integer sums); the result keeps ``v``'s own bounds shifted by ``c``,
    so no word grows."""
    c = Decimal(c) if not isinstance(c, Decimal) else c
    if c == 0:
        return v
    return _pushed(v, c, depth) or v + c


def _pushed(v, c: Decimal, depth: int):
    """``v + c`` with the constant added to an earlier-arriving input of ``v``'s adder tree, or None."""
    if depth <= 0 or getattr(v, "opr", None) != "vadd" or v.low == v.high:
        return None
    a, b = v._from
    r = v._factor / a._factor                     # v = r * (a + b), r = +-2**n
    if b.latency > a.latency:
        a, b = b, a
    if b.latency < a.latency:
        out = (a + (b + c / r)) * r
    else:
        for x, y in ((b, a), (a, b)):
            inner = _pushed(x, c / r, depth - 1)
            if inner is not None:
                out = (y + inner) * r
                break
        else:
            return None
    out.low, out.high = v.low + c, v.high + c
    return out


def add_consts(x: FixedVariableArray, values: np.ndarray) -> FixedVariableArray:
    """``x + values`` element by element with ``add_const`` (a bias off the critical path)."""
    vals = np.broadcast_to(np.asarray(values, np.float64), x.shape)
    out = np.empty(x.shape, dtype=object)
    with exact_decimals():
        for idx, v in np.ndenumerate(x._vars):
            out[idx] = add_const(v, float(vals[idx]))
    return FixedVariableArray(out, x.solver_options)


def _round_ref(codes: int, shift: int, rounding: str) -> int:
    """``codes * 2**-shift`` rounded as ``FixedFormat.from_codes`` rounds (one Python int)."""
    if shift <= 0:
        return codes << -shift
    if rounding == "TRN":
        return codes >> shift
    if rounding == "RND":
        return (codes + (1 << (shift - 1))) >> shift
    q, rest, half = codes >> shift, codes & ((1 << shift) - 1), 1 << (shift - 1)
    return q + int(rest > half or (rest == half and q & 1 == 1))


def _first(pred, guess: int) -> int:
    """The smallest integer ``c`` with ``pred(c)`` (``pred`` monotone: false, then true)."""
    lo = hi = guess
    step = 1
    while pred(lo):
        lo, step = lo - step, step * 2
    step = 1
    while not pred(hi):
        hi, step = hi + step, step * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _covering_kif(lo_code: int, hi_code: int, f: int) -> tuple[int, int, int]:
    """(k, i, f) of the narrowest two's complement / unsigned word holding codes lo..hi."""
    k = int(lo_code < 0)
    i = 0
    while hi_code > (1 << (i + f)) - 1 or lo_code < -(k << (i + f)):
        i += 1
    return k, i, f


def _saturated(v, fmt: FixedFormat):
    """One value re-quantized onto ``fmt`` with saturation, any rounding mode, exact.

    Works on ``p``, the value as its hardware word holds it (``p = v``, or ``-v`` when da4ml
    keeps ``v`` negated: rounding half to even is symmetric, the other modes are mirrored, and
    the result is negated back, a wire). With ``e`` the input step and ``s`` the output step:
    ``w = p + c`` (c: the rounding constant, merged by da4ml with the bias before it), the tie
    fix of half-to-even adds ``e`` when the kept LSB is 1, on the kept bits only; the thresholds
    ``t_hi``/``t_lo`` are the first input codes that round above the top / onto the bottom of the
    range (found on the reference rounding itself), so ``p - t`` has its sign bit set exactly
    when the result is in range / below it, and da4ml's ``msb_mux`` picks the bound or the
    rounded bits. Every key has a positive factor (da4ml's mux on a negated key is wrong at zero).
    """
    if v.low == v.high:                                       # a constant: its codes, exactly
        f_in = int(v.kif[2])
        value = fmt.to_float(fmt.from_codes(np.array([int(v.low * Decimal(2) ** f_in)]), f_in))[0]
        return FixedVariable.from_const(float(value), hwconf=v.hwconf)
    neg = v._factor < 0
    p = -v if neg else v
    f, f_in = fmt.frac, int(p.kif[2])
    shift = f_in - f
    e, s = 2.0 ** -f_in, 2.0 ** -f
    lo_c, hi_c = (-fmt.max_code, -fmt.min_code) if neg else (fmt.min_code, fmt.max_code)

    def rounded(c: int) -> int:        # codes at f of input codes c at f_in, in p's sense
        return -_round_ref(-c, shift, fmt.rounding) if neg else _round_ref(c, shift, fmt.rounding)

    k, i, _ = _covering_kif(lo_c, hi_c, f)
    if shift > 0:
        if fmt.rounding == "RND_CONV":
            c = s / 2 - e
        elif fmt.rounding == "RND":
            c = s / 2 - e if neg else s / 2
        else:
            c = s - e if neg else 0.0
        w = add_const(p, c)
        kept = w.quantize(k, i, f_in)                        # wires: the bits the range keeps
        if fmt.rounding == "RND_CONV":
            lsb = w.quantize(0, 1 - f, f)                     # the bit of weight s: 0 or s
            kept = kept + lsb * (e / s)
        r = kept.quantize(k, i, f)                            # floor, wrapped into the range
    else:
        r = p.quantize(k, i, f)
    t_hi = _first(lambda c: rounded(c) > hi_c, hi_c << max(shift, 0))
    t_lo = _first(lambda c: rounded(c) >= lo_c, lo_c << max(shift, 0))
    out = r
    if p.low < t_lo * e:                                      # can fall below the range
        key = add_const(p, -t_lo * e, depth=0)                # sign set: below (off the path)
        out = key.msb_mux(lo_c * s, out)
    if p.high >= t_hi * e:                                    # can rise above it
        key = add_const(p, -t_hi * e, depth=0)                # sign set: not above
        out = key.msb_mux(out, hi_c * s, qint=(Decimal(lo_c) * Decimal(s), Decimal(hi_c) * Decimal(s), Decimal(s)))
    out = out.quantize(k, i, f)                               # drops bits the range cannot use
    return -out if neg else out


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
    return quantize(x, op.out)


@tracer("dense")
def _dense(op, x):
    y = x @ _values(op.kernel, op.kernel_fmt)
    return y if op.bias is None else add_consts(y, _values(op.bias, op.bias_fmt))


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
    return y if op.bias is None else add_consts(y, _values(op.bias, op.bias_fmt))


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

def quantize(x: FixedVariableArray, fmt: FixedFormat) -> FixedVariableArray:
    """``fmt.from_codes`` in logic for every rounding (TRN floor, RND half up, RND_CONV half to
    even) and overflow (SAT: ``_saturated``; WRAP: da4ml's own wrap-around).

    Built for depth (see ``_saturated``): the rounding constant merges with the bias into one
    constant add, the tie fix is one adder as wide as the kept bits, and each saturation bound
    is a comparator on the unrounded value (a constant add in parallel with the rounding) that
    drives a mux: one adder and two LUT levels after the layer's last adder where the relu
    construction (``hi - relu(hi - v)``) took four adders.
    """
    k, i, f = kif(fmt)
    out = np.empty(x.shape, dtype=object)
    s = 2.0 ** -f
    with exact_decimals():
        for idx, v in np.ndenumerate(x._vars):
            if fmt.overflow == "SAT":
                out[idx] = _saturated(v, fmt)
                continue
            f_in = v.kif[2]
            if f_in > f:
                e = 2.0 ** -f_in
                if fmt.rounding == "RND_CONV":
                    v = v + v.quantize(0, 1 - f, f) * (e / s) + (s / 2 - e)
                elif fmt.rounding == "RND":
                    v = v + s / 2
                v = v.quantize(1, max(v.kif[1], i) + 1, f)          # floor (never wraps)
            out[idx] = v.quantize(k, i, f)                           # WRAP
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
    """``max(a, b)`` as ``b + relu(a - b)``."""
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
    with exact_decimals():
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
