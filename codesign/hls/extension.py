"""hls4ml 1.3.0 extension for codesign's layers (Extension API: IR layers, backend templates
and the C++ source ``kernels/hls/nnet_codesign.h``), for the op kinds hls4ml has no exact
layer for. ``codesign.hls.oplayers`` turns each op of the fixed-point reference into one
hls4ml layer (no Keras parsing: the op graph is the only reading of a model):

- ``CodesignGCN``: graph convolution Â (x W) + b (static Â: a constant adder tree; dynamic Â:
  an input); ``CodesignAggregate``: A x (+ c x) over the nodes (GIN, GraphSAGE)
- ``CodesignNodeDense``: a dense layer applied to every node of a (nodes, features) input
- ``CodesignGlobalPool``: sum / average (sum times a constant) / max over the nodes
- ``CodesignReadout``, ``CodesignMeanPool``: node readout, masked mean of token embeddings
- ``CodesignQuant``: a quantization onto the op's format with its rounding and overflow modes
  (QKeras: AP_RND_CONV, AP_SAT; config precisions: their own)
- ``CodesignSlice``: for single-input backends (VivadoAccelerator) the model inputs are
  packed into one ``request`` vector; each slice casts its part back to the input's type.

``register()`` is idempotent and covers every backend we convert with.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

KERNEL_SOURCE = Path(__file__).resolve().parents[2] / "kernels" / "hls" / "nnet_codesign.h"
BACKENDS = ("Vivado", "Vitis", "VivadoAccelerator")
INCLUDE = ["nnet_utils/nnet_codesign.h"]
QUANT_CLASS = "CodesignQuant"
SLICE_CLASS = "CodesignSlice"
NODE_DENSE_CLASS = "CodesignNodeDense"
POOL_CLASS = "CodesignGlobalPool"
AGGREGATE_CLASS = "CodesignAggregate"

_registered = False


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

    class CodesignAggregate(Layer):
        _expected_attributes = [Attribute("n_nodes"), Attribute("n_out"), Attribute("static", value_type=bool),
                                TypeAttribute("accum"), TypeAttribute("coef")]

        def initialize(self):
            self._set_type_t("coef")
            self.add_output_variable([self.get_attr("n_nodes"), self.get_attr("n_out")])
            if self.get_attr("static"):
                self.add_weights_variable(name="adjacency", var_name="a{index}")

    return (CodesignGCN, CodesignReadout, CodesignMeanPool, CodesignQuant, CodesignSlice, CodesignNodeDense,
            CodesignGlobalPool, CodesignAggregate)


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


def _static_operator(node, p: dict) -> str:
    """Config lines of a constant Â (its type and adder trees); none for a dynamic adjacency."""
    if not node.get_attr("static"):
        return ""
    a = node.get_weights("adjacency")
    return f"    typedef {a.type.name} adjacency_t;\n" + _propagate(a.data.reshape(p["n_nodes"], p["n_nodes"]), p["n_out"])


def _templates(classes):
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    gcn, readout, meanpool, quant, request_slice, node_dense, global_pool, aggregate = classes

    def unary_call(layer_class, kernel: str):
        """The function-call template of a layer whose kernel maps one input array to its output."""
        class UnaryFunction(FunctionCallTemplate):
            def __init__(self):
                super().__init__(layer_class, include_header=INCLUDE)

            def format(self, node):
                x, out = node.get_input_variable(), node.get_output_variable()
                return f"nnet::{kernel}<{x.type.name}, {out.type.name}, config{node.index}>({x.name}, {out.name});"
        UnaryFunction.__name__ = f"{layer_class.__name__}Function"
        return UnaryFunction

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
            return text + _static_operator(node, p) + "};\n"

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

    QuantFunction = unary_call(quant, "fixed_quant")

    class SliceConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(request_slice)

        def format(self, node):
            p = self._default_config_params(node)
            return (f"struct config{p['index']} : nnet::slice_config {{\n"
                    f"    static const unsigned n_in = {p['n_in']};\n"
                    f"    static const unsigned n_out = {p['n_out']};\n"
                    f"    static const unsigned offset = {p['offset']};\n}};\n")

    SliceFunction = unary_call(request_slice, "request_slice")

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

    GlobalPoolFunction = unary_call(global_pool, "global_pool")

    class AggregateConfig(LayerConfigTemplate):
        def __init__(self):
            super().__init__(aggregate)

        def format(self, node):
            p = self._default_config_params(node)
            coef = node.get_attr("coef_value")
            text = (f"struct config{p['index']} : nnet::aggregate_config {{\n"
                    f"    static const unsigned n_nodes = {p['n_nodes']};\n"
                    f"    static const unsigned n_out = {p['n_out']};\n"
                    f"    static const unsigned reuse_factor = {p['reuse']};\n"
                    f"    static const bool self_term = {'false' if coef is None else 'true'};\n"
                    f"    typedef {p['accum_t'].name} accum_t;\n"
                    f"    typedef {p['coef_t'].name} coef_t;\n"
                    f"    static coef_t coef() {{ return coef_t({_literal(coef or 0)}); }}\n")
            return text + _static_operator(node, p) + "};\n"

    class AggregateFunction(FunctionCallTemplate):
        def __init__(self):
            super().__init__(aggregate, include_header=INCLUDE)

        def format(self, node):
            x, out = node.get_input_variable(node.inputs[0]), node.get_output_variable()
            cfg = f"config{node.index}"
            if node.get_attr("static"):
                return f"nnet::aggregate_static<{x.type.name}, {out.type.name}, {cfg}>({x.name}, {out.name});"
            a = node.get_input_variable(node.inputs[1])
            return (f"nnet::aggregate_dynamic<{x.type.name}, {a.type.name}, {out.type.name}, {cfg}>"
                    f"({x.name}, {a.name}, {out.name});")

    return [AggregateConfig, AggregateFunction, NodeDenseConfig, NodeDenseFunction, GlobalPoolConfig, GlobalPoolFunction, SliceConfig, SliceFunction, GCNConfig, GCNFunction, ReadoutConfig, ReadoutFunction, MeanPoolConfig, MeanPoolFunction,
            QuantConfig, QuantFunction]


def register() -> None:
    """Registers handlers, IR layers, templates and the kernel source (once per process)."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.model.layers import layer_map

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
