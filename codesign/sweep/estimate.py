"""da4ml's own resource and latency ESTIMATE of a trained quantized hybrid model.

The datapath from the quantized node embeddings and the quantized pooled title to the score
is traced with da4ml (constant matrices become adder trees), then cut into pipeline stages
at ``latency_cutoff`` adder levels. Reported: da4ml's LUT cost estimate, the pipeline's
register bits (an FF estimate), the stages and the latency at the board's clock. It is an
estimate, not synthesis: the embedding ROMs and the title pooling are not in it, and the
ReLU activations are traced with round-to-nearest and without saturation logic. The RTL step
(yosys) is the record once it exists.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

LABEL = "da4ml estimate (traced datapath, embeddings and title pooling excluded; not synthesis)"


def kif(quantizer) -> tuple[int, int, int]:
    """(keep_negative, integer, fractional) bits of a QKeras quantized_bits/quantized_relu."""
    name = type(quantizer).__name__
    bits, integer = int(quantizer.bits), int(quantizer.integer)
    if name == "quantized_relu":
        return 0, integer, bits - integer
    if name == "quantized_bits":
        k = int(bool(quantizer.keep_negative))
        return k, integer, bits - integer - k
    raise ValueError(f"no fixed-point format for quantizer {name}")


def _dense(x, layer):
    kernel = layer.kernel_quantizer_internal(layer.kernel).numpy()
    bias = layer.bias_quantizer_internal(layer.bias).numpy()
    return x @ kernel + bias


def _activation(x, layer):
    k, i, f = kif(layer.quantizer)
    if k == 0:  # quantized_relu
        return x.relu(i=i, f=f, round_mode="RND")
    return x.quantize(k, i, f, overflow_mode="SAT", round_mode="RND")


def _names(tensors) -> list[str]:
    return [t.name for t in (tensors if isinstance(tensors, (list, tuple)) else [tensors])]


def trace_model(model: tf.keras.Model):
    """(inputs, output) da4ml variables of a static-adjacency quantized model.

    Walks the Keras graph layer by layer: the quantized node embeddings of the ego-graph and
    the quantized pooled title are the traced inputs; GCN layers, readouts, the user x item
    product, the text and fusion dense layers and the score are traced. The last GCN layer
    is traced as (Â[user, item rows] · H) · W, the cheaper order, since only those rows are
    read out.
    """
    from da4ml.trace import FixedVariableArrayInput
    from qkeras import QActivation, QDense
    from codesign.models.layers import MaskedMeanPool, NodeReadout, QEmbedding, QGCNConv

    convs = [l for l in model.layers if isinstance(l, QGCNConv)]
    if any(c.static_adjacency is None for c in convs):
        raise ValueError("the estimate traces the static-adjacency design only")
    last_conv = convs[-1].name if convs else None
    values, inputs = {}, []
    for layer in model.layers:
        ins = [values.get(n) for n in _names(layer.input)] if layer.inbound_nodes and not isinstance(
            layer, tf.keras.layers.InputLayer) else []
        if isinstance(layer, tf.keras.layers.InputLayer) or isinstance(layer, MaskedMeanPool):
            continue
        if isinstance(layer, QEmbedding):
            if layer.name != "node_embedding":
                continue  # token ROM and pooling are outside the estimate
            k, i, f = kif(layer.embeddings_quantizer)
            out = FixedVariableArrayInput(tuple(layer.output.shape[1:])).quantize(k, i, f)
            inputs.append(out)
        elif layer.name == "title_pool_q":
            k, i, f = kif(layer.quantizer)
            out = FixedVariableArrayInput(tuple(layer.output.shape[1:])).quantize(k, i, f)
            inputs.append(out)
        elif isinstance(layer, QGCNConv):
            a = layer.quantized_adjacency().numpy()
            w, b = layer.quantized_kernel().numpy(), layer.quantized_bias().numpy()
            out = (a[:2] @ ins[0]) @ w + b if layer.name == last_conv else a @ (ins[0] @ w) + b
        elif isinstance(layer, QActivation):
            out = _activation(ins[0], layer)
        elif isinstance(layer, NodeReadout):
            if layer.input.shape[1] != ins[0].shape[0] and max(layer.indices) > 1:
                raise ValueError(f"{layer.name} reads rows {layer.indices}; the estimate keeps rows 0, 1")
            out = np.concatenate([ins[0][r] for r in layer.indices])
        elif isinstance(layer, tf.keras.layers.Multiply):
            out = ins[0] * ins[1]
        elif isinstance(layer, tf.keras.layers.Concatenate):
            out = np.concatenate(ins)
        elif isinstance(layer, QDense):
            out = _dense(ins[0], layer)
        else:
            raise ValueError(f"the estimate cannot trace layer {layer.name} ({type(layer).__name__})")
        values[layer.output.name] = out
    return inputs, values[model.output.name]


def estimate(model: tf.keras.Model, latency_cutoff: float, clock_ns: float) -> dict:
    """LUT/FF estimate, pipeline stages and latency of ``model``'s datapath (see module doc)."""
    from da4ml.trace import comb_trace, to_pipeline

    inputs, out = trace_model(model)
    flat_in = np.concatenate([np.ravel(v._vars) for v in inputs])
    comb = comb_trace(flat_in, np.ravel(out._vars))
    pipe = to_pipeline(comb, latency_cutoff, verbose=False)
    stages = len(pipe.solutions)
    return {"label": LABEL, "lut": int(round(comb.cost)), "ff": int(pipe.reg_bits),
            "adder_levels": float(comb.latency[1]), "stages": stages,
            "latency_cycles": stages, "latency_ns": round(stages * clock_ns, 2),
            "clock_ns": clock_ns, "latency_cutoff": latency_cutoff}
