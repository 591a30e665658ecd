"""The ``rtl`` step: trace the trained quantized model, write its Verilog cut for the clock,
estimate its timing (before place & route) and its resources."""
from __future__ import annotations

import tempfile
from contextlib import ExitStack

from codesign.console import say, waiting
from codesign.boards import load_board, target_clock_mhz
from codesign.flow import Design, register_step
from codesign.rtl.closure import rtl_sources  # noqa: F401  (re-exported: the sources of a build)


@register_step("rtl", sections=("model", "data", "rtl.variant", "rtl.latency_cutoff", "rtl.synth", "rtl.clock_mhz",
                                "rtl.timing", "rtl.net_delay_ns", "rtl.timing_margin", "rtl.timing_runs", "board",
                                "precision"),
               after=("train",))
def rtl_step(design: Design) -> dict:
    from codesign.latency import latency_figure
    from codesign.rtl.build import build_rtl
    from codesign.rtl.closure import build_for_clock, estimate_build
    from codesign.rtl.synth import alongside_timing, synthesize
    from codesign.fixedpoint import FixedPointModel
    from codesign.rtl.trace import trace_checked
    from codesign.train.step import load_trained

    cfg = design.cfg
    board = load_board(cfg.board)
    auto = cfg.rtl.clock_mhz == "auto"
    if auto and cfg.rtl.latency_cutoff is not None:
        raise ValueError("rtl.clock_mhz: auto chooses the clock and the stage cut together: set "
                         "rtl.latency_cutoff to null, or give rtl.clock_mhz in MHz")
    # checked before anything is written
    clock_mhz = target_clock_mhz(board, None if auto else cfg.rtl.clock_mhz)
    model = load_trained(design, cfg.rtl.variant)
    with waiting("da4ml: trace the model and check it against the reference"):
        traced = trace_checked(FixedPointModel.from_keras(model, design.cfg.precision))
    out = design.path("rtl")
    r = cfg.rtl
    clock_choice = None
    if auto:      # from 50 MHz (or the board's clock if lower) up to the highest the board can generate
        from codesign.rtl.closure import choose_clock
        clock_mhz, clock_choice = choose_clock(traced.comb, min(50.0, board.clock_mhz),
                                               board.max_clock_mhz or board.clock_mhz, r.net_delay_ns,
                                               r.timing_margin)
        say(f"[rtl] clock auto: {clock_mhz:g} MHz, {clock_choice['chosen']['stages']} stages, "
              f"{clock_choice['chosen']['latency_ns']:.0f} ns predicted")
    with ExitStack() as stack:
        if cfg.rtl.synth and r.timing:    # the resource synthesis runs beside the timing estimate (2 cores)
            stack.enter_context(alongside_timing(stack.enter_context(tempfile.TemporaryDirectory(prefix="codesign-yosys-"))))
        if r.latency_cutoff is not None:      # explicit override: da4ml adder levels per stage
            build = build_rtl(traced, out, r.latency_cutoff, 1000.0 / clock_mhz)
            timing = (estimate_build(build, board.family, clock_mhz, out / "timing", r.net_delay_ns, r.timing_margin)
                      if r.timing else None)
            pipelining = {"mode": f"explicit rtl.latency_cutoff {r.latency_cutoff} (da4ml adder levels)",
                          "met": bool(timing and timing.get("meets"))}
        else:
            build, timing, pipelining = build_for_clock(traced, out, board.family, clock_mhz, r.net_delay_ns,
                                                        r.timing_margin, r.timing_runs, check=r.timing)
        res = synthesize(rtl_sources(build), build["toplevel"], board, out / "yosys") if cfg.rtl.synth else None
    if clock_choice is not None:
        pipelining["clock_choice"] = clock_choice
    latency = latency_figure(build["latency_cycles"], clock_mhz, timing)
    result = {"variant": cfg.rtl.variant, "board": cfg.board, "target_clock_mhz": clock_mhz,
              "clock_mhz": latency["clock_mhz"], "latency_cycles": build["latency_cycles"],
              "latency_ns": latency["latency_ns"], "latency": latency, "core": build["core"],
              "stream": build["stream"], "score_format": build["score_format"],
              "timing": timing if timing is not None else {"skipped": "rtl.timing is off"},
              "pipelining": pipelining,
              "feeds": build["feeds"], "matmul_order": traced.matmul_order}
    say(timing_summary(result))
    if res is not None:
        res.pop("cells", None)
        from codesign.flow import write_json
        write_json(out / "resources.json", res)
        result["resources"] = res
        if "share" in res:
            result["fits"] = res["share"]["lut"] <= 0.8 and all(v <= 1 for v in res["share"].values())
    return result


def timing_summary(rtl: dict) -> str:
    """The console lines of an rtl result: timing estimate, critical path, latency figure."""
    t, lat = rtl.get("timing") or {}, rtl["latency"]
    lines = []
    if "worst_ns" in t:
        p = t["critical_path"]
        stage = f"core stage {p['stage']}" if p["stage"] is not None else "outside the core's stages"
        lines += [f"[rtl] timing, {t['label']}; cell delays: {t['cell_model']}",
                  f"[rtl]   worst path {t['worst_ns']:.2f} ns ({t['worst_ns_cells_only']:.2f} ns cells only): "
                  f"Fmax ~{t['fmax_mhz']:.0f} MHz (cells only {t['fmax_mhz_cells_only']:.0f}); slack at "
                  f"{t['clock_mhz']:g} MHz {t['slack_ns']:+.2f} ns; {'meets' if t['meets'] else 'MISSES'} "
                  f"the clock with {100 * t['margin']:g}% margin",
                  f"[rtl]   critical path {p['start']} -> {p['end']} ({stage}): {p['lut_levels']} LUT levels, "
                  f"{p['carry4']} CARRY4 ({p['carry_bits']} carry bits)"]
    elif t.get("skipped"):
        lines.append(f"[rtl] timing estimate skipped: {t['skipped']}")
    lines.append(f"[rtl] latency {lat['latency_cycles']} cycles = {lat['latency_ns']:.1f} ns at "
                 f"{lat['clock_mhz']:g} MHz ({lat['label']}; {rtl['core']['stages']} core stages)")
    return "\n".join(lines)
