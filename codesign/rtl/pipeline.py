"""Pipeline cuts by delay: da4ml's stage split driven by nanoseconds instead of adder levels.

da4ml's ``latency_cutoff`` counts adder levels (an adder of any width costs one with
``HWConfig(1, -1, -1)``). Here every operation of the traced logic gets a delay in ns from
``DelayModel`` (carry-aware: a wider adder has a longer CARRY4 chain; a variable product is a
DSP48E1 multiply; every routed input pays the net delay), the arrival times are recomputed with
da4ml's own rule for ops that would straddle a register (they start at the next stage) and
``da4ml.trace.pipeline.to_pipeline`` cuts the logic at multiples of the cutoff, without its
retiming pass (which would re-cost the ops in adder levels). The model predicts; the
yosys timing estimate (``codesign.rtl.timing``) decides.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from math import ceil, log2


@dataclass(frozen=True)
class DelayModel:
    """Per-operation delays (ns) in the spirit of yosys' 7-series cell delays plus routing."""

    net_ns: float = 0.5          # one routed net per LUT / carry entry
    lut_ns: float = 0.5          # a LUT, averaged over its input pins (0.13-0.64 in cells_sim.v)
    carry_in_ns: float = 0.75    # CARRY4 S -> CO[3] into the chain plus CI -> O out of it
    carry4_ns: float = 0.114     # CARRY4 CI -> CO[3] (each further block)
    dsp_ns: float = 2.823        # DSP48E1 A -> P, unregistered multiply
    clk_to_q_ns: float = 0.303   # FDRE C -> Q (the stage register the path starts at)
    scale: float = 1.0           # estimate / model ratio of a stage's logic delay (calibration)
    # per op (by index in the traced logic): the measured estimate / model ratio of the stage it
    # sat in (``corrected``); empty: 1 everywhere
    stretch: tuple[float, ...] = ()

    def factor(self, index: int) -> float:
        return self.stretch[index] if index < len(self.stretch) else 1.0

    def adder(self, bits: int) -> float:
        """A ripple-carry adder of ``bits`` output bits: net, LUT, carry chain."""
        return self.net_ns + self.lut_ns + self.carry_in_ns + self.carry4_ns * max(0, ceil(bits / 4) - 1)

    def logic(self) -> float:
        """One LUT level (relu mask, mux) behind a routed net."""
        return self.net_ns + self.lut_ns


def _bits(qint) -> int:
    """Width of a da4ml ``QInterval`` (min, max, step) as cost_add counts it."""
    lo, hi, step = float(qint[0]), float(qint[1]), float(qint[2])
    if step <= 0 or (lo == 0 and hi == 0):
        return 1
    f = -log2(step)
    mag = max(abs(lo), abs(hi + step), 1e-30)
    return max(1, int((lo < 0) + ceil(log2(mag)) + f))


def op_delay(op, model: DelayModel) -> float:
    """Delay (ns) of one da4ml ``Op`` under ``model`` (its raw delay times ``model.scale``)."""
    return model.scale * _raw_delay(op, model)


def _raw_delay(op, model: DelayModel) -> float:
    code = op.opcode
    if code in (-1, 5, 3):                 # input copy, constant, quantize (wires)
        return 0.0
    if code in (0, 1, 4, -3):              # adders, constant add, negate-then-quantize
        return model.adder(_bits(op.qint))
    if code == -2:                         # negate (adder), then relu mask
        return model.adder(_bits(op.qint)) + model.lut_ns
    if code in (2, 6, -6):                 # relu mask, MSB mux: one LUT level
        return model.logic()
    if code == 7:                          # variable x variable: DSP48E1 multiply
        return model.net_ns + model.dsp_ns
    if code == 8:                          # lookup table: LUT levels over its input bits
        return model.logic() * max(1, ceil(_bits(op.qint) / 6))
    raise ValueError(f"unknown da4ml opcode {code} in {op}")


def _sources(op) -> list[int]:
    """Indices of the ops an op reads (an input marker's id0 is a port index, not an op)."""
    if op.opcode in (-1, 5):
        return []
    if op.opcode in (0, 1, 7):
        return [op.id0, op.id1]
    if op.opcode in (6, -6):
        return [op.id0, op.id1, op.data & 0xFFFFFFFF]
    return [op.id0]


