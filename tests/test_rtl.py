"""RTL level (no simulator): tracer exactness, rounding, stream packing, yosys report parsing."""
from __future__ import annotations

import numpy as np
import pytest

from codesign.rtl.trace import (Fmt, HW, quantize_even, read_model, reference_numpy, round_even_np,
                                trace_checked)
from tests.random_models import random_model


@pytest.mark.parametrize("fmt", [Fmt(0, 2, 6), Fmt(1, 0, 7), Fmt(1, 2, 5)])
def test_quantize_even_is_qkeras_rounding(fmt):
    """Round half to even + saturation, in the traced logic and its C++ interpreter."""
    from da4ml.trace import FixedVariableArray, comb_trace
    x = FixedVariableArray.from_kif(np.ones(3, int), np.full(3, 4), np.full(3, 10), HW)
    comb = comb_trace(list(x._vars), list(quantize_even(x, fmt)._vars))
    rng = np.random.default_rng(0)
    data = rng.integers(-2 ** 14, 2 ** 14, (3000, 3)) / 2 ** 10
    data[:40] = (np.arange(120).reshape(40, 3) - 60 + 0.5) * 2.0 ** -fmt.f    # exact ties
    expected = round_even_np(data, fmt)
    assert np.array_equal(comb.predict(data), expected)
    assert np.array_equal(np.array([np.array(comb(r), float) for r in data[:60]]), expected[:60])


def test_round_even_np_matches_qkeras():
    from qkeras.quantizers import quantized_bits, quantized_relu
    x = (np.arange(-600, 600) + 0.5) / 64
    assert np.array_equal(round_even_np(x, Fmt(0, 2, 6)), quantized_relu(8, 2)(x.astype("float32")).numpy())
    assert np.array_equal(round_even_np(x, Fmt(1, 2, 5)),
                          quantized_bits(8, 2, alpha=1)(x.astype("float32")).numpy())


@pytest.mark.parametrize("model", [{"interaction": True}, {"interaction": False, "fusion_units": [8, 4]}])
def test_trace_equals_keras_and_reference(model):
    """The traced core (C++ interpreter = RTL semantics) equals Keras and codesign.fixedpoint."""
    from codesign.fixedpoint import FixedPointModel
    keras_model = random_model(model=model, seed=3, n_nodes=120, vocab=50, title_length=6)
    spec = read_model(keras_model)
    fp = FixedPointModel.from_keras(keras_model)
    traced = trace_checked(spec, n_check=3000,
                           reference=lambda n, t: fp.predict({"nodes": n.astype("int32"), "tokens": t.astype("int32")}))
    assert traced.check["mismatches"] == 0
    rng = np.random.default_rng(5)
    nodes, tokens = rng.integers(0, 120, (500, 6)), rng.integers(0, 50, (500, 6))
    tokens[rng.random(tokens.shape) < 0.4] = 0
    keras_scores = keras_model.predict({"nodes": nodes, "tokens": tokens}, verbose=0).reshape(-1)
    assert np.array_equal(reference_numpy(spec, nodes, tokens), keras_scores)
    core = np.asarray(traced.comb.predict(traced.core_inputs(nodes, tokens))).reshape(-1)
    assert np.array_equal(core, keras_scores)


def test_dynamic_adjacency_is_refused():
    keras_model = random_model(adjacency="dynamic")
    with pytest.raises(ValueError, match="dynamic adjacency"):
        read_model(keras_model)


def test_yosys_stat_parsing():
    from codesign.boards import load_board
    from codesign.rtl.synth import parse_stat, summarize
    log = """
   Number of cells:              10
     CARRY4                          3
     FDRE                           40
     LUT2                            5
     LUT6                            7
     MUXF7                           2
     RAM32M                          1
     RAMB18E1                        2
     RAMB36E1                        1
     DSP48E1                         4
"""
    res = summarize(parse_stat(log), load_board("pynq-z2"))
    assert (res["lut"], res["ff"], res["carry"], res["dsp"], res["bram36_equivalent"]) == (16, 40, 3, 4, 2.0)
    assert res["share"]["dsp"] == pytest.approx(4 / 220)
