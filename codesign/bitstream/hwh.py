"""The ``.hwh`` (hardware handoff) of a ``BlockDesign``, as Vivado's ``write_hw_platform``
/ block-design export would describe it to PYNQ.

``write_hwh(design, path)`` writes it; pynq 3.0.1 (``pynqmetadata``) lists ``axi_dma_0`` in
``ip_dict`` with both channels, at the address the tcl assigns. What it holds (the minimum
PYNQ needs, see ``../shared/TOOLCHAIN.md`` "PYNQ without a board", plus what a reader of the
design needs): every instance with ``FULLNAME`` and VLNV; the PS with its PL clock
parameters and a MEMORYMAP naming ``axi_dma_0/S_AXI_LITE``; the DMA's lowercase ``c_*``
parameters; the stream ports with their widths and connections (DMA <-> ``recommender_0``);
the clock and reset nets. AXI memory-mapped interfaces are listed without their signal
port maps (PYNQ reads only their address maps). DMA interrupts are left unconnected, as in
the tcl: PYNQ then creates no ``Interrupt`` objects and the driver polls.
"""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from codesign.bitstream.blockdesign import (ACCEL_INSTANCE, ACCEL_MODULE, CTRL_SMC, DATA_SMC, DMA_INSTANCE,
                                            RESET_INSTANCE, BlockDesign, split_part)

AXIMM = "xilinx.com:interface:aximm:1.0"
AXIS = "xilinx.com:interface:axis:1.0"
STREAM_SIGNALS = ("tdata", "tkeep", "tvalid", "tready", "tlast")


def _version(vlnv: str) -> str:
    return vlnv.rsplit(":", 1)[1]


class _Builder:
    """Collects modules, ports and nets, then renders the XML."""

    def __init__(self, design: BlockDesign):
        self.d = design
        self.modules: dict[str, ET.Element] = {}
        self.ports: dict[tuple[str, str], ET.Element] = {}

    def module(self, instance: str, vlnv: str, modtype: str, params: dict, is_pl: bool = True,
               iptype: str = "PERIPHERAL") -> ET.Element:
        attrs = {"FULLNAME": f"/{instance}", "HWVERSION": _version(vlnv), "INSTANCE": instance, "IPTYPE": iptype,
                 "IS_ENABLE": "1", "MODCLASS": iptype, "MODTYPE": modtype, "VLNV": vlnv}
        if not is_pl:
            attrs["IS_PL"] = "FALSE"
        m = ET.Element("MODULE", attrs)
        ps = ET.SubElement(m, "PARAMETERS")
        for k, v in params.items():
            ET.SubElement(ps, "PARAMETER", {"NAME": k, "VALUE": str(v)})
        ET.SubElement(m, "PORTS")
        ET.SubElement(m, "BUSINTERFACES")
        self.modules[instance] = m
        return m

    def port(self, instance: str, name: str, direction: str, width: int = 1, sigis: str = "undef") -> None:
        attrs = {"DIR": direction, "NAME": name, "SIGIS": sigis}
        if width > 1:
            attrs.update({"LEFT": str(width - 1), "RIGHT": "0"})
        p = ET.SubElement(self.modules[instance].find("PORTS"), "PORT", attrs)
        ET.SubElement(p, "CONNECTIONS")
        self.ports[(instance, name)] = p

    def net(self, name: str, driver: tuple[str, str], *loads: tuple[str, str]) -> None:
        """Connects ``driver`` to every load: the driver lists its loads, each load its driver."""
        for end, others in [(driver, loads)] + [(load, (driver,)) for load in loads]:
            port = self.ports[end]
            port.set("SIGNAME", name)
            for other in others:
                ET.SubElement(port.find("CONNECTIONS"), "CONNECTION", {"INSTANCE": other[0], "PORT": other[1]})

    def busif(self, instance: str, name: str, kind: str, vlnv: str, busname: str, params: dict,
              portmap: dict[str, str] | None = None, width: int | None = None) -> None:
        attrs = {"BUSNAME": busname, "NAME": name, "TYPE": kind, "VLNV": vlnv}
        if width:
            attrs["DATAWIDTH"] = str(width)
        b = ET.SubElement(self.modules[instance].find("BUSINTERFACES"), "BUSINTERFACE", attrs)
        for k, v in params.items():
            ET.SubElement(b, "PARAMETER", {"NAME": k, "VALUE": str(v)})
        if portmap:
            pm = ET.SubElement(b, "PORTMAPS")
            for logical, physical in portmap.items():
                ET.SubElement(pm, "PORTMAP", {"LOGICAL": logical, "PHYSICAL": physical})

    def memrange(self, instance: str, seg: dict) -> None:
        mm = self.modules[instance].find("MEMORYMAP")
        if mm is None:
            mm = ET.SubElement(self.modules[instance], "MEMORYMAP")
        target, slave = seg["slave"].split("/")
        master = seg["master"].split("/")[1]
        base = seg["base"]
        ET.SubElement(mm, "MEMRANGE", {
            "ADDRESSBLOCK": seg["block"], "BASENAME": "C_BASEADDR", "BASEVALUE": f"0x{base:08X}",
            "HIGHNAME": "C_HIGHADDR", "HIGHVALUE": f"0x{base + seg['range'] - 1:08X}", "INSTANCE": target,
            "IS_DATA": "TRUE", "IS_INSTRUCTION": "TRUE", "MASTERBUSINTERFACE": master, "MEMTYPE": seg["memtype"],
            "SLAVEBUSINTERFACE": slave})