def retimed(comb, cutoff_ns: float, model: DelayModel):
    """``comb`` with each op's latency replaced by its arrival time (ns) under ``model``.

    An op that would cross a multiple of ``cutoff_ns`` starts at that multiple (da4ml's rule),
    so every stage's logic fits in ``cutoff_ns`` by the model.
    """
    ops = []
    for index, op in enumerate(comb.ops):
        d = op_delay(op, model) * model.factor(index)
        if d > cutoff_ns:
            raise ValueError(f"cutoff {cutoff_ns:.3f} ns is shorter than one operation ({d:.3f} ns, {op})")
        base = max((ops[i].latency for i in _sources(op)), default=0.0)
        lat = base + d
        if ceil(lat / cutoff_ns - 1e-9) > ceil(base / cutoff_ns - 1e-9):
            lat = ceil(base / cutoff_ns - 1e-9) * cutoff_ns + d
        ops.append(op._replace(latency=float(lat)))
    return comb._replace(ops=ops)


def max_op_delay(comb, model: DelayModel) -> float:
    """The longest single operation: no cutoff can be shorter."""
    return max(op_delay(op, model) * model.factor(i) for i, op in enumerate(comb.ops))


def cut(comb, cutoff_ns: float, model: DelayModel):
    """The da4ml ``Pipeline`` of ``comb`` cut every ``cutoff_ns`` of modelled delay."""
    from da4ml.trace.pipeline import to_pipeline
    return to_pipeline(retimed(comb, cutoff_ns, model), cutoff_ns, retiming=False, verbose=False)


def stage_count(comb, cutoff_ns: float, model: DelayModel) -> int:
    """Stages of ``cut(comb, cutoff_ns)`` without building it."""
    from math import floor
    r = retimed(comb, cutoff_ns, model)
    last = max(r.ops[i].latency for i in r.out_idxs)
    return floor(last / (cutoff_ns + 1e-9)) + 1


def stage_delays(comb, cutoff_ns: float, model: DelayModel) -> list[float]:
    """Modelled logic delay (ns) of each stage of ``cut(comb, cutoff_ns)``: its latest op's
    arrival after the stage's start (to compare with the estimate's worst path per stage)."""
    r = retimed(comb, cutoff_ns, model)
    worst: dict[int, float] = {}
    for op in r.ops:
        if op_delay(op, model) == 0:
            continue
        st = int(max(op.latency - 1e-9, 0) // cutoff_ns)
        worst[st] = max(worst.get(st, 0.0), op.latency - st * cutoff_ns)
    return [round(worst.get(i, 0.0), 4) for i in range(stage_count(comb, cutoff_ns, model))]


def corrected(comb, cutoff_ns: float, model: DelayModel, measured_ns: dict[int, float],
              clamp: tuple[float, float] = (0.5, 2.0)) -> DelayModel:
    """``model`` with every op's delay times its stage's ratio of measured to modelled logic delay
    (the cut at ``cutoff_ns``; ``measured_ns``: stage -> the estimate's worst path less clk->Q).

    A uniform scale cannot tell which stages run slow: on the default design the ratio spreads
    from 0.7 to 1.2 between the stages of one cut. Corrected per stage, the next cut moves ops out
    of the stages that measured slower than modelled and into those that measured faster.
    """
    r = retimed(comb, cutoff_ns, model)
    modelled = stage_delays(comb, cutoff_ns, model)
    ratios = [min(max(measured_ns[i] / m, clamp[0]), clamp[1]) if m > 0 and measured_ns.get(i, 0) > 0 else 1.0
              for i, m in enumerate(modelled)]
    stretch = [model.factor(i) * ratios[min(int(max(op.latency - 1e-9, 0) // cutoff_ns), len(ratios) - 1)]
               for i, op in enumerate(r.ops)]
    return replace(model, stretch=tuple(stretch))


def depth_breakdown(traced, model: DelayModel) -> list[dict]:
    """Where the core's depth is: per op of the model's op graph (in order), the modelled arrival
    (ns) of its latest output after the core's input register, what the op itself adds to the
    latest of its inputs, and da4ml's adder levels at its output."""
    import numpy as np
    from da4ml.trace import comb_trace

    from codesign.rtl.ops import exact_decimals
    arrival: dict[str, float] = {}
    rows = []
    for op in traced.fp.ops:
        value = traced.op_values.get(op.name)
        if value is None:
            continue
        outs = [v for v in np.ravel(value._vars) if hasattr(v, "latency")]
        if not outs:
            continue
        with exact_decimals():
            comb = comb_trace(traced.inputs, outs)
        arr: list[float] = []
        for o in comb.ops:
            arr.append(max((arr[i] for i in _sources(o)), default=0.0) + op_delay(o, model))
        ns = max((arr[i] for i in comb.out_idxs if i >= 0), default=0.0)
        start = max((arrival.get(i, 0.0) for i in op.inputs), default=0.0)
        arrival[op.name] = ns
        rows.append({"op": op.name, "kind": op.kind, "arrival_ns": round(ns, 3), "adds_ns": round(ns - start, 3),
                     "adder_levels": float(max(float(v.latency) for v in outs))})
    return rows
