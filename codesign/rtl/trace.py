"""Tracer: the op graph of ``codesign.fixedpoint`` as da4ml combinational logic.

``trace(fp)`` walks ``fp.ops`` in order and replays each op on da4ml symbolic variables with
its kind's tracer (``codesign.rtl.ops``), so the traced logic computes what
``FixedPointModel.predict`` computes, bit for bit. Nothing here reads a Keras layer or a
layer name: the core's inputs ("feeds", what the generated top feeds the core) are derived
from the ops:

- ``rom``: an ``embedding`` op reading an id input: its table rows, read from a ROM by the top
  (one row per id). A table whose only readers are mean pools masking with the same ids has
  its row 0 zeroed, so padding ids read zeros (the mask costs nothing);
- ``recip``: a ``meanpool``'s reciprocal of the count of non-zero ids (a table in the top);
- ``mask``: a ``meanpool``'s non-zero flags of its ids, one bit each (only when its embedding
  rows are not zero at id 0 already);
- ``value``: a non-id model input, fixed-point codes of its format.

Core inputs: the feeds in order, element 0 of the first feed in the low bits of ``model_inp``.
Core outputs: the elements of the model's output, each da4ml's exact format.

Matmul order (TOOLCHAIN sizing): a static graph layer is Â·(X·W) (the dense products keep
the narrow inputs); a graph layer whose output is read only by read-outs (through
element-wise ops) computes only the read-out rows, as (Â[rows]·H)·W. With a dynamic Â, (Â·X)·W.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from da4ml.trace import FixedVariableArray, comb_trace

from codesign.fixedpoint import FixedFormat, FixedPointModel, InputOp, Op
from codesign.rtl.ops import TRACERS, exact_decimals, inputs_of, trace_op

# op kinds that act on each row of a node-feature matrix alone: a graph layer read only
# through these and then by read-outs computes only the read-out rows
ROWWISE_KINDS = {"quant", "relu"}

MASK_FORMAT = FixedFormat(1, 1, False)


@dataclass
class Feed:
    """One block of the core's input, fed by the top from the request."""

    kind: str                     # "rom" | "recip" | "mask" | "value"
    op: str                       # the op it feeds (embedding, meanpool) or the input it is
    source: str                   # the model input (request field) it comes from
    fmt: FixedFormat              # format of one element
    shape: tuple[int, ...]        # per request
    start: int = 0                # index of its first element in ``model_inp``
    table: np.ndarray | None = field(default=None, repr=False)  # rom (rows, D) / recip (L+1,) codes

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def bits(self) -> int:
        return self.size * self.fmt.width

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "op": self.op, "source": self.source, "format": self.fmt.to_dict(),
             "shape": list(self.shape), "start": self.start, "bits": self.bits}
        if self.kind == "rom":
            d["rows"] = int(self.table.shape[0])
            d["row0_zeroed"] = bool(self.fmt is not None and not np.any(self.table[0]))
        return d


def _readers(fp: FixedPointModel) -> dict[str, list[Op]]:
    readers: dict[str, list[Op]] = {op.name: [] for op in fp.ops}
    for op in fp.ops:
        for i in op.inputs:
            readers[i].append(op)
    return readers


def plan_feeds(fp: FixedPointModel) -> list[Feed]:
    """The core's input blocks, in order, derived from the ops (see module docstring)."""
    readers = _readers(fp)
    feeds: list[Feed] = []
    zeroed: set[str] = set()
    for op in fp.ops:
        if isinstance(op, InputOp):
            if op.ids:
                bad = [r for r in readers[op.name] if not (r.kind == "embedding" or
                                                           (r.kind == "meanpool" and r.inputs[1] == op.name))]
                if bad:
                    raise ValueError(f"op '{bad[0].name}' ({bad[0].kind}) reads the ids of input '{op.name}' "
                                     "directly: the RTL top feeds ids only to embeddings (ROM rows) and mean "
                                     "pools (their count); put an embedding between them")
            elif readers[op.name]:
                feeds.append(Feed("value", op.name, op.name, op.out, tuple(op.shape)))
        elif op.kind == "embedding":
            ids = op.inputs[0]
            table = np.array(op.table, dtype=np.int64)
            pools = readers[op.name]
            if pools and all(r.kind == "meanpool" and r.inputs == [op.name, ids] for r in pools):
                table[0] = 0      # padding ids read zeros: the mask of the pools
                zeroed.add(op.name)
            feeds.append(Feed("rom", op.name, ids, op.out, (*fp.by_name[ids].shape, table.shape[1]), table=table))
        elif op.kind == "meanpool":
            emb, ids = op.inputs
            length = int(np.prod(fp.by_name[ids].shape))
            if len(op.recip) != length + 1:
                raise ValueError(f"meanpool '{op.name}': reciprocal table of {len(op.recip)} entries for "
                                 f"{length} ids (needs {length + 1})")
            feeds.append(Feed("recip", op.name, ids, op.recip_fmt, (), table=np.asarray(op.recip, np.int64)))
            if emb not in zeroed:
                feeds.append(Feed("mask", op.name, ids, MASK_FORMAT, tuple(fp.by_name[ids].shape)))
    start = 0
    for f in feeds:
        f.start = start
        start += f.size
    return feeds


