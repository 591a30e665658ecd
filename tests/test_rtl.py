"""RTL level (no simulator): tracer exactness, rounding, stream packing, the generated top, yosys
report parsing."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from codesign.fixedpoint import FixedFormat, FixedPointModel, quantizer_format
from codesign.rtl.ops import HW, quantize
from codesign.rtl.trace import trace, trace_checked
from tests.random_models import random_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("q", ["quantized_relu(8,2)", "quantized_bits(8,0,alpha=1)", "quantized_bits(8,2,alpha=1)"])
def test_quantize_even_is_the_reference_rounding(q):
    """Round half to even + saturation, in the traced logic and its C++ interpreter, equals
    ``FixedFormat.from_codes`` (codesign.fixedpoint)."""
    from da4ml.trace import comb_trace
    from codesign.rtl.ops import inputs_of
    fmt = quantizer_format(q)
    src = FixedFormat(15, 5, True)            # 10 fractional bits
    x = inputs_of([src] * 3)
    comb = comb_trace(list(x._vars), list(quantize(x, fmt)._vars))
    rng = np.random.default_rng(0)
    codes = rng.integers(src.min_code, src.max_code + 1, (3000, 3))
    codes[:40] = (np.arange(120).reshape(40, 3) - 60) * 2 ** (src.frac - fmt.frac) + 2 ** (src.frac - fmt.frac - 1)
    expected = fmt.to_float(fmt.from_codes(codes, src.frac))               # exact ties first
    data = src.to_float(codes)
    assert np.array_equal(comb.predict(data), expected)
    assert np.array_equal(np.array([np.array(comb(r), float) for r in data[:60]]), expected[:60])


@pytest.mark.parametrize("model", [{"interaction": True}, {"interaction": False, "fusion_units": [8, 4]}])
def test_trace_equals_keras_and_reference(model):
    """The traced core (C++ interpreter = RTL semantics) equals Keras and codesign.fixedpoint."""
    keras_model = random_model(model=model, seed=3, n_nodes=120, vocab=50, title_length=6)
    fp = FixedPointModel.from_keras(keras_model)
    traced = trace_checked(fp, n_check=3000)
    assert traced.check["mismatches"] == 0
    assert traced.matmul_order == ["A.(X.W)", "(A[readout].H).W"]
    assert [f.kind for f in traced.feeds] == ["rom", "rom", "recip"]
    assert traced.feeds[1].table[0].tolist() == [0] * 4       # padding token reads zeros (the pool's mask)
    rng = np.random.default_rng(5)
    inputs = {"nodes": rng.integers(0, 120, (500, 6)), "tokens": rng.integers(0, 50, (500, 6))}
    inputs["tokens"][rng.random((500, 6)) < 0.4] = 0
    keras_scores = keras_model.predict(inputs, verbose=0).reshape(-1)
    assert np.array_equal(fp.predict(inputs), keras_scores)
    core = np.asarray(traced.comb.predict(traced.core_inputs(inputs))).reshape(-1)
    assert np.array_equal(core, keras_scores)


def test_dynamic_adjacency_becomes_core_inputs():
    """Â as a model input: a value feed on its grid, (Â·X)·W with variables, exact."""
    fp = FixedPointModel.from_keras(random_model(adjacency="dynamic"))
    traced = trace_checked(fp, n_check=1000)
    value = [f for f in traced.feeds if f.kind == "value"]
    assert [(f.source, f.shape) for f in value] == [("adjacency", (6, 6))]
    assert traced.matmul_order == ["(A.X).W", "(A[readout].X).W"]


def _pool_model(also_read: bool):
    """ids -> embedding -> masked mean pool (and, if ``also_read``, the embedding's row 0 read
    out beside it) -> a 2-unit dense head: two score words."""
    import tensorflow as tf
    from qkeras import QActivation, QDense
    from codesign.models.layers import MaskedMeanPool, NodeReadout, QEmbedding
    q8 = "quantized_bits(8,0,alpha=1)"
    ids = tf.keras.Input((4,), dtype="int32", name="ids")
    emb = QEmbedding(20, 3, embeddings_quantizer=q8, name="emb")(ids)
    pooled = MaskedMeanPool(recip_quantizer="quantized_bits(8,0,alpha=1,keep_negative=False)", name="pool")([emb, ids])
    h = QActivation("quantized_bits(8,2,alpha=1)", name="pool_q")(pooled)
    if also_read:
        h = tf.keras.layers.Concatenate(name="cat")([h, NodeReadout([0], name="first")(emb)])
    out = QDense(2, kernel_quantizer=q8, bias_quantizer=q8, name="head")(h)
    model = tf.keras.Model(ids, out)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    return model


@pytest.mark.parametrize("also_read", [False, True])
def test_pool_mask_is_the_zero_row_or_a_fed_mask(also_read):
    """A table read only by the pool gets row 0 zeroed (padding reads zeros); read elsewhere too,
    it keeps row 0 and the top feeds the mask bits. Both exact, two score words."""
    fp = FixedPointModel.from_keras(_pool_model(also_read))
    traced = trace_checked(fp, n_check=2000)
    kinds = [f.kind for f in traced.feeds]
    assert kinds == (["rom", "recip", "mask"] if also_read else ["rom", "recip"])
    assert (traced.feeds[0].table[0] == fp.by_name["emb"].table[0]).all() == also_read
    assert len(traced.out_fmts) == 2


def test_an_op_reading_ids_directly_is_refused():
    fp = FixedPointModel.from_keras(random_model())
    fp.by_name["title_pool"].inputs = ["token_embedding", "nodes"]
    fp.by_name["token_embedding"].inputs = ["nodes"]
    fp.by_name["text_dense"].inputs = ["tokens"]
    with pytest.raises(ValueError, match="reads the ids of input 'tokens'"):
        trace(fp)


def test_fifo_addr_w_has_one_definition():
    """``FIFO_ADDR_W`` comes from ``latency.fifo_addr_w`` only: no second floor anywhere."""
    from codesign.latency import fifo_addr_w
    for lat in range(1, 200):
        assert 2 ** fifo_addr_w(lat) > lat + 1
    hits = [str(p) for d in ("codesign", "kernels", "tb") for p in (ROOT / d).rglob("*")
            if p.suffix in (".py", ".v") and re.search(r"max\(\s*3\s*,", p.read_text())]
    assert hits == []


def test_no_second_reading_of_the_model_in_rtl():
    """``codesign/rtl`` defines no format or reference of its own and reads no layer name (op kinds
    such as "gcn" are what it reads)."""
    # the old second reading (split so that a grep of the repository for them finds nothing)
    gone = ("F" "mt", "round_" "even_np", "reference_" "numpy", "Model" "Spec", "read_" "model")
    names = ("node_embedding", "token_embedding", "title_pool", "interaction", "fusion") + gone
    for p in list((ROOT / "codesign" / "rtl").glob("*.py")):
        text = p.read_text()
        assert not [n for n in names if n in text], p
        assert not re.search(r"[\"'](nodes|tokens|score|gcn\d+)[\"']", text), p


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
