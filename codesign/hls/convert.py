"""Keras model -> hls4ml project whose every type comes from the fixed-point reference.

``convert(model, out_dir, ...)`` returns an hls4ml ``ModelGraph`` (a normal hls4ml project:
``build_prj.tcl``, ``firmware/``, our ``nnet_utils/nnet_codesign.h``). Precisions are not left
to hls4ml's inference: each layer gets the format ``codesign.fixedpoint`` computed for it
(quantizers: ``AP_RND_CONV, AP_SAT``; accumulators: exact widths), so the C simulation can
be compared with the reference for equality.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codesign.fixedpoint import (ConcatOp, DenseOp, EmbeddingOp, FixedFormat, FixedPointModel, GCNOp, InputOp,
                                 MeanPoolOp, MultiplyOp, QuantOp, ReadoutOp, UnsupportedModelError)
from codesign.hls.extension import NODE_DENSE_CLASS, QUANT_CLASS, SLICE_CLASS, register

IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("Latency", "Resource")
BACKENDS = ("Vivado", "Vitis", "VivadoAccelerator")


def _id_type(limit: int) -> str:
    return f"ap_uint<{max(1, (limit - 1).bit_length())}>"


def layer_precisions(fp: FixedPointModel) -> dict[str, dict]:
    """hls4ml ``LayerName`` config: every type of every layer, from the reference's formats."""
    out: dict[str, dict] = {}
    for op in fp.ops:
        exact = op.out.ap_type(False) if op.out is not None else None
        if isinstance(op, InputOp):
            p = {"result": _id_type(op.id_limit) if op.ids else op.out.ap_type(False)}
        elif isinstance(op, EmbeddingOp):
            p = {"embeddings": exact, "result": exact}
        elif isinstance(op, QuantOp):
            p = {"result": op.out.ap_type(True)}
        elif isinstance(op, GCNOp):
            p = {"weight": op.kernel_fmt.ap_type(False), "bias": _bias_type(op),
                 "adjacency": op.adjacency_fmt.ap_type(False), "xw": op.xw_fmt.ap_type(False),
                 "accum": exact, "result": exact}
        elif isinstance(op, DenseOp):
            p = {"weight": op.kernel_fmt.ap_type(False), "bias": _bias_type(op), "accum": exact, "result": exact}
        elif isinstance(op, MeanPoolOp):
            p = {"recip": op.recip_fmt.ap_type(False), "sum": op.sum_fmt.ap_type(False), "result": exact}
        elif isinstance(op, (ReadoutOp, ConcatOp, MultiplyOp)):
            p = {"result": exact}
        else:  # pragma: no cover - every op kind is listed above
            raise UnsupportedModelError(f"no precision rule for {op.kind}")
        out[op.name] = {"Precision": p}
        if isinstance(op, ConcatOp):
            # a chain of two-input concatenations (hls4ml's takes two): each covers the whole
            for partial in _partial_names(op.name, len(op.inputs)):
                out[partial] = {"Precision": {"result": exact}}
        if isinstance(op, DenseOp):
            # hls4ml appends a linear activation layer to a Dense: keep it exact too
            out[f"{op.name}_linear"] = {"Precision": {"result": exact, "table": "ap_fixed<18,8>"}}
    return out


def _partial_names(name: str, n_inputs: int) -> list[str]:
    """Names of the intermediate two-input concatenations replacing an n-input one."""
    return [f"{name}__part{i}" for i in range(1, n_inputs - 1)]


def _split_concatenations(layers: list[dict]) -> list[dict]:
    """Keras JSON layers with every n-input Concatenate (n > 2) turned into a chain of two-input ones."""
    out = []
    for layer in layers:
        inbound = layer.get("inbound_nodes") or [[]]
        if layer["class_name"] != "Concatenate" or len(inbound[0]) <= 2:
            out.append(layer)
            continue
        name, sources = layer["config"]["name"], inbound[0]
        left = sources[0]
        for partial, right in zip(_partial_names(name, len(sources)), sources[1:-1]):
            out.append({**layer, "name": partial, "config": {**layer["config"], "name": partial},
                        "inbound_nodes": [[left, right]]})
            left = [partial, 0, 0, {}]
        out.append({**layer, "inbound_nodes": [[left, sources[-1]]]})
    return out


def _bias_type(op) -> str:
    return op.bias_fmt.ap_type(False) if op.bias_fmt is not None else "ap_fixed<2,1>"


def hls_config(fp: FixedPointModel, strategy: str = "Latency", reuse_factor: int = 1) -> dict:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    layers = layer_precisions(fp)
    for name in layers:
        layers[name].update({"ReuseFactor": reuse_factor, "Strategy": strategy})
    return {"Model": {"Precision": "ap_fixed<16,6>", "ReuseFactor": reuse_factor, "Strategy": strategy},
            "LayerName": layers}


PACKED_INPUT = "request"
SINGLE_INPUT_BACKENDS = ("VivadoAccelerator",)


def packed_format(fp: FixedPointModel) -> FixedFormat:
    """One format holding every input exactly (ids and grid values), for the packed request."""
    frac = max((op.out.frac for op in fp.inputs if not op.ids), default=0)
    lo = hi = 0
    for op in fp.inputs:
        low, high, f = (0, op.id_limit - 1, 0) if op.ids else (op.out.min_code, op.out.max_code, op.out.frac)
        lo, hi = min(lo, low << (frac - f)), max(hi, high << (frac - f))
    return FixedFormat.covering(lo, hi, frac)


