"""The hybrid GNN + text recommender and its comparison variants.

Inputs of one request: ``nodes`` (N,) ego-graph node ids, ``tokens`` (L,) title token ids
and, for the dynamic-adjacency design, ``adjacency`` (N, N). Output: one score (a logit).
Variants: ``hybrid`` (GNN + text), ``gnn`` (GNN only), ``text`` (user id embedding + text
tower); each ``quant`` (QKeras quantizers) or ``float`` (the same graph without them).
Layers carry fixed names, so float weights load into the quantized twin by name.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import tensorflow as tf
from qkeras import QActivation, QDense

from codesign.config import ModelConfig
from codesign.data.egograph import star_adjacency
from codesign.models.layers import MaskedMeanPool, NodeReadout, QEmbedding, QGCNConv

VARIANTS = ("hybrid_quant", "hybrid_float", "gnn_quant", "gnn_float", "text_quant", "text_float")


@dataclass(frozen=True)
class Shapes:
    """Sizes the data fixes: node id space, vocabulary, fanout, title length."""

    n_nodes: int
    vocab_size: int
    fanout: int
    title_length: int

    @property
    def graph_nodes(self) -> int:
        return 2 + 2 * self.fanout


class Quantizers:
    """QKeras quantizer strings of a design (all ``None`` for the float twin)."""

    def __init__(self, cfg: ModelConfig, enabled: bool):
        q = cfg.quant
        on = enabled
        self.embedding = f"quantized_bits({q.embedding_bits},{q.embedding_integer},alpha=1)" if on else None
        self.weight = f"quantized_bits({q.weight_bits},0,alpha=1)" if on else None
        self.bias = f"quantized_bits({q.weight_bits},{q.activation_integer},alpha=1)" if on else None
        self.adjacency = f"quantized_bits({q.adjacency_bits},0,keep_negative=False,alpha=1)" if on else None
        self.recip = f"quantized_bits({q.recip_bits},1,keep_negative=False,alpha=1)" if on else None
        self.relu = f"quantized_relu({q.activation_bits},{q.activation_integer})" if on else "relu"
        self.unit = f"quantized_bits({q.activation_bits},0,alpha=1)" if on else "linear"
        self.interaction = (f"quantized_bits({q.activation_bits},{q.activation_integer},alpha=1)"
                            if on else "linear")


def split_variant(variant: str) -> tuple[str, bool]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    kind, precision = variant.split("_")
    return kind, precision == "quant"


def build_model(variant: str, cfg: ModelConfig, shapes: Shapes) -> tf.keras.Model:
    """Builds one variant of the recommender (see module docstring)."""
    kind, quantized = split_variant(variant)
    q = Quantizers(cfg, quantized)
    n = shapes.graph_nodes
    nodes = tf.keras.Input((n,), dtype="int32", name="nodes")
    tokens = tf.keras.Input((shapes.title_length,), dtype="int32", name="tokens")
    inputs = [nodes, tokens]
    x = QEmbedding(shapes.n_nodes, cfg.embedding_dim, embeddings_quantizer=q.embedding,
                   name="node_embedding")(nodes)
    if kind in ("hybrid", "gnn"):
        dynamic = cfg.adjacency == "dynamic"
        if dynamic:
            adjacency = tf.keras.Input((n, n), dtype="float32", name="adjacency")
            inputs.append(adjacency)
        h = x
        for j, channels in enumerate(cfg.gnn_channels):
            conv = QGCNConv(channels, kernel_quantizer=q.weight, bias_quantizer=q.bias,
                            adjacency_quantizer=q.adjacency,
                            static_adjacency=None if dynamic else star_adjacency(shapes.fanout),
                            name=f"gcn{j}")
            h = conv([h, adjacency] if dynamic else h)
            h = QActivation(q.relu, name=f"gcn{j}_relu")(h)
        user, item = NodeReadout([0], name="user_readout")(h), NodeReadout([1], name="item_readout")(h)
    else:
        user, item = NodeReadout([0], name="user_readout")(x), None
    text = None
    if kind in ("hybrid", "text"):
        t = QEmbedding(shapes.vocab_size, cfg.token_dim, embeddings_quantizer=q.embedding,
                       name="token_embedding")(tokens)
        t = MaskedMeanPool(recip_quantizer=q.recip, name="title_pool")([t, tokens])
        t = QActivation(q.unit, name="title_pool_q")(t)
        t = QDense(cfg.text_dim, kernel_quantizer=q.weight, bias_quantizer=q.bias, name="text_dense")(t)
        text = QActivation(q.relu, name="text_relu")(t)
    parts = [p for p in (user, item, text) if p is not None]
    # the user x item product (text features stand for the item in the text-only variant)
    partner = item if item is not None else text
    products = []
    if cfg.interaction and partner is not None and partner.shape[-1] == user.shape[-1]:
        product = tf.keras.layers.Multiply(name="interaction")([user, partner])
        products.append(QActivation(q.interaction, name="interaction_q")(product))
    if cfg.embedding_product and item is not None:
        # the matrix-factorization term: the pair's own embeddings, before any graph layer
        own_user = NodeReadout([0], name="user_embedding_readout")(x)
        own_item = NodeReadout([1], name="item_embedding_readout")(x)
        product = tf.keras.layers.Multiply(name="embedding_interaction")([own_user, own_item])
        products.append(QActivation(q.unit, name="embedding_interaction_q")(product))
    if cfg.text_product != "off" and item is not None and text is not None:
        # the user x title term: a user's taste for the title's features, next to the user x
        # item products (the text tower reaches the score directly, as the products do)
        side = (NodeReadout([0], name="user_text_readout")(x) if cfg.text_product == "embedding"
                else user)
        if side.shape[-1] != text.shape[-1]:
            raise ValueError(f"model.text_product needs text_dim ({text.shape[-1]}) equal to the user "
                             f"vector's width ({side.shape[-1]}): set model.text_dim to {side.shape[-1]}")
        product = tf.keras.layers.Multiply(name="text_interaction")([side, text])
        products.append(QActivation(q.interaction, name="text_interaction_q")(product))
    parts += products
    h = tf.keras.layers.Concatenate(name="fusion_concat")(parts) if len(parts) > 1 else parts[0]
    for j, units in enumerate(cfg.fusion_units):
        h = QDense(units, kernel_quantizer=q.weight, bias_quantizer=q.bias, name=f"fusion{j}")(h)
        h = QActivation(q.relu, name=f"fusion{j}_relu")(h)
    if cfg.score_skip and products and cfg.fusion_units:
        # score = w . (u * i) + MLP(...): the products reach the score layer past the relu MLP
        h = tf.keras.layers.Concatenate(name="score_concat")([h, *products])
    score = QDense(1, kernel_quantizer=q.weight, bias_quantizer=q.bias, name="score")(h)
    return tf.keras.Model(inputs, score, name=variant)


def copy_weights_by_name(source: tf.keras.Model, target: tf.keras.Model, only: set[str] | None = None) -> int:
    """Loads ``source``'s weights into same-named layers of ``target`` (those in ``only``, when
    given); returns how many layers."""
    copied = 0
    for layer in target.layers:
        weights = layer.get_weights()
        if weights and (only is None or layer.name in only):
            layer.set_weights(source.get_layer(layer.name).get_weights())
            copied += 1
    return copied


def _blocks(layer: tf.keras.layers.Layer) -> list[tuple[str, int]] | None:
    """(producing layer, width) of each input block of a dense layer fed by a Concatenate."""
    inbound = layer.input._keras_history.layer
    if not isinstance(inbound, tf.keras.layers.Concatenate):
        return None
    return [(t._keras_history.layer.name, int(t.shape[-1])) for t in inbound.input]


def grow_weights(source: tf.keras.Model, target: tf.keras.Model) -> tuple[list[str], list[str]]:
    """Starts ``target`` from the same-named layers of a smaller ``source`` (e.g. the hybrid
    from the GNN-only twin); returns the names of the layers (copied as they are, grown).

    Same-shaped weights are copied; a dense layer whose concatenated input has extra blocks
    (the text tower's) gets the source's rows for the blocks both have and zero rows for the
    new ones, so ``target`` starts out computing exactly what ``source`` computes. Layers the
    source lacks keep their own weights.
    """
    names = {layer.name for layer in source.layers}
    copied, grown = [], []
    for layer in target.layers:
        weights = layer.get_weights()
        if not weights or layer.name not in names:
            continue
        theirs = source.get_layer(layer.name).get_weights()
        if [w.shape for w in theirs] != [w.shape for w in weights]:
            mine, their_blocks = _blocks(layer), _blocks(source.get_layer(layer.name))
            if (mine is None or their_blocks is None or len(weights) != len(theirs)
                    or [w.shape for w in theirs[1:]] != [w.shape for w in weights[1:]]
                    or theirs[0].shape[1:] != weights[0].shape[1:]):
                raise ValueError(f"layer {layer.name!r}: weights {[w.shape for w in theirs]} do not fit "
                                 f"{[w.shape for w in weights]} (only extra input blocks of a "
                                 f"concatenation can be grown): give both models the same layer sizes")
            offsets, at = {}, 0
            for name, width in their_blocks:
                offsets[name], at = (at, width), at + width
            kernel, at = np.zeros_like(weights[0]), 0
            for name, width in mine:
                if name in offsets:
                    start, w = offsets[name]
                    if w != width:
                        raise ValueError(f"layer {layer.name!r}: input block {name!r} is {w} wide in the "
                                         f"source and {width} in the target")
                    kernel[at:at + width] = theirs[0][start:start + width]
                at += width
            theirs = [kernel, *theirs[1:]]
            grown.append(layer.name)
        else:
            copied.append(layer.name)
        layer.set_weights(theirs)
    return copied, grown
