"""The layers users bring: their ops' exact semantics, the da4ml tracer of every new op kind
(op by op, on random codes incl. extremes), explicit precisions for float parts, and ~50
random models of every supported layer (Keras vs the reference, tracers replayed op by op)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from codesign.config import ConfigError, parse_config
from codesign.fixedpoint import (SUPPORTED_LAYERS, FixedFormat, FixedPointModel, InputOp, PrecisionWarning,
                                 UnsupportedModelError, parse_precision)
from codesign.rtl.ops import TRACERS, inputs_of, quantize, replay
from tests.model_zoo import issue_example, layer_classes, zoo_model

NEW_KINDS = ("relu", "reshape", "add", "aggregate", "pool")
ZOO_SEEDS = range(50)


@pytest.fixture(scope="module")
def zoo():
    """The 50 random models of the zoo and their op graphs (built once per module)."""
    return [(z, build(z)) for z in map(zoo_model, ZOO_SEEDS)]


def build(z, **kw) -> FixedPointModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        return FixedPointModel.from_keras(z.model, z.precision, **kw)


def random_codes(fmt: FixedFormat, shape: tuple, n: int, rng) -> np.ndarray:
    """``n`` rows of codes over the whole format, the first three all-min, all-max and alternating."""
    codes = rng.integers(fmt.min_code, fmt.max_code + 1, (n, *shape))
    codes[0], codes[1] = fmt.min_code, fmt.max_code
    codes[2] = np.where(np.indices(shape).sum(0) % 2 == 0, fmt.min_code, fmt.max_code)
    return codes


def realistic_inputs(fp: FixedPointModel, n: int, rng) -> dict[str, np.ndarray]:
    """Float inputs ~ normal(0, 1) on their grids (a float model's useful range), ids uniform,
    adjacencies (inputs named ``a``) over their whole grid."""
    out = {}
    for op in fp.inputs:
        shape = (n, *op.shape)
        if op.ids:
            out[op.name] = rng.integers(0, min(op.id_limit, 1000), shape).astype(np.int32)
        elif op.name == "a":
            out[op.name] = op.out.to_float(rng.integers(op.out.min_code, op.out.max_code + 1, shape))
        else:
            out[op.name] = op.out.to_float(op.out.quantize(rng.normal(0, 1, shape))).astype(np.float32)
    return out


# ------------------------------------------------------------------------ precisions

def test_precision_notation_and_modes_by_hand():
    f = parse_precision("fixed<16,6>")
    assert (f.width, f.integer, f.signed, f.rounding, f.overflow) == (16, 6, True, "TRN", "WRAP")
    assert f.precision() == "fixed<16,6>" and f.ap_type() == "ap_fixed<16,6,AP_TRN,AP_WRAP>"
    u = parse_precision("ufixed<8,2,RND_CONV,SAT>")
    assert u == FixedFormat(8, 2, False) and u.precision() == "ufixed<8,2,RND_CONV,SAT>"
    for bad, why in (("fixed<16>", "notation"), ("fixed<8,2,RND_INF>", "RND_INF"), ("fixed<8,2,TRN,SAT_SYM>", "SAT_SYM"),
                     ("fixed<64,2>", "2..32")):
        with pytest.raises(ValueError, match=why):
            parse_precision(bad)
    t = FixedFormat(4, 2, True, "TRN", "WRAP")   # step 1/4, codes -8..7; inputs at frac 3 (step 1/8)
    codes = np.array([3, -3, 5, -5, 40, -70])     # 0.375 -0.375 0.625 -0.625 5 -8.75
    assert t.from_codes(codes, 3).tolist() == [1, -2, 2, -3, 4, -3]            # floor, then wrap 20 -> 4, -35 -> -3
    assert t.from_codes(codes, 3, "RND", "SAT").tolist() == [2, -1, 3, -2, 7, -8]
    assert t.from_codes(codes, 3, "RND_CONV", "SAT").tolist() == [2, -2, 2, -2, 7, -8]
    w = FixedFormat(3, 1, False, "TRN", "WRAP")  # step 1/4, codes 0..7
    assert w.from_codes(np.array([-1, 9, 17]), 2).tolist() == [7, 1, 1]


def test_precision_config_section_is_strict():
    cfg = parse_config({"precision": {"inputs": {"x": "fixed<8,3>"},
                                      "layers": {"gcn": "fixed<12,4>", "fc": {"weight": "fixed<8,1>"}}}})
    assert cfg.precision.default == "fixed<16,6>" and cfg.precision.layers["fc"].result is None
    for bad, why in (({"default": "fixed<16>"}, "precision.default"), ({"layer": {}}, "unknown key 'precision.layer'"),
                     ({"inputs": {"x": "fixed<8,3,FLOOR>"}}, "FLOOR"),
                     ({"layers": {"fc": {"weigth": "fixed<8,1>"}}}, "precision.layers.fc: unknown key.*weigth.*weight, bias, result")):
        with pytest.raises(ConfigError, match=why):
            parse_config({"precision": bad})


def test_float_parts_warn_once_name_the_key_and_are_described():
    z = issue_example()
    with pytest.warns(PrecisionWarning) as record:
        fp = FixedPointModel.from_keras(z.model, z.precision)
    messages = [str(r.message) for r in record if r.category is PrecisionWarning]
    assert len(messages) == len(set(messages)) == 3, messages   # inputs x (default), a (config), layer gcn
    gcn = next(m for m in messages if "'gcn'" in m)
    assert "layer 'gcn' (GCNConv) has no quantizer: using fixed<16,6> (TRN, WRAP)" in gcn
    assert "weight and bias and result (default)" in gcn and "set precision.layers.gcn" in gcn
    assert any("input 'x'" in m and "precision.inputs.x" in m for m in messages)
    described = {d["name"]: d for d in fp.describe()}
    assert described["gcn/acc"]["precision"]["weight"] == {"precision": "fixed<16,6>", "from": "default"}
    assert described["gcn/q"]["out"]["rounding"] == "TRN" and described["gcn/q"]["out"]["overflow"] == "WRAP"
    assert described["a"]["precision"]["values"]["from"] == "config precision.inputs.a"
    # the config sets them: formats follow, the source says so
    section = parse_config({"precision": {"inputs": {"x": "fixed<8,3>", "a": "ufixed<4,1>"},
                                          "layers": {"gcn": {"weight": "fixed<10,2>", "result": "fixed<12,5,RND,SAT>"}}}})
    with pytest.warns(PrecisionWarning, match="fixed<10,2> .* for its weight \\(config precision.layers.gcn.weight\\)"):
        fp2 = FixedPointModel.from_keras(z.model, section.precision)
    assert fp2.by_name["x"].out == parse_precision("fixed<8,3>")
    assert fp2.by_name["gcn/acc"].kernel_fmt == parse_precision("fixed<10,2>")
    assert fp2.by_name["gcn/q"].out == parse_precision("fixed<12,5,RND,SAT>")
    assert fp2.by_name["gcn/acc"].precision["bias"]["from"] == "default"
    with pytest.raises(ValueError, match="precision.layers names 'gnc'.*its layers: .*gcn"):
        FixedPointModel.from_keras(z.model, {"layers": {"gnc": "fixed<8,2>"}})


def test_default_design_has_no_float_part():
    from tests.random_models import random_model
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        fp = FixedPointModel.from_keras(random_model("static"))
    assert [op.kind for op in fp.ops].count("quant") == 6 and not fp.assumed
    assert {op.kind for op in fp.ops} == {"input", "embedding", "gcn", "quant", "readout", "meanpool",
                                          "dense", "multiply", "concat"}
    assert all(not op.precision for op in fp.ops)


# ----------------------------------------------------------------------- op tracers

def _ops_of_new_kinds(zoo):
    """(op, input ops, input shapes) of every new op kind and variant, from the zoo."""
    from codesign.vectors.make import random_inputs
    found = {}
    for seed, (_, fp) in enumerate(zoo):
        trace = fp.trace(random_inputs(fp, 1, np.random.default_rng(seed)))
        for op in fp.ops:
            if op.kind in NEW_KINDS:
                variant = (op.kind, getattr(op, "mode", None), getattr(op, "static", None),
                           getattr(op, "self_coef", None) is not None, getattr(op, "scale", None) is not None,
                           len(op.inputs))
                found.setdefault(variant, (op, [fp.by_name[i] for i in op.inputs],
                                           [trace[i].shape[1:] for i in op.inputs]))
    return found


def test_every_new_op_kind_traces_exactly_on_random_codes(zoo):
    rng = np.random.default_rng(0)
    found = _ops_of_new_kinds(zoo)
    kinds = {v[0] for v in found}
    assert kinds == set(NEW_KINDS), kinds
    assert {v[1] for v in found if v[0] == "pool"} == {"sum", "avg", "max"}
    assert any(v[0] == "pool" and v[4] for v in found) and any(v[0] == "pool" and v[1] == "avg" and not v[4] for v in found)
    assert {v[2] for v in found if v[0] == "aggregate"} == {True, False}
    assert any(v[0] == "aggregate" and v[3] for v in found)
    for variant, (op, ins, shapes) in found.items():
        values = [random_codes(i.out, s, 2000, rng) for i, s in zip(ins, shapes)]
        expected = op.forward(*values)
        got = replay(op, [i.out for i in ins], values)
        bad = int(np.sum(np.any((got != expected).reshape(len(got), -1), axis=1)))
        assert bad == 0, (variant, op.name, bad)
        assert op.out.contains(expected), op.name


@pytest.mark.parametrize("modes", [("TRN", "WRAP"), ("TRN", "SAT"), ("RND", "WRAP"), ("RND", "SAT"),
                                   ("RND_CONV", "WRAP"), ("RND_CONV", "SAT")])
@pytest.mark.parametrize("signed", [True, False])
def test_quantize_modes_trace_exactly(modes, signed):
    from da4ml.trace import comb_trace
    src = FixedFormat(12, 5, True)                    # codes -2048..2047 at frac 7
    fmt = FixedFormat(6, 3 if signed else 2, signed, *modes)
    x = inputs_of([src] * 8)
    comb = comb_trace(list(x._vars), list(quantize(x, fmt)._vars))
    codes = random_codes(src, (8,), 2000, np.random.default_rng(1))
    got = np.asarray(comb.predict(src.to_float(codes))) / fmt.lsb
    assert np.array_equal(got, fmt.from_codes(codes, src.frac)), modes


# ---------------------------------------------------------------- the random model zoo

# op kinds whose tracers the one-IR tracer work writes (codesign/rtl/ops.py, other branch)
IR_KINDS = {"quant", "dense", "gcn", "readout", "meanpool", "concat", "multiply", "embedding"}


def test_zoo_covers_every_supported_layer(zoo):
    from codesign.fixedpoint import _Builder
    assert all(callable(getattr(_Builder, f"_{name}", None)) for name in SUPPORTED_LAYERS)
    seen = set().union(*(layer_classes(z.model) for z, _ in zoo)) | layer_classes(issue_example().model)
    # NodeReadout / MaskedMeanPool are the demo model's own layers (tests/random_models.py)
    assert seen >= set(SUPPORTED_LAYERS) - {"NodeReadout", "MaskedMeanPool"}, \
        set(SUPPORTED_LAYERS) - seen
    assert sum(z.exact for z, _ in zoo) >= 10 and sum(not z.exact for z, _ in zoo) >= 10


def _keras(model, inputs):
    out = model([inputs[n] for n in model.input_names], training=False)
    return np.asarray(out, dtype=np.float64).reshape(-1)


def check_model(z, fp, n: int, rng) -> dict:
    """Keras vs the reference (exact, or within the float tolerance), then every op with a
    tracer replayed through da4ml on the reference's own intermediate codes."""
    inputs = realistic_inputs(fp, n, rng)
    expected, got = fp.predict(inputs).reshape(-1), _keras(z.model, inputs)
    diff = np.abs(expected - got)
    # float parts: weights rounded to 2**-10 .. 2**-6, results floored (TRN): a few % of the
    # output range (z.tolerance; 30% where a folded BN is re-quantized on 6 bits), and a final
    # quantizer may land one step apart
    tol = 0.0 if z.exact else 2 * fp.output_format.lsb + z.tolerance * max(1.0, float(np.abs(got).max()))
    assert diff.max() <= tol, (z.name, float(diff.max()), tol)
    trace = fp.trace(inputs)
    untraced = set()
    for op in fp.ops:
        ins = [fp.by_name[i] for i in op.inputs]
        if op.kind == "input" or any(isinstance(i, InputOp) and i.ids for i in ins):
            continue                                   # ROM look-ups of ids
        if op.kind not in TRACERS:
            untraced.add(op.kind)
            continue
        got_codes = replay(op, [i.out for i in ins], [trace[i] for i in op.inputs])
        assert np.array_equal(got_codes, trace[op.name]), (z.name, op.name)
    return {"max_diff": float(diff.max()), "tol": tol, "untraced": untraced}


def test_zoo_models_keras_vs_reference_and_tracers_op_by_op(zoo):
    rng = np.random.default_rng(5)
    untraced = set()
    for z, fp in zoo:
        untraced |= check_model(z, fp, 200, rng)["untraced"]
    assert untraced <= IR_KINDS, untraced - IR_KINDS


def test_issue_example_model():
    z = issue_example()
    fp = build(z)
    kinds = [op.kind for op in fp.ops]
    assert kinds == ["input", "dense", "input", "gcn", "quant", "relu", "reshape", "dense", "quant", "dense", "quant"]
    assert fp.by_name["x"].out == parse_precision("fixed<16,6>")
    r = check_model(z, fp, 2000, np.random.default_rng(7))
    assert r["max_diff"] <= r["tol"]


def _refused(model, match: str, precision=None):
    with pytest.raises(UnsupportedModelError, match=match):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PrecisionWarning)
            FixedPointModel.from_keras(model, precision)


