"""Keras model -> hls4ml project whose every layer and type comes from the fixed-point reference.

``convert(model, out_dir, ...)`` returns an hls4ml ``ModelGraph`` (a normal hls4ml project:
``build_prj.tcl``, ``firmware/``, our ``nnet_utils/nnet_codesign.h``) built from the model's
op graph (``codesign.hls.oplayers``: one hls4ml layer per op). Precisions are not left to
hls4ml's inference: each layer gets the formats ``codesign.fixedpoint`` computed for its op
(quantizations: their rounding and overflow modes; accumulators: exact widths), so the C
simulation can be compared with the reference for equality.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.fixedpoint import FixedFormat, FixedPointModel, UnsupportedModelError
from codesign.hls.extension import register
from codesign.hls.oplayers import PACKED_INPUT, hls_name, op_layers, partial_names, shapes

IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("Latency", "Resource")
BACKENDS = ("Vivado", "Vitis", "VivadoAccelerator")


def _id_type(limit: int) -> str:
    return f"ap_uint<{max(1, (limit - 1).bit_length())}>"


def _op_precision(op, fp: FixedPointModel, shape: dict[str, tuple]) -> dict:
    """The hls4ml types of one op: each from the op's formats (exact accumulators wrap and never
    need to; a quantization carries its rounding and overflow modes)."""
    exact = op.out.ap_type(False) if op.out is not None else None
    kind = op.kind
    if kind == "input":
        return {"result": _id_type(op.id_limit) if op.ids else exact}
    if kind == "embedding":
        return {"embeddings": exact, "result": exact}
    if kind == "quant":
        return {"result": op.out.ap_type(True)}
    if kind == "gcn":
        return {"weight": op.kernel_fmt.ap_type(False), "bias": _bias_type(op),
                "adjacency": op.adjacency_fmt.ap_type(False), "xw": op.xw_fmt.ap_type(False),
                "accum": exact, "result": exact}
    if kind == "dense":
        return {"weight": op.kernel_fmt.ap_type(False), "bias": _bias_type(op), "accum": exact, "result": exact}
    if kind == "aggregate":
        coef = op.self_fmt.ap_type(False) if op.self_fmt is not None else "ap_fixed<2,1>"
        return {"adjacency": op.matrix_fmt.ap_type(False), "coef": coef, "accum": exact, "result": exact}
    if kind == "pool":
        src = fp.by_name[op.inputs[0]].out
        return {"accum": _pool_sum(op, src, shape[op.inputs[0]][0]).ap_type(False), "scale": _pool_scale(op).ap_type(False), "result": exact}
    if kind == "meanpool":
        return {"recip": op.recip_fmt.ap_type(False), "sum": op.sum_fmt.ap_type(False), "result": exact}
    if kind in ("readout", "concat", "multiply", "relu", "reshape", "add"):
        return {"result": exact}
    raise UnsupportedModelError(f"op '{op.name}' of kind {kind!r} has no HLS precision rule")


def _pool_sum(op, src: FixedFormat, n_nodes: int) -> FixedFormat:
    """The exact format of a pool's sum over its ``n_nodes`` nodes (of inputs in ``src``)."""
    return FixedFormat.covering(n_nodes * src.min_code, n_nodes * src.max_code, src.frac)


def _pool_scale(op) -> FixedFormat:
    if op.scale_fmt is not None:
        return op.scale_fmt
    return FixedFormat.covering(0, 1, max(0, op.out.frac - op.in_frac))


def layer_precisions(fp: FixedPointModel) -> dict[str, dict]:
    """hls4ml ``LayerName`` config: every type of every layer, from the reference's formats."""
    out: dict[str, dict] = {}
    shape = shapes(fp)
    for op in fp.ops:
        precision = _op_precision(op, fp, shape)
        out[hls_name(op.name)] = {"Precision": precision}
        if op.kind in ("concat", "add"):
            # a chain of two-input layers (hls4ml's take two): each covers the whole
            for partial in partial_names(op.name, len(op.inputs)):
                out[partial] = {"Precision": {"result": precision["result"]}}
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


def convert(model, out_dir: str | Path, *, fp: FixedPointModel | None = None, backend: str = "Vitis",
            io_type: str = "io_parallel", strategy: str = "Latency", reuse_factor: int = 1,
            part: str | None = None, board: str | None = None, clock_period: float = 5.0,
            project_name: str = "myproject", trace: bool = False, overrides: dict | None = None):
    """An hls4ml ModelGraph of ``model`` (see module docstring); nothing is written yet.

    ``trace`` makes every layer traceable (``ModelGraph.trace``); ``overrides`` replaces
    precisions per layer (``{name: {"result": "ap_fixed<...>"}}``, for experiments and tests).
    """
    from hls4ml.converters import _check_hls_config, _check_model_config
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
    layers, inputs, outputs = op_layers(fp, pack)
    graph = ModelGraph.from_layer_list(config, layers, inputs, outputs)
    graph.codesign_packed = pack  # predict/trace take pack_inputs(...) then
    return graph


def model_inputs(graph, fp: FixedPointModel, inputs: dict[str, np.ndarray]):
    """What ``graph.predict``/``trace`` take for ``inputs`` (one array, or one per input)."""
    if getattr(graph, "codesign_packed", False):
        return np.ascontiguousarray(pack_inputs(fp, inputs))
    x = [np.ascontiguousarray(inputs[name], dtype=np.float64) for name in fp.input_names]
    return x if len(x) > 1 else x[0]
