"""Tracer: the quantized QKeras/Spektral recommender as da4ml fixed-point operations.

Walks the layers of a ``hybrid_quant`` (or ``gnn_quant`` / ``text_quant``) model by name and
replays them on da4ml symbolic variables: constant matrix products (weights and the static
graph operator Â), bias adds, the masked mean pool (count -> reciprocal table -> product)
and the QKeras activations with their exact semantics (round half to even, saturate), so
the traced logic computes what the Keras model computes, bit for bit.

Core inputs (one request, the order of the packed ``model_inp`` port, LSB first):
node embeddings ``(N, E)`` row-major, token embeddings ``(L, T)`` row-major (padding token
rows are zero: the ROM holds zeros at id 0, which is the mask), then ``recip[count]`` (the
pool's reciprocal of the number of non-padding tokens, a small table in the top).
Core output: the score, the exact accumulator of the last dense layer.

Matmul order (TOOLCHAIN sizing): the first graph layer is Â·(X·W) (the dense products keep
8-bit inputs); the last one only computes the read-out rows, as (Â[rows]·H)·W.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

HW = HWConfig(1, -1, -1)


@dataclass(frozen=True)
class Fmt:
    """A fixed-point format as da4ml's (keep_negative, integer bits, fractional bits)."""

    k: int
    i: int
    f: int

    @property
    def bits(self) -> int:
        return self.k + self.i + self.f

    def to_int(self, x: np.ndarray) -> np.ndarray:
        """Values on this grid as integers (raises if a value is off the grid or out of range)."""
        q = np.asarray(x, np.float64) * 2.0 ** self.f
        n = np.round(q).astype(np.int64)
        if not np.array_equal(n, q):
            raise ValueError(f"values are not on the 2^-{self.f} grid of {self}")
        lo, hi = -self.k * 2 ** (self.i + self.f), 2 ** (self.i + self.f) - 1
        if n.min(initial=0) < lo or n.max(initial=0) > hi:
            raise ValueError(f"values outside the range of {self}")
        return n


def quantizer_format(q) -> Fmt:
    """The format of a QKeras ``quantized_bits`` / ``quantized_relu`` quantizer (alpha=1)."""
    name = type(q).__name__
    if name == "quantized_bits":
        if getattr(q, "alpha", 1) not in (1, 1.0, None):
            raise ValueError(f"{q}: only alpha=1 quantizers have a fixed-point format")
        k = int(bool(q.keep_negative))
        return Fmt(k, int(q.integer), int(q.bits) - k - int(q.integer))
    if name == "quantized_relu":
        if getattr(q, "negative_slope", 0) or getattr(q, "use_sigmoid", 0):
            raise ValueError(f"{q}: leaky/sigmoid relu are not supported by the RTL tracer")
        return Fmt(0, int(q.integer), int(q.bits) - int(q.integer))
    raise ValueError(f"quantizer {q} ({name}) is not supported by the RTL tracer "
                     f"(supported: quantized_bits, quantized_relu)")


def quantize_even(x: FixedVariableArray, fmt: Fmt) -> FixedVariableArray:
    """QKeras rounding: round half to even, then saturate to ``fmt`` (relu when unsigned).

    da4ml rounds half up only; half to even adds ``s/2 - e`` plus ``e`` when the kept LSB is 1
    (s: target step, e: input step) and truncates: one adder, the LSB is a wire.
    Saturation is built from relus (``lo + relu(v - lo)``, ``hi - relu(hi - v)``) rather than
    da4ml's ``SAT`` mode: da4ml 0.5.2's SAT comparators give wrong RTL (and C++ ``predict``)
    on values whose internal scale factor is far from 1, which the CMVM solver produces.
    """
    out = np.empty(x.shape, dtype=object)
    lo, hi = -fmt.k * 2.0 ** fmt.i, 2.0 ** fmt.i - 2.0 ** -fmt.f
    for idx, v in np.ndenumerate(x._vars):
        f_in = v.kif[2]
        if f_in > fmt.f:
            s, e = 2.0 ** -fmt.f, 2.0 ** -f_in
            lsb = v.quantize(0, 1 - fmt.f, fmt.f)          # bit of weight s: 0 or s
            v = v + lsb * (e / s) + (s / 2 - e)
            v = v.quantize(1, max(v.kif[1], fmt.i) + 1, fmt.f)   # truncate (never wraps)
        if v.low < lo:
            v = (v - lo).relu() + lo if lo else v.relu()
        if v.high > hi:
            v = hi - (hi - v).relu()
        out[idx] = v.quantize(fmt.k, fmt.i, fmt.f)          # drops bits the range cannot use
    return FixedVariableArray(out, x.solver_options)


