"""The RTL quantizer built for depth (codesign/rtl/ops.py ``_saturated``, ``add_const``): every code of
a source format, through da4ml's C++ and Python interpreters, equals ``FixedFormat.from_codes``, for
every rounding mode, signed and unsigned targets, and inputs that da4ml keeps negated or scaled by a
tiny factor (what its CMVM solver hands out); the bias and rounding constants leave the critical path."""
from __future__ import annotations

import numpy as np
import pytest
from da4ml.trace import comb_trace

from codesign.fixedpoint import FixedFormat
from codesign.rtl.ops import add_consts, exact_decimals, inputs_of, quantize
from codesign.rtl.pipeline import DelayModel, _sources, op_delay

SRC = FixedFormat(11, 4, True)                      # codes -1024..1023 at frac 7: every one is tried


def _check(comb, codes: np.ndarray, expected_codes: np.ndarray, fmt: FixedFormat, src_values: np.ndarray) -> None:
    got = np.asarray(comb.predict(src_values), np.float64).reshape(len(codes), -1) / fmt.lsb
    assert np.array_equal(got, expected_codes), np.argwhere(got != expected_codes)[:5]
    py = np.array([[float(v) for v in comb(r)] for r in src_values[::37]]) / fmt.lsb
    assert np.array_equal(py, expected_codes[::37])


@pytest.mark.parametrize("rounding", ["RND_CONV", "RND", "TRN"])
@pytest.mark.parametrize("target", [(6, 2, True), (6, 2, False), (8, 1, True), (5, 5, False), (9, 5, True)])
@pytest.mark.parametrize("source", ["plain", "negated", "tiny_factor"])
def test_saturating_quantizer_is_exact_on_every_code(rounding, target, source):
    """All 2,048 codes (both bounds, just inside/outside them, every tie) of a source format."""
    fmt = FixedFormat(*target, rounding, "SAT")
    codes = np.arange(SRC.min_code, SRC.max_code + 1).reshape(-1, 1)
    with exact_decimals():
        x = inputs_of([SRC])
        v, frac, sign = x, SRC.frac, 1
        if source == "negated":          # da4ml keeps -x as x's word with a negative factor
            v, sign = -x, -1
        elif source == "tiny_factor":    # a scale of 2**-45, as the CMVM solver produces
            v, frac = x * 2.0 ** -45, SRC.frac + 45
        q = quantize(v, fmt)
    assert sign > 0 or q._vars[0]._factor < 0 or q._vars[0].low == q._vars[0].high
    comb = comb_trace(list(x._vars), list(q._vars))
    expected = fmt.from_codes(sign * codes, frac)
    _check(comb, codes, expected, fmt, SRC.to_float(codes))


def test_tiny_factors_stay_exact_through_a_constant_matmul():
    """Quantizer outputs scaled by 2**-50 feeding a CMVM with da4ml's least-depth trees (hard_dc 0):
    exact (at Python's default 28 Decimal digits this was one step off)."""
    rng = np.random.default_rng(3)
    w = rng.integers(-128, 128, (6, 5)) / 128.0
    fmt = FixedFormat(8, 2, False)
    codes = rng.integers(SRC.min_code, SRC.max_code + 1, (3000, 6))
    with exact_decimals():
        x = inputs_of([SRC] * 6, {"hard_dc": 0})
        h = quantize(x * 2.0 ** -50, fmt)
        y = h @ w
    comb = comb_trace(list(x._vars), list(y._vars))
    hq = fmt.from_codes(codes, SRC.frac + 50)
    expected = (hq @ (w * 128).astype(np.int64)) * 2.0 ** -(fmt.frac + 7)
    assert np.array_equal(np.asarray(comb.predict(SRC.to_float(codes))), expected)


def _arrival(comb, model: DelayModel) -> float:
    arr = []
    for op in comb.ops:
        arr.append(max((arr[i] for i in _sources(op)), default=0.0) + op_delay(op, model))
    return max(arr[i] for i in comb.out_idxs)


def test_bias_and_rounding_constants_leave_the_critical_path():
    """A dense layer's bias and the rounding constant cost no adder level after the product tree:
    the modelled delay from the inputs to the re-quantized output is at most the product tree's
    plus one adder (the tie fix) and two LUT levels (the saturation muxes)."""
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (16, 8)) / 128.0
    bias = rng.integers(-128, 128, 8) / 64.0
    fmt = FixedFormat(8, 2, False)
    model = DelayModel()
    with exact_decimals():
        x = inputs_of([SRC] * 16, {"hard_dc": 0})
        tree = x @ w
        y = add_consts(tree, bias)
        q = quantize(y, fmt)
    t_tree = _arrival(comb_trace(list(x._vars), list(tree._vars)), model)
    comb = comb_trace(list(x._vars), list(q._vars))
    widest = max(int(sum(v.kif)) for v in np.ravel(y._vars))
    assert _arrival(comb, model) <= t_tree + model.adder(widest) + 2 * model.logic() + 1e-9
    codes = rng.integers(SRC.min_code, SRC.max_code + 1, (4000, 16))
    acc = codes @ (w * 128).astype(np.int64) + (bias * 2 ** 14).astype(np.int64)[None]
    expected = fmt.from_codes(acc, SRC.frac + 7)
    got = np.asarray(comb.predict(SRC.to_float(codes))).reshape(len(codes), -1) / fmt.lsb
    assert np.array_equal(got, expected)
