"""Timing estimate of a synthesized RTL top before place & route (no vendor tool).

yosys ``synth_xilinx -run :check`` maps the whole top (core, ROMs, stream adapter) to Xilinx
cells; this module then runs a static timing analysis over that netlist (``write_json``) with
the cell delays of yosys' own library (``+/xilinx/cells_sim.v``: Project X-Ray 7-series numbers
in its ``specify`` blocks) plus a routing model: ``net_ns`` on every routed cell input (LUT
inputs, INV inputs, CARRY4 ``DI``/``CYINIT``; the carry chain and LUT->CARRY4 ``S`` are dedicated wires),
as in ``TOOLCHAIN.md`` "Timing without Vivado". The same analysis with ``net_ns = 0`` is the
cells-only figure, an optimistic bound.

Why not yosys' ``sta`` itself: it reports the latest arrival over every net, which is often an
unused carry output ("does not terminate in a recognised endpoint"), and its histogram is
coarse. Here only real endpoints count (a register's data input with its setup time, or an
output port), the arcs are the same, and the critical path comes back with its registers,
pipeline stage, LUT levels and carry length. DSP48E1 delays are functions of its parameters in
the library; ``DSP48E1_TIMING`` copies them for the multiplier modes yosys infers.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

LABEL = "estimated before place & route (yosys cell delays + {net} ns/net)"
LIBRARY = "/usr/share/yosys/xilinx/cells_sim.v"
CLOCK_PINS = ("C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK")
# routed inputs get a net delay; the carry chain (CI) and LUT -> CARRY4.S are dedicated wires.
# An INV is a LUT1 after Vivado's mapping: its input is routed too.
ROUTED = {"CARRY4": ("DI", "CYINIT"), "INV": ("I",), "LUT1": ("I0",), "LUT2": ("I0", "I1"), "LUT3": ("I0", "I1", "I2"),
          "LUT4": ("I0", "I1", "I2", "I3"), "LUT5": ("I0", "I1", "I2", "I3", "I4"),
          "LUT6": ("I0", "I1", "I2", "I3", "I4", "I5")}
# cell delay models per yosys family: yosys has 7-series numbers only
CELL_MODEL = {"xc7": "7-series (Project X-Ray, yosys cells_sim.v)",
              "xcup": "7-series numbers used for UltraScale+ (yosys has no UltraScale+ delays: pessimistic)",
              "xcu": "7-series numbers used for UltraScale (yosys has no UltraScale delays: pessimistic)"}
# DSP48E1, USE_MULT=MULTIPLY, USE_DPORT=FALSE, no pattern detect (cells_sim.v, ps)
DSP48E1_TIMING = {"A.required": {"AREG": 254, "MREG": 1416, "PREG": 2739},
                  "B.required": {"BREG": 324, "MREG": 1285, "PREG": 2608},
                  "C.required": {"CREG": 168, "PREG": 1244},
                  "P.arrival": {"PREG": 329, "CREG": 1687, "MREG": 1671, "AREG": 2952, "BREG": 2813},
                  "comb": {"A": 2823, "B": 2690, "C": 1325}}


@dataclass
class CellTiming:
    """The arcs of one cell type, in ps: combinational, clock-to-output and setup."""

    comb: dict[tuple[str, str], int] = field(default_factory=dict)   # (in port[bit], out port[bit])
    clk_to_q: dict[str, int] = field(default_factory=dict)            # out port -> ps
    setup: dict[str, int] = field(default_factory=dict)               # in port[bit] or port -> ps


_ARC = re.compile(r"^\s*\(\s*([\w\[\]]+)\s*[*=]>\s*([\w\[\]]+)\s*\)\s*=\s*(\d+)\s*;", re.M)
_EDGE = re.compile(r"\(\s*(?:posedge|negedge)\s+(\w+)\s*=>\s*\(\s*(\w+)\s*:[^)]*\)\s*\)\s*=\s*(\d+)\s*;")
_SETUP = re.compile(r"\$setup\s*\(\s*([\w\[\]]+)\s*,\s*(?:posedge|negedge)\s+(\w+)[^,]*,\s*(?:/\*.*?\*/)?\s*(\d+)\s*\)")


@lru_cache(maxsize=4)
def parse_library(path: str = LIBRARY) -> dict[str, CellTiming]:
    """Cell type -> arcs from the ``specify`` blocks of a yosys cell library (max over conditions)."""
    text = Path(path).read_text()
    cells = {}
    for m in re.finditer(r"^module\s+(\\?\$?\w+)\s*[(#](.*?)^endmodule", text, flags=re.M | re.S):
        name, body = m.group(1), m.group(2)
        if "specify" not in body or name == "DSP48E1":
            continue
        t = CellTiming()
        for block in re.findall(r"specify(.*?)endspecify", body, flags=re.S):
            block = re.sub(r"//[^\n]*", "", block)
            for a, b, ps in _ARC.findall(block):
                t.comb[(a, b)] = max(int(ps), t.comb.get((a, b), 0))
            for clk, out, ps in _EDGE.findall(block):
                if clk in CLOCK_PINS:
                    t.clk_to_q[out] = max(int(ps), t.clk_to_q.get(out, 0))
            for pin, clk, ps in _SETUP.findall(block):
                if clk in CLOCK_PINS:
                    t.setup[pin] = max(int(ps), t.setup.get(pin, 0))
        cells[name] = t
    return cells


def _dsp_timing(params: dict) -> CellTiming:
    """DSP48E1 arcs for its register parameters (the multiplier mode yosys infers)."""
    def on(p):
        return int(str(params.get(p, "0")), 2) != 0 if set(str(params.get(p, "0"))) <= {"0", "1"} \
            else bool(int(params.get(p, 0)))
    t = CellTiming()
    for port in ("A", "B", "C"):
        req = next((ps for reg, ps in DSP48E1_TIMING[f"{port}.required"].items() if on(reg)), None)
        if req is not None:
            t.setup[port] = req
        else:
            t.comb[(port, "P")] = DSP48E1_TIMING["comb"][port]
    arr = next((ps for reg, ps in DSP48E1_TIMING["P.arrival"].items() if on(reg)), None)
    if arr is not None:
        t.clk_to_q["P"] = arr
        t.comb = {k: v for k, v in t.comb.items() if k[1] != "P"}
    return t


def _port_bit(port: str, bit: int, width: int) -> str:
    return port if width == 1 else f"{port}[{bit}]"


def analyze(netlist: dict, top: str, net_ns: float, library: str = LIBRARY) -> dict:
    """Static timing of module ``top`` of a yosys JSON netlist; the worst path to a real endpoint.

    Returns ``worst_ns`` (arrival + setup), the endpoint count and the critical path
    (``start``/``end`` net names, cells on it, ``lut_levels``, ``carry4`` cells, ``carry_bits``).
    """
    lib = parse_library(library)
    mod = netlist["modules"][top]
    net = int(round(net_ns * 1000))
    names: dict[int, str] = {}
    for name, n in sorted(mod["netnames"].items(), key=lambda kv: (kv[1].get("hide_name", 0), len(kv[0]))):
        for i, b in enumerate(n["bits"]):
            if isinstance(b, int) and b not in names:
                names[b] = name if len(n["bits"]) == 1 else f"{name}[{i}]"
    arrival: dict[int, float] = {}
    pred: dict[int, tuple] = {}
    fanin: dict[int, list] = {}      # out bit -> [(in bit, delay, cell, arc)]
    endpoints: list[tuple[int, float, str, str]] = []   # (bit, setup ps, cell, pin)
    clock_bits = set()
    for pname, p in mod["ports"].items():
        if p["direction"] == "input":
            for b in p["bits"]:
                if isinstance(b, int):
                    arrival[b] = 0.0
                    pred[b] = (None, 0, f"port {pname}", "input")
        else:
            endpoints += [(b, 0, f"port {pname}", "output") for b in p["bits"] if isinstance(b, int)]
    unknown = set()
    for cname, cell in mod["cells"].items():
        ctype, conns = cell["type"], cell["connections"]
        if ctype == "DSP48E1":
            t = _dsp_timing(cell.get("parameters", {}))
        elif ctype in lib:
            t = lib[ctype]
        else:
            unknown.add(ctype)
            continue
        dirs = cell.get("port_directions", {})
        routed = ROUTED.get(ctype, ())
        pins = {}
        for port, bits in conns.items():
            for i, b in enumerate(bits):
                pins[_port_bit(port, i, len(bits))] = (port, b)
        for (a, z), ps in t.comb.items():
            a_pins = [p for p in pins if p == a or p.startswith(a + "[")]
            z_pins = [p for p in pins if p == z or p.startswith(z + "[")]
            for ap in a_pins:
                port, ab = pins[ap]
                if not isinstance(ab, int):
                    continue
                d = ps + (net if port in routed else 0)
                for zp in z_pins:
                    zb = pins[zp][1]
                    if isinstance(zb, int):
                        fanin.setdefault(zb, []).append((ab, d, cname, f"{ctype}.{ap}->{zp}"))
        for out, ps in t.clk_to_q.items():
            for p, (port, b) in pins.items():
                if port == out and isinstance(b, int):
                    arrival[b] = float(ps)
                    pred[b] = (None, ps, cname, f"{ctype}.clk->{p}")
        for pin, ps in t.setup.items():
            for p, (port, b) in pins.items():
                if (p == pin or port == pin) and isinstance(b, int):
                    endpoints.append((b, ps + (net if port in routed else 0), cname, f"{ctype}.{p}"))
        for port in CLOCK_PINS:
            if dirs.get(port) == "input":
                clock_bits.update(b for b in conns.get(port, []) if isinstance(b, int))
    # arrival times over the combinational arcs (iterative DFS, memoised)
    state: dict[int, int] = {}

    def settle(root: int) -> float:
        stack = [root]
        while stack:
            b = stack[-1]
            if b in arrival and state.get(b) != 1:
                stack.pop()
                state[b] = 2
                continue
            if state.get(b) == 1:          # all fan-in settled
                best, how = 0.0, None
                for src, d, cname, arc in fanin.get(b, ()):
                    a = arrival.get(src, 0.0) + d
                    if how is None or a > best:
                        best, how = a, (src, d, cname, arc)
                arrival[b], state[b] = best, 2
                pred[b] = how if how else (None, 0, "undriven", "")
                stack.pop()
                continue
            state[b] = 1
            for src, *_ in fanin.get(b, ()):
                if state.get(src) == 1 and src not in arrival:
                    raise RuntimeError(f"combinational loop through {names.get(src, src)}")
                if state.get(src) != 2 and src not in arrival:
                    stack.append(src)
        return arrival[root]

    worst = None
    per_register: dict[str, float] = {}     # register cell -> its latest data arrival + setup (ps)
    for b, setup, cname, pin in endpoints:
        if b in clock_bits:
            continue
        t_end = settle(b) + setup
        if not cname.startswith("port "):
            per_register[cname] = max(t_end, per_register.get(cname, 0.0))
        if worst is None or t_end > worst[0]:
            worst = (t_end, b, setup, cname, pin)
    if worst is None:
        raise RuntimeError(f"no timing endpoint in module {top}")
    t_end, b, setup, cname, pin = worst
    steps = [(f"{pin} setup", cname, setup, t_end)]
    while True:
        src, d, pc, arc = pred[b]
        steps.append((arc, pc, d, arrival[b]))
        if src is None:
            break
        b = src
    steps.reverse()
    start_bit = b
    luts = sum(1 for arc, *_ in steps if arc.startswith("LUT"))
    carry = sum(1 for arc, *_ in steps if arc.startswith("CARRY4"))
    return {"worst_ns": round(t_end / 1000, 4), "endpoints": len(endpoints), "per_register": per_register,
            "unknown_cells": sorted(unknown),
            "path": {"start": names.get(start_bit, str(start_bit)), "start_cell": steps[0][1],
                     "end": cname, "end_pin": pin, "lut_levels": luts, "carry4": carry,
                     "carry_bits": 4 * carry, "cells": len(steps) - 2,
                     "arcs": [{"arc": a, "cell": c, "delay_ps": d, "arrival_ps": at} for a, c, d, at in steps]}}


def timing_script(sources: list[str], top: str, family: str, out_json: Path) -> str:
    """yosys script: the whole top mapped to cells, stopped before ``check`` blackboxes them."""
    reads = "\n".join(f"read_verilog -sv -defer {s}" for s in sources)
    return (f"{reads}\nsynth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf -nosrl -run :check\n"
            f"write_json {out_json}\n")


def _register_name(netlist: dict, top: str, cell: str) -> str:
    """A register's name: the public net its output drives (yosys names FF cells $auto$...),
    preferring da4ml's stage registers (``stage<i>_inp``) among the aliases of that net."""
    mod = netlist["modules"][top]
    c = mod["cells"].get(cell)
    if c is None:
        return cell
    outs = {b for p, d in c.get("port_directions", {}).items() if d == "output" for b in c["connections"][p]}
    aliases = []
    for name, n in mod["netnames"].items():
        for i, b in enumerate(n["bits"]):
            if b in outs:
                aliases.append((n.get("hide_name", 0), "_inp" not in name, len(name),
                                name if len(n["bits"]) == 1 else f"{name}[{i}]"))
    return min(aliases)[3] if aliases else cell


