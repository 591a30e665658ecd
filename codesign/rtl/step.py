"""The ``rtl`` step: trace the trained quantized model, write its Verilog, estimate resources."""
from __future__ import annotations

from codesign.boards import load_board
from codesign.flow import Design, register_step


def rtl_sources(build: dict) -> list[str]:
    """Every Verilog file of a build, da4ml's static library included (for synthesis)."""
    from pathlib import Path
    return build["sources"] + sorted(str(p) for d in build["libdirs"] for p in Path(d).glob("*.v")
                                     if p.name != "lookup_table.v")


@register_step("rtl", sections=("model", "data", "rtl.variant", "rtl.latency_cutoff", "rtl.synth", "board"),
               after=("train",))
def rtl_step(design: Design) -> dict:
    from codesign.rtl.build import build_rtl
    from codesign.rtl.synth import synthesize
    from codesign.rtl.trace import read_model, trace_checked
    from codesign.train.step import load_trained

    cfg = design.cfg
    board = load_board(cfg.board)
    model = load_trained(design, cfg.rtl.variant)
    spec = read_model(model)
    from codesign.fixedpoint import FixedPointModel
    fp = FixedPointModel.from_keras(model)
    traced = trace_checked(spec, reference=lambda nodes, tokens: fp.predict(
        {"nodes": nodes.astype("int32"), "tokens": tokens.astype("int32")}))
    out = design.path("rtl")
    build = build_rtl(traced, out, cfg.rtl.latency_cutoff, board.clock_ns)
    result = {"variant": cfg.rtl.variant, "board": cfg.board, "clock_mhz": board.clock_mhz,
              "latency_cycles": build["latency_cycles"], "core": build["core"],
              "stream": build["stream"], "score_format": build["score_format"],
              "latency_ns": build["latency_cycles"] * board.clock_ns,
              "matmul_order": ["A.(X.W)"] * (len(spec.gcn) - 1) + ["(A[readout].H).W"]}
    if cfg.rtl.synth:
        res = synthesize(rtl_sources(build), build["toplevel"], board, out / "yosys")
        res.pop("cells", None)
        from codesign.flow import write_json
        write_json(out / "resources.json", res)
        result["resources"] = res
        if "share" in res:
            result["fits"] = res["share"]["lut"] <= 0.8 and all(v <= 1 for v in res["share"].values())
    return result
