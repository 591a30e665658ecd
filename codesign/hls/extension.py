"""hls4ml 1.3.0 extension for codesign's layers (Extension API: parser handlers, IR layers,
backend templates and the C++ source ``kernels/hls/nnet_codesign.h``).

Keras class -> hls4ml IR layer:

- ``QEmbedding`` -> hls4ml's own ``Embedding`` (table quantized here, exactly on its grid)
- ``QGCNConv`` -> ``CodesignGCN`` (static Â: a constant adder tree; dynamic Â: an input)
- ``NodeReadout`` -> ``CodesignReadout``; ``MaskedMeanPool`` -> ``CodesignMeanPool``
- ``QActivation`` -> ``CodesignQuant`` (renamed before parsing: hls4ml's own QActivation
  handling drops a trailing ``quantized_bits`` after an ``auto`` precision; ours rounds
  with AP_RND_CONV and saturates exactly like QKeras)
- ``QDense``, ``Concatenate``, ``Multiply``, ``InputLayer``: hls4ml's own, with every
  precision set from the fixed-point reference (``codesign.hls.convert``).
- ``CodesignSlice``: for single-input backends (VivadoAccelerator) the model inputs are
  packed into one ``request`` vector; each slice casts its part back to the input's type.

``register()`` is idempotent and covers every backend we convert with.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.fixedpoint import quantizer_format

KERNEL_SOURCE = Path(__file__).resolve().parents[2] / "kernels" / "hls" / "nnet_codesign.h"
BACKENDS = ("Vivado", "Vitis", "VivadoAccelerator")
INCLUDE = ["nnet_utils/nnet_codesign.h"]
QUANT_CLASS = "CodesignQuant"
SLICE_CLASS = "CodesignSlice"
NODE_DENSE_CLASS = "CodesignNodeDense"
POOL_CLASS = "CodesignGlobalPool"

_registered = False


def _quantized(values, spec) -> np.ndarray:
    """Float values of ``values`` on ``spec``'s grid (exact decimal when written); ``spec`` a
    quantizer's string or its serialized dict (QDense stores the latter)."""
    if isinstance(spec, dict):
        from qkeras.quantizers import get_quantizer
        spec = get_quantizer(spec)
    fmt = quantizer_format(spec)
    return fmt.to_float(fmt.quantize(np.asarray(values, dtype=np.float32)))


# ----------------------------------------------------------------------- keras handlers

