"""Flow step ``bitstream``: the board project of the rtl step's accelerator, in ``bitstream/``.

Zynq boards: ``build.tcl`` (IP packaging, block design, synthesis, implementation,
write_bitstream, .hwh export) and ``recommender.hwh`` generated from the same block design
description (``blockdesign.py``), so the driver can be tested against it before any build.
XRT cards: the Vitis kernel project in ``bitstream/vitis/``. Both: hls4ml's VivadoAccelerator
project in ``bitstream/hls4ml/`` where hls4ml supports the board. Vivado runs (with a
deadline) only when it is on PATH; otherwise the result says how to run it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from codesign.boards import Board, load_board
from codesign.console import say
from codesign.flow import Design, register_step
from codesign.stream import StreamLayout

HLS4ML_BOARDS = ("pynq-z2", "zcu102", "alveo-u50", "alveo-u200", "alveo-u250", "alveo-u280")


def load_build(design: Design) -> dict:
    """The rtl step's ``build.json``, checked for what this step reads."""
    path = design.path("rtl") / "build.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run 'codesign flow --out {design.folder} --steps rtl' first")
    build = json.loads(path.read_text())
    for key in ("sources", "libdirs", "stream", "toplevel"):
        if key not in build:
            raise ValueError(f"{path} has no '{key}': re-run the rtl step")
    if build["toplevel"] != "recommender":
        raise ValueError(f"{path} builds '{build['toplevel']}', the bitstream step packages 'recommender'")
    return build


def rtl_clock_board(design: Design, board: Board) -> Board:
    """``board`` with its PL clock set to the clock of the rtl step (``rtl.json`` ``clock_mhz``: the
    clock the core was cut for, capped by its timing estimate), not the board's default."""
    rtl, _ = design.stored("rtl")
    mhz = (rtl or {}).get("clock_mhz")
    if not mhz or float(mhz) == board.clock_mhz:
        return board
    return board.model_copy(update={"clock_mhz": float(mhz)})


def vivado_result(out: Path, board: Board, command: str, cfg) -> dict:
    """Runs Vivado when it is on PATH and allowed; parses its reports. Otherwise 'skipped'."""
    from codesign.bitstream.hwh import compare_hwh
    from codesign.bitstream.reports import parse_timing_summary, parse_utilization, timing_at_clock
    from codesign.bitstream.vivado import run_vivado
    hint = f"run '{command}' on a workstation with Vivado {board.vivado_version} and the {board.name} board files"
    if not cfg.vivado:
        return {"skipped": f"bitstream.vivado is false; {hint}"}
    if shutil.which("vivado") is None:
        return {"skipped": f"vivado is not on PATH; {hint}"}
    generated = out / "recommender.generated.hwh"
    shutil.copyfile(out / "recommender.hwh", generated)
    run = run_vivado(out, cfg.jobs, cfg.vivado_timeout_s)
    if "error" in run:
        raise RuntimeError(run["error"])
    util = parse_utilization((out / "reports" / "utilization.rpt").read_text(), board)
    timing = parse_timing_summary((out / "reports" / "timing_summary.rpt").read_text())
    diffs = compare_hwh(generated, run["hwh"])
    return {**run, "generated_hwh": str(generated), "hwh_matches_description": not diffs,
            **({"hwh_differences": diffs} if diffs else {}), "utilization": util, "timing": timing,
            **timing_at_clock(timing, board.clock_mhz)}


