"""The block design of a Zynq board, described once in Python.

Both the Vivado tcl (``codesign/bitstream/vivado.py``) and the ``.hwh`` that PYNQ reads
(``codesign/bitstream/hwh.py``) are generated from a ``BlockDesign``, so a driver tested
against the generated ``.hwh`` sees the instance names and addresses a real build has.

Instances (stable names: the driver and the simulated PYNQ device rely on them):

============== ======================================== ======================================
instance       IP                                       role
============== ======================================== ======================================
PS             ``processing_system7_0`` (PS7) or        host; its GP master drives the control
               ``zynq_ultra_ps_e_0`` (PS8)              path, its HP port is the DMA's memory
``axi_dma_0``  ``xilinx.com:ip:axi_dma:7.1``            simple mode (no SG), MM2S + S2MM,
                                                        interrupts left unconnected (the driver
                                                        polls DMASR with a deadline)
``recommender_0`` ``codesign.local:codesign:recommender:1.0`` our AXI-Stream top (``rtl/recommender.v``)
``axi_smc_ctrl`` ``xilinx.com:ip:smartconnect:1.0``     PS GP master -> ``axi_dma_0/S_AXI_LITE``
``axi_smc_data`` ``xilinx.com:ip:smartconnect:1.0``     DMA ``M_AXI_MM2S`` + ``M_AXI_S2MM`` -> PS HP port
``rst_ps_0``   ``xilinx.com:ip:proc_sys_reset:5.0``     resets from the PS reset, on the PL clock
============== ======================================== ======================================

Streams: ``axi_dma_0/M_AXIS_MM2S`` -> ``recommender_0/s_axis`` (``stream_bits`` of
``codesign/stream.py``), ``recommender_0/m_axis`` -> ``axi_dma_0/S_AXIS_S2MM`` (32 bits).
One clock: PS ``FCLK_CLK0`` / ``pl_clk0`` at the board's ``clock_mhz`` for every instance.

Address map: ``axi_dma_0/S_AXI_LITE`` at 0x4040_0000 (PS7, ``M_AXI_GP0``) or 0xA000_0000
(PS8, ``M_AXI_HPM0_FPD``), 64 KiB. The DMA's masters see DDR at 0x0 through the board's HP
port: ``min(memory, 1 GiB)`` on PS7 (``HPx_DDR_LOWOCM``), ``min(memory, 2 GiB)`` on PS8
(``HPx_DDR_LOW``). The largest transfer is ``2**c_sg_length_width - 1`` bytes.

Boards without a PS (Alveo, XRT) have no block design: ``describe`` refuses them with a
pointer to the Vitis route (``codesign/bitstream/vitis.py``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from codesign.boards import Board
from codesign.stream import StreamLayout

ACCEL_INSTANCE = "recommender_0"
ACCEL_MODULE = "recommender"                    # the top the rtl step writes to rtl/recommender.v
ACCEL_VLNV = "codesign.local:codesign:recommender:1.0"
DMA_INSTANCE = "axi_dma_0"
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
SMC_VLNV = "xilinx.com:ip:smartconnect:1.0"
RESET_INSTANCE = "rst_ps_0"
RESET_VLNV = "xilinx.com:ip:proc_sys_reset:5.0"
CTRL_SMC, DATA_SMC = "axi_smc_ctrl", "axi_smc_data"
DMA_REG_RANGE = 0x10000
SG_LENGTH_WIDTH = 26                            # AXI DMA buffer length register width (max 26)
BURST = 16


@dataclass(frozen=True)
class PsSpec:
    """How one PS type names its pins, ports, address windows and clock parameters."""

    kind: str
    instance: str
    vlnv: str
    modtype: str
    arch: str                  # SYSTEMINFO ARCH
    master: str                # GP master that drives the DMA registers
    master_aclk: str
    clk: str                   # PL clock 0 pin
    resetn: str                # PL reset 0 pin
    ctrl_base: int             # DMA register base in the master's window
    ddr_window_max: int        # bytes of DDR an HP port reaches at 0x0
    pll_name: str
    pll_mhz: float             # the PLL the PL clock is divided from (board presets)
    hp_width: int              # HP port data width configured

    def slave(self, port: str) -> str:
        return f"S_AXI_{port}" if self.kind == "ps7" else f"S_AXI_{port}_FPD"

    def slave_aclk(self, port: str) -> str:
        return f"S_AXI_{port}_ACLK" if self.kind == "ps7" else f"saxi{port.lower()}_fpd_aclk"

    def addr_seg(self, port: str) -> str:
        """The DDR address segment behind an HP port as ``get_bd_addr_segs`` names it (PS8 names
        it by the port's internal S_AXI_GPn name, the .hwh by its bus interface name)."""
        if self.kind == "ps7":
            return f"{self.instance}/S_AXI_{port}/{self.ddr_block(port)}"
        return f"{self.instance}/SAXIGP{PS8_SAXI_GP[port]}/{self.ddr_block(port)}"

    def ddr_block(self, port: str) -> str:
        return f"{port}_DDR_LOWOCM" if self.kind == "ps7" else f"{port}_DDR_LOW"


PS_SPECS = {
    "ps7": PsSpec("ps7", "processing_system7_0", "xilinx.com:ip:processing_system7:5.5", "processing_system7",
                  "zynq", "M_AXI_GP0", "M_AXI_GP0_ACLK", "FCLK_CLK0", "FCLK_RESET0_N", 0x4040_0000,
                  1 << 30, "IO PLL", 1000.0, 64),
    "ps8": PsSpec("ps8", "zynq_ultra_ps_e_0", "xilinx.com:ip:zynq_ultra_ps_e:3.4", "zynq_ultra_ps_e",
                  "zynquplus", "M_AXI_HPM0_FPD", "maxihpm0_fpd_aclk", "pl_clk0", "pl_resetn0", 0xA000_0000,
                  2 << 30, "IOPLL", 1500.0, 128),
}
# PS8: S_AXI_GPn of zynq_ultra_ps_e for each HP port (its CONFIG.PSU__USE__S_AXI_GPn switch)
PS8_SAXI_GP = {"HPC0": 0, "HPC1": 1, "HP0": 2, "HP1": 3, "HP2": 4, "HP3": 5}


@dataclass(frozen=True)
class ClockSpec:
    """PL clock 0: the board's clock as the PS divides it from its PLL."""

    requested_mhz: float
    pll: str
    pll_mhz: float
    divisor0: int
    divisor1: int

    @property
    def achieved_mhz(self) -> float:
        return round(self.pll_mhz / (self.divisor0 * self.divisor1), 6)


def clock_divisors(pll_mhz: float, mhz: float) -> tuple[int, int]:
    """Two 6-bit divisors (1..63) whose product brings ``pll_mhz`` nearest to ``mhz``."""
    best = min(((d0, d1) for d0 in range(1, 64) for d1 in range(1, 64)),
               key=lambda d: (abs(pll_mhz / (d[0] * d[1]) - mhz), d[1], d[0]))
    return best


@dataclass(frozen=True)
class Port:
    name: str
    direction: str   # "I" or "O"
    width: int = 1
    sigis: str = "undef"


@dataclass(frozen=True)
class BlockDesign:
    """Everything the tcl and the ``.hwh`` say about one design on one board."""

    board: Board
    layout: StreamLayout
    ps: PsSpec
    clock: ClockSpec
    design_name: str = "codesign_bd"
    dma_params: dict = field(default_factory=dict)

    # -- derived facts ---------------------------------------------------------------------
    @property
    def host_port(self) -> str:
        return self.board.interface.host_port

    @property
    def dma_base(self) -> int:
        return self.ps.ctrl_base

    @property
    def ddr_window(self) -> int:
        return min(self.board.memory.mbytes << 20, self.ps.ddr_window_max)

    @property
    def in_bits(self) -> int:
        return self.layout.stream_bits

    @property
    def out_bits(self) -> int:
        return self.layout.score_bits

    @property
    def max_transfer_bytes(self) -> int:
        return (1 << SG_LENGTH_WIDTH) - 1

    @property
    def max_requests_per_transfer(self) -> int:
        """Requests one MM2S transfer can carry (the S2MM side is smaller: 4 bytes each)."""
        return min(self.max_transfer_bytes // self.layout.request_bytes,
                   self.ddr_window // (2 * (self.layout.request_bytes + self.out_bits // 8)))

    def accel_ports(self) -> list[Port]:
        """Ports of ``recommender`` (rtl/recommender.v), in its declaration order."""
        return [Port("clk", "I", 1, "clk"), Port("rst", "I", 1, "rst"),
                Port("s_axis_tdata", "I", self.in_bits), Port("s_axis_tvalid", "I"), Port("s_axis_tready", "O"),
                Port("s_axis_tlast", "I"),
                Port("m_axis_tdata", "O", self.out_bits), Port("m_axis_tvalid", "O"), Port("m_axis_tready", "I"),
                Port("m_axis_tlast", "O")]

    def ps_config(self) -> dict[str, str]:
        """CONFIG.* of the PS cell in the tcl (on top of the board preset)."""
        f = f"{self.board.clock_mhz:g}"
        if self.ps.kind == "ps7":
            n = self.host_port[-1]
            return {"PCW_USE_M_AXI_GP0": "1", f"PCW_USE_S_AXI_HP{n}": "1", f"PCW_S_AXI_HP{n}_DATA_WIDTH": "64",
                    "PCW_EN_CLK0_PORT": "1", "PCW_EN_RST0_PORT": "1", "PCW_FPGA0_PERIPHERAL_FREQMHZ": f,
                    "PCW_USE_FABRIC_INTERRUPT": "0"}
        gp = PS8_SAXI_GP[self.host_port]
        return {"PSU__USE__M_AXI_GP0": "1", "PSU__MAXIGP0__DATA_WIDTH": "32", "PSU__USE__M_AXI_GP1": "0",
                "PSU__USE__M_AXI_GP2": "0", f"PSU__USE__S_AXI_GP{gp}": "1",
                f"PSU__SAXIGP{gp}__DATA_WIDTH": str(self.ps.hp_width), "PSU__FPGA_PL0_ENABLE": "1",
                "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ": f, "PSU__USE__IRQ0": "0"}

    def ps_clock_params(self) -> dict[str, str]:
        """The PS parameters PYNQ reads for the PL clocks (clock 0 enabled, 1-3 off)."""
        c, out = self.clock, {}
        for i in range(4):
            on = i == 0
            d0, d1 = (c.divisor0, c.divisor1) if on else (10, 1)
            freq = f"{c.achieved_mhz:g}" if on else "0"
            if self.ps.kind == "ps7":
                out.update({f"PCW_FPGA_FCLK{i}_ENABLE": str(int(on)), f"PCW_FCLK{i}_PERIPHERAL_DIVISOR0": str(d0),
                            f"PCW_FCLK{i}_PERIPHERAL_DIVISOR1": str(d1), f"PCW_FCLK{i}_PERIPHERAL_CLKSRC": c.pll,
                            f"PCW_FPGA{i}_PERIPHERAL_FREQMHZ": f"{c.requested_mhz:g}" if on else "0",
                            f"PCW_ACT_FPGA{i}_PERIPHERAL_FREQMHZ": freq})
            else:
                out.update({f"PSU__FPGA_PL{i}_ENABLE": str(int(on)),
                            f"PSU__CRL_APB__PL{i}_REF_CTRL__DIVISOR0": str(d0),
                            f"PSU__CRL_APB__PL{i}_REF_CTRL__DIVISOR1": str(d1),
                            f"PSU__CRL_APB__PL{i}_REF_CTRL__SRCSEL": c.pll,
                            f"PSU__CRL_APB__PL{i}_REF_CTRL__FREQMHZ": f"{c.requested_mhz:g}" if on else "0",
                            f"PSU__CRL_APB__PL{i}_REF_CTRL__ACT_FREQMHZ": freq})
        return out

    def instances(self) -> dict[str, str]:
        """Instance name -> VLNV."""
        return {self.ps.instance: self.ps.vlnv, DMA_INSTANCE: DMA_VLNV, ACCEL_INSTANCE: ACCEL_VLNV,
                CTRL_SMC: SMC_VLNV, DATA_SMC: SMC_VLNV, RESET_INSTANCE: RESET_VLNV}

    def address_map(self) -> list[dict]:
        """Every address segment: which master sees which slave where."""
        ddr = {"slave": f"{self.ps.instance}/{self.ps.slave(self.host_port)}",
               "block": self.ps.ddr_block(self.host_port), "base": 0, "range": self.ddr_window, "memtype": "MEMORY"}
        return [{"master": f"{self.ps.instance}/{self.ps.master}", "slave": f"{DMA_INSTANCE}/S_AXI_LITE",
                 "block": "Reg", "base": self.dma_base, "range": DMA_REG_RANGE, "memtype": "REGISTER"},
                {"master": f"{DMA_INSTANCE}/M_AXI_MM2S", **ddr},
                {"master": f"{DMA_INSTANCE}/M_AXI_S2MM", **ddr}]

    def summary(self) -> dict:
        """The block design in the step's JSON (instances, addresses, widths, clock)."""
        return {
            "name": self.design_name, "ps": self.ps.kind, "ps_instance": self.ps.instance,
            "host_port": self.ps.slave(self.host_port), "control_master": self.ps.master,
            "instances": self.instances(),
            "address_map": [{**seg, "base": f"0x{seg['base']:08X}", "range": f"0x{seg['range']:X}"}
                            for seg in self.address_map()],
            "dma": {"instance": DMA_INSTANCE, "base": f"0x{self.dma_base:08X}", "parameters": self.dma_params},
            "accelerator": {"instance": ACCEL_INSTANCE, "module": ACCEL_MODULE, "vlnv": ACCEL_VLNV,
                            "ports": [vars(p) for p in self.accel_ports()]},
            "streams": {"mm2s_bits": self.in_bits, "s2mm_bits": self.out_bits,
                        "request_bytes": self.layout.request_bytes, "score_bytes": self.out_bits // 8},
            "clock": {"pin": self.ps.clk, "requested_mhz": self.clock.requested_mhz,
                      "achieved_mhz": self.clock.achieved_mhz, "pll": self.clock.pll,
                      "divisors": [self.clock.divisor0, self.clock.divisor1]},
            "ddr_window_bytes": self.ddr_window, "max_transfer_bytes": self.max_transfer_bytes,
            "max_requests_per_transfer": self.max_requests_per_transfer,
        }


def dma_parameters(layout: StreamLayout) -> dict[str, str]:
    """AXI DMA v7.1 parameters (lowercase, as Vivado's CONFIG names and the .hwh carry them)."""
    return {
        "c_include_sg": "0", "c_sg_length_width": str(SG_LENGTH_WIDTH), "c_sg_include_stscntrl_strm": "0",
        "c_micro_dma": "0", "c_addr_width": "32", "c_enable_multi_channel": "0",
        "c_include_mm2s": "1", "c_m_axi_mm2s_data_width": str(layout.stream_bits),
        "c_m_axis_mm2s_tdata_width": str(layout.stream_bits), "c_include_mm2s_dre": "0",
        "c_include_mm2s_sf": "1", "c_mm2s_burst_size": str(BURST),
        "c_include_s2mm": "1", "c_m_axi_s2mm_data_width": str(layout.score_bits),
        "c_s_axis_s2mm_tdata_width": str(layout.score_bits), "c_include_s2mm_dre": "0",
        "c_include_s2mm_sf": "1", "c_s2mm_burst_size": str(BURST),
    }


def describe(board: Board, layout: StreamLayout, design_name: str = "codesign_bd") -> BlockDesign:
    """The block design of ``layout``'s accelerator on ``board`` (a board with a PS)."""
    if board.interface.ps == "none":
        raise ValueError(f"board {board.name} has no PS (XRT card): it has no Vivado block design or .hwh; "
                         f"the bitstream step writes the Vitis kernel project for it instead")
    if layout.stream_bits > board.interface.max_stream_bits:
        raise ValueError(f"the request stream is {layout.stream_bits} bits, more than {board.name}'s "
                         f"max_stream_bits {board.interface.max_stream_bits}: reduce data.fanout or "
                         f"data.title_length")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", design_name):
        raise ValueError(f"block design name {design_name!r} must be a tcl/Verilog identifier")
    ps = PS_SPECS[board.interface.ps]
    d0, d1 = clock_divisors(ps.pll_mhz, board.clock_mhz)
    clock = ClockSpec(board.clock_mhz, ps.pll_name, ps.pll_mhz, d0, d1)
    return BlockDesign(board, layout, ps, clock, design_name, dma_parameters(layout))


def split_part(part: str) -> tuple[str, str, str]:
    """(device, package, speed grade) of a part as the ``.hwh`` SYSTEMINFO writes them:
    ``xc7z020clg400-1`` -> (``7z020``, ``clg400``, ``-1``); ``xczu3eg-sbva484-1-i`` ->
    (``xczu3eg``, ``sbva484``, ``-1``)."""
    m = re.fullmatch(r"xc(7[a-z]\d+)([a-z]+\d+)-(\d+[a-zA-Z]*)", part)
    if m:
        return m.group(1), m.group(2), f"-{m.group(3)}"
    m = re.fullmatch(r"(xc[a-z0-9]+)-([a-z]+\d+)-(\d+[a-zA-Z]*)-[a-z]", part)
    if m:
        return m.group(1), m.group(2), f"-{m.group(3)}"
    raise ValueError(f"part {part!r} is not a Zynq-7000 (xc7z...) or UltraScale+ (xc...-pkg-speed-temp) name")

