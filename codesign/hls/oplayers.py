"""The hls4ml layer list of a fixed-point op graph: one hls4ml layer per op of
``codesign.fixedpoint`` (hls4ml's own layer where it is exact, else one of ours from
``codesign.hls.extension``), with the op's exact constants (the codes' values, so the C++
conversion is exact whatever a type's rounding mode) and the op's formats as its types.

This replaces hls4ml's Keras parser: a Keras layer the reference splits into several ops
(a float layer's exact accumulator, its result quantization and relu; GIN's aggregation and
MLP; GraphSAGE's concatenation) becomes the same several hls4ml layers, so every rounding of
the reference happens at the same place in the C++.
"""
from __future__ import annotations

import numpy as np

from codesign.fixedpoint import FixedFormat, FixedPointModel, Op, UnsupportedModelError
from codesign.hls.extension import (AGGREGATE_CLASS, NODE_DENSE_CLASS, POOL_CLASS, QUANT_CLASS, SLICE_CLASS)

PACKED_INPUT = "request"
POOL_MODES = {"sum": 0, "avg": 1, "max": 2}
NO_BIAS = FixedFormat(2, 1)


def hls_name(name: str) -> str:
    """The hls4ml layer name of an op (``gcn/acc`` -> ``gcn__acc``: names become C++ identifiers)."""
    return name.replace("/", "__")


def partial_names(name: str, n_inputs: int) -> list[str]:
    """Names of the intermediate two-input layers replacing an n-input concatenation or sum."""
    return [f"{hls_name(name)}__part{i}" for i in range(1, n_inputs - 1)]


def shapes(fp: FixedPointModel) -> dict[str, tuple]:
    """Per-sample shape of every op's output (one zero sample through the reference)."""
    zero = {op.name: np.zeros((1, *op.shape), dtype=np.int64 if op.ids else np.float64) for op in fp.inputs}
    return {name: tuple(np.shape(v)[1:]) for name, v in fp.trace(zero).items()}


def _values(fmt: FixedFormat, codes) -> np.ndarray:
    return fmt.to_float(np.asarray(codes))


def _weights(op) -> dict:
    bias_fmt = op.bias_fmt or NO_BIAS
    bias = np.zeros(op.kernel.shape[1], dtype=np.int64) if op.bias is None else op.bias
    return {"weight_data": _values(op.kernel_fmt, op.kernel), "bias_data": _values(bias_fmt, bias),
            "use_bias": op.bias is not None}


def _layer(op: Op, shape: dict[str, tuple]) -> dict:
    """The hls4ml layer dict of one op (the parts a Keras handler would give)."""
    x = shape[op.inputs[0]] if op.inputs else None
    kind = op.kind
    if kind == "embedding":
        return {"class_name": "Embedding", "n_in": int(np.prod(x)), "vocab_size": op.table.shape[0],
                "n_out": op.table.shape[1], "embeddings_data": _values(op.out, op.table)}
    if kind == "quant":
        return {"class_name": QUANT_CLASS, "relu": False}
    if kind == "relu":
        return {"class_name": "Activation", "activation": "relu"}
    if kind == "reshape":
        return {"class_name": "Reshape", "target_shape": [int(d) for d in op.shape]}
    if kind == "dense":
        n_in, n_out = op.kernel.shape
        if len(x) == 1:
            return {"class_name": "Dense", "n_in": n_in, "n_out": n_out, "weight_quantizer": None,
                    "bias_quantizer": None, **_weights(op)}
        if len(x) == 2:  # per node
            return {"class_name": NODE_DENSE_CLASS, "n_nodes": x[0], "n_in": n_in, "n_out": n_out, **_weights(op)}
        raise UnsupportedModelError(f"dense '{op.name}' reads a value of shape {x}; HLS takes (features) or "
                                    "(nodes, features)")
    if kind == "gcn":
        layer = {"class_name": "CodesignGCN", "n_nodes": x[0], "n_in": x[1], "n_out": op.kernel.shape[1],
                 "static": op.static, **_weights(op)}
        if op.static:
            layer["adjacency_data"] = _values(op.adjacency_fmt, op.adjacency)
        return layer
    if kind == "aggregate":
        layer = {"class_name": AGGREGATE_CLASS, "n_nodes": x[0], "n_out": x[1], "static": op.static,
                 "coef_value": None if op.self_coef is None else float(_values(op.self_fmt, op.self_coef))}
        if op.static:
            layer["adjacency_data"] = _values(op.matrix_fmt, op.matrix)
        return layer
    if kind == "pool":
        if op.mode == "avg" and op.scale is None:  # N a power of two: the sum times 2**-k, exactly
            scale = 2.0 ** -(op.out.frac - op.in_frac)
        else:
            scale = None if op.scale is None else float(_values(op.scale_fmt, op.scale))
        return {"class_name": POOL_CLASS, "n_nodes": x[0], "n_feat": x[1], "mode": POOL_MODES[op.mode],
                "scale_value": scale or 1.0}
    if kind == "readout":
        return {"class_name": "CodesignReadout", "indices": list(op.indices), "n_nodes": x[0], "n_feat": x[1],
                "n_rows": len(op.indices)}
    if kind == "meanpool":
        return {"class_name": "CodesignMeanPool", "n_tokens": x[0], "n_feat": x[1],
                "recip_data": _values(op.recip_fmt, op.recip)}
    if kind == "multiply":
        return {"class_name": "Merge", "op": "multiply"}
    raise UnsupportedModelError(f"op '{op.name}' of kind {kind!r} has no HLS layer")


