"""Board definitions (``boards/<name>.yaml``), checked against a strict schema.

An unknown key, a value of the wrong type (no coercion: ``"100"`` is not a clock) or an
inconsistent combination (a PS7 with an HPC port, a card without a PS but with a DMA) is an
error naming the file, the key and what is allowed. Who reads what:

- ``part``, ``family``, ``resources``: hls/rtl steps (tool target, yosys family, share of the part);
- ``clock_mhz``: rtl/sim latency in time, the block design's PL clock, the Vitis kernel clock;
- ``interface.ps`` / ``interface.host_port`` / ``interface.dma``: the block design
  (``codesign/bitstream/blockdesign.py``: PS7 or PS8, the HP port the DMA masters, AXI DMA or XRT);
- ``interface.max_stream_bits``: checked against the design's stream width by the bitstream step;
- ``interface.platform`` (Alveo): the Vitis platform of ``v++ --platform``;
- ``memory``: the DMA's address window onto DDR (block design, ``.hwh``), the largest
  transfer the driver may allocate, and the Alveo memory bank the data movers use;
- ``board_part``, ``board_connections``: the Vivado board preset (DDR and MIO settings of the PS)
  and, for a SOM, its carrier connection;
- ``hls4ml_board``: hls4ml's VivadoAccelerator board name (HLS route);
- ``pynq_image``: the PYNQ image the overlay is built for, which fixes the Vivado version
  (``vivado_version``) named in the generated project and in the deploy notes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"

# PYNQ image -> the Vivado/Vitis release its overlays are built with (PYNQ release notes).
PYNQ_VIVADO = {"PYNQ 3.0.1": "2022.1", "PYNQ 3.1": "2024.1"}
PS7_PORTS = ("HP0", "HP1", "HP2", "HP3")
PS8_PORTS = ("HP0", "HP1", "HP2", "HP3", "HPC0", "HPC1")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Resources(_Strict):
    lut: int = Field(gt=0)
    ff: int = Field(gt=0)
    dsp: int = Field(ge=0)
    bram36: int = Field(ge=0)


class Memory(_Strict):
    type: Literal["DDR3", "DDR4", "LPDDR4", "HBM2"]
    mbytes: int = Field(gt=0, description="memory the PL can reach through the host port or bank")
    bank: str | None = Field(None, description="Alveo: the memory bank of the data movers, e.g. HBM[0]")


class Interface(_Strict):
    ps: Literal["ps7", "ps8", "none"] = Field(description="Zynq-7000 PS, Zynq UltraScale+ PS, or none (PCIe card)")
    dma: Literal["axi_dma_v7_1", "xrt"] = Field(description="AXI DMA v7.1 simple mode, or XRT data-mover kernels")
    host_port: Literal["HP0", "HP1", "HP2", "HP3", "HPC0", "HPC1"] | None = None
    max_stream_bits: int = Field(ge=32, le=1024)
    platform: str | None = Field(None, description="Vitis platform (XRT cards only)")

    @model_validator(mode="after")
    def _consistent(self) -> "Interface":
        if self.max_stream_bits & (self.max_stream_bits - 1):
            raise ValueError(f"interface.max_stream_bits must be a power of two, got {self.max_stream_bits}")
        if self.ps == "none":
            if self.dma != "xrt" or self.host_port is not None or not self.platform:
                raise ValueError("a board without PS ('ps: none') needs 'dma: xrt', a 'platform' and no 'host_port'")
        else:
            if self.dma != "axi_dma_v7_1" or self.platform is not None:
                raise ValueError(f"a board with a PS ({self.ps}) uses 'dma: axi_dma_v7_1' and no 'platform'")
            ports = PS7_PORTS if self.ps == "ps7" else PS8_PORTS
            if self.host_port not in ports:
                raise ValueError(f"host_port of a {self.ps} must be one of {', '.join(ports)}, got {self.host_port}")
        return self


class Board(_Strict):
    name: str
    part: str
    family: Literal["xc7", "xcup"] = Field(description="yosys synth_xilinx -family")
    clock_mhz: float = Field(gt=0, le=800)
    max_clock_mhz: float | None = Field(None, gt=0, le=800, description="highest PL clock the board's PS can generate for us")
    resources: Resources
    memory: Memory
    interface: Interface
    board_part: str | None = Field(None, description="Vivado board preset (PS boards)")
    board_connections: str | None = Field(None, description="Vivado board_connections (SOM + carrier, e.g. kv260)")
    hls4ml_board: str | None = None
    pynq_image: Literal["PYNQ 3.0.1", "PYNQ 3.1"]

    @model_validator(mode="after")
    def _consistent(self) -> "Board":
        if self.interface.ps == "ps7" and self.family != "xc7":
            raise ValueError("a Zynq-7000 PS (ps7) sits on an xc7 part: family must be xc7")
        if self.interface.ps == "ps8" and self.family != "xcup":
            raise ValueError("a Zynq UltraScale+ PS (ps8) sits on an UltraScale+ part: family must be xcup")
        if self.board_connections and not self.board_part:
            raise ValueError("board_connections needs a board_part")
        if self.interface.ps != "none" and not self.board_part:
            raise ValueError("a board with a PS needs 'board_part' (the Vivado preset for its DDR and MIO)")
        if (self.memory.bank is None) != (self.interface.ps != "none"):
            raise ValueError("memory.bank is set for XRT cards (e.g. HBM[0]) and only for them")
        return self

    @property
    def clock_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    @property
    def vivado_version(self) -> str:
        """The Vivado (and Vitis) release matching ``pynq_image``."""
        return PYNQ_VIVADO[self.pynq_image]

    @property
    def dma_port(self) -> str:
        """Where the accelerator's data reaches memory: the PS port, or the XRT memory bank."""
        if self.interface.ps == "none":
            return f"XRT {self.memory.bank}"
        return f"{self.interface.ps.upper()} {self.interface.host_port}"


