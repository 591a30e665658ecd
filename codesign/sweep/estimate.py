"""da4ml's own resource and latency ESTIMATE of a trained quantized hybrid model.

The datapath from the quantized node embeddings and the quantized pooled title to the score
is traced with da4ml (constant matrices become adder trees), then cut into pipeline stages
at ``latency_cutoff`` adder levels. Reported: da4ml's LUT cost estimate, the pipeline's
register bits (an FF estimate), the stages and the latency at the board's clock. It is an
estimate, not synthesis: the embedding ROMs and the title pooling are not in it, and the
activations are traced with round-to-nearest and without saturation logic. The RTL step
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


def _dense(x, layer) -> object:
    kernel = layer.kernel_quantizer_internal(layer.kernel).numpy()
    bias = layer.bias_quantizer_internal(layer.bias).numpy()
    return x @ kernel + bias


def _relu(x, layer):
    _, i, f = kif(layer.quantizer)
    return x.relu(i=i, f=f, round_mode="RND")


def trace_model(model: tf.keras.Model):
    """(inputs, output) da4ml variables of a static-adjacency ``hybrid_quant`` model."""
    from da4ml.trace import FixedVariableArrayInput

    names = {l.name for l in model.layers}
    if "fusion_concat" not in names or "gcn0" not in names:
        raise ValueError(f"model {model.name} is not a hybrid model (no gcn0 / fusion_concat)")
    conv0 = model.get_layer("gcn0")
    if conv0.static_adjacency is None:
        raise ValueError("the estimate traces the static-adjacency design only")
    emb = model.get_layer("node_embedding")
    n, e = conv0.static_adjacency.shape[0], emb.output_dim
    k, i, f = kif(emb.embeddings_quantizer)
    x_in = FixedVariableArrayInput((n, e)).quantize(k, i, f)
    pool_q = model.get_layer("title_pool_q")
    t_dim = model.get_layer("text_dense").kernel.shape[0]
    k, i, f = kif(pool_q.quantizer)
    t_in = FixedVariableArrayInput((t_dim,)).quantize(k, i, f)

    convs = sorted((l for l in model.layers if l.name.startswith("gcn") and l.name[3:].isdigit()),
                   key=lambda l: int(l.name[3:]))
    h = x_in
    for j, conv in enumerate(convs):
        a = conv.quantized_adjacency().numpy()
        w, b = conv.quantized_kernel().numpy(), conv.quantized_bias().numpy()
        if j < len(convs) - 1:
            h = a @ (h @ w) + b           # layer 1..L-1: dense products on 8-bit inputs
        else:
            h = (a[:2] @ h) @ w + b       # last layer: only the user and item rows are read out
        h = _relu(h, model.get_layer(f"{conv.name}_relu"))
    parts = [h.ravel(), _relu(_dense(t_in, model.get_layer("text_dense")), model.get_layer("text_relu"))]
    z = np.concatenate(parts)
    j = 0
    while f"fusion{j}" in names:
        z = _relu(_dense(z, model.get_layer(f"fusion{j}")), model.get_layer(f"fusion{j}_relu"))
        j += 1
    out = _dense(z, model.get_layer("score"))
    return [x_in, t_in], out


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
