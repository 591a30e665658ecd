"""LoRA for the dense layers and embedding tables, merged into plain layers before export.

``LoRAQDense`` keeps the base kernel ``W`` and bias frozen and learns a low-rank update:
``kernel = W + (alpha / rank) * A @ B`` (``B`` starts at zero, so an adapted model starts as
its base). ``LoRAQEmbedding`` does the same for a table ``E`` (n x d): ``E + s * A @ B`` with
``A`` (n x r, zeros) and ``B`` (r x d), i.e. every row moves inside one shared r-dimensional
subspace (PEFT's embedding LoRA). The layer's quantizer is applied to the merged weights, so
training already sees what the hardware will get, and ``merge_lora`` folds the update into a
plain QDense / QEmbedding with bit-identical outputs: the exported model has no adapters.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from qkeras import QDense

from codesign.models.layers import QEmbedding, custom_objects


class _LowRank:
    """Rank and alpha of an adapter layer (the update is scaled by alpha / rank)."""

    def _set_rank(self, rank: int, alpha: float) -> None:
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        self.rank, self.alpha = int(rank), float(alpha)

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def get_config(self):
        return {**super().get_config(), "rank": self.rank, "alpha": self.alpha}


class LoRAQDense(_LowRank, QDense):
    """A QDense with a frozen base kernel and a trainable rank-``rank`` update."""

    def __init__(self, units: int, rank: int = 2, alpha: float = 4.0, **kwargs):
        super().__init__(units, **kwargs)
        self._set_rank(rank, alpha)

    def build(self, input_shape):
        n_in = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (n_in, self.units), initializer=self.kernel_initializer,
                                      trainable=False)
        self.bias = (self.add_weight("bias", (self.units,), initializer=self.bias_initializer,
                                     trainable=False) if self.use_bias else None)
        self.lora_a = self.add_weight("lora_a", (n_in, self.rank), trainable=True,
                                      initializer=tf.keras.initializers.RandomNormal(stddev=1 / self.rank))
        self.lora_b = self.add_weight("lora_b", (self.rank, self.units), initializer="zeros", trainable=True)
        self.input_spec = tf.keras.layers.InputSpec(min_ndim=2, axes={-1: n_in})
        self.built = True

    def merged_kernel(self) -> tf.Tensor:
        """The float kernel the adapter stands for (before quantization)."""
        return self.kernel + self.scale * tf.matmul(self.lora_a, self.lora_b)

    def call(self, inputs):
        kernel = self.merged_kernel()
        if self.kernel_quantizer:
            kernel = self.kernel_quantizer_internal(kernel)
        out = tf.keras.backend.dot(inputs, kernel)
        if self.use_bias:
            bias = self.bias_quantizer_internal(self.bias) if self.bias_quantizer else self.bias
            out = tf.keras.backend.bias_add(out, bias, data_format="channels_last")
        return self.activation(out) if self.activation is not None else out


class LoRAQEmbedding(_LowRank, QEmbedding):
    """A QEmbedding with a frozen table and a trainable rank-``rank`` update of all rows."""

    def __init__(self, input_dim: int, output_dim: int, rank: int = 1, alpha: float = 1.0, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        self._set_rank(rank, alpha)

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer, trainable=False)
        self.lora_a = self.add_weight("lora_a", (self.input_dim, self.rank), initializer="zeros", trainable=True)
        self.lora_b = self.add_weight("lora_b", (self.rank, self.output_dim), trainable=True,
                                      initializer=tf.keras.initializers.RandomNormal(stddev=1 / self.rank))
        self.built = True

    def merged_table(self) -> tf.Tensor:
        """The float table the adapter stands for (before quantization)."""
        return self.embeddings + self.scale * tf.matmul(self.lora_a, self.lora_b)

    def call(self, inputs):
        # only the rows asked for: the quantizer is elementwise, so this equals gathering
        # from the quantized merged table, at the cost of the batch instead of the table
        ids = tf.cast(inputs, "int32")
        rows = tf.gather(self.embeddings, ids) + self.scale * tf.matmul(tf.gather(self.lora_a, ids), self.lora_b)
        return self.embeddings_quantizer(rows) if self.embeddings_quantizer is not None else rows


ADAPTED = {QDense: LoRAQDense, QEmbedding: LoRAQEmbedding}


def _matches(name: str, targets: list[str]) -> bool:
    return any(name == t or name.startswith(t) for t in targets)


def targeted_layers(model: tf.keras.Model, targets: list[str]) -> list[str]:
    """Names of the dense / embedding layers of ``model`` that ``targets`` (names or prefixes) select."""
    adaptable = [l.name for l in model.layers if type(l) in ADAPTED]
    names = [n for n in adaptable if _matches(n, targets)]
    if not names:
        raise ValueError(f"LoRA targets {targets} match no dense or embedding layer; "
                         f"those are: {', '.join(adaptable)}")
    return names


def _objects() -> dict:
    return {**custom_objects(), "LoRAQDense": LoRAQDense, "LoRAQEmbedding": LoRAQEmbedding}


def add_lora(model: tf.keras.Model, targets: list[str], rank: int, alpha: float) -> tf.keras.Model:
    """A copy of ``model`` whose targeted layers carry adapters; everything else frozen."""
    chosen = set(targeted_layers(model, targets))

    def clone(layer):
        config = layer.get_config()
        if layer.name in chosen:
            return ADAPTED[type(layer)].from_config({**config, "rank": rank, "alpha": alpha})
        return layer.__class__.from_config(config)

    with tf.keras.utils.custom_object_scope(_objects()):
        adapted = tf.keras.models.clone_model(model, clone_function=clone)
    for layer in adapted.layers:
        source = model.get_layer(layer.name)
        if isinstance(layer, LoRAQEmbedding):
            layer.embeddings.assign(source.embeddings)
        elif layer.name in chosen:
            layer.kernel.assign(source.kernel)
            if layer.use_bias:
                layer.bias.assign(source.bias)
        else:
            layer.set_weights(source.get_weights())
            layer.trainable = False
    return adapted


def merge_lora(adapted: tf.keras.Model) -> tf.keras.Model:
    """The plain model (no adapters) whose weights are the adapters' merged weights."""
    plain = {lora: base for base, lora in ADAPTED.items()}

    def clone(layer):
        config = layer.get_config()
        if type(layer) in plain:
            config = {k: v for k, v in config.items() if k not in ("rank", "alpha")}
            return plain[type(layer)].from_config(config)
        return layer.__class__.from_config(config)

    with tf.keras.utils.custom_object_scope(_objects()):
        merged = tf.keras.models.clone_model(adapted, clone_function=clone)
    for layer in merged.layers:
        source = adapted.get_layer(layer.name)
        if isinstance(source, LoRAQEmbedding):
            layer.set_weights([source.merged_table().numpy()])
        elif isinstance(source, LoRAQDense):
            weights = [source.merged_kernel().numpy()] + ([source.bias.numpy()] if source.use_bias else [])
            layer.set_weights(weights)
        else:
            layer.set_weights(source.get_weights())
        layer.trainable = True
    return merged


def trainable_count(model: tf.keras.Model) -> int:
    """Number of scalars the optimizer updates."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
