"""Pipelining driven by the clock: the fewest stages whose timing estimate meets the clock.

The delay model (``codesign.rtl.pipeline``) predicts a cutoff in ns from the clock budget
(period x (1 - margin), less the stage register's clock-to-Q); the build is then checked by
the yosys timing estimate of the whole top. A miss shrinks the cutoff by the ratio of budget
to measured path; a pass with slack tries the larger cutoff the slack allows, when the model
says it saves a stage; once a stage count has missed and a larger one has met, the counts between
them are bisected. At most ``runs`` yosys runs (each takes minutes on large designs).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable

from codesign.rtl.build import build_rtl
from codesign.rtl.pipeline import (DelayModel, corrected, cut, depth_breakdown, max_op_delay, stage_count,
                                   stage_delays)
from codesign.rtl.timing import estimate


# The yosys estimate's logic delay per modelled ns of a stage ((worst - clk->Q) / cutoff), measured
# on the default design: 0.86 and 0.85 at 100 MHz (xc7), 0.78 and 0.92 at 150 MHz (zcu104). The
# raw model charges every adder its whole carry chain; in the netlist the next adder's low bits
# start before the carry has rippled through, so chains are shorter than the sum. Per stage the
# ratio spreads (0.43-0.95 on the 14-stage default cut that met 100 MHz, up to 1.18 on a 12-stage
# cut that missed): a uniform scale predicts the fewest stages that can meet, not which ones do.
# The search starts from the calibrated model and corrects it with the measured ratio of each run.
CALIBRATION = 0.85


def predicted(comb, clock_mhz: float, model: DelayModel, margin: float) -> tuple[int, float]:
    """(core stages, top latency in ns) the delay model predicts for a cut at ``clock_mhz``."""
    from codesign.latency import top_cycles
    cutoff = max(max_op_delay(comb, model), 1000.0 / clock_mhz * (1 - margin) - model.clk_to_q_ns)
    stages = stage_count(comb, cutoff, model)
    return stages, top_cycles(stages) * 1000.0 / clock_mhz


def choose_clock(comb, low_mhz: float, high_mhz: float, net_ns: float = 0.5, margin: float = 0.125,
                 step_mhz: float = 5.0) -> tuple[float, dict]:
    """``rtl.clock_mhz: auto``: the clock in [low, high] (every ``step_mhz``, and both ends) whose
    cut the calibrated delay model predicts to have the lowest latency in ns (ties: the lower
    clock). Returns (clock, record of the candidates). The timing estimate then checks it."""
    model = DelayModel(net_ns=net_ns, scale=CALIBRATION)
    clocks = sorted({float(low_mhz), float(high_mhz)} |
                    {float(c) for c in range(int(-(-low_mhz // step_mhz) * step_mhz), int(high_mhz) + 1,
                                             int(step_mhz))})
    table = []
    for c in clocks:
        stages, ns = predicted(comb, c, model, margin)
        table.append({"clock_mhz": c, "stages": stages, "latency_ns": round(ns, 2)})
    best = min(table, key=lambda r: (r["latency_ns"], r["clock_mhz"]))
    return best["clock_mhz"], {"mode": "auto: lowest latency predicted by the calibrated delay model",
                               "range_mhz": [low_mhz, high_mhz], "chosen": best, "candidates": table}


def rtl_sources(build: dict) -> list[str]:
    """Every Verilog file of a build, da4ml's static library included (for synthesis)."""
    return build["sources"] + sorted(str(p) for d in build["libdirs"] for p in Path(d).glob("*.v")
                                     if p.name != "lookup_table.v")


def estimate_build(build: dict, family: str, clock_mhz: float, workdir: Path, net_ns: float, margin: float) -> dict:
    """The timing estimate of a written build (its whole top)."""
    return estimate(rtl_sources(build), build["toplevel"], family, clock_mhz, workdir, net_ns=net_ns, margin=margin)


def _scaled(cutoff: float, budget: float, worst: float, q: float) -> float:
    """The cutoff that would bring a measured ``worst`` path to ``budget`` (logic scales, clk->Q not)."""
    return cutoff * (budget - q) / max(worst - q, 1e-3)


def cutoff_for_stages(comb, stages: int, model: DelayModel, lo: float, hi: float, steps: int = 40) -> float:
    """The shortest cutoff in [lo, hi] whose cut has at most ``stages`` stages (``hi``'s cut must):
    of the cuts with that many stages, the one whose longest stage is the shortest by the model."""
    if stage_count(comb, hi, model) > stages:
        raise ValueError(f"a cutoff of {hi:.3f} ns gives more than {stages} stages")
    for _ in range(steps):
        if hi - lo < 1e-4:
            break
        mid = (lo + hi) / 2
        if stage_count(comb, mid, model) <= stages:
            hi = mid
        else:
            lo = mid
    return hi


