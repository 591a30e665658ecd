"""Quantized layers of the hybrid recommender.

Every layer is a thin subclass of a Keras or Spektral class carrying QKeras quantizers, so
that a saved model is plain Keras plus these names (see ``custom_objects``). A quantizer of
``None`` gives the float twin of the same layer.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from qkeras.quantizers import get_quantizer
from spektral.layers import GCNConv


def _serialize(quantizer):
    """A quantizer as a string QKeras parses back (e.g. ``quantized_bits(8,0,alpha=1)``)."""
    return None if quantizer is None else str(quantizer)


def _quantizer(spec):
    return None if spec is None else get_quantizer(spec)


def _node_shape(input_shape):
    """The node-feature shape out of ``x``'s shape or the shapes of ``[x]`` / ``[x, a]``."""
    nested = isinstance(input_shape, (list, tuple)) and isinstance(
        input_shape[0], (list, tuple, tf.TensorShape))
    return input_shape[0] if nested else input_shape


class QEmbedding(tf.keras.layers.Embedding):
    """Embedding whose table is quantized (a ROM in hardware); id 0 is the padding row."""

    def __init__(self, input_dim: int, output_dim: int, embeddings_quantizer=None, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self.embeddings_quantizer = _quantizer(embeddings_quantizer)

    def quantized_table(self) -> tf.Tensor:
        table = self.embeddings
        if self.embeddings_quantizer is not None:
            table = self.embeddings_quantizer(table)
        return table

    def call(self, inputs):
        return tf.gather(self.quantized_table(), tf.cast(inputs, "int32"))

    def get_config(self):
        return {**super().get_config(), "embeddings_quantizer": _serialize(self.embeddings_quantizer)}


class QGCNConv(GCNConv):
    """Spektral ``GCNConv`` with quantized kernel, bias and (static) adjacency.

    ``static_adjacency`` (N x N, already normalised) makes the graph structure a constant of
    the layer: the layer then takes ``x`` (or ``[x]``). Without it the layer takes ``[x, a]`` like
    Spektral's, with ``a`` a dense (batch, N, N) input on the adjacency grid.
    """

    def __init__(self, channels: int, kernel_quantizer=None, bias_quantizer=None,
                 adjacency_quantizer=None, static_adjacency=None, **kwargs):
        super().__init__(channels, **kwargs)
        self.kernel_quantizer = _quantizer(kernel_quantizer)
        self.bias_quantizer = _quantizer(bias_quantizer)
        self.adjacency_quantizer = _quantizer(adjacency_quantizer)
        self.static_adjacency = None if static_adjacency is None else np.asarray(
            static_adjacency, dtype="float32")
        if self.static_adjacency is not None:
            # Spektral's dtype check iterates over [x, a]; a static layer takes x alone
            self.call = type(self).call.__get__(self)

    def build(self, input_shape):
        super().build([_node_shape(input_shape), None])

    def quantized_kernel(self) -> tf.Tensor:
        return self.kernel if self.kernel_quantizer is None else self.kernel_quantizer(self.kernel)

    def quantized_bias(self) -> tf.Tensor:
        return self.bias if self.bias_quantizer is None else self.bias_quantizer(self.bias)

    def quantized_adjacency(self, a=None) -> tf.Tensor:
        a = tf.constant(self.static_adjacency) if a is None else a
        return a if self.adjacency_quantizer is None else self.adjacency_quantizer(a)

    def call(self, inputs, mask=None):
        if self.static_adjacency is None:
            x, a = inputs
        else:
            x, a = (inputs[0] if isinstance(inputs, (list, tuple)) else inputs), None
        a = self.quantized_adjacency(a)
        out = tf.matmul(a, tf.matmul(x, self.quantized_kernel()))
        if self.use_bias:
            out = out + self.quantized_bias()
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(_node_shape(input_shape))[:-1].concatenate([self.channels])

    def get_config(self):
        adjacency = None if self.static_adjacency is None else self.static_adjacency.tolist()
        return {**super().get_config(),
                "kernel_quantizer": _serialize(self.kernel_quantizer),
                "bias_quantizer": _serialize(self.bias_quantizer),
                "adjacency_quantizer": _serialize(self.adjacency_quantizer),
                "static_adjacency": adjacency}


class NodeReadout(tf.keras.layers.Layer):
    """Reads rows ``indices`` of (batch, N, F) node features and concatenates them."""

    def __init__(self, indices=(0, 1), **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]

    def call(self, x):
        rows = tf.gather(x, self.indices, axis=1)
        return tf.reshape(rows, [-1, len(self.indices) * x.shape[-1]])

    def get_config(self):
        return {**super().get_config(), "indices": self.indices}


class MaskedMeanPool(tf.keras.layers.Layer):
    """Mean of token embeddings over non-padding tokens (id 0 is padding).

    Inputs ``[embeddings (B, L, D), tokens (B, L)]``. The mean is ``sum * recip[count]`` with
    ``recip`` the table of 1/count on ``recip_quantizer``'s grid (recip[0] = 0: an empty
    title pools to zeros), which is what the hardware computes.
    """

    def __init__(self, recip_quantizer=None, **kwargs):
        super().__init__(**kwargs)
        self.recip_quantizer = _quantizer(recip_quantizer)

    def recip_table(self, length: int) -> tf.Tensor:
        counts = np.arange(length + 1, dtype="float32")
        table = tf.constant(np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0))
        return table if self.recip_quantizer is None else self.recip_quantizer(table)

    def call(self, inputs):
        emb, tokens = inputs
        valid = tf.cast(tf.not_equal(tokens, 0), emb.dtype)
        total = tf.reduce_sum(emb * valid[..., None], axis=1)
        count = tf.cast(tf.reduce_sum(valid, axis=1), "int32")
        return total * tf.gather(self.recip_table(tokens.shape[1]), count)[:, None]

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0][0], input_shape[0][-1]])

    def get_config(self):
        return {**super().get_config(), "recip_quantizer": _serialize(self.recip_quantizer)}


