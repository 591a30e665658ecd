"""Resource estimate with yosys ``synth_xilinx`` (relative numbers, not sign-off)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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


def _run_yosys(script_text: str, workdir: Path, timeout: int, box: dict | None = None) -> tuple[int, Path]:
    """Runs a yosys script in ``workdir``; (exit code, the full log). ``box["proc"]`` holds the
    running process (so a superseded background run can be stopped)."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "synth.ys"
    script.write_text(script_text)
    log = workdir / "yosys.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(["yosys", "-q", "-l", str(log.with_suffix(".full.log")), "-s", str(script)],
                                stdout=f, stderr=subprocess.STDOUT, cwd=workdir)
        if box is not None:
            box["proc"] = proc
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    full = log.with_suffix(".full.log")
    return proc.returncode, full if full.is_file() else log


def _sources_key(sources: list[str], top: str, family: str) -> str:
    """What a resource synthesis depends on: top, family and every source's content."""
    h = hashlib.sha256(f"{top}\n{family}\n".encode())
    for s in sources:
        h.update(Path(s).name.encode() + b"\0" + Path(s).read_bytes() + b"\0")
    return h.hexdigest()


class _Alongside:
    """Resource syntheses started while a timing estimate of the same sources runs (2 cores: the
    two yosys runs overlap). Each works on a private copy of the Verilog sources, so a later
    rebuild of the folder cannot change what it reads."""

    def __init__(self, workdir: Path, timeout: int):
        self.workdir, self.timeout = workdir, timeout
        self.runs: dict[str, tuple[threading.Thread, dict]] = {}

    def start(self, sources: list[str], top: str, family: str) -> None:
        key = _sources_key(sources, top, family)
        if key in self.runs:
            return
        # a re-cut supersedes them: the 2 cores go to the new estimate, but a superseded run goes on
        # at the lowest priority (the search may keep an earlier cut; its run is then near done)
        self.lower_running()
        work = self.workdir / f"run{len(self.runs)}"
        shutil.rmtree(work, ignore_errors=True)
        (work / "src").mkdir(parents=True)
        copies = []
        for i, s in enumerate(sources):
            dst = work / "src" / f"{i:03d}_{Path(s).name}"
            shutil.copyfile(s, dst)
            copies.append(str(dst))
        box: dict = {}

        def run():
            try:
                box["result"] = _run_yosys(yosys_script(copies, top, family), work, self.timeout, box)
            except BaseException as e:        # reported by the waiter
                box["error"] = e
        t = threading.Thread(target=run, name=f"yosys-resources-{len(self.runs)}", daemon=True)
        t.start()
        self.runs[key] = (t, box)

    def _running(self, but: str | None = None) -> list[tuple[str, threading.Thread, subprocess.Popen]]:
        return [(key, t, box["proc"]) for key, (t, box) in self.runs.items()
                if key != but and t.is_alive() and box.get("proc") is not None and box["proc"].poll() is None]

    def lower_running(self) -> None:
        """The runs still going continue at the lowest CPU priority."""
        for _, _, proc in self._running():
            try:
                os.setpriority(os.PRIO_PROCESS, proc.pid, 19)
            except OSError:           # it just ended
                pass

    def stop_running(self, but: str | None = None) -> None:
        """Stops the runs still going (except ``but``'s; their results are dropped)."""
        for key, t, proc in self._running(but):
            proc.terminate()
            t.join(30)
            del self.runs[key]

    def take(self, sources: list[str], top: str, family: str) -> tuple[int, Path] | None:
        """The finished run of exactly these sources (waits for it), or None if none was started."""
        key = _sources_key(sources, top, family)
        entry = self.runs.get(key)
        if entry is None:
            return None
        self.stop_running(but=key)       # the others are not needed: the cores go to this one
        t, box = entry
        t.join(self.timeout)
        if t.is_alive():
            raise TimeoutError(f"yosys resource synthesis did not finish within {self.timeout} s")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def wait_all(self) -> None:
        """Every run ended: one nobody took is stopped (it writes only to its private folder)."""
        self.stop_running()
        for t, _ in self.runs.values():
            t.join(self.timeout)


_ALONGSIDE: _Alongside | None = None


@contextmanager
def alongside_timing(workdir: Path, timeout: int = 3600) -> Iterator[None]:
    """Within this block every timing estimate (``codesign.rtl.timing.estimate``) also starts the
    resource synthesis of its sources in the background, and ``synthesize`` of the same sources
    takes that run's result instead of synthesizing again."""
    global _ALONGSIDE
    prev, _ALONGSIDE = _ALONGSIDE, _Alongside(Path(workdir).resolve(), timeout)
    try:
        yield
    finally:
        runs, _ALONGSIDE = _ALONGSIDE, prev
        runs.wait_all()


def start_alongside(sources: list[str], top: str, family: str) -> None:
    """Called by a timing estimate: starts the resource synthesis of ``sources`` when enabled."""
    if _ALONGSIDE is not None and shutil.which("yosys") is not None:
        _ALONGSIDE.start(sources, top, family)


def synthesize(sources: list[str], top: str, board: Board, workdir: Path, timeout: int = 3600) -> dict:
    """Runs yosys on ``sources``; returns the resource summary (or ``skipped`` without yosys)."""
    if shutil.which("yosys") is None:
        return {"skipped": "yosys is not on PATH (apt-get install yosys)"}
    workdir = Path(workdir).resolve()
    from codesign.console import waiting
    with waiting(f"yosys synth_xilinx ({top}, resources)"):
        done = _ALONGSIDE.take(sources, top, board.family) if _ALONGSIDE is not None else None
        if done is not None:         # the run started beside the timing estimate: keep its log here
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir(parents=True)
            code, full = done
            for f in full.parent.glob("yosys*.log"):
                shutil.copyfile(f, workdir / f.name)
            (workdir / "synth.ys").write_text(yosys_script(sources, top, board.family))
            full = workdir / full.name
        else:
            code, full = _run_yosys(yosys_script(sources, top, board.family), workdir, timeout)
    log = workdir / "yosys.log"
    if code != 0:
        raise RuntimeError(f"yosys failed (exit {code}); see {log}")
    return {**summarize(parse_stat(full.read_text()), board), "tool": yosys_version(), "log": str(full)}