def test_unsupported_forms_are_refused_with_the_reason():
    import tensorflow as tf
    from spektral.layers import GINConv
    from codesign.models.layers import QGraphSageConv
    L = tf.keras.layers
    x, a = L.Input((3, 2), name="x"), L.Input((3, 3), name="a")
    _refused(tf.keras.Model(x, L.BatchNormalization(name="bn")(x)), "'bn'.*only be folded into the dense layer")
    h = L.Dense(2, activation="relu", name="d")(x)
    _refused(tf.keras.Model(x, L.BatchNormalization(name="bn")(h)), "no activation")
    _refused(tf.keras.Model([x, a], QGraphSageConv(2, aggregate="mean", name="s")([x, a])),
             "mean aggregation over a dynamic adjacency")
    _refused(tf.keras.Model(x, L.Dense(2, activation="tanh", name="t")(x)), "activation 'tanh'")
    _refused(tf.keras.Model(x, L.Reshape((6,))(L.Conv1D(2, 1, name="conv")(x))), "'conv' of class Conv1D.*GINConvBatch")
    from spektral.layers import GINConvBatch
    _refused(tf.keras.Model([x, a], GINConvBatch(2, mlp_hidden=[2], name="g")([x, a])), "mlp_batchnorm=False")
    sa = L.Input((3, 3), sparse=True, name="sa")
    xs, sa2 = L.Input((2,), name="xs"), L.Input((3,), sparse=True, name="sa2")   # Spektral's single mode
    _refused(tf.keras.Model([xs, sa2], GINConv(2, name="gin")([xs, sa2])), "'gin' of class GINConv .*use Spektral's GINConvBatch")
    _refused(tf.keras.Model([x, sa], L.Dense(1)(x)), "sparse")