def custom_objects() -> dict:
    """Every class a saved codesign model may contain (ours, QKeras', Spektral's)."""
    from qkeras.utils import _add_supported_quantized_objects
    import spektral.layers as spektral_layers

    objects: dict = {}
    _add_supported_quantized_objects(objects)
    # QKeras layers through a loader that rebuilds nested quantizer objects of a .keras file
    objects.update({n: _qkeras_loader(c) for n, c in objects.items()
                    if isinstance(c, type) and issubclass(c, tf.keras.layers.Layer)})
    objects.update({n: c for n, c in vars(spektral_layers).items()
                    if isinstance(c, type) and issubclass(c, tf.keras.layers.Layer)})
    objects.update({c.__name__: c for c in (QEmbedding, QGCNConv, NodeReadout, MaskedMeanPool,
                                            QGraphSageConv)})
    return objects


_LOADERS: dict[type, type] = {}


def _qkeras_loader(cls: type) -> type:
    """``cls`` with a ``from_config`` that turns the serialized quantizer objects a ``.keras``
    file stores (``{"module": "qkeras...", "class_name": ..., "config": ...}``) back into
    quantizers; QKeras' own ``from_config`` passes them on as dicts (a ``TypeError`` on load)."""
    if cls not in _LOADERS:
        def from_config(_, config):
            fixed = {k: (get_quantizer({"class_name": v["class_name"], "config": v["config"]})
                         if isinstance(v, dict) and str(v.get("module", "")).startswith("qkeras")
                         and "class_name" in v else v) for k, v in config.items()}
            return cls.from_config(fixed)
        _LOADERS[cls] = type(cls.__name__, (cls,), {"from_config": classmethod(from_config),
                                                    "__module__": cls.__module__})
    return _LOADERS[cls]