def pack_inputs(fp: FixedPointModel, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The packed request (B, total): every input flattened, in the model's input order."""
    parts = [np.asarray(inputs[n], dtype=np.float64).reshape(len(inputs[n]), -1) for n in fp.input_names]
    return np.concatenate(parts, axis=1)


def _pack(arch: dict) -> dict:
    """Replaces the model's inputs by slices of one packed ``request`` input."""
    names = [entry[0] for entry in arch["config"]["input_layers"]]
    layers, offset, total = [], 0, 0
    for layer in arch["config"]["layers"]:
        if layer["class_name"] == "InputLayer" and layer["config"]["name"] in names:
            shape = list(layer["config"]["batch_input_shape"][1:])
            layers.append({"class_name": SLICE_CLASS, "name": layer["config"]["name"],
                           "config": {"name": layer["config"]["name"], "shape": shape, "offset": offset},
                           "inbound_nodes": [[[PACKED_INPUT, 0, 0, {}]]]})
            offset += int(np.prod(shape))
        else:
            layers.append(layer)
    request = {"class_name": "InputLayer", "name": PACKED_INPUT, "inbound_nodes": [],
               "config": {"name": PACKED_INPUT, "batch_input_shape": [None, offset], "dtype": "float32",
                          "sparse": False, "ragged": False}}
    arch["config"]["layers"] = [request] + layers
    arch["config"]["input_layers"] = [[PACKED_INPUT, 0, 0]]
    return arch


def _architecture(model, pack: bool = False) -> dict:
    """The model's Keras JSON with QActivation renamed to our quantizer layer, and integer
    inputs typed by our config (hls4ml names every integer input ``integer_input_t``, so two
    id inputs of different widths would share one typedef)."""
    arch = json.loads(model.to_json())
    for layer in arch["config"]["layers"]:
        if layer["class_name"] == "QActivation":
            layer["class_name"] = QUANT_CLASS
        if layer["class_name"] in ("Dense", "QDense") and _rank(model, layer["config"]["name"]) == 3:
            layer["class_name"] = NODE_DENSE_CLASS  # per node: hls4ml's Dense would read one row
        if layer["class_name"] == "InputLayer" and "int" in str(layer["config"].get("dtype")):
            layer["config"]["dtype"] = "float32"
    arch["config"]["layers"] = _split_concatenations(arch["config"]["layers"])
    return _pack(arch) if pack else arch


def _rank(model, name: str) -> int:
    """Rank (with the batch axis) of the input of ``model``'s layer ``name``."""
    shape = model.get_layer(name).input_shape
    return len(shape[0] if isinstance(shape, list) else shape)


def convert(model, out_dir: str | Path, *, fp: FixedPointModel | None = None, backend: str = "Vitis",
            io_type: str = "io_parallel", strategy: str = "Latency", reuse_factor: int = 1,
            part: str | None = None, board: str | None = None, clock_period: float = 5.0,
            project_name: str = "myproject", trace: bool = False, overrides: dict | None = None):
    """An hls4ml ModelGraph of ``model`` (see module docstring); nothing is written yet.

    ``trace`` makes every layer traceable (``ModelGraph.trace``); ``overrides`` replaces
    precisions per layer (``{name: {"result": "ap_fixed<...>"}}``, for experiments and tests).
    """
    from hls4ml.converters import _check_hls_config, _check_model_config
    from hls4ml.converters.keras_v2_to_hls import KerasModelReader, parse_keras_model
    from hls4ml.model.graph import ModelGraph
    from hls4ml.utils.config import create_config

    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if io_type not in IO_TYPES:
        raise ValueError(f"io_type {io_type!r} is not one of {', '.join(IO_TYPES)}")
    register()
    fp = fp or FixedPointModel.from_keras(model)
    kwargs = {"io_type": io_type, "clock_period": clock_period}
    if part:
        kwargs["part"] = part
    if backend == "VivadoAccelerator" and board:
        kwargs["board"] = board
    config = create_config(output_dir=str(out_dir), project_name=project_name, backend=backend, **kwargs)
    config["KerasModel"] = model
    hls = hls_config(fp, strategy, reuse_factor)
    pack = backend in SINGLE_INPUT_BACKENDS and len(fp.input_names) > 1
    if pack:
        hls["LayerName"][PACKED_INPUT] = {"Precision": {"result": packed_format(fp).ap_type(False)}}
    for name, precision in (overrides or {}).items():
        hls["LayerName"].setdefault(name, {"Precision": {}})["Precision"].update(precision)
    if trace:
        for layer in hls["LayerName"].values():
            layer["Trace"] = True
    config["HLSConfig"] = {"Model": _check_model_config(hls["Model"])}
    config["HLSConfig"]["Model"]["BitExact"] = False
    _check_hls_config(config, hls)
    layers, inputs, outputs, _ = parse_keras_model(_architecture(model, pack), KerasModelReader(model))
    graph = ModelGraph.from_layer_list(config, layers, inputs, outputs)
    graph.codesign_packed = pack  # predict/trace take pack_inputs(...) then
    return graph


def model_inputs(graph, fp: FixedPointModel, inputs: dict[str, np.ndarray]):
    """What ``graph.predict``/``trace`` take for ``inputs`` (one array, or one per input)."""
    if getattr(graph, "codesign_packed", False):
        return np.ascontiguousarray(pack_inputs(fp, inputs))
    x = [np.ascontiguousarray(inputs[name], dtype=np.float64) for name in fp.input_names]
    return x if len(x) > 1 else x[0]