def build_for_clock(traced, out: Path, family: str, clock_mhz: float, net_ns: float = 0.5,
                    margin: float = 0.125, runs: int = 3, check: bool = True,
                    log: Callable[[str], None] | None = None) -> tuple[dict, dict | None, dict]:
    """Writes the RTL of ``traced`` cut for ``clock_mhz``; returns (build, timing, search record).

    The search: the calibrated model's cut first. After every run the model takes each stage's
    measured ratio (``pipeline.corrected``), so later cuts move logic out of the stages that ran
    slow. A miss tries the fewest stages the corrected model predicts at the budget (a count that
    already missed twice: one more), a pass with slack widens the cutoff while the model says that
    saves a stage; once a stage count has missed and a larger one has met, the counts between them
    are bisected (each at the shortest cutoff giving that count), so the cut kept is the fewest
    stages that met within ``runs`` yosys runs; when none met, the run nearest the budget (fewer
    stages on a tie).
    ``check=False``: the model's cut alone, no yosys run (timing None).
    """
    from codesign.console import log_only, say
    log = log or say
    base = model = DelayModel(net_ns=net_ns, scale=CALIBRATION)
    comb = traced.comb
    period = 1000.0 / clock_mhz
    budget = period * (1 - margin)
    shortest = max_op_delay(comb, model)
    q = model.clk_to_q_ns
    top = max(shortest, budget - q)
    cutoff = top
    tried: list[dict] = []
    best = None            # (cutoff, stages, timing, model): the fewest stages that met
    closest = None         # the same of the run nearest the budget (fewer stages on a tie)
    misses: dict[int, int] = {}   # stage count -> yosys runs that missed with it
    build = timing = None
    stopped = "runs used up"
    for run in range(runs if check else 1):
        stages = stage_count(comb, cutoff, model)
        build = build_rtl(traced, out, cut(comb, cutoff, model), period)
        built = (cutoff, model)
        timing = estimate_build(build, family, clock_mhz, out / "timing", net_ns, margin) if check else None
        if timing is None or "skipped" in timing:
            break
        per_stage = {int(k): v for k, v in (timing.get("stage_worst_ns") or {}).items()}
        tried.append({"cutoff_ns": round(cutoff, 4), "stages": build["core"]["stages"], "worst_ns": timing["worst_ns"],
                      "meets": timing["meets"], "critical_stage": timing["critical_path"]["stage"],
                      "model_corrected": model is not base,
                      # per stage: the model's logic delay vs the estimate's worst path (with clk->Q)
                      "stage_model_ns": stage_delays(comb, cutoff, model),
                      "stage_estimate_ns": [per_stage[k] for k in sorted(per_stage)]})
        log(f"[rtl] cut every {cutoff:.2f} ns (model{', corrected per stage' if model is not base else ''}): "
            f"{build['core']['stages']} stages, worst path {timing['worst_ns']:.2f} ns, "
            f"{'meets' if timing['meets'] else 'misses'} {budget:.2f} ns")
        if closest is None or (timing["worst_ns"], stages) < (closest[2]["worst_ns"], closest[1]):
            closest = (cutoff, stages, timing, model)
        if timing["meets"]:
            if best is None or stages < best[1]:
                best = (cutoff, stages, timing, model)
        else:
            misses[stages] = misses.get(stages, 0) + 1
        if per_stage:
            model = corrected(comb, cutoff, model, {k: max(v - q, 0.0) for k, v in per_stage.items()})
            shortest = max_op_delay(comb, model)
            top = max(shortest, budget - q)
        # the most stages that missed, up to the fewest that met
        missed = max((c for c in misses if best is None or c <= best[1]), default=None)
        if best is not None and missed is not None:          # bisect the counts between them
            if best[1] - missed <= 1:
                stopped = ("fewest stages that meet" if best[1] - missed == 1 else
                           f"{best[1]} stages missed, then met once corrected per stage (one fewer not tried)")
                break
            target = (best[1] + missed) // 2
            if stage_count(comb, top, model) > target:
                stopped = f"the corrected model says {target} stages cannot meet"
                break
            cutoff = cutoff_for_stages(comb, target, model, shortest, top)
        elif best is not None:                 # met, nothing missed yet: the slack may save a stage
            wider = _scaled(cutoff, budget, timing["worst_ns"], q)
            fewer = stage_count(comb, wider, model)
            if fewer >= stages:
                stopped = "the slack would not save a stage"
                break
            cutoff = cutoff_for_stages(comb, fewer, model, shortest, wider)
        else:                                  # missed, nothing met yet
            if timing["critical_path"]["stage"] is None:
                stopped = "the worst path is outside the core's stages: no cut helps"
                break
            # the fewest stages the corrected model predicts at the budget; a count that missed twice
            # is not tried again. At the shortest cutoff giving it (the most even split: on the
            # default design 12 stages cut at 8.01 ns missed, at 7.89 ns met)
            target = max(stage_count(comb, top, model), stages + 1 if misses[stages] >= 2 else stages)
            if target == stages and (not per_stage or run == runs - 2):
                target = stages + 1            # the model did not change, or the last run: one more stage
            cutoff = cutoff_for_stages(comb, target, model, shortest, top)
    # keep the fewest stages that met; when none met, the run nearest the budget (the last run
    # may be no nearer than an earlier one with fewer stages)
    keep = best if best is not None else closest
    if keep is not None:
        cutoff, _, timing, model = keep
        if (cutoff, model) != built:           # rebuild that cut (same model: same cut)
            build = build_rtl(traced, out, cut(comb, cutoff, model), period)
    depth = depth_breakdown(traced, base) if traced.op_values else []
    for row in (r for r in depth if r["adds_ns"] > 0):     # detail: the log and rtl.json only
        log_only(f"[rtl]   depth {row['op']} ({row['kind']}): at {row['arrival_ns']:.1f} ns (model), "
                 f"+{row['adds_ns']:.1f} ns, {row['adder_levels']:g} adder levels")
    if depth:
        deepest = max(depth, key=lambda r: r["arrival_ns"])
        log(f"[rtl] logic depth {deepest['arrival_ns']:.1f} ns (model) at '{deepest['op']}'; per op: "
            f"rtl.json pipelining.depth and the step's log")
    record = {"mode": "cut by delay, checked by the timing estimate" if check else "cut by the delay model only",
              "cutoff_ns": round(cutoff, 4), "budget_ns": round(budget, 4), "margin": margin,
              "model": asdict(base), "runs": tried, "stopped": stopped if check else None, "met": bool(timing and timing.get("meets")),
              "depth": depth,
              "fewest_stages_proven": bool(best is not None and best[1] - 1 in misses)}
    return build, timing, record