def stage_worst_ns(netlist: dict, top: str, per_register: dict[str, float]) -> dict[str, float]:
    """Worst path (ns) into each da4ml core stage's logic output: the registers ``stage<i+1>_inp``
    end the logic of stage i, ``model_out`` the last stage's. Keys are stage numbers."""
    mod = netlist["modules"][top]
    q_bit = {}
    for cname in per_register:
        c = mod["cells"].get(cname, {})
        q = [b for p, d in c.get("port_directions", {}).items() if d == "output" for b in c["connections"][p]]
        if q and isinstance(q[0], int):
            q_bit[cname] = q[0]
    names: dict[int, list[str]] = {}
    wanted = set(q_bit.values())
    for name, n in mod["netnames"].items():
        for b in n["bits"]:
            if b in wanted:
                names.setdefault(b, []).append(name)
    worst: dict[int, float] = {}
    out_regs = []
    for cname, b in q_bit.items():
        aliases = names.get(b, [])
        stages = [st for st in map(pipeline_stage, aliases) if st is not None]
        if stages:
            if stages[0] > 0:
                worst[stages[0] - 1] = max(per_register[cname], worst.get(stages[0] - 1, 0.0))
        elif any(re.search(r"(^|\.)model_out$", a) for a in aliases):
            out_regs.append(per_register[cname])
    if out_regs:
        last = max(worst) + 1 if worst else 0
        worst[last] = max(out_regs)
    return {str(k): round(v / 1000, 4) for k, v in sorted(worst.items())}