def _readout_rows(fp: FixedPointModel, readers: dict[str, list[Op]]) -> dict[str, list[int]]:
    """Graph layers read only by read-outs (through row-wise ops): the rows they must compute."""
    out = {}
    for op in fp.ops:
        if op.kind != "gcn":
            continue
        rows, stack, ok = set(), [op.name], True
        while stack and ok:
            name = stack.pop()
            if name == fp.output or not readers[name]:
                ok = False
            for r in readers[name]:
                if r.kind == "readout":
                    rows.update(int(i) for i in r.indices)
                elif r.kind in ROWWISE_KINDS and len(r.inputs) == 1:
                    stack.append(r.name)
                else:
                    ok = False
        if ok and rows:
            out[op.name] = sorted(rows)
    return out


def _score_format(kif) -> FixedFormat | None:
    k, i, f = (int(v) for v in kif)
    if k + i + f <= 0:
        return None       # a constant zero output
    return FixedFormat(k + i + f, k + i, bool(k))


@dataclass
class Traced:
    """The traced core: da4ml combinational logic, what feeds it and what it returns."""

    fp: FixedPointModel
    comb: object
    feeds: list[Feed]
    out_fmts: list[FixedFormat | None]     # per output element (None: constant zero)
    matmul_order: list[str] = field(default_factory=list)
    solver_options: dict = field(default_factory=dict)
    check: dict | None = None
    inputs: list = field(default_factory=list, repr=False)          # the core's da4ml input variables
    op_values: dict = field(default_factory=dict, repr=False)       # op name -> its traced value

    @property
    def in_bits(self) -> int:
        return sum(f.bits for f in self.feeds)

    @property
    def score_frac(self) -> int:
        """Fractional bits of the score words: the finest of the outputs."""
        return max((f.frac for f in self.out_fmts if f is not None), default=0)

    @property
    def score_signed(self) -> bool:
        return any(f.signed for f in self.out_fmts if f is not None)

    def core_inputs(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """(B, n_inputs) real values the top feeds the core for requests ``inputs`` (by name)."""
        codes = {op.name: op.encode(inputs[op.name]) for op in self.fp.inputs}
        parts = []
        for f in self.feeds:
            src = codes[f.source]
            n = len(src)
            if f.kind == "rom":
                block = f.table[src]
            elif f.kind == "recip":
                block = f.table[(src.reshape(n, -1) != 0).sum(1)]
            elif f.kind == "mask":
                block = (src != 0).astype(np.int64)
            else:
                block = src
            parts.append(f.fmt.to_float(block).reshape(n, -1))
        return np.concatenate(parts, axis=1)


def trace(fp: FixedPointModel, solver_options: dict | None = None) -> Traced:
    """Traces the op graph ``fp`` into da4ml combinational logic (with exact ``Decimal``s:
    ``codesign.rtl.ops.exact_decimals``)."""
    with exact_decimals():
        return _trace(fp, solver_options)


def _trace(fp: FixedPointModel, solver_options: dict | None = None) -> Traced:
    feeds = plan_feeds(fp)
    if not feeds:
        raise ValueError("the model reads none of its inputs: nothing to feed the RTL core")
    fmts = [f.fmt for f in feeds for _ in range(f.size)]
    inp = inputs_of(fmts, solver_options)
    flat = inp._vars.ravel()
    fed: dict[tuple[str, str], object] = {}
    for f in feeds:
        block = flat[f.start:f.start + f.size]
        fed[(f.kind, f.op)] = (block[0] if f.kind == "recip"
                               else FixedVariableArray(block.reshape(f.shape), inp.solver_options))
    readers = _readers(fp)
    only_rows = _readout_rows(fp, readers)
    values: dict[str, FixedVariableArray] = {}
    row_pos: dict[str, dict[int, int]] = {}     # values holding only some rows: original -> position
    order = []
    for op in fp.ops:
        if isinstance(op, InputOp):
            if ("value", op.name) in fed:
                values[op.name] = fed[("value", op.name)]
            continue
        if op.kind == "embedding":
            values[op.name] = fed[("rom", op.name)]
            continue
        if op.kind == "meanpool":
            values[op.name] = trace_op(op, values[op.inputs[0]], fed[("recip", op.name)],
                                       fed.get(("mask", op.name)))
            continue
        missing = [i for i in op.inputs if i not in values]
        if missing:
            raise ValueError(f"op '{op.name}' ({op.kind}) reads '{missing[0]}', which has no traced value")
        args = [values[i] for i in op.inputs]
        if op.kind == "gcn":
            rows = only_rows.get(op.name)
            if any(i in row_pos for i in op.inputs):
                raise ValueError(f"graph layer '{op.name}' reads a read-out subset of rows")
            values[op.name] = TRACERS["gcn"](op, *args, rows=rows)
            if rows is not None:
                row_pos[op.name] = {r: j for j, r in enumerate(rows)}
            if op.static:
                order.append("(A[readout].H).W" if rows else "A.(X.W)")
            else:
                order.append("(A[readout].X).W" if rows else "(A.X).W")
            continue
        src_rows = [row_pos[i] for i in op.inputs if i in row_pos]
        if src_rows and op.kind == "readout":
            op = replace(op, indices=[src_rows[0][i] for i in op.indices])
        values[op.name] = trace_op(op, *args)
        if src_rows and op.kind in ROWWISE_KINDS:
            row_pos[op.name] = src_rows[0]
    out = values[fp.output]
    outs = list(np.asarray(out._vars).ravel())
    comb = comb_trace(list(flat), outs)
    out_fmts = [_score_format(kif) for kif in np.asarray(comb.out_kifs).T]
    traced = Traced(fp, comb, feeds, out_fmts, order, dict(solver_options or {}), inputs=list(flat),
                    op_values={k: v for k, v in values.items() if isinstance(v, FixedVariableArray)})
    for j, f in enumerate(out_fmts):
        if f is not None and f.integer + traced.score_frac > 32:
            raise ValueError(f"output element {j} ({f.ap_type(False)}) does not fit a 32-bit score word at "
                             f"{traced.score_frac} fractional bits")
    return traced


# da4ml 0.5.2's CMVM solver, searching every decomposition depth (its default), gave constant-matrix
# products one step off for some weight matrices, and the least-depth trees (hard_dc 0) did on the
# default design (28 of 20,000 scores): both were da4ml's Decimal bounds rounded at Python's default
# 28 digits for the 2**-50 scale factors the solver hands out; ``trace`` now runs with exact digits
# (``codesign.rtl.ops.exact_decimals``). Every trace is still checked against the fixed-point
# reference, and the next solver setting is tried when the check fails. The first one asks for adder
# trees of the least depth (hard_dc 0): on the default design 66 -> 57 adder levels, 143 -> 123 ns of
# modelled logic (17 -> 14 stages at 100 MHz) for +0.8% adder cost (issue 15).
SOLVER_SETTINGS = (
    {"hard_dc": 0},
    {"search_all_decompose_dc": False},
    {"decompose_dc": -1, "search_all_decompose_dc": False},
    {"method0": "wmc-dc", "hard_dc": 2},
    {},
)


def trace_checked(fp: FixedPointModel, n_check: int = 20000, seed: int = 0) -> Traced:
    """``trace`` with the first solver setting whose logic equals ``fp.predict`` on ``n_check``
    random requests over every input's whole id space / grid, run through da4ml's bit-accurate
    C++ interpreter (which the RTL follows)."""
    from codesign.vectors.make import random_inputs
    inputs = random_inputs(fp, n_check, np.random.default_rng(seed))
    expected = np.asarray(fp.predict(inputs), np.float64).reshape(n_check, -1)
    failures = []
    for options in SOLVER_SETTINGS:
        traced = trace(fp, options)
        got = np.asarray(traced.comb.predict(traced.core_inputs(inputs)), np.float64).reshape(n_check, -1)
        bad = int(np.sum(np.any(got != expected, axis=1)))
        if bad == 0:
            traced.check = {"requests": n_check, "mismatches": 0, "rejected": failures}
            return traced
        failures.append({"solver_options": options, "mismatches": bad})
    raise RuntimeError(f"no da4ml solver setting traced the model exactly: {failures}")