def round_even_np(x: np.ndarray, fmt: Fmt) -> np.ndarray:
    """Numpy twin of ``quantize_even`` (QKeras' tf.round + clip)."""
    scaled = np.round(np.asarray(x, np.float64) * 2.0 ** fmt.f)   # numpy rounds half to even
    lo, hi = -fmt.k * 2 ** (fmt.i + fmt.f), 2 ** (fmt.i + fmt.f) - 1
    return np.clip(scaled, lo, hi) * 2.0 ** -fmt.f


def _np(t) -> np.ndarray:
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t, np.float64)


def _layer(model, name):
    try:
        return model.get_layer(name)
    except ValueError:
        return None


@dataclass
class Dense:
    kernel: np.ndarray
    bias: np.ndarray
    act: Fmt | None  # None: exact accumulator (the score)


@dataclass
class ModelSpec:
    """The numbers of a quantized model the hardware needs, read once from Keras."""

    node_table: np.ndarray              # (n_ids, E) on node_fmt
    node_fmt: Fmt
    token_table: np.ndarray | None      # (vocab, T) with row 0 (padding) zeroed
    token_fmt: Fmt | None
    n_graph_nodes: int
    title_length: int
    gcn: list[tuple[np.ndarray, Dense]] = field(default_factory=list)   # (Â, dense)
    readout: list[int] = field(default_factory=lambda: [0, 1])
    recip: np.ndarray | None = None     # (L+1,) 1/count on the recip grid
    recip_fmt: Fmt | None = None
    pool_fmt: Fmt | None = None
    text: Dense | None = None
    interaction: Fmt | None = None      # user x item (or x text) product, then this quantizer
    fusion: list[Dense] = field(default_factory=list)

    @property
    def embedding_dim(self) -> int:
        return self.node_table.shape[1]

    @property
    def token_dim(self) -> int:
        return 0 if self.token_table is None else self.token_table.shape[1]

    def input_formats(self) -> list[Fmt]:
        """Formats of the core's inputs, in port order."""
        n, e, l, t = self.n_graph_nodes, self.embedding_dim, self.title_length, self.token_dim
        fmts = [self.node_fmt] * (n * e)
        if self.token_table is not None:
            fmts += [self.token_fmt] * (l * t) + [self.recip_fmt]
        return fmts


def _dense(layer, act_layer) -> Dense:
    kernel = _np(layer.kernel_quantizer_internal(layer.kernel))
    bias = _np(layer.bias_quantizer_internal(layer.bias)) if layer.use_bias else np.zeros(kernel.shape[1])
    act = None if act_layer is None else quantizer_format(act_layer.quantizer)
    return Dense(kernel, bias, act)


