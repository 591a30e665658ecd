"""Small random models of every supported layer (seeded), for the reference and tracer tests.

``zoo_model(seed)`` cycles its structural choices through every entry of each table below
(start, graph layer, branch, readout, head), so any 50 consecutive seeds use every layer of
the README's table; shapes stay tiny (3-4 nodes, 2-3 features) so da4ml and HLS stay fast.
Every model comes with its ``precision`` section (narrow grids on the float inputs so random
inputs over the full grid keep float results within ``fixed<16,6>``) and says whether Keras
computes it exactly on the reference's grids (``exact``: only quantized weights, no folded
batch normalization, no 1/N constant).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QBatchNormalization, QDense
from spektral.layers import GCNConv, GINConvBatch, GlobalAvgPool, GlobalMaxPool, GlobalSumPool

from codesign.models.layers import QEmbedding, QGCNConv, QGraphSageConv

L = tf.keras.layers
WQ, BQ = "quantized_bits(6,0,alpha=1)", "quantized_bits(6,1,alpha=1)"
RELU_Q = "quantized_relu(6,2)"

STARTS = ("float", "ids_q", "float_q", "ids")
GRAPHS = ("qdense_node", "dense_node_relu", "gcn_static_q", "gcn_dynamic", "gin", "sage_sum_static",
          "sage_mean_static", "sage_sum_dynamic", "gcn_static_float")
BRANCHES = ("none", "add", "concat", "multiply", "relu")
READOUTS = ("flatten", "reshape", "sum", "avg", "max")
HEADS = ("qdense", "dense_relu", "dense_bn", "qdense_qbn", "qdense_act")


@dataclass
class ZooModel:
    name: str
    model: tf.keras.Model
    precision: dict = field(default_factory=dict)
    exact: bool = True
    # float parts: |Keras - reference| <= 2 LSB of the output + tolerance * max(1, max |y|)
    tolerance: float = 0.1


def _adjacency(rng, n: int, normalized: bool) -> np.ndarray:
    a = (rng.random((n, n)) < 0.5).astype(np.float64)
    np.fill_diagonal(a, 1.0)
    if normalized:
        d = 1 / np.sqrt(a.sum(1))
        a = a * d[:, None] * d[None]
    return a.astype(np.float32)


def _set_weights(model: tf.keras.Model, rng, scale: float) -> None:
    for layer in model.layers:
        for w in layer.weights:
            name = w.name.split("/")[-1]
            if "moving_variance" in name:
                value = rng.uniform(0.5, 2.0, w.shape)
            elif "gamma" in name:
                value = rng.uniform(0.5, 1.5, w.shape)
            elif "eps" in name:
                value = rng.choice([0.0, 0.25, -0.5], w.shape)
            else:
                value = rng.normal(0, scale, w.shape)
            w.assign(value.astype(np.float32))


def zoo_model(seed: int) -> ZooModel:
    """A random model of the supported layers; structure cycled by ``seed`` (see module doc)."""
    from tensorflow.python.autograph.core import ag_ctx
    # the layers' calls run as written (no autograph conversion): 5x faster model building
    with ag_ctx.ControlStatusCtx(status=ag_ctx.Status.DISABLED):
        return _zoo_model(seed)


def _zoo_model(seed: int) -> ZooModel:
    rng = np.random.default_rng(seed)
    quantized = (seed // 25) % 2 == 1      # seeds 25..49: the quantized twin of every choice
    n, f, c = int(rng.choice([3, 4])), int(rng.integers(2, 4)), int(rng.integers(2, 4))
    start, graph = STARTS[seed % len(STARTS)], GRAPHS[seed % len(GRAPHS)]
    branch, readout, head = (BRANCHES[seed % len(BRANCHES)], READOUTS[(seed // 2) % len(READOUTS)],
                             HEADS[(seed // 3) % len(HEADS)])
    if quantized:
        start = {"ids": "ids_q"}.get(start, start)
        head = {"dense_relu": "qdense_act", "dense_bn": "qdense", "qdense_qbn": "qdense_act"}.get(head, head)
        n = 4 if readout == "avg" else n
    aq = "quantized_bits(2,1,keep_negative=False,alpha=1)"   # the adjacency input's grid (ufixed<2,1>)
    precision = {"inputs": {}, "layers": {}}
    exact, tolerance = True, 0.1
    inputs = []
    if start.startswith("ids"):
        ids = L.Input((n,), dtype="int32", name="ids")
        inputs.append(ids)
        if start == "ids_q":
            h = QEmbedding(7, f, embeddings_quantizer="quantized_bits(6,1,alpha=1)", name="emb")(ids)
        else:
            h = L.Embedding(7, f, name="emb")(ids)
            precision["layers"]["emb"] = "fixed<8,2>"
            exact = False
    else:
        x = L.Input((n, f), name="x")
        inputs.append(x)
        h = QActivation("quantized_bits(6,2,alpha=1)", name="x_q")(x) if start == "float_q" else x
        if start == "float":
            precision["inputs"]["x"] = "fixed<6,2>"
    adj_in = None
    if graph in ("gcn_dynamic", "gin", "sage_sum_dynamic"):
        adj_in = L.Input((n, n), name="a")
        inputs.append(adj_in)
        if not quantized or graph == "gin":
            precision["inputs"]["a"] = "ufixed<2,1>"
    if graph == "qdense_node":
        h = QDense(c, kernel_quantizer=WQ, bias_quantizer=BQ, name="node_fc")(h)
    elif graph == "dense_node_relu" and quantized:
        h = QDense(c, kernel_quantizer=WQ, bias_quantizer=BQ, activation="relu", name="node_fc")(h)
    elif graph == "dense_node_relu":
        h = L.Dense(c, activation="relu", name="node_fc")(h)
        exact = False
    elif graph == "gcn_static_q":
        h = QGCNConv(c, kernel_quantizer=WQ, bias_quantizer=BQ, adjacency_quantizer="quantized_bits(8,0,alpha=1)",
                     static_adjacency=_adjacency(rng, n, True), name="gcn")(h)
    elif graph == "gcn_static_float" and not quantized:
        h = QGCNConv(c, static_adjacency=_adjacency(rng, n, True), activation="relu", name="gcn")(h)
        exact = False
    elif graph == "gcn_static_float":
        h = QGCNConv(c, kernel_quantizer=WQ, bias_quantizer=BQ, adjacency_quantizer="quantized_bits(8,0,alpha=1)",
                     static_adjacency=_adjacency(rng, n, True), activation="relu", name="gcn")(h)
    elif graph == "gcn_dynamic" and quantized:
        h = QGCNConv(c, kernel_quantizer=WQ, bias_quantizer=BQ, adjacency_quantizer=aq, name="gcn")([h, adj_in])
    elif graph == "gcn_dynamic":
        h = GCNConv(c, name="gcn")([h, adj_in])
        exact = False
    elif graph == "gin":
        h = GINConvBatch(c, mlp_hidden=[c], mlp_batchnorm=False, name="gin")([h, adj_in])
        exact = False
    elif graph.startswith("sage"):
        aggregate = "mean" if "mean" in graph else "sum"
        static = None if adj_in is not None else _adjacency(rng, n, False)
        q_sage = quantized or graph == "sage_sum_static"
        q = dict(kernel_quantizer=WQ, bias_quantizer=BQ,
                 adjacency_quantizer="quantized_bits(8,1,alpha=1)" if static is not None else aq) if q_sage else {}
        h = QGraphSageConv(c, aggregate=aggregate, static_adjacency=static, name="sage", **q)(
            h if static is not None else [h, adj_in])
        exact = exact and q_sage
    if quantized:   # keeps exact accumulators narrow (da4ml 0.5.2's interpreter is 32-bit)
        h = QActivation("quantized_bits(8,3,alpha=1)", name="graph_q")(h)
    if branch == "add":
        h = L.Add(name="skip")([h, QDense(c, kernel_quantizer=WQ, bias_quantizer=BQ, name="side")(h)])
    elif branch == "concat":
        h = L.Concatenate(name="cat")([h, QActivation(RELU_Q, name="side_relu")(h)])
    elif branch == "multiply":
        h = L.Multiply(name="mul")([h, QActivation("quantized_bits(4,1,alpha=1)", name="side_q")(h)])
    elif branch == "relu":
        h = L.Activation("relu", name="act")(h)
    width = int(h.shape[-1])
    if readout == "flatten":
        h = L.Flatten(name="flat")(h)
    elif readout == "reshape":
        h = L.Flatten(name="flat")(L.Reshape((width, n), name="reshape")(h))
    elif readout == "sum":
        h = GlobalSumPool(name="pool")(h)
    elif readout == "avg":
        h = GlobalAvgPool(name="pool")(h)
        exact = exact and n in (1, 2, 4)
        if n not in (1, 2, 4):   # 1/N on its own precision (a config entry for a part of a layer)
            precision["layers"]["pool"] = {"weight": "ufixed<8,0>"}
    else:
        h = GlobalMaxPool(name="pool")(h)
    if head == "qdense":
        h = QDense(4, kernel_quantizer=WQ, bias_quantizer=BQ, name="fc")(h)
        h = QActivation(RELU_Q, name="fc_relu")(h)
    elif head == "dense_relu":
        h = L.Dense(4, activation="relu", name="fc")(h)
        exact = False
    elif head == "dense_bn":
        h = L.Activation("relu", name="fc_relu")(L.BatchNormalization(name="fc_bn")(L.Dense(4, name="fc")(h)))
        exact = False
    elif head == "qdense_qbn":
        h = QDense(4, kernel_quantizer=WQ, bias_quantizer=BQ, name="fc")(h)
        h = QActivation(RELU_Q, name="fc_relu")(QBatchNormalization(name="fc_bn")(h))
        exact = False
        tolerance = 0.3   # the folded kernel is re-quantized on the dense's 6-bit grid
    else:
        h = QDense(4, kernel_quantizer=WQ, bias_quantizer=BQ, activation="relu", name="fc")(h)
    final_q = seed % 2 == 0
    if final_q or exact:
        out = QActivation("quantized_bits(8,3,alpha=1)", name="out_q")(
            QDense(1, kernel_quantizer=WQ, bias_quantizer=BQ, name="out")(h))
    else:
        out = L.Dense(1, name="out")(h)
        exact = False
    model = tf.keras.Model(inputs, out, name=f"zoo{seed}")
    _set_weights(model, rng, 0.4)
    return ZooModel(f"zoo{seed}_{start}_{graph}_{branch}_{readout}_{head}", model,
                    {k: v for k, v in precision.items() if v}, exact, tolerance)


def issue_example(seed: int = 0, n: int = 4, f: int = 3) -> ZooModel:
    """The issue's model: a float input, a per-node QDense, a float Spektral ``GCNConv``,
    ``Flatten``, a dense head and a final ``QActivation``."""
    x = L.Input((n, f), name="x")
    a = L.Input((n, n), name="a")
    h = QDense(4, kernel_quantizer=WQ, bias_quantizer=BQ, name="node_fc")(x)
    h = GCNConv(4, activation="relu", name="gcn")([h, a])
    h = L.Flatten(name="flat")(h)
    h = QDense(8, kernel_quantizer=WQ, bias_quantizer=BQ, name="head")(h)
    h = QActivation(RELU_Q, name="head_relu")(h)
    h = QDense(1, kernel_quantizer=WQ, bias_quantizer=BQ, name="score")(h)
    out = QActivation("quantized_bits(8,3,alpha=1)", name="score_q")(h)
    model = tf.keras.Model([x, a], out, name="issue_example")
    _set_weights(model, np.random.default_rng(seed), 0.4)
    return ZooModel("issue_example", model, {"inputs": {"a": "ufixed<4,1>"}}, exact=False)


def layer_classes(model: tf.keras.Model) -> set[str]:
    """Class names of a model's layers, the GIN MLP's inner layers included."""
    return {type(layer).__name__ for layer in model.layers}
