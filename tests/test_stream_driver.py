"""The PYNQ driver and the simulated device on a model whose input is a value field and whose
requests take two beats (request_bits > 1024), with several scores per request: the generic
stream layout end to end through the fixed-point reference backend."""
from __future__ import annotations

import numpy as np
import pytest

from codesign.stream import Field, StreamLayout, pack_requests

N_IN, N_OUT = 70, 3       # 70 x 16-bit containers = 1120 bits: two 1024-bit beats


@pytest.fixture(scope="module")
def value_model():
    """Input(float) -> QActivation(quantized_bits) -> QDense -> QActivation: (fp, layout)."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    from codesign.fixedpoint import FixedPointModel
    x = tf.keras.Input((N_IN,), name="x")
    h = QActivation(quantized_bits(12, 4, alpha=1), name="xq")(x)
    y = QDense(N_OUT, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
               name="fc")(h)
    y = QActivation(quantized_bits(16, 6, alpha=1), name="out")(y)
    model = tf.keras.Model(x, y)
    rng = np.random.default_rng(0)
    model.get_layer("fc").set_weights([rng.normal(0, 0.3, (N_IN, N_OUT)), rng.normal(0, 0.3, N_OUT)])
    fp = FixedPointModel.from_keras(model)
    # the layout by hand from the reference's input op: its format's codes in 16-bit containers
    (op,) = fp.inputs
    fmt = op.out
    layout = StreamLayout.of([Field("x", (N_IN,), "value", fmt.width, 16, signed=fmt.signed, frac=fmt.frac)],
                             score_frac_bits=fp.output_format.frac, score_count=N_OUT)
    return fp, layout


def _values(layout: StreamLayout, n: int, seed: int = 1) -> np.ndarray:
    f = layout.field("x")
    lo, hi = f.code_range
    codes = np.random.default_rng(seed).integers(lo, hi + 1, (n, *f.shape))
    codes[0], codes[1] = lo, hi                           # the extremes of the grid
    return codes * 2.0 ** -f.frac


def test_the_layout_of_the_reference(value_model):
    from codesign.rtl.top import layout_of
    fp, layout = value_model
    assert layout_of(fp) == layout
    assert (layout.request_bits, layout.stream_bits, layout.beats_per_request, layout.request_bytes) == \
        (1120, 1024, 2, 256)
    assert (layout.score_count, layout.score_bits, layout.score_bytes) == (3, 128, 16)


def test_driver_on_a_multi_beat_value_layout(value_model, tmp_path):
    from codesign.host.driver import RecommenderOverlay
    from codesign.simdevice.backends import ReferenceBackend
    from codesign.simdevice.device import use_simulated_device
    from tests.test_host import make_overlay_dir
    fp, layout = value_model
    bitfile = make_overlay_dir(tmp_path / "overlay", layout)
    dev = use_simulated_device(ReferenceBackend(fp, layout))
    ol = RecommenderOverlay(str(bitfile), max_batch=64)
    assert ol.layout == layout
    (dma,) = dev.dmas.values()
    assert (dma.request_bytes, dma.score_bytes) == (256, 16)    # a request is its two beats

    x = _values(layout, 150)
    expected = fp.predict({"x": x})
    assert expected.shape == (150, N_OUT)
    got = ol.score({"x": x})                                    # three transfers of <= 64 requests
    assert got.shape == (150, N_OUT) and got.dtype == np.float64 and np.array_equal(got, expected)
    assert np.array_equal(ol.score(x), expected)                # positional: the layout's field order
    assert np.array_equal(ol.score(x=x[:5]), expected[:5])      # by keyword
    assert np.array_equal(ol.score(x[7]), expected[7:8])        # one request without the batch axis
    raw = ol.score_raw({"x": x[:10]})
    assert raw.dtype == np.int32 and raw.shape == (10, N_OUT)
    assert np.array_equal(raw, np.round(expected[:10] * 2 ** layout.score_frac_bits))
    # what the DMA read is exactly the layout's packing (the last chunk is in the buffer)
    assert np.array_equal(ol._request_words[:10], pack_requests(layout, {"x": x[:10]}))
    assert ol.recvchannel.transferred == 10 * 16 and ol.sendchannel.transferred == 10 * 256

    off = x[:4].copy()
    off[2, 5] += 2.0 ** -9                                      # between two grid points
    with pytest.raises(ValueError, match=r"x: 1 values off the grid.*fixed<12,5>.*index \(2, 5\)"):
        ol.score({"x": off})
    with pytest.raises(ValueError, match="missing x; unknown nodes"):
        ol.score({"nodes": x})
    with pytest.raises(TypeError, match="2 input arrays for the 1 inputs"):
        ol.score(x, x)

    lat = ol.measure_latency(batch_sizes=(1, 64), repeats=3, warmup=1)   # random requests on the grid
    assert [b["batch_size"] for b in lat["batches"]] == [1, 64]
    assert np.array_equal(ol.score({"x": x}), expected)                  # still exact afterwards
