"""Parsers of Vivado's text reports (UG906 formats), for the step's JSON.

``parse_utilization(text, board)``: ``report_utilization`` tables ("Slice Logic" / "CLB
Logic", "Memory", "DSP"): used and available LUT, FF, BRAM36 (tiles) and DSP, and the share
of the board's part. ``parse_timing_summary(text)``: the "Design Timing Summary" row (WNS,
TNS, WHS, THS and failing endpoints) and the "Clock Summary" periods.
"""
from __future__ import annotations

import re

from codesign.boards import Board

# report row label -> our key (7-series names first, UltraScale+ second)
UTIL_ROWS = {"Slice LUTs": "lut", "CLB LUTs": "lut", "Slice Registers": "ff", "CLB Registers": "ff",
             "Block RAM Tile": "bram36", "DSPs": "dsp", "URAM": "uram"}


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_utilization(text: str, board: Board | None = None) -> dict:
    """Used/available resources of a ``report_utilization`` report (flat, not hierarchical)."""
    out: dict = {}
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        if cells and cells[0] == "Site Type":
            header = cells
            continue
        if header is None or cells[0] not in UTIL_ROWS or UTIL_ROWS[cells[0]] in out:
            continue
        row = dict(zip(header, cells))
        try:
            used = float(row["Used"])
            available = float(row["Available"])
        except (KeyError, ValueError):
            raise ValueError(f"utilization row {cells[0]!r} has no numeric Used/Available: {line.strip()}") from None
        out[UTIL_ROWS[cells[0]]] = {"used": int(used) if used.is_integer() else used, "available": int(available)}
    missing = [k for k in ("lut", "ff", "bram36", "dsp") if k not in out]
    if missing:
        raise ValueError(f"the utilization report has no row for {', '.join(missing)}: is it from report_utilization?")
    if board is not None:
        res = board.resources
        out["share_of_board"] = {k: round(out[k]["used"] / getattr(res, k), 4) for k in ("lut", "ff", "bram36", "dsp")
                                 if getattr(res, k)}
        wrong = [k for k in ("lut", "ff", "dsp") if out[k]["available"] != getattr(res, k)]
        if wrong:
            out["warning"] = (f"the report's available {', '.join(wrong)} differ from boards/{board.name}.yaml: "
                              f"built for another part?")
    return out


def parse_timing_summary(text: str) -> dict:
    """WNS/TNS/WHS/THS (ns) and the clocks of a ``report_timing_summary`` report."""
    lines = text.splitlines()
    result: dict = {}
    for i, line in enumerate(lines):
        if "WNS(ns)" in line and "TNS(ns)" in line:
            names = re.split(r"\s{2,}", line.strip())
            for values_line in lines[i + 2:i + 6]:
                values = values_line.split()
                if values and len(values) >= len(names):
                    break
            else:
                raise ValueError("the Design Timing Summary header has no row of values under it")
            row = dict(zip(names, values))
            key = {"WNS(ns)": "wns_ns", "TNS(ns)": "tns_ns", "WHS(ns)": "whs_ns", "THS(ns)": "ths_ns",
                   "TNS Failing Endpoints": "setup_failing_endpoints",
                   "THS Failing Endpoints": "hold_failing_endpoints"}
            for name, k in key.items():
                if name in row:
                    result[k] = float(row[name]) if "ns" in k else int(row[name])
            break
    if "wns_ns" not in result:
        raise ValueError("no Design Timing Summary (WNS(ns) ...) in the report: is it from report_timing_summary?")
    clocks = {}
    for i, line in enumerate(lines):
        if re.match(r"^Clock\s+Waveform\(ns\)\s+Period\(ns\)\s+Frequency\(MHz\)", line.strip()):
            for row in lines[i + 2:]:
                m = re.match(r"^\s*(\S+)\s+\{[^}]*\}\s+([\d.]+)\s+([\d.]+)", row)
                if not m:
                    break
                clocks[m.group(1)] = {"period_ns": float(m.group(2)), "mhz": float(m.group(3))}
            break
    result["clocks"] = clocks
    result["met"] = result["wns_ns"] >= 0 and result.get("whs_ns", 0.0) >= 0
    return result


def timing_at_clock(timing: dict, clock_mhz: float) -> dict:
    """WNS at the board clock: the constrained clock with that frequency, and the Fmax it implies."""
    match = [name for name, c in timing["clocks"].items() if abs(c["mhz"] - clock_mhz) <= 0.01 * clock_mhz]
    period = 1000.0 / clock_mhz
    return {"clock": match[0] if match else None, "clock_mhz": clock_mhz, "wns_ns": timing["wns_ns"],
            "met": timing["met"], "fmax_mhz": round(1000.0 / (period - timing["wns_ns"]), 2),
            **({} if match else {"warning": f"no clock near {clock_mhz:g} MHz in the timing report"})}