def hls4ml_project(design: Design, board: Board, out: Path) -> dict:
    """hls4ml's VivadoAccelerator project of the trained model in ``out`` (or why not)."""
    if not design.cfg.bitstream.hls4ml:
        return {"skipped": "bitstream.hls4ml is false"}
    if board.hls4ml_board is None:
        return {"skipped": f"hls4ml's VivadoAccelerator backend does not support {board.name} "
                           f"(it supports {', '.join(HLS4ML_BOARDS)}); use the RTL route (build.tcl)"}
    from codesign.fixedpoint import FixedPointModel
    from codesign.hls.convert import convert
    from codesign.train.step import load_trained
    from codesign.vectors.step import VARIANT
    hls = design.cfg.hls
    model = load_trained(design, VARIANT)
    graph = convert(model, out, fp=FixedPointModel.from_keras(model, design.cfg.precision), backend="VivadoAccelerator",
                    io_type=hls.io_type, strategy=hls.strategy, reuse_factor=hls.reuse_factor, part=board.part,
                    board=board.hls4ml_board, clock_period=hls.clock_period_ns or board.clock_ns)
    if board.interface.platform:
        graph.config.config["AcceleratorConfig"]["Platform"] = board.interface.platform
    graph.write()
    hls_cmd = (f'cd {out} && vivado_hls -f build_prj.tcl "reset=0 csim=0 synth=1 cosim=0 validation=0 '
               f'export=1 vsynth=0 fifo_opt=0"')
    if board.interface.ps == "none":
        command = (f"{hls_cmd} && python -c \"import hls4ml; m = hls4ml.converters.link_existing_project('{out}'); "
                   f"m.build(csim=False, synth=False, export=False, bitfile=True)\"")
    else:
        command = f"{hls_cmd} && vivado -mode batch -source design.tcl"
    return {"project": str(out), "board": board.hls4ml_board, "io_type": hls.io_type,
            "tools": "vivado_hls (Vivado HLS, last shipped with Vivado 2020.1: hls4ml 1.3.0's VivadoAccelerator "
                     "backend calls it; its design.tcl uses that release's IP versions), then vivado",
            "files": sorted(p.name for p in out.iterdir()), "command": command,
            "note": "hls4ml's own block design (its myproject_axi IP and DMA settings), not ours: "
                    "its .hwh differs from recommender.hwh"}


@register_step("bitstream", sections=("bitstream", "board", "hls", "rtl.variant"), after=("rtl",))
def bitstream_step(design: Design) -> dict:
    from codesign.bitstream.blockdesign import describe
    from codesign.bitstream.hwh import write_hwh
    from codesign.bitstream.vitis import write_vitis_project
    from codesign.bitstream.vivado import OVERLAY, copy_sources, vivado_command, write_project
    from codesign.rtl.step import rtl_sources

    cfg = design.cfg
    default_board = load_board(cfg.board)
    default_mhz = default_board.clock_mhz
    board = rtl_clock_board(design, default_board)
    build = load_build(design)
    layout = StreamLayout.from_dict(build["stream"])
    sources = rtl_sources(build)
    out = design.path("bitstream")
    tmp = out.with_name("bitstream.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = {"board": board.name, "part": board.part, "clock_mhz": board.clock_mhz, "pynq_image": board.pynq_image,
              "vivado_version": board.vivado_version,
              "clock_source": f"the rtl step's clock (the board's default is {default_mhz:g} MHz)"}
    if board.interface.ps == "none":
        copy_sources(sources, tmp / "ip" / "src")
        vitis = write_vitis_project(board, layout, tmp / "vitis")
        command = vitis["summary"]["command"].replace(str(tmp), str(out))
        result.update({"route": "vitis", "files": vitis["files"], "vitis": vitis["summary"], "command": command,
                       "block_design": {"skipped": vitis["summary"]["note"]},
                       "hwh": {"skipped": "no .hwh on an XRT card: the .xclbin carries the kernel metadata"}})
        result["vivado"] = {"skipped": f"an XRT card builds with v++ (Vitis {board.vivado_version}); run '{command}' "
                                       f"where the platform {board.interface.platform} is installed"}
    else:
        bd = describe(board, layout)
        files = write_project(bd, sources, tmp, jobs=cfg.bitstream.jobs,
                              timeout_min=max(1, int(cfg.bitstream.vivado_timeout_s // 60)))
        files["hwh"] = str(write_hwh(bd, tmp / f"{OVERLAY}.hwh"))
        command = vivado_command(out, cfg.bitstream.jobs)
        result.update({"route": "vivado", "files": files, "command": command, "block_design": bd.summary()})
        if bd.clock.achieved_mhz != board.clock_mhz:
            result["clock_warning"] = (f"{bd.ps.clk} from the {bd.clock.pll} ({bd.clock.pll_mhz:g} MHz) by integer "
                                       f"divisors gives {bd.clock.achieved_mhz:g} MHz, not {board.clock_mhz:g}: Vivado "
                                       f"may pick another PLL; its exported .hwh is authoritative")
    # swap the finished folder in, then fix the recorded paths
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    result = json.loads(json.dumps(result).replace(str(tmp), str(out)))
    # hls4ml writes absolute paths into its project: write it in place
    result["hls4ml"] = hls4ml_project(design, board, out / "hls4ml")
    if result["route"] == "vivado":
        result["vivado"] = vivado_result(out, board, command, cfg.bitstream)
    vivado = result["vivado"]
    say(f"{result['route']} project for {board.name} in {out}; " + (f"bitstream skipped: {vivado['skipped']}"
        if isinstance(vivado, dict) and "skipped" in vivado else "bitstream built"))
    return result