def _stream_params(bits: int, freq_hz: int, clk_domain: str) -> dict:
    return {"TDATA_NUM_BYTES": bits // 8, "TDEST_WIDTH": 0, "TID_WIDTH": 0, "TUSER_WIDTH": 0, "HAS_TREADY": 1,
            "HAS_TSTRB": 0, "HAS_TKEEP": 0, "HAS_TLAST": 1, "FREQ_HZ": freq_hz, "CLK_DOMAIN": clk_domain}


def _mm_params(bits: int, protocol: str, freq_hz: int, clk_domain: str) -> dict:
    return {"DATA_WIDTH": bits, "PROTOCOL": protocol, "FREQ_HZ": freq_hz, "ADDR_WIDTH": 32,
            "CLK_DOMAIN": clk_domain}


def build_hwh(design: BlockDesign, name: str | None = None) -> ET.ElementTree:
    """The ``.hwh`` document of ``design`` (``name``: the SYSTEMINFO name, default the BD name)."""
    d, ps = design, design.ps
    b = _Builder(d)
    freq = int(round(d.clock.achieved_mhz * 1e6))
    domain = f"{d.design_name}_{ps.instance}_0_{ps.clk}"
    host_slave, host_aclk = ps.slave(d.host_port), ps.slave_aclk(d.host_port)

    # processing system
    b.module(ps.instance, ps.vlnv, ps.modtype, d.ps_clock_params() | d.ps_config(), is_pl=False)
    b.port(ps.instance, ps.clk, "O", sigis="clk")
    b.port(ps.instance, ps.resetn, "O", sigis="rst")
    b.port(ps.instance, ps.master_aclk, "I", sigis="clk")
    b.port(ps.instance, host_aclk, "I", sigis="clk")
    b.busif(ps.instance, ps.master, "MASTER", AXIMM, f"{ps.instance}_{ps.master}",
            _mm_params(32, "AXI4", freq, domain), width=32)
    b.busif(ps.instance, host_slave, "SLAVE", AXIMM, f"{DATA_SMC}_M00_AXI",
            _mm_params(ps.hp_width, "AXI4", freq, domain), width=ps.hp_width)

    # AXI DMA
    b.module(DMA_INSTANCE, "xilinx.com:ip:axi_dma:7.1", "axi_dma", d.dma_params)
    for clk in ("s_axi_lite_aclk", "m_axi_mm2s_aclk", "m_axi_s2mm_aclk"):
        b.port(DMA_INSTANCE, clk, "I", sigis="clk")
    b.port(DMA_INSTANCE, "axi_resetn", "I", sigis="rst")
    mm2s = {s: f"m_axis_mm2s_{s}" for s in STREAM_SIGNALS}
    s2mm = {s: f"s_axis_s2mm_{s}" for s in STREAM_SIGNALS}
    for prefix, sigs, bits, out in (("mm2s", mm2s, d.in_bits, True), ("s2mm", s2mm, d.out_bits, False)):
        widths = {"tdata": bits, "tkeep": bits // 8}
        for s, phys in sigs.items():
            drives = (s != "tready") == out
            b.port(DMA_INSTANCE, phys, "O" if drives else "I", widths.get(s, 1))
    b.port(DMA_INSTANCE, "mm2s_introut", "O", sigis="INTERRUPT")
    b.port(DMA_INSTANCE, "s2mm_introut", "O", sigis="INTERRUPT")
    b.busif(DMA_INSTANCE, "S_AXI_LITE", "SLAVE", AXIMM, f"{CTRL_SMC}_M00_AXI",
            _mm_params(32, "AXI4LITE", freq, domain) | {"ADDR_WIDTH": 10}, width=32)
    b.busif(DMA_INSTANCE, "M_AXI_MM2S", "MASTER", AXIMM, f"{DMA_INSTANCE}_M_AXI_MM2S",
            _mm_params(d.in_bits, "AXI4", freq, domain) | {"READ_WRITE_MODE": "READ_ONLY"}, width=d.in_bits)
    b.busif(DMA_INSTANCE, "M_AXI_S2MM", "MASTER", AXIMM, f"{DMA_INSTANCE}_M_AXI_S2MM",
            _mm_params(d.out_bits, "AXI4", freq, domain) | {"READ_WRITE_MODE": "WRITE_ONLY"}, width=d.out_bits)
    b.busif(DMA_INSTANCE, "M_AXIS_MM2S", "INITIATOR", AXIS, f"{DMA_INSTANCE}_M_AXIS_MM2S",
            _stream_params(d.in_bits, freq, domain) | {"HAS_TKEEP": 1}, {k.upper(): v for k, v in mm2s.items()})
    b.busif(DMA_INSTANCE, "S_AXIS_S2MM", "TARGET", AXIS, f"{ACCEL_INSTANCE}_m_axis",
            _stream_params(d.out_bits, freq, domain) | {"HAS_TKEEP": 1}, {k.upper(): v for k, v in s2mm.items()})

    # the accelerator: our AXI-Stream top packaged as an IP
    b.module(ACCEL_INSTANCE, "codesign.local:codesign:recommender:1.0", ACCEL_MODULE,
             {"Component_Name": f"{d.design_name}_{ACCEL_INSTANCE}_0", "IN_W": d.in_bits, "OUT_W": d.out_bits})
    for p in d.accel_ports():
        b.port(ACCEL_INSTANCE, p.name, p.direction, p.width, p.sigis)
    stream_sigs = ("tdata", "tvalid", "tready", "tlast")
    b.busif(ACCEL_INSTANCE, "s_axis", "SLAVE", AXIS, f"{DMA_INSTANCE}_M_AXIS_MM2S",
            _stream_params(d.in_bits, freq, domain), {s.upper(): f"s_axis_{s}" for s in stream_sigs})
    b.busif(ACCEL_INSTANCE, "m_axis", "MASTER", AXIS, f"{ACCEL_INSTANCE}_m_axis",
            _stream_params(d.out_bits, freq, domain), {s.upper(): f"m_axis_{s}" for s in stream_sigs})

    # interconnects and reset
    for smc, slaves in ((CTRL_SMC, 1), (DATA_SMC, 2)):
        b.module(smc, "xilinx.com:ip:smartconnect:1.0", "smartconnect", {"NUM_SI": slaves, "NUM_MI": 1},
                 iptype="BUS")
        b.port(smc, "aclk", "I", sigis="clk")
        b.port(smc, "aresetn", "I", sigis="rst")
    b.busif(CTRL_SMC, "S00_AXI", "SLAVE", AXIMM, f"{ps.instance}_{ps.master}", {}, width=32)
    b.busif(CTRL_SMC, "M00_AXI", "MASTER", AXIMM, f"{CTRL_SMC}_M00_AXI", {}, width=32)
    b.busif(DATA_SMC, "S00_AXI", "SLAVE", AXIMM, f"{DMA_INSTANCE}_M_AXI_MM2S", {}, width=d.in_bits)
    b.busif(DATA_SMC, "S01_AXI", "SLAVE", AXIMM, f"{DMA_INSTANCE}_M_AXI_S2MM", {}, width=d.out_bits)
    b.busif(DATA_SMC, "M00_AXI", "MASTER", AXIMM, f"{DATA_SMC}_M00_AXI", {}, width=ps.hp_width)
    b.module(RESET_INSTANCE, "xilinx.com:ip:proc_sys_reset:5.0", "proc_sys_reset", {"C_EXT_RST_WIDTH": 4})
    b.port(RESET_INSTANCE, "slowest_sync_clk", "I", sigis="clk")
    b.port(RESET_INSTANCE, "ext_reset_in", "I", sigis="rst")
    b.port(RESET_INSTANCE, "peripheral_aresetn", "O", sigis="rst")
    b.port(RESET_INSTANCE, "peripheral_reset", "O", sigis="rst")

    # nets
    b.net(f"{ps.instance}_{ps.clk}", (ps.instance, ps.clk), (ps.instance, ps.master_aclk), (ps.instance, host_aclk),
          (DMA_INSTANCE, "s_axi_lite_aclk"), (DMA_INSTANCE, "m_axi_mm2s_aclk"), (DMA_INSTANCE, "m_axi_s2mm_aclk"),
          (ACCEL_INSTANCE, "clk"), (CTRL_SMC, "aclk"), (DATA_SMC, "aclk"), (RESET_INSTANCE, "slowest_sync_clk"))
    b.net(f"{ps.instance}_{ps.resetn}", (ps.instance, ps.resetn), (RESET_INSTANCE, "ext_reset_in"))
    b.net(f"{RESET_INSTANCE}_peripheral_aresetn", (RESET_INSTANCE, "peripheral_aresetn"),
          (DMA_INSTANCE, "axi_resetn"), (CTRL_SMC, "aresetn"), (DATA_SMC, "aresetn"))
    b.net(f"{RESET_INSTANCE}_peripheral_reset", (RESET_INSTANCE, "peripheral_reset"), (ACCEL_INSTANCE, "rst"))
    for s in stream_sigs:
        if s == "tready":
            b.net(f"{ACCEL_INSTANCE}_s_axis_tready", (ACCEL_INSTANCE, "s_axis_tready"), (DMA_INSTANCE, mm2s[s]))
            b.net(f"{DMA_INSTANCE}_s_axis_s2mm_tready", (DMA_INSTANCE, s2mm[s]), (ACCEL_INSTANCE, "m_axis_tready"))
        else:
            b.net(f"{DMA_INSTANCE}_m_axis_mm2s_{s}", (DMA_INSTANCE, mm2s[s]), (ACCEL_INSTANCE, f"s_axis_{s}"))
            b.net(f"{ACCEL_INSTANCE}_m_axis_{s}", (ACCEL_INSTANCE, f"m_axis_{s}"), (DMA_INSTANCE, s2mm[s]))

    # address map
    for seg in d.address_map():
        b.memrange(seg["master"].split("/")[0], seg)

    device, package, speed = split_part(d.board.part)
    root = ET.Element("EDKSYSTEM", {"EDWVERSION": "1.2", "TIMESTAMP": "generated by codesign",
                                    "VIVADOVERSION": d.board.vivado_version})
    ET.SubElement(root, "SYSTEMINFO", {"ARCH": ps.arch, "BOARD": d.board.board_part or "", "DEVICE": device,
                                       "NAME": name or d.design_name, "PACKAGE": package, "SPEEDGRADE": speed})
    ET.SubElement(root, "EXTERNALPORTS")
    ET.SubElement(root, "EXTERNALINTERFACES")
    modules = ET.SubElement(root, "MODULES")
    for m in b.modules.values():
        modules.append(m)
    tree = ET.ElementTree(root)
    ET.indent(tree, space="  ")
    return tree


def write_hwh(design: BlockDesign, path: str | Path, name: str | None = None) -> Path:
    """Writes the ``.hwh`` of ``design`` to ``path`` (PYNQ wants it beside the ``.bit``, same stem)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = build_hwh(design, name)
    text = ET.tostring(tree.getroot(), encoding="unicode")
    header = ('<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n'
              f"<!-- Generated by codesign from the block design description (codesign/bitstream/blockdesign.py)"
              f" for {design.board.name} ({design.board.part}); Vivado's own export of the same block design "
              f"replaces it when the bitstream is built. -->\n")
    path.write_text(header + text + "\n")
    return path


def hwh_part(path: str | Path) -> tuple[str, str, str]:
    """(device, package, speed grade) a ``.hwh`` was made for; compare with ``split_part(board.part)``."""
    info = ET.parse(path).getroot().find("SYSTEMINFO")
    if info is None:
        raise ValueError(f"{path} has no SYSTEMINFO: not a Vivado hardware handoff file")
    return info.get("DEVICE"), info.get("PACKAGE"), info.get("SPEEDGRADE")


DMA_KEYS = ("c_include_sg", "c_include_mm2s", "c_include_s2mm", "c_m_axi_mm2s_data_width",
            "c_m_axis_mm2s_tdata_width", "c_m_axi_s2mm_data_width", "c_s_axis_s2mm_tdata_width",
            "c_sg_length_width")


def hwh_summary(path: str | Path) -> dict:
    """What a ``.hwh`` says about our design, read with the standard library: every instance's
    VLNV, the DMA's register window (as the PS master sees it) and parameters, the part."""
    root = ET.parse(path).getroot()
    modules = {m.get("INSTANCE"): m for m in root.iter("MODULE")}
    out: dict = {"part": list(hwh_part(path)), "instances": {k: m.get("VLNV") for k, m in modules.items()}}
    dma = modules.get(DMA_INSTANCE)
    if dma is None:
        raise ValueError(f"{path} has no {DMA_INSTANCE} (AXI DMA): not a codesign block design")
    params = {p.get("NAME"): p.get("VALUE") for p in dma.iter("PARAMETER")}
    out["dma_parameters"] = {k: params.get(k) for k in DMA_KEYS}
    windows = [r for m in modules.values() if m.get("IS_PL") == "FALSE" for r in m.iter("MEMRANGE")
               if r.get("INSTANCE") == DMA_INSTANCE]
    if not windows:
        raise ValueError(f"{path}: no processing system maps {DMA_INSTANCE}'s registers (PYNQ would not list it)")
    out["dma_base"] = int(windows[0].get("BASEVALUE"), 16)
    out["dma_range"] = int(windows[0].get("HIGHVALUE"), 16) - out["dma_base"] + 1
    return out


def compare_hwh(expected: str | Path, got: str | Path) -> list[str]:
    """Differences between two ``.hwh`` files on what the driver relies on (instances of ours,
    DMA window and parameters, part); empty when they agree. Vivado adds instances of its
    own (e.g. interconnect internals): only the expected ones are checked."""
    a, b = hwh_summary(expected), hwh_summary(got)
    diffs = [f"instance {name}: {vlnv} expected, {b['instances'].get(name)} found"
             for name, vlnv in a["instances"].items() if b["instances"].get(name) != vlnv]
    diffs += [f"{key}: {a[key]} expected, {b[key]} found" for key in ("part", "dma_base", "dma_range")
              if a[key] != b[key]]
    diffs += [f"{DMA_INSTANCE} {k}: {v} expected, {b['dma_parameters'][k]} found"
              for k, v in a["dma_parameters"].items() if b["dma_parameters"][k] != v]
    return diffs
