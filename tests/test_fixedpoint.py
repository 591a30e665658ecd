"""The fixed-point reference: hand-computed rounding and saturation, and equality with the
quantized Keras model where float32 is exact."""
from __future__ import annotations

import numpy as np
import pytest
from qkeras.quantizers import quantized_bits, quantized_relu

from codesign.compare import compare
from tests.random_models import random_model
from codesign.fixedpoint import FixedFormat, FixedPointModel, UnsupportedModelError, quantizer_format, shift_round


def test_formats_of_quantizers():
    assert quantizer_format("quantized_bits(8,0,alpha=1)") == FixedFormat(8, 1, True)
    assert quantizer_format("quantized_bits(8,0,keep_negative=False,alpha=1)") == FixedFormat(8, 0, False)
    assert quantizer_format("quantized_bits(8,1,keep_negative=False,alpha=1)") == FixedFormat(8, 1, False)
    assert quantizer_format("quantized_relu(8,2)") == FixedFormat(8, 2, False)
    assert FixedFormat(8, 1).ap_type() == "ap_fixed<8,1,AP_RND_CONV,AP_SAT>"
    with pytest.raises(UnsupportedModelError, match="alpha"):
        quantizer_format("quantized_bits(8,0,alpha='auto_po2')")


def test_round_half_to_even_and_saturation_by_hand():
    f = FixedFormat(4, 1)  # ap_fixed<4,1>: step 1/8, codes -8..7
    x = np.array([0.0625, 0.1875, -0.0625, -0.1875, 0.3125, 0.99, -1.5, 5.0, 0.874, 0.876])
    # 0.5 -> 0, 1.5 -> 2, -0.5 -> 0, -1.5 -> -2, 2.5 -> 2, 7.92 -> 7 (sat), -12 -> -8, 40 -> 7, 6.992 -> 7, 7.008 -> 7
    assert f.quantize(x).tolist() == [0, 2, 0, -2, 2, 7, -8, 7, 7, 7]
    u = FixedFormat(3, 1, signed=False)  # ap_ufixed<3,1>: step 1/4, codes 0..7
    assert u.quantize([-0.3, 0.125, 0.375, 2.0]).tolist() == [0, 0, 2, 7]


def test_shift_round_is_convergent_on_codes():
    codes = np.array([5, 6, 7, 10, -5, -6, -7, -10])  # / 4 -> 1.25 1.5 1.75 2.5 -1.25 -1.5 -1.75 -2.5
    assert shift_round(codes, 2).tolist() == [1, 2, 2, 2, -1, -2, -2, -2]
    assert shift_round(np.array([3]), -2).tolist() == [12]
    f = FixedFormat(4, 2, signed=False)  # step 1/4, codes 0..15
    assert f.from_codes(np.array([-3, 14, 200]), 3).tolist() == [0, 7, 15]


@pytest.mark.parametrize("spec", ["quantized_bits(8,0,alpha=1)", "quantized_bits(6,2,alpha=1)",
                                  "quantized_bits(8,1,keep_negative=False,alpha=1)",
                                  "quantized_relu(8,2)", "quantized_relu(4,0)"])
def test_quantize_matches_qkeras(spec):
    from qkeras.quantizers import get_quantizer
    q = get_quantizer(spec)
    f = quantizer_format(spec)
    rng = np.random.default_rng(0)
    # every half step (ties) and random values, across and beyond the range
    ties = (np.arange(-4 * 2 ** f.width, 4 * 2 ** f.width) + 0.5) * f.lsb / 2
    x = np.concatenate([ties, rng.normal(0, 2 ** f.integer, 5000)]).astype(np.float32)
    assert np.array_equal(f.to_float(f.quantize(x)), np.asarray(q(x), dtype=np.float64))


def test_compare_reports_first_mismatch():
    assert compare([1.0, 2.0], [1.0, 2.0]) == {"samples": 2, "mismatches": 0, "first_mismatch": None}
    r = compare(np.array([[1, 2], [3, 4], [5, 6]]), np.array([[1, 2], [3, 5], [0, 6]]))
    assert r["mismatches"] == 2 and r["first_mismatch"] == {"index": 1, "expected": [3.0, 4.0], "got": [3.0, 5.0]}
    with pytest.raises(ValueError, match="shape"):
        compare([1.0], [1.0, 2.0])


@pytest.mark.parametrize("adjacency", ["static", "dynamic"])
def test_reference_equals_keras_where_float32_is_exact(adjacency):
    from codesign.vectors.make import corner_inputs, keras_vs_reference, random_inputs
    model = random_model(adjacency)
    fp = FixedPointModel.from_keras(model)
    inputs = random_inputs(fp, 3000, np.random.default_rng(0))
    corners, _ = corner_inputs(fp, inputs)
    r = keras_vs_reference(model, fp, corners)
    assert r["mismatches"] == 0, r
    r = keras_vs_reference(model, fp, inputs)
    assert r["mismatches"] == 0, r
    assert set(r["layers"]) >= {"gcn0", "gcn1_relu", "title_pool", "score"}


def test_accumulators_are_wide_enough_and_outputs_on_grid():
    model = random_model("dynamic", scale=3.0)
    fp = FixedPointModel.from_keras(model)
    from codesign.vectors.make import random_inputs
    trace = fp.trace(random_inputs(fp, 2000, np.random.default_rng(2)))
    for op in fp.ops:
        if op.out is not None:
            assert op.out.contains(trace[op.name]), op.name
    out = fp.predict(random_inputs(fp, 10, np.random.default_rng(3)))
    assert out.shape == (10,) and np.array_equal(out, np.round(out / fp.output_format.lsb) * fp.output_format.lsb)


def test_bad_inputs_and_layers_are_named():
    model = random_model("static")
    fp = FixedPointModel.from_keras(model)
    with pytest.raises(ValueError, match="tokens"):
        fp.predict({"nodes": np.zeros((1, 6), int)})
    with pytest.raises(ValueError, match="outside 0..59"):
        fp.predict({"nodes": np.full((1, 6), 60), "tokens": np.zeros((1, 5), int)})
    import tensorflow as tf
    x = tf.keras.Input((3,))
    bad = tf.keras.Model(x, tf.keras.layers.LayerNormalization(name="plain")(x))
    with pytest.raises(UnsupportedModelError, match="'plain' of class LayerNormalization.*supported layers"):
        FixedPointModel.from_keras(bad)