def pipeline_stage(name: str) -> int | None:
    """The da4ml core stage a register belongs to (``stage<i>_inp``), None outside the core's stages."""
    m = re.search(r"\bstage(\d+)(?:_inp\b|\.)", name)
    return int(m.group(1)) if m else None


def estimate(sources: list[str], top: str, family: str, clock_mhz: float, workdir: Path,
             net_ns: float = 0.5, margin: float = 0.125, timeout: int = 3600) -> dict:
    """Timing estimate of ``top``: worst path with the routing model and cells only, Fmax,
    slack at ``clock_mhz`` and whether it meets the clock with ``margin`` (share of the period).

    Returns ``{"skipped": reason}`` when yosys is not on PATH.
    """
    import time
    if shutil.which("yosys") is None:
        return {"skipped": "yosys is not on PATH (apt-get install yosys)"}
    start = time.perf_counter()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    netlist_path = workdir / "netlist.json"
    (workdir / "timing.ys").write_text(timing_script(sources, top, family, netlist_path))
    log = workdir / "yosys.log"
    from codesign.console import waiting
    from codesign.rtl.synth import start_alongside
    start_alongside(sources, top, family)      # the resource synthesis of the same sources, when asked for
    with open(log, "w") as f, waiting(f"yosys timing estimate ({top})"):
        proc = subprocess.run(["yosys", "-q", "-l", str(log), "-s", "timing.ys"], stdout=f, stderr=subprocess.STDOUT,
                              timeout=timeout, cwd=workdir)
    if proc.returncode != 0 or not netlist_path.is_file():
        raise RuntimeError(f"yosys timing synthesis failed (exit {proc.returncode}); see {log}")
    netlist = json.loads(netlist_path.read_text())
    netlist_path.unlink()       # large; the log and script stay
    routed = analyze(netlist, top, net_ns)
    cells_only = analyze(netlist, top, 0.0)
    period = 1000.0 / clock_mhz
    worst = routed["worst_ns"]
    path = routed["path"]
    start_name = path["start"] if path["start_cell"].startswith("port ") else _register_name(netlist, top, path["start_cell"])
    end_name = path["end"] if path["end"].startswith("port ") else _register_name(netlist, top, path["end"])
    from codesign.rtl.synth import yosys_version
    return {
        "label": LABEL.format(net=net_ns), "cell_model": CELL_MODEL.get(family, f"7-series numbers used for {family}"),
        "family": family, "net_delay_ns": net_ns, "margin": margin,
        "worst_ns": worst, "worst_ns_cells_only": cells_only["worst_ns"],
        "fmax_mhz": round(1000.0 / worst, 2), "fmax_mhz_cells_only": round(1000.0 / cells_only["worst_ns"], 2),
        "clock_mhz": clock_mhz, "clock_ns": round(period, 4), "budget_ns": round(period * (1 - margin), 4),
        "slack_ns": round(period - worst, 4), "meets": worst <= period * (1 - margin),
        "critical_path": {"start": start_name, "end": end_name, "end_pin": path["end_pin"],
                          "stage": pipeline_stage(start_name), "lut_levels": path["lut_levels"],
                          "carry4": path["carry4"], "carry_bits": path["carry_bits"], "cells": path["cells"],
                          "arcs": path["arcs"]},
        "cells_only_path": {k: cells_only["path"][k] for k in ("lut_levels", "carry4", "cells")},
        "stage_worst_ns": stage_worst_ns(netlist, top, routed["per_register"]),
        "endpoints": routed["endpoints"], "cells_without_delays": routed["unknown_cells"],
        "tool": yosys_version(), "seconds": round(time.perf_counter() - start, 1), "log": str(log),
    }
