"""Resource estimate with yosys ``synth_xilinx`` (relative numbers, not sign-off)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from codesign.boards import Board

# yosys cell name prefixes -> the columns engineers read in a Vivado utilisation report
CELL_GROUPS = {
    "lut": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "MUXF7", "MUXF8"),
    "lutram": ("RAM16X1", "RAM32X1", "RAM64X1", "RAM128X1", "RAM256X1", "RAM32M", "RAM64M", "SRL16E", "SRLC32E"),
    "ff": ("FDRE", "FDSE", "FDCE", "FDPE"),
    "carry": ("CARRY4", "CARRY8"),
    "dsp": ("DSP48E1", "DSP48E2"),
    "bram36": ("RAMB36E1", "RAMB36E2"),
    "bram18": ("RAMB18E1", "RAMB18E2"),
}
# MUXF7/8 sit in slices next to LUTs; Vivado counts them apart, they do not use LUTs
NOT_LUTS = ("MUXF7", "MUXF8")


def yosys_script(sources: list[str], top: str, family: str, out_json: Path | None = None) -> str:
    reads = "\n".join(f"read_verilog -sv -defer {s}" for s in sources)   # -defer: elaborate with the top's parameters
    tail = f"\nwrite_json {out_json}" if out_json else ""
    return f"{reads}\nsynth_xilinx -family {family} -top {top} -flatten\nstat\n{tail}"


def parse_stat(log: str) -> dict[str, int]:
    """Cell counts of the last ``stat`` in a yosys log."""
    section = log[log.rfind("Number of cells:"):]
    cells = {}
    for name, count in re.findall(r"^\s+(\w+)\s+(\d+)\s*$", section, flags=re.M):
        cells[name] = cells.get(name, 0) + int(count)
    return cells


def summarize(cells: dict[str, int], board: Board) -> dict:
    groups = {}
    for group, names in CELL_GROUPS.items():
        groups[group] = sum(n for c, n in cells.items() if c in names and c not in NOT_LUTS)
    # a LUTRAM/SRL cell uses LUTs too (RAM32M/RAM64M: 4 LUTs)
    lutram_luts = sum(n * (4 if c in ("RAM32M", "RAM64M") else 1) for c, n in cells.items()
                      if c in CELL_GROUPS["lutram"])
    bram = groups["bram36"] + groups["bram18"] / 2
    r = board.resources
    return {
        "lut": groups["lut"] + lutram_luts, "lut_logic": groups["lut"], "lutram_luts": lutram_luts,
        "ff": groups["ff"], "carry": groups["carry"], "dsp": groups["dsp"],
        "bram36": groups["bram36"], "bram18": groups["bram18"], "bram36_equivalent": bram,
        "share": {"lut": (groups["lut"] + lutram_luts) / r.lut, "ff": groups["ff"] / r.ff,
                  "dsp": groups["dsp"] / r.dsp, "bram36": bram / r.bram36},
        "part": board.part, "family": board.family, "cells": cells,
    }


def yosys_version() -> str:
    out = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
    return out or "unknown"


def synthesize(sources: list[str], top: str, board: Board, workdir: Path, timeout: int = 3600) -> dict:
    """Runs yosys on ``sources``; returns the resource summary (or ``skipped`` without yosys)."""
    if shutil.which("yosys") is None:
        return {"skipped": "yosys is not on PATH (apt-get install yosys)"}
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "synth.ys"
    script.write_text(yosys_script(sources, top, board.family))
    log = workdir / "yosys.log"
    from codesign.console import waiting
    with open(log, "w") as f, waiting(f"yosys synth_xilinx ({top}, resources)"):
        proc = subprocess.run(["yosys", "-q", "-l", str(log.with_suffix(".full.log")), "-s", str(script)],
                              stdout=f, stderr=subprocess.STDOUT, timeout=timeout, cwd=workdir)
    text = log.with_suffix(".full.log").read_text() if log.with_suffix(".full.log").is_file() else log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed (exit {proc.returncode}); see {log}")
    return {**summarize(parse_stat(text), board), "tool": yosys_version(), "log": str(log.with_suffix(".full.log"))}