def _chain(op: Op, shape: dict[str, tuple]) -> list[dict]:
    """An n-input concatenation or sum as a chain of hls4ml's two-input layers (each exact: the
    op's output format covers every partial result, as every input format holds 0)."""
    rank = len(shape[op.name])
    body = ({"class_name": "Concatenate", "op": f"concatenate{rank}d", "axis": -1} if op.kind == "concat"
            else {"class_name": "Merge", "op": "add"})
    names = partial_names(op.name, len(op.inputs)) + [hls_name(op.name)]
    layers, left = [], hls_name(op.inputs[0])
    for name, right in zip(names, op.inputs[1:]):
        layers.append({"name": name, "inputs": [left, hls_name(right)], "data_format": "channels_last", **body})
        left = name
    return layers


def _merged_reshapes(fp: FixedPointModel) -> tuple[dict[str, str], set[str]]:
    """Consecutive reshapes as one (hls4ml 1.3.0's io_stream wiring loses the second of two):
    (reshape op -> the input it reads after merging, reshape ops read only by reshapes: dropped)."""
    readers: dict[str, list] = {}
    for op in fp.ops:
        for name in op.inputs:
            readers.setdefault(name, []).append(op)
    source, dropped = {}, set()
    for op in fp.ops:
        if op.kind != "reshape":
            continue
        src = op.inputs[0]
        while fp.by_name[src].kind == "reshape":
            src = fp.by_name[src].inputs[0]
        source[op.name] = src
        if op.name != fp.output and readers.get(op.name) and all(r.kind == "reshape" for r in readers[op.name]):
            dropped.add(op.name)
    return source, dropped


def op_layers(fp: FixedPointModel, pack: bool = False) -> tuple[list[dict], list[str], list[str]]:
    """(layers, input names, output names) for ``hls4ml.model.graph.ModelGraph.from_layer_list``;
    ``pack``: the inputs become slices of one ``request`` input (single-input backends)."""
    shape = shapes(fp)
    reshape_source, dropped = _merged_reshapes(fp)
    layers: list[dict] = []
    offset = 0
    if pack:
        total = sum(int(np.prod(op.shape)) for op in fp.inputs)
        layers.append({"name": PACKED_INPUT, "class_name": "InputLayer", "data_format": "channels_last",
                       "input_shape": [total]})
    for op in fp.ops:
        if op.kind == "input":
            if pack:
                n = int(np.prod(op.shape))
                layers.append({"name": hls_name(op.name), "class_name": SLICE_CLASS, "inputs": [PACKED_INPUT],
                               "data_format": "channels_last", "shape": list(op.shape), "offset": offset,
                               "n_in": total, "n_out": n})
                offset += n
            else:
                layers.append({"name": hls_name(op.name), "class_name": "InputLayer",
                               "data_format": "channels_last", "input_shape": list(op.shape)})
        elif op.kind in ("concat", "add") and len(op.inputs) > 1:
            layers.extend(_chain(op, shape))
        elif op.kind == "reshape":
            if op.name not in dropped:
                layers.append({"name": hls_name(op.name), "inputs": [hls_name(reshape_source[op.name])],
                               "data_format": "channels_last", **_layer(op, shape)})
        else:
            layers.append({"name": hls_name(op.name), "inputs": [hls_name(i) for i in op.inputs],
                           "data_format": "channels_last", **_layer(op, shape)})
    inputs = [PACKED_INPUT] if pack else [hls_name(n) for n in fp.input_names]
    return layers, inputs, [hls_name(fp.output)]