def _parse_qembedding(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras.core import parse_embedding_layer
    layer, shape = parse_embedding_layer(keras_layer, input_names, input_shapes, data_reader)
    layer["class_name"] = "Embedding"
    layer["embeddings_data"] = _quantized(layer["embeddings_data"], keras_layer["config"]["embeddings_quantizer"])
    return layer, shape


def _graph_layer(keras_layer, input_names, input_shapes, data_reader, kernel_quantizer=None):
    """The common part of a graph convolution: shapes, kernel and bias (on their quantizers' grids
    when given; ``convert`` writes the reference's codes over them)."""
    from hls4ml.converters.keras_v2_to_hls import get_weights_data, parse_default_keras_layer
    cfg = keras_layer["config"]
    if cfg.get("activation") not in (None, "linear"):
        raise ValueError(f"graph layer '{cfg['name']}' has activation {cfg['activation']!r}; "
                         "put the activation in its own layer after it")
    layer = parse_default_keras_layer(keras_layer, input_names)
    layer.pop("activation", None)
    x_shape = input_shapes[0]
    layer["n_nodes"], layer["n_in"], layer["n_out"] = int(x_shape[-2]), int(x_shape[-1]), int(cfg["channels"])
    kernel = get_weights_data(data_reader, layer["name"], "kernel")
    layer["weight_data"] = kernel if kernel_quantizer is None else _quantized(kernel, kernel_quantizer)
    if cfg.get("use_bias", True):
        bias = get_weights_data(data_reader, layer["name"], "bias")
        layer["bias_data"] = bias if cfg.get("bias_quantizer") is None else _quantized(bias, cfg["bias_quantizer"])
    else:
        layer["bias_data"] = np.zeros(layer["n_out"])
    return layer, [x_shape[0], layer["n_nodes"], layer["n_out"]]


def _parse_qgcnconv(keras_layer, input_names, input_shapes, data_reader):
    cfg = keras_layer["config"]
    layer, shape = _graph_layer(keras_layer, input_names, input_shapes, data_reader, cfg["kernel_quantizer"])
    layer["class_name"] = "CodesignGCN"
    static = cfg.get("static_adjacency") is not None
    layer["static"] = static
    if static:
        layer["adjacency_data"] = _quantized(np.asarray(cfg["static_adjacency"]), cfg["adjacency_quantizer"])
    return layer, shape


def _parse_gcnconv(keras_layer, input_names, input_shapes, data_reader):
    """Spektral's float ``GCNConv``: Â (x W) + b with Â the layer's second input (dynamic)."""
    if len(input_names) != 2:
        raise ValueError(f"GCNConv '{keras_layer['config']['name']}' needs [x, a] inputs")
    layer, shape = _graph_layer(keras_layer, input_names, input_shapes, data_reader)
    layer["class_name"] = "CodesignGCN"
    layer["static"] = False
    return layer, shape


def _parse_node_dense(keras_layer, input_names, input_shapes, data_reader):
    """A Dense / QDense on a rank-3 input (batch, nodes, features): applied to every node."""
    from hls4ml.converters.keras_v2_to_hls import get_weights_data, parse_default_keras_layer
    cfg = keras_layer["config"]
    if cfg.get("activation") not in (None, "linear"):
        raise ValueError(f"dense '{cfg['name']}' has activation {cfg['activation']!r}; "
                         "put the activation in its own layer after it")
    layer = parse_default_keras_layer(keras_layer, input_names)
    layer.pop("activation", None)
    layer["class_name"] = NODE_DENSE_CLASS
    shape = input_shapes[0]
    layer["n_nodes"], layer["n_in"], layer["n_out"] = int(shape[-2]), int(shape[-1]), int(cfg["units"])
    kernel = get_weights_data(data_reader, layer["name"], "kernel")
    quantizer = cfg.get("kernel_quantizer")
    layer["weight_data"] = kernel if quantizer is None else _quantized(kernel, quantizer)
    if cfg.get("use_bias", True):
        bias = get_weights_data(data_reader, layer["name"], "bias")
        quantizer = cfg.get("bias_quantizer")
        layer["bias_data"] = bias if quantizer is None else _quantized(bias, quantizer)
    else:
        layer["bias_data"] = np.zeros(layer["n_out"])
    return layer, [shape[0], layer["n_nodes"], layer["n_out"]]


POOL_MODES = {"GlobalSumPool": 0, "GlobalAvgPool": 1, "GlobalMaxPool": 2}


def _parse_global_pool(keras_layer, input_names, input_shapes, data_reader):
    """Spektral's GlobalSumPool / GlobalAvgPool / GlobalMaxPool (batch mode: (B, N, F) -> (B, F))."""
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer
    layer = parse_default_keras_layer(keras_layer, input_names)
    shape = input_shapes[0]
    if len(shape) != 3:
        raise ValueError(f"pool '{layer['name']}' reads a rank-{len(shape)} input; (batch, nodes, features) "
                         "is supported (Spektral's batch mode)")
    layer["mode"] = POOL_MODES[keras_layer["class_name"]]
    layer["class_name"] = POOL_CLASS
    layer["n_nodes"], layer["n_feat"] = int(shape[-2]), int(shape[-1])
    layer["scale_value"] = 1.0 / layer["n_nodes"]
    return layer, [shape[0], layer["n_feat"]]


def _parse_readout(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer
    layer = parse_default_keras_layer(keras_layer, input_names)
    layer["class_name"] = "CodesignReadout"
    shape = input_shapes[0]
    layer["indices"] = [int(i) for i in keras_layer["config"]["indices"]]
    layer["n_nodes"], layer["n_feat"], layer["n_rows"] = int(shape[-2]), int(shape[-1]), len(layer["indices"])
    return layer, [shape[0], layer["n_rows"] * layer["n_feat"]]


def _parse_meanpool(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer
    layer = parse_default_keras_layer(keras_layer, input_names)
    layer["class_name"] = "CodesignMeanPool"
    emb_shape = input_shapes[0]
    length = int(emb_shape[-2])
    layer["n_tokens"], layer["n_feat"] = length, int(emb_shape[-1])
    counts = np.arange(length + 1, dtype=np.float32)
    recip = np.divide(np.float32(1), counts, out=np.zeros_like(counts), where=counts > 0)
    layer["recip_data"] = _quantized(recip, keras_layer["config"]["recip_quantizer"])
    return layer, [emb_shape[0], layer["n_feat"]]


def _parse_quant(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer
    from qkeras.quantizers import get_quantizer
    layer = parse_default_keras_layer(keras_layer, input_names)
    layer.pop("activation", None)
    layer["class_name"] = QUANT_CLASS
    quantizer = get_quantizer(keras_layer["config"]["activation"])
    quantizer_format(quantizer)  # raises for what hardware cannot do
    layer["relu"] = type(quantizer).__name__ == "quantized_relu"
    return layer, list(input_shapes[0])


def _parse_slice(keras_layer, input_names, input_shapes, data_reader):
    from hls4ml.converters.keras_v2_to_hls import parse_default_keras_layer
    layer = parse_default_keras_layer(keras_layer, input_names)
    layer["class_name"] = SLICE_CLASS
    shape = [int(d) for d in keras_layer["config"]["shape"]]
    layer["shape"], layer["offset"] = shape, int(keras_layer["config"]["offset"])
    layer["n_in"], layer["n_out"] = int(input_shapes[0][-1]), int(np.prod(shape))
    return layer, [input_shapes[0][0], *shape]


HANDLERS = {SLICE_CLASS: _parse_slice, "QEmbedding": _parse_qembedding, "QGCNConv": _parse_qgcnconv, "NodeReadout": _parse_readout,
            "MaskedMeanPool": _parse_meanpool, QUANT_CLASS: _parse_quant, "GCNConv": _parse_gcnconv,
            NODE_DENSE_CLASS: _parse_node_dense, **{name: _parse_global_pool for name in POOL_MODES}}


# -------------------------------------------------------------------------- IR layers

def _layer_classes():
    from hls4ml.model.attributes import Attribute, TypeAttribute, WeightAttribute
    from hls4ml.model.layers import Layer

    class CodesignGCN(Layer):
        _expected_attributes = [Attribute("n_nodes"), Attribute("n_in"), Attribute("n_out"),
                                Attribute("static", value_type=bool), WeightAttribute("weight"),
                                WeightAttribute("bias"), TypeAttribute("weight"), TypeAttribute("bias"),
                                TypeAttribute("xw"), TypeAttribute("accum")]

        def initialize(self):
            self._set_type_t("xw")
            self.add_output_variable([self.get_attr("n_nodes"), self.get_attr("n_out")])
            self.add_weights_variable(name="weight", var_name="w{index}")
            self.add_weights_variable(name="bias", var_name="b{index}")
            if self.get_attr("static"):
                self.add_weights_variable(name="adjacency", var_name="a{index}")

    class CodesignReadout(Layer):
        _expected_attributes = [Attribute("n_nodes"), Attribute("n_feat"), Attribute("n_rows")]

        def initialize(self):
            self.add_output_variable([self.get_attr("n_rows") * self.get_attr("n_feat")])

    class CodesignMeanPool(Layer):
        _expected_attributes = [Attribute("n_tokens"), Attribute("n_feat"), WeightAttribute("recip"),
                                TypeAttribute("recip"), TypeAttribute("sum")]

        def initialize(self):
            self._set_type_t("sum")
            self.add_output_variable([self.get_attr("n_feat")])
            self.add_weights_variable(name="recip", var_name="r{index}")

    class CodesignQuant(Layer):
        _expected_attributes = [Attribute("relu", value_type=bool)]

        def initialize(self):
            self.add_output_variable(list(self.get_input_variable().shape))

    class CodesignSlice(Layer):
        _expected_attributes = [Attribute("n_in"), Attribute("n_out"), Attribute("offset")]

        def initialize(self):
            self.add_output_variable(list(self.get_attr("shape")))

    class CodesignNodeDense(Layer):
        _expected_attributes = [Attribute("n_nodes"), Attribute("n_in"), Attribute("n_out"),
                                WeightAttribute("weight"), WeightAttribute("bias"), TypeAttribute("weight"),
                                TypeAttribute("bias"), TypeAttribute("accum")]

        def initialize(self):
            self.add_output_variable([self.get_attr("n_nodes"), self.get_attr("n_out")])
            self.add_weights_variable(name="weight", var_name="w{index}")
            self.add_weights_variable(name="bias", var_name="b{index}")

    class CodesignGlobalPool(Layer):
        _expected_attributes = [Attribute("n_nodes"), Attribute("n_feat"), Attribute("mode"),
                                TypeAttribute("accum"), TypeAttribute("scale")]

        def initialize(self):
            self._set_type_t("scale")
            self.add_output_variable([self.get_attr("n_feat")])

    return (CodesignGCN, CodesignReadout, CodesignMeanPool, CodesignQuant, CodesignSlice, CodesignNodeDense,
            CodesignGlobalPool)


# -------------------------------------------------------------------------- templates

def _literal(value: float) -> str:
    """A double literal that C++ reads back exactly (values on a binary grid)."""
    return repr(float(value))


def _propagate(adjacency: np.ndarray, n_out: int) -> str:
    """C++ of the constant operator Â: one adder tree per row over the non-zero entries."""
    lines = []
    for i, row in enumerate(adjacency):
        terms = [f"xw[{j} * n_out + k] * adjacency_t({_literal(v)})" for j, v in enumerate(row) if v != 0]
        if terms:
            lines.append(f"            acc[{i} * n_out + k] += {' + '.join(terms)};")
    body = "\n".join(lines)
    return ("    template <class xw_T, class acc_T> static void propagate(xw_T xw[], acc_T acc[]) {\n"
            "        #pragma HLS INLINE\n"
            "        for (unsigned k = 0; k < n_out; k++) {\n"
            "            #pragma HLS UNROLL\n"
            f"{body}\n        }}\n    }}\n")


def _templates(classes):
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    gcn, readout, meanpool, quant, request_slice, node_dense, global_pool = classes

    class GCNConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(gcn)

        def format(self, node):
            p = self._default_config_params(node)
            text = (f"struct config{p['index']} : nnet::gcn_config {{\n"
                    f"    static const unsigned n_nodes = {p['n_nodes']};\n"
                    f"    static const unsigned n_in = {p['n_in']};\n"
                    f"    static const unsigned n_out = {p['n_out']};\n"
                    f"    static const unsigned reuse_factor = {p['reuse']};\n"
                    f"    typedef {node.get_weights('weight').type.name} weight_t;\n"
                    f"    typedef {node.get_weights('bias').type.name} bias_t;\n"
                    f"    typedef {p['xw_t'].name} xw_t;\n"
                    f"    typedef {p['accum_t'].name} accum_t;\n")
            if node.get_attr("static"):
                a = node.get_weights("adjacency")
                text += f"    typedef {a.type.name} adjacency_t;\n"
                text += _propagate(a.data.reshape(p["n_nodes"], p["n_nodes"]), p["n_out"])
            return text + "};\n"

    class GCNFunction(FunctionCallTemplate):
        def __init__(self):
            super().__init__(gcn, include_header=INCLUDE)

        def format(self, node):
            x = node.get_input_variable(node.inputs[0])
            out = node.get_output_variable()
            w, b = node.get_weights("weight").name, node.get_weights("bias").name
            cfg = f"config{node.index}"
            if node.get_attr("static"):
                return f"nnet::gcn_static<{x.type.name}, {out.type.name}, {cfg}>({x.name}, {out.name}, {w}, {b});"
            a = node.get_input_variable(node.inputs[1])
            return (f"nnet::gcn_dynamic<{x.type.name}, {a.type.name}, {out.type.name}, {cfg}>"
                    f"({x.name}, {a.name}, {out.name}, {w}, {b});")

    class ReadoutConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(readout)

        def format(self, node):
            p = self._default_config_params(node)
            rows = ", ".join(str(i) for i in node.get_attr("indices"))
            return (f"struct config{p['index']} : nnet::readout_config {{\n"
                    f"    static const unsigned n_nodes = {p['n_nodes']};\n"
                    f"    static const unsigned n_feat = {p['n_feat']};\n"
                    f"    static const unsigned n_rows = {p['n_rows']};\n"
                    f"    static unsigned row(unsigned r) {{ static const unsigned rows[n_rows] = {{{rows}}}; "
                    f"return rows[r]; }}\n}};\n")

    class ReadoutFunction(FunctionCallTemplate):
        def __init__(self):
            super().__init__(readout, include_header=INCLUDE)

        def format(self, node):
            x, out = node.get_input_variable(), node.get_output_variable()
            return (f"nnet::node_readout<{x.type.name}, {out.type.name}, config{node.index}>"
                    f"({x.name}, {out.name});")

    class MeanPoolConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(meanpool)

        def format(self, node):
            p = self._default_config_params(node)
            count_bits = int(p["n_tokens"]).bit_length()
            return (f"struct config{p['index']} : nnet::meanpool_config {{\n"
                    f"    static const unsigned n_tokens = {p['n_tokens']};\n"
                    f"    static const unsigned n_feat = {p['n_feat']};\n"
                    f"    static const unsigned reuse_factor = {p['reuse']};\n"
                    f"    typedef {p['sum_t'].name} sum_t;\n"
                    f"    typedef {node.get_weights('recip').type.name} recip_t;\n"
                    f"    typedef ap_uint<{count_bits}> count_t;\n}};\n")

    class MeanPoolFunction(FunctionCallTemplate):
        def __init__(self):
            super().__init__(meanpool, include_header=INCLUDE)

        def format(self, node):
            emb, tok = node.get_input_variable(node.inputs[0]), node.get_input_variable(node.inputs[1])
            out = node.get_output_variable()
            return (f"nnet::masked_mean_pool<{emb.type.name}, {tok.type.name}, {out.type.name}, config{node.index}>"
                    f"({emb.name}, {tok.name}, {out.name}, {node.get_weights('recip').name});")

    class QuantConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(quant)

        def format(self, node):
            p = self._default_config_params(node)
            n = int(np.prod(node.get_output_variable().shape))
            return (f"struct config{p['index']} : nnet::quant_config {{\n"
                    f"    static const unsigned n_in = {n};\n"
                    f"    static const bool relu = {str(bool(node.get_attr('relu'))).lower()};\n}};\n")

    class QuantFunction(FunctionCallTemplate):
        def __init__(self):
            super().__init__(quant, include_header=INCLUDE)

        def format(self, node):
            x, out = node.get_input_variable(), node.get_output_variable()
            return f"nnet::fixed_quant<{x.type.name}, {out.type.name}, config{node.index}>({x.name}, {out.name});"

    class SliceConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(request_slice)

        def format(self, node):
            p = self._default_config_params(node)
            return (f"struct config{p['index']} : nnet::slice_config {{\n"
                    f"    static const unsigned n_in = {p['n_in']};\n"
                    f"    static const unsigned n_out = {p['n_out']};\n"
                    f"    static const unsigned offset = {p['offset']};\n}};\n")

    class SliceFunction(FunctionCallTemplate):
        def __init__(self):
            super().__init__(request_slice, include_header=INCLUDE)

        def format(self, node):
            x, out = node.get_input_variable(), node.get_output_variable()
            return f"nnet::request_slice<{x.type.name}, {out.type.name}, config{node.index}>({x.name}, {out.name});"

    class NodeDenseConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(node_dense)

        def format(self, node):
            p = self._default_config_params(node)
            return (f"struct config{p['index']} : nnet::node_dense_config {{\n"
                    f"    static const unsigned n_nodes = {p['n_nodes']};\n"
                    f"    static const unsigned n_in = {p['n_in']};\n"
                    f"    static const unsigned n_out = {p['n_out']};\n"
                    f"    static const unsigned reuse_factor = {p['reuse']};\n"
                    f"    typedef {node.get_weights('weight').type.name} weight_t;\n"
                    f"    typedef {node.get_weights('bias').type.name} bias_t;\n"
                    f"    typedef {p['accum_t'].name} accum_t;\n}};\n")

    class NodeDenseFunction(FunctionCallTemplate):
        def __init__(self):
            super().__init__(node_dense, include_header=INCLUDE)

        def format(self, node):
            x, out = node.get_input_variable(), node.get_output_variable()
            w, b = node.get_weights("weight").name, node.get_weights("bias").name
            return (f"nnet::node_dense<{x.type.name}, {out.type.name}, config{node.index}>"
                    f"({x.name}, {out.name}, {w}, {b});")

    class GlobalPoolConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(global_pool)

        def format(self, node):
            p = self._default_config_params(node)
            return (f"struct config{p['index']} : nnet::global_pool_config {{\n"
                    f"    static const unsigned n_nodes = {p['n_nodes']};\n"
                    f"    static const unsigned n_feat = {p['n_feat']};\n"
                    f"    static const unsigned reuse_factor = {p['reuse']};\n"
                    f"    static const unsigned mode = {p['mode']};\n"
                    f"    typedef {p['accum_t'].name} accum_t;\n"
                    f"    typedef {p['scale_t'].name} scale_t;\n"
                    f"    static scale_t scale() {{ return scale_t({_literal(node.get_attr('scale_value'))}); }}\n}};\n")

    class GlobalPoolFunction(FunctionCallTemplate):
        def __init__(self):
            super().__init__(global_pool, include_header=INCLUDE)

        def format(self, node):
            x, out = node.get_input_variable(), node.get_output_variable()
            return f"nnet::global_pool<{x.type.name}, {out.type.name}, config{node.index}>({x.name}, {out.name});"

    return [NodeDenseConfig, NodeDenseFunction, GlobalPoolConfig, GlobalPoolFunction, SliceConfig, SliceFunction, GCNConfig, GCNFunction, ReadoutConfig, ReadoutFunction, MeanPoolConfig, MeanPoolFunction,
            QuantConfig, QuantFunction]


def register() -> None:
    """Registers handlers, IR layers, templates and the kernel source (once per process)."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.converters.keras_v2_to_hls import get_supported_keras_layers
    from hls4ml.model.layers import layer_map

    known = set(get_supported_keras_layers())
    for name, handler in HANDLERS.items():
        if name not in known:
            hls4ml.converters.register_keras_v2_layer_handler(name, handler)
    classes = _layer_classes()
    for cls in classes:
        if cls.__name__ not in layer_map:
            hls4ml.model.layers.register_layer(cls.__name__, cls)
    templates = _templates(classes)
    for name in BACKENDS:
        backend = hls4ml.backends.get_backend(name)
        for template in templates:
            backend.register_template(template)
        backend.register_source(KERNEL_SOURCE)
    _registered = True