class QGraphSageConv(tf.keras.layers.Layer):
    """GraphSAGE on a dense adjacency: ``concat(x, aggregate(x)) @ W + b`` (then ``activation``).

    Spektral's ``GraphSageConv`` takes a sparse adjacency, always adds self loops and always
    L2-normalizes its output (a square root and a division per node, which has no exact
    fixed-point form); this layer is the hardware-friendly form of the same convolution.
    ``aggregate``: ``sum`` (``A @ x``) or ``mean`` (``A / degree @ x``, rows of degree 0 give 0);
    the adjacency is used as given (add self loops to it to match Spektral's). A
    ``static_adjacency`` (N x N) is a constant of the layer (it then takes ``x`` alone); else
    the layer takes ``[x, a]`` with ``a`` a dense (batch, N, N) input (sum only in hardware).
    The aggregation matrix (``A`` or ``A / degree``) goes through ``adjacency_quantizer``.
    """

    def __init__(self, channels: int, aggregate: str = "sum", activation=None, use_bias: bool = True,
                 kernel_quantizer=None, bias_quantizer=None, adjacency_quantizer=None,
                 static_adjacency=None, **kwargs):
        super().__init__(**kwargs)
        if aggregate not in ("sum", "mean"):
            raise ValueError(f"aggregate must be 'sum' or 'mean', got {aggregate!r}")
        self.channels, self.aggregate_op, self.use_bias = int(channels), aggregate, bool(use_bias)
        self.activation = tf.keras.activations.get(activation)
        self.kernel_quantizer = _quantizer(kernel_quantizer)
        self.bias_quantizer = _quantizer(bias_quantizer)
        self.adjacency_quantizer = _quantizer(adjacency_quantizer)
        self.static_adjacency = None if static_adjacency is None else np.asarray(static_adjacency, dtype="float32")

    def build(self, input_shape):
        f_in = int(_node_shape(input_shape)[-1])
        self.kernel = self.add_weight(name="kernel", shape=(2 * f_in, self.channels), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.channels,), initializer="zeros") if self.use_bias else None
        super().build(input_shape)

    def aggregation_matrix(self, a=None):
        """``A`` (sum) or ``A / degree`` (mean) of the static adjacency (numpy) or of ``a`` (tensor)."""
        if a is None:
            a = self.static_adjacency
            if self.aggregate_op == "mean":
                deg = a.sum(-1, keepdims=True)
                a = np.divide(a, deg, out=np.zeros_like(a), where=deg != 0)
            return a
        if self.aggregate_op == "mean":
            deg = tf.reduce_sum(a, -1, keepdims=True)
            a = tf.math.divide_no_nan(a, deg)
        return a

    def call(self, inputs):
        if self.static_adjacency is None:
            x, a = inputs
            a = self.aggregation_matrix(a)
        else:
            x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            a = tf.constant(self.aggregation_matrix())
        if self.adjacency_quantizer is not None:
            a = self.adjacency_quantizer(a)
        h = tf.concat([x, tf.matmul(a, x)], axis=-1)
        kernel = self.kernel if self.kernel_quantizer is None else self.kernel_quantizer(self.kernel)
        out = tf.matmul(h, kernel)
        if self.use_bias:
            out = out + (self.bias if self.bias_quantizer is None else self.bias_quantizer(self.bias))
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(_node_shape(input_shape))[:-1].concatenate([self.channels])

    def get_config(self):
        adjacency = None if self.static_adjacency is None else self.static_adjacency.tolist()
        return {**super().get_config(), "channels": self.channels, "aggregate": self.aggregate_op,
                "activation": tf.keras.activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_quantizer": _serialize(self.kernel_quantizer),
                "bias_quantizer": _serialize(self.bias_quantizer),
                "adjacency_quantizer": _serialize(self.adjacency_quantizer),
                "static_adjacency": adjacency}
