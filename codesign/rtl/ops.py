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