def read_model(model) -> ModelSpec:
    """Extracts tables, weights, Â and formats from a quantized codesign model."""
    node = model.get_layer("node_embedding")
    if node.embeddings_quantizer is None:
        raise ValueError(f"model {model.name} is not quantized: the RTL needs a *_quant variant")
    n_nodes = int(model.get_layer("nodes").output.shape[-1]) if _layer(model, "nodes") else None
    shapes = {i.name: i.shape for i in model.inputs}
    if "adjacency" in shapes:
        raise ValueError("dynamic adjacency is not supported by the RTL core yet: "
                         "set model.adjacency: static")
    spec = ModelSpec(node_table=_np(node.quantized_table()), node_fmt=quantizer_format(node.embeddings_quantizer),
                     token_table=None, token_fmt=None, n_graph_nodes=int(shapes["nodes"][-1] or n_nodes),
                     title_length=int(shapes["tokens"][-1]))
    j = 0
    while (conv := _layer(model, f"gcn{j}")) is not None:
        if conv.activation.__name__ != "linear":
            raise ValueError(f"gcn{j}: only a linear activation followed by QActivation is supported")
        adj = _np(conv.quantized_adjacency())
        dense = Dense(_np(conv.quantized_kernel()), _np(conv.quantized_bias()) if conv.use_bias else
                      np.zeros(conv.channels), quantizer_format(model.get_layer(f"gcn{j}_relu").quantizer))
        spec.gcn.append((adj, dense))
        j += 1
    spec.readout = [i for name in ("user_readout", "item_readout") if (r := _layer(model, name))
                    for i in r.indices]
    if (tok := _layer(model, "token_embedding")) is not None:
        table = _np(tok.quantized_table()).copy()
        table[0] = 0.0   # padding id: the ROM's zero row is the mask
        spec.token_table, spec.token_fmt = table, quantizer_format(tok.embeddings_quantizer)
        pool = model.get_layer("title_pool")
        spec.recip = _np(pool.recip_table(spec.title_length))
        spec.recip_fmt = quantizer_format(pool.recip_quantizer)
        spec.pool_fmt = quantizer_format(model.get_layer("title_pool_q").quantizer)
        spec.text = _dense(model.get_layer("text_dense"), model.get_layer("text_relu"))
    if _layer(model, "interaction") is not None:
        spec.interaction = quantizer_format(model.get_layer("interaction_q").quantizer)
    j = 0
    while (layer := _layer(model, f"fusion{j}")) is not None:
        spec.fusion.append(_dense(layer, model.get_layer(f"fusion{j}_relu")))
        j += 1
    spec.fusion.append(_dense(model.get_layer("score"), None))
    return spec


def _apply(x: FixedVariableArray, d: Dense) -> FixedVariableArray:
    y = x @ d.kernel + d.bias
    return y if d.act is None else quantize_even(y, d.act)


