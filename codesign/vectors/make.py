"""Reference requests: random and corner-case inputs on a model's grids, and how the
quantized Keras model itself compares with the fixed-point reference.

Everything here is generic over a ``FixedPointModel`` (inputs are id arrays read by an
embedding, or values on a quantizer's grid), so the flow's ``vectors`` step and
``codesign hls --model FILE`` share it.
"""
from __future__ import annotations

import numpy as np

from codesign.fixedpoint import EmbeddingOp, FixedPointModel, InputOp


def random_inputs(fp: FixedPointModel, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` requests drawn uniformly over every input's full range (ids: 0..limit-1 with a
    random padded suffix; grid inputs: every code of the format)."""
    out = {}
    for op in fp.inputs:
        shape = (n, *op.shape)
        if op.ids:
            ids = rng.integers(0, op.id_limit, shape)
            if len(op.shape) == 1:  # a random number of trailing padding ids
                keep = rng.integers(0, op.shape[0] + 1, n)
                ids = np.where(np.arange(op.shape[0])[None] < keep[:, None], ids, 0)
            out[op.name] = ids.astype(np.int32)
        else:
            codes = rng.integers(op.out.min_code, op.out.max_code + 1, shape)
            out[op.name] = op.out.to_float(codes).astype(np.float32)
    return out


def _embedding_of(fp: FixedPointModel, op: InputOp) -> EmbeddingOp | None:
    return next((e for e in fp.ops if isinstance(e, EmbeddingOp) and e.inputs == [op.name]), None)


def corner_inputs(fp: FixedPointModel, base: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Corner cases built on ``base`` requests (cycled), each row labelled with its kind.

    Per input: all zeros (``zero_nodes`` = all-padding graphs, ``zero_tokens`` = empty titles),
    all maximal ids / maximal codes (``max_<input>``), and for an id input read by an
    embedding the ids holding each column's largest and smallest entry repeated over every
    slot (``extreme_<input>``: drives accumulators to their limits); plus everything zero and
    everything maximal at once.
    """
    rows: list[dict[str, np.ndarray]] = []
    kinds: list[str] = []
    n_base = len(next(iter(base.values())))

    def add(kind: str, **changes) -> None:
        i = len(rows) % n_base
        row = {k: v[i].copy() for k, v in base.items()}
        for name, value in changes.items():
            row[name] = np.broadcast_to(value, row[name].shape).astype(row[name].dtype)
        rows.append(row)
        kinds.append(kind)

    def maximal(op: InputOp):
        return op.id_limit - 1 if op.ids else op.out.to_float(op.out.max_code)

    for op in fp.inputs:
        add(f"zero_{op.name}", **{op.name: 0})
        add(f"max_{op.name}", **{op.name: maximal(op)})
        if not op.ids and op.out.signed:
            add(f"min_{op.name}", **{op.name: op.out.to_float(op.out.min_code)})
        emb = _embedding_of(fp, op)
        if emb is not None:
            ids = np.unique(np.concatenate([emb.table.argmax(0), emb.table.argmin(0)]))
            for i in ids:
                add(f"extreme_{op.name}", **{op.name: int(i)})
    add("zero_all", **{op.name: 0 for op in fp.inputs})
    add("max_all", **{op.name: maximal(op) for op in fp.inputs})
    stacked = {k: np.stack([r[k] for r in rows]) for k in base}
    return stacked, kinds


def concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def keras_predict(model, inputs: dict[str, np.ndarray], outputs=None, batch: int = 8192) -> list[np.ndarray]:
    """Outputs of ``model`` (or of its layers ``outputs``) in float64, batched."""
    import tensorflow as tf
    names = list(model.input_names)
    target = model if outputs is None else tf.keras.Model(model.inputs, outputs)
    run = tf.function(lambda *xs: target(list(xs), training=False))
    n = len(inputs[names[0]])
    chunks = []
    for s in range(0, n, batch):
        out = run(*[inputs[k][s:s + batch] for k in names])
        chunks.append([np.asarray(o, dtype=np.float64) for o in (out if isinstance(out, (list, tuple)) else [out])])
    return [np.concatenate([c[j] for c in chunks]) for j in range(len(chunks[0]))]


def keras_vs_reference(model, fp: FixedPointModel, inputs: dict[str, np.ndarray]) -> dict:
    """How the quantized Keras model (float32 arithmetic) compares with the exact reference,
    overall and layer by layer, with the reason for every difference found."""
    from codesign.compare import compare
    trace = fp.trace(inputs)
    names = {layer.name for layer in model.layers}   # ops named <layer>/<part> are a layer's insides
    layers = [op for op in fp.ops if not isinstance(op, InputOp) and op.name in names]
    values = keras_predict(model, inputs, [model.get_layer(op.name).output for op in layers])
    per_layer, reasons = {}, []
    for op, got in zip(layers, values):
        exact = op.out.to_float(trace[op.name])
        got = got.reshape(exact.shape)
        r = compare(exact.reshape(len(exact), -1), got.reshape(len(got), -1))
        diff = np.abs(exact - got)
        per_layer[op.name] = {"mismatches": r["mismatches"], "max_abs_diff": float(diff.max(initial=0)),
                              "max_diff_lsb": float(diff.max(initial=0) / op.out.lsb),
                              "exact_width": op.out.width}
        if r["mismatches"]:
            why = (f"'{op.name}' ({op.kind}) differs in {r['mismatches']} samples by up to "
                   f"{per_layer[op.name]['max_diff_lsb']:g} LSB of {op.out.ap_type(False)}")
            if op.precision:
                why += (": a float layer: the reference holds its weights and result on "
                        + ", ".join(f"{k} {v['precision']}" for k, v in op.precision.items())
                        + ", Keras computes in float32")
            elif op.kind in ("gcn", "dense", "meanpool"):
                why += (f": its exact value needs {op.out.width} bits; Keras accumulates in float32 "
                        "(24-bit significand) and rounds partial sums")
            elif op.kind == "quant":
                why += (": a float32-rounded input landed on the other side of a rounding step "
                        "of the quantizer (the reference rounds the exact value)")
            reasons.append(why)
    got = np.asarray(keras_predict(model, inputs)[0], dtype=np.float64).reshape(-1)
    expected = fp.predict(inputs).reshape(-1)
    overall = compare(expected, got)
    diff = np.abs(expected - got)
    return {**overall, "max_abs_diff": float(diff.max(initial=0)),
            "max_diff_lsb": float(diff.max(initial=0) / fp.output_format.lsb),
            "layers": per_layer,
            "why": reasons or ["none: no layer's output differs; where float32 rounded an accumulator "
                               "it never moved a value across a quantizer's rounding boundary"]}