def target_clock_mhz(board: Board, requested: float | None) -> float:
    """The design's clock: the board's default, or ``requested`` where the board can generate it."""
    if requested is None:
        return board.clock_mhz
    limit = board.max_clock_mhz or board.clock_mhz
    if requested > limit:
        raise ValueError(f"rtl.clock_mhz {requested} MHz is above what board {board.name} can generate "
                         f"({limit} MHz, max_clock_mhz in boards/{board.name}.yaml): choose {limit} or less")
    return float(requested)


def available_boards() -> list[str]:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.yaml"))


def parse_board(tree, source: str = "<board>") -> Board:
    """Validates one board tree (from YAML); the error names each bad key and the file."""
    if not isinstance(tree, dict):
        raise ValueError(f"board file {source} must hold a mapping, got {type(tree).__name__}")
    try:
        return Board.model_validate(tree)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            key = ".".join(str(p) for p in e["loc"]) or "<top>"
            if e["type"] == "extra_forbidden":
                model = {"resources": Resources, "memory": Memory, "interface": Interface}.get(e["loc"][0], Board) \
                    if len(e["loc"]) > 1 else Board
                lines.append(f"unknown key '{key}'; allowed here: {', '.join(model.model_fields)}")
            else:
                lines.append(f"bad value for '{key}': {e['msg']} (got {e.get('input')!r})")
        raise ValueError(f"board file {source} is invalid:\n  " + "\n  ".join(lines)) from None


def load_board(name: str) -> Board:
    """The board called ``name``; a clear error lists the known boards otherwise."""
    path = BOARDS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown board '{name}'; available: {', '.join(available_boards())} "
                         f"(add one as boards/<name>.yaml)")
    board = parse_board(yaml.safe_load(path.read_text()), str(path))
    if board.name != name:
        raise ValueError(f"board file {path} names itself '{board.name}': rename the file or fix 'name'")
    return board


def format_boards(boards: list[Board]) -> str:
    """The boards as a plain-text table (``codesign boards``)."""
    head = ["board", "part", "LUT", "FF", "DSP", "BRAM36", "clock MHz", "PS", "DMA port", "memory"]
    rows = [[b.name, b.part, f"{b.resources.lut:,}", f"{b.resources.ff:,}", f"{b.resources.dsp:,}",
             f"{b.resources.bram36:,}", f"{b.clock_mhz:g}", b.interface.ps.upper(), b.dma_port,
             f"{b.memory.mbytes} MB {b.memory.type}"] for b in boards]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    left = {0, 1, 7, 8, 9}
    return "\n".join("  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     .rstrip() for r in [head] + rows)