@dataclass
class Traced:
    """The traced core: da4ml combinational logic plus its I/O formats."""

    spec: ModelSpec
    comb: object
    in_fmts: list[Fmt]
    out_fmt: Fmt
    solver_options: dict = field(default_factory=dict)
    check: dict | None = None

    def core_inputs(self, nodes: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """(B, n_inputs) float core inputs of requests (node ids, token ids), as the ROMs feed them."""
        s = self.spec
        parts = [s.node_table[nodes].reshape(len(nodes), -1)]
        if s.token_table is not None:
            parts += [s.token_table[tokens].reshape(len(tokens), -1), s.recip[(tokens != 0).sum(1)][:, None]]
        return np.concatenate(parts, axis=1)

    def evaluate(self, nodes: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Exact scores of the traced logic, shape (B,): da4ml's Python interpreter, op by op.

        Slow (for spot checks). da4ml 0.5.2's C++ ``predict`` disagrees with both this and the
        numpy twin on the full model, so it is not used.
        """
        inputs = self.core_inputs(np.asarray(nodes), np.asarray(tokens))
        return np.array([float(self.comb(row)[0]) for row in inputs])


def trace(spec: ModelSpec, solver_options: dict | None = None) -> Traced:
    """Traces the model described by ``spec`` into da4ml combinational logic."""
    in_fmts = spec.input_formats()
    k, i, f = (np.array([getattr(m, a) for m in in_fmts]) for a in "kif")
    inp = FixedVariableArray.from_kif(k, i, f, HW, solver_options=solver_options)
    n, e = spec.n_graph_nodes, spec.embedding_dim
    pos = n * e
    x = inp[:pos].reshape(n, e)
    parts = []
    rows = []
    if spec.gcn:
        h = x
        for j, (adj, d) in enumerate(spec.gcn):
            last = j == len(spec.gcn) - 1
            if last:   # only the read-out rows are needed: (Â[rows]·H)·W
                y = (adj[spec.readout] @ h) @ d.kernel + d.bias
            else:      # Â·(X·W): dense products on 8-bit inputs, Â as adder trees
                y = adj @ (h @ d.kernel) + d.bias
            h = quantize_even(y, d.act)
        rows = [h[j] for j in range(len(spec.readout))]
    else:
        rows = [x[j] for j in spec.readout]
    parts += rows
    if spec.token_table is not None:
        l, t = spec.title_length, spec.token_dim
        emb = inp[pos:pos + l * t].reshape(l, t)
        recip = inp[pos + l * t]
        total = np.sum(emb, axis=0)
        pooled = quantize_even(total * recip, spec.pool_fmt)
        parts.append(_apply(pooled, spec.text))
    if spec.interaction is not None:   # user x item (text stands for the item without a graph)
        partner = rows[1] if len(rows) > 1 else parts[-1]
        parts.append(quantize_even(rows[0] * partner, spec.interaction))
    h = np.concatenate(parts) if len(parts) > 1 else parts[0]
    for d in spec.fusion:
        h = _apply(h, d)
    comb = comb_trace(list(inp._vars.ravel()), list(h._vars.ravel()))
    ok, oi, of = (int(v[0]) for v in comb.out_kifs)
    out_fmt = Fmt(ok, oi, of)
    if out_fmt.bits > 32:
        raise ValueError(f"score accumulator {out_fmt} is wider than the 32-bit score word")
    return Traced(spec, comb, in_fmts, out_fmt, dict(solver_options or {}))


# da4ml 0.5.2's CMVM solver, searching every decomposition depth (its default), returned
# wrong constant-matrix products for some weight matrices (seen on a random 8-bit fusion
# layer: 16 of 3,000 scores off). Every trace is therefore checked against the numpy twin,
# and the next solver setting is tried when the check fails. The first one asks for adder trees
# of the least depth (hard_dc 0): on the default design 66 -> 57 adder levels, 143 -> 123 ns
# of modelled logic (17 -> 14 stages at 100 MHz) for +0.8% adder cost (issue 15).
SOLVER_SETTINGS = (
    {"hard_dc": 0},
    {"search_all_decompose_dc": False},
    {"decompose_dc": -1, "search_all_decompose_dc": False},
    {"method0": "wmc-dc", "hard_dc": 2},
    {},
)


def random_requests(spec: ModelSpec, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Requests over the whole id space (every ROM row), a third of the tokens padding."""
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, len(spec.node_table), (n, spec.n_graph_nodes))
    vocab = 1 if spec.token_table is None else len(spec.token_table)
    tokens = rng.integers(0, vocab, (n, spec.title_length))
    tokens[rng.random(tokens.shape) < 1 / 3] = 0
    tokens[: n // 50] = 0
    return nodes, tokens


def trace_checked(spec: ModelSpec, n_check: int = 20000, seed: int = 0, reference=None) -> Traced:
    """``trace`` with the first solver setting whose logic equals the reference on ``n_check``
    random requests, run through da4ml's bit-accurate C++ interpreter (which the RTL follows).

    ``reference(nodes, tokens) -> scores``: the fixed-point reference (default: the numpy twin).
    """
    nodes, tokens = random_requests(spec, n_check, seed)
    expected = (reference or (lambda n, t: reference_numpy(spec, n, t)))(nodes, tokens)
    expected = np.asarray(expected, np.float64).reshape(-1)
    failures = []
    for options in SOLVER_SETTINGS:
        traced = trace(spec, options)
        got = np.asarray(traced.comb.predict(traced.core_inputs(nodes, tokens))).reshape(-1)
        bad = int(np.sum(got != expected))
        if bad == 0:
            traced.check = {"requests": n_check, "mismatches": 0, "rejected": failures}
            return traced
        failures.append({"solver_options": options, "mismatches": bad})
    raise RuntimeError(f"no da4ml solver setting traced the model exactly: {failures}")


def reference_numpy(spec: ModelSpec, nodes: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """The same model in float64 numpy with QKeras rounding: every value is exact here."""
    x = spec.node_table[nodes]                                     # (B, N, E)
    if spec.gcn:
        h = x
        for adj, d in spec.gcn:
            h = round_even_np(np.einsum("ij,bjc->bic", adj, h @ d.kernel) + d.bias, d.act)
        rows = [h[:, j] for j in spec.readout]
    else:
        rows = [x[:, j] for j in spec.readout]
    parts = list(rows)
    if spec.token_table is not None:
        total = spec.token_table[tokens].sum(1)
        recip = spec.recip[(tokens != 0).sum(1)]
        pooled = round_even_np(total * recip[:, None], spec.pool_fmt)
        d = spec.text
        parts.append(round_even_np(pooled @ d.kernel + d.bias, d.act))
    if spec.interaction is not None:
        partner = rows[1] if len(rows) > 1 else parts[-1]
        parts.append(round_even_np(rows[0] * partner, spec.interaction))
    h = np.concatenate(parts, axis=1)
    for d in spec.fusion:
        h = h @ d.kernel + d.bias
        if d.act is not None:
            h = round_even_np(h, d.act)
    return h.reshape(-1)
