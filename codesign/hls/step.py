"""Flow step ``hls``: the hls4ml project of the design's quantized model, its C simulation
over the frozen reference vectors (must be bit-exact) and, when the vendor tool is on
PATH, C synthesis. Writes ``hls/csim.json`` and ``hls/csynth.json``."""
from __future__ import annotations

from pathlib import Path

from codesign.console import say, waiting
from codesign.boards import load_board
from codesign.fixedpoint import FixedPointModel
from codesign.flow import Design, register_step, write_json
from codesign.hls.csim import CsimMismatch, HlsSettings, failure_message, run_csim
from codesign.hls.synth import check_baseline, run_synthesis


def settings_for(cfg, board_name: str) -> HlsSettings:
    """HLS settings of an ``hls`` config section on a board."""
    board = load_board(board_name)
    return HlsSettings(backend=cfg.backend, io_type=cfg.io_type, strategy=cfg.strategy,
                       reuse_factor=cfg.reuse_factor, part=board.part, board=board.hls4ml_board,
                       clock_period=cfg.clock_period_ns or board.clock_ns)


def hls_flow(model, fp: FixedPointModel, inputs, expected, folder: Path, settings: HlsSettings,
             kinds=None, synth: bool = True, cosim: bool = False, design_name: str = "default") -> dict:
    """C simulation (raises ``CsimMismatch`` on any difference), then synthesis if possible."""
    with waiting(f"hls4ml: convert, compile and C-simulate {len(expected)} vectors"):
        csim, hls_model = run_csim(model, fp, inputs, expected, folder, settings, kinds)
    write_json(folder / "csim.json", csim)
    if csim["mismatches"]:
        raise CsimMismatch(failure_message(csim))
    if synth:
        csynth = run_synthesis(hls_model, settings.backend, cosim=cosim)
        if "skipped" not in csynth:
            csynth["baseline"] = check_baseline(csynth, csynth["tool"], design_name)
    else:
        csynth = {"skipped": "synthesis disabled (hls.synth: false)"}
    write_json(folder / "csynth.json", csynth)
    say(f"C simulation: {csim['mismatches']} mismatches over {csim['samples']} vectors "
        f"(compile {csim['compile_seconds']:.1f} s, run {csim['csim_seconds']:.1f} s); "
        f"synthesis: {csynth.get('skipped', 'done')}")
    keep = ("samples", "mismatches", "first_mismatch", "compile_seconds", "csim_seconds", "project",
            "backend", "io_type", "strategy", "reuse_factor", "part", "clock_period")
    return {**{k: csim[k] for k in keep}, "csynth": csynth}


@register_step("hls", sections=("hls", "board", "precision"), after=("vectors",))
def hls_step(design: Design) -> dict:
    from codesign.train.step import load_trained
    from codesign.vectors.step import VARIANT, load_vectors
    model = load_trained(design, VARIANT)
    fp = FixedPointModel.from_keras(model, design.cfg.precision)
    inputs, expected, kinds = load_vectors(design.path("vectors") / "vectors.npz")
    settings = settings_for(design.cfg.hls, design.cfg.board)
    return hls_flow(model, fp, inputs, expected, design.path("hls"), settings, kinds,
                    synth=design.cfg.hls.synth, cosim=design.cfg.hls.cosim, design_name=design.cfg.name)