@pytest.mark.parametrize("seed", [4, 5, 6, 8])   # GIN, GraphSAGE (static sum, mean), float static GCN
def test_model_files_of_new_layers_load_and_read_the_same(seed, tmp_path):
    from codesign.models.modelfile import load_model_file
    from codesign.vectors.make import keras_vs_reference
    for z in (zoo_model(seed), issue_example()) if seed == 4 else (zoo_model(seed),):
        path = tmp_path / f"{z.model.name}.h5"
        z.model.save(path)
        loaded = load_model_file(path, SUPPORTED_LAYERS)
        fp, fp2 = build(z), FixedPointModel.from_keras(loaded, z.precision)
        assert fp.describe() == fp2.describe()
        inputs = realistic_inputs(fp, 300, np.random.default_rng(seed))
        assert np.array_equal(fp.predict(inputs), fp2.predict(inputs))
        r = keras_vs_reference(loaded, fp2, inputs)
        assert set(r["layers"]) <= {layer.name for layer in loaded.layers} and r["why"]


@pytest.mark.slow
def test_zoo_property_200_more_models():
    """200 more seeds of the zoo (both halves of its cycle): Keras vs reference, tracers op by op."""
    rng = np.random.default_rng(11)
    for seed in range(50, 250):
        z = zoo_model(seed)
        check_model(z, build(z), 300, rng)
