"""A simulated PYNQ device: the unchanged driver runs against models of the accelerator.

``SimulatedDevice`` is a ``pynq.Device`` subclass. pynq registers every subclass that defines
``_probe_``; this one's ``_probe_`` returns ``[]`` unless ``CODESIGN_SIM_DEVICE`` is set, so a
board never picks it. ``CODESIGN_SIM_DEVICE`` names the backend (``reference``, ``csim``,
``rtl``; ``1`` means ``reference``); ``CODESIGN_SIM_DESIGN`` the design folder it is built
from (default: the folder two levels above the bitstream, ``<design>/bitstream/x.bit``);
``CODESIGN_SIM_PART`` the FPGA part the device claims (default: the design's board's part).
``use_simulated_device(backend=..., part=...)`` does the same from Python.

What it implements (pynq 3.0.1; ``../shared/TOOLCHAIN.md`` "PYNQ without a board"):
- ``get_bitfile_metadata``: pynq's own parser of the ``.hwh`` beside the ``.bit``;
- ``download``: builds an ``AxiDmaModel`` for every AXI DMA v7.1 of the ``.hwh`` at its
  address, with the stream widths of its parameters, then ``post_download``; PL clocks go to
  a stub (``Clocks.set_pl_clk`` raises on x86);
- ``REGISTER_RW``: ``read_registers``/``write_registers`` (all MMIO) decode the address onto
  the DMA models;
- ``allocate``: a ``PynqBuffer`` (``coherent=False``) whose CPU view is the numpy array and
  whose device view is a separate ``bytearray``: ``flush`` copies CPU -> device,
  ``invalidate`` device -> CPU. The DMA sees only the device view, so a driver that forgets
  ``flush`` sends stale requests and one that forgets ``invalidate`` reads stale scores.

The backend runs synchronously inside the register write that arms the second channel: a
slow backend (the RTL simulation) makes that write slow; the driver's deadline bounds its
polling of DMASR, which is where a real accelerator that never answers shows up (the
``fault="hang"`` option models that).
"""
from __future__ import annotations

import ctypes
import os
import weakref
from pathlib import Path

import numpy as np
import pynq
from pynq.buffer import PynqBuffer

from codesign.simdevice.dma import REGISTER_SPACE, AxiDmaModel

ENV_DEVICE = "CODESIGN_SIM_DEVICE"
ENV_DESIGN = "CODESIGN_SIM_DESIGN"
ENV_PART = "CODESIGN_SIM_PART"
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
BUFFER_BASE = 0x1000_0000
PAGE = 4096


class _ClocksStub:
    """PL clocks of the simulated device: records what the overlay asks for."""

    def __init__(self):
        self.settings: dict[int, tuple] = {}

    def set_pl_clk(self, clk_idx, div0=None, div1=None, clk_mhz=None):
        self.settings[clk_idx] = (div0, div1, clk_mhz)


class DeviceMemory:
    """The device's view of DRAM: one ``bytearray`` per allocated buffer, by physical address."""

    def __init__(self):
        self.buffers: dict[int, bytearray] = {}
        self.next_address = BUFFER_BASE

    def new(self, nbytes: int) -> int:
        address = self.next_address
        self.buffers[address] = bytearray(nbytes)
        self.next_address += -(-max(nbytes, 1) // PAGE) * PAGE
        return address

    def _find(self, address: int, nbytes: int) -> tuple[bytearray, int]:
        for base, data in self.buffers.items():
            if base <= address and address + nbytes <= base + len(data):
                return data, address - base
        raise LookupError(f"no allocated buffer covers 0x{address:x}..0x{address + nbytes:x}")

    def read(self, address: int, nbytes: int) -> bytes:
        data, offset = self._find(address, nbytes)
        return bytes(data[offset:offset + nbytes])

    def write(self, address: int, payload: bytes) -> None:
        data, offset = self._find(address, len(payload))
        data[offset:offset + len(payload)] = payload


class SimulatedDevice(pynq.Device):
    """A PYNQ device whose programmable logic is an AXI DMA model in front of a ``Backend``."""

    _probe_priority_ = 900

    @classmethod
    def _probe_(cls) -> list["SimulatedDevice"]:
        kind = os.environ.get(ENV_DEVICE, "").strip()
        if not kind or kind == "0":
            return []
        return [cls(backend_kind="reference" if kind == "1" else kind,
                    design_folder=os.environ.get(ENV_DESIGN) or None, part=os.environ.get(ENV_PART) or None)]

    def __init__(self, backend=None, backend_kind: str = "reference", design_folder: str | Path | None = None,
                 part: str | None = None, fault: str | None = None, tag: str = "simulated0"):
        super().__init__(tag)
        self.name = f"simulated:{getattr(backend, 'name', backend_kind)}"
        self.backend = backend
        self.backend_kind = getattr(backend, "name", backend_kind)
        self.design_folder = Path(design_folder) if design_folder else None
        self._part = part
        self.fault = fault
        self.capabilities = {"REGISTER_RW": True}
        self.memory = DeviceMemory()
        self.dmas: dict[int, AxiDmaModel] = {}
        self.clocks = _ClocksStub()
        import pynq.ps   # Overlay.download sets the PL clocks first: real ones raise on x86
        pynq.ps.Clocks._real_instance = self.clocks
        self.timestamp = ""
        self.bitfile_name = None

    # ------------------------------------------------------------------ identity
    @property
    def part(self) -> str | None:
        """The FPGA part this device claims (argument, else the design's board)."""
        if self._part is None and self.design_folder is not None and (self.design_folder / "design.yaml").is_file():
            import yaml
            from codesign.boards import load_board
            cfg = yaml.safe_load((self.design_folder / "design.yaml").read_text()) or {}
            self._part = load_board(cfg.get("board", "pynq-z2")).part
        return self._part

    # ------------------------------------------------------------------ bitstreams
    def get_bitfile_metadata(self, bitfile_name: str, partial: bool = False):
        """pynq's runtime parser of the ``.hwh`` beside ``bitfile_name``."""
        from pynq.pl_server.hwh_parser import get_hwh_name
        from pynqmetadata.frontends import Metadata
        from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
        hwh = get_hwh_name(bitfile_name)
        if not os.path.isfile(hwh):
            raise FileNotFoundError(f"no hardware handoff {hwh} beside {bitfile_name}: copy the .hwh that "
                                    f"Vivado wrote with the .bit (same name) next to it")
        if self.design_folder is None:
            guess = Path(bitfile_name).resolve().parent.parent
            if (guess / "design.yaml").is_file():
                self.design_folder = guess
        return RuntimeMetadataParser(Metadata(input=Path(hwh)))

    def download(self, bitstream, parser=None) -> None:
        """'Programs' the simulated PL: one DMA model per AXI DMA v7.1 of the ``.hwh``."""
        if parser is None:
            parser = self.get_bitfile_metadata(bitstream.bitfile_name)
        backend = self._backend()
        self.dmas = {}
        for name, ip in parser.ip_dict.items():
            if ip.get("type") != DMA_VLNV:
                continue
            params = {k.lower(): v for k, v in ip.get("parameters", {}).items()}
            mm2s = int(params.get("c_m_axis_mm2s_tdata_width", 0))
            s2mm = int(params.get("c_s_axis_s2mm_tdata_width", 0))
            if not mm2s or not s2mm:
                raise ValueError(f"DMA '{name}' in the .hwh has no stream widths "
                                 f"(c_m_axis_mm2s_tdata_width, c_s_axis_s2mm_tdata_width)")
            # a request is request_bytes (one or several beats), a score word score_bytes
            layout = getattr(backend, "layout", None)
            if layout is not None and (layout.stream_bits, layout.score_bits) != (mm2s, s2mm):
                raise ValueError(f"DMA '{name}' streams {mm2s}/{s2mm} bits, the {backend.name!r} backend's layout "
                                 f"{layout.stream_bits}/{layout.score_bits}: the .hwh is of another design")
            request_bytes, score_bytes = ((layout.request_bytes, layout.score_bytes) if layout is not None
                                          else (mm2s // 8, s2mm // 8))
            self.dmas[int(ip["phys_addr"])] = AxiDmaModel(
                self.memory, backend, request_bytes, score_bytes, int(params.get("c_sg_length_width", 14)),
                fault=self.fault)
        super().post_download(bitstream, parser, self.name)

    def _backend(self):
        if self.backend is None:
            if self.design_folder is None:
                raise RuntimeError(f"the simulated device needs a design folder for its {self.backend_kind!r} "
                                   f"backend: set {ENV_DESIGN}=<design folder> or keep the .bit in "
                                   f"<design>/bitstream/")
            from codesign.simdevice.backends import make_backend
            self.backend = make_backend(self.backend_kind, self.design_folder)
        return self.backend

    # ------------------------------------------------------------------ registers
    def _dma_at(self, address: int) -> tuple[AxiDmaModel, int]:
        for base, dma in self.dmas.items():
            if base <= address < base + REGISTER_SPACE:
                return dma, address - base
        raise RuntimeError(f"simulated PL: no IP answers at 0x{address:x} (a real board would raise a bus error)")

    def read_registers(self, address: int, length: int) -> bytes:
        """``length`` bytes of registers (32-bit words, little endian) at ``address``."""
        dma, offset = self._dma_at(address)
        words = [dma.read(offset + 4 * i) for i in range(-(-length // 4))]
        return b"".join(w.to_bytes(4, "little") for w in words)[:length]

    def write_registers(self, address: int, data: bytes) -> None:
        """Writes 32-bit little-endian words ``data`` to the registers at ``address``."""
        dma, offset = self._dma_at(address)
        data = bytes(data)
        for i in range(0, len(data) - len(data) % 4, 4):
            dma.write(offset + i, int.from_bytes(data[i:i + 4], "little"))

    # ------------------------------------------------------------------ memory
    def allocate(self, shape, dtype, **kwargs) -> PynqBuffer:
        """A non-coherent buffer: CPU view (this array) and device view are separate."""
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        address = self.memory.new(nbytes)
        buf = PynqBuffer(shape, dtype, device=self, device_address=address, bo=address, coherent=False)
        buf[...] = 0
        weakref.finalize(buf, self.memory.buffers.pop, address, None)
        return buf

    def flush(self, bo, offset, vaddr, nbytes) -> None:
        """CPU -> device: what the DMA will read."""
        self.memory.write(bo + offset, ctypes.string_at(vaddr, nbytes))

    def invalidate(self, bo, offset, vaddr, nbytes) -> None:
        """Device -> CPU: what the DMA wrote becomes visible to the CPU."""
        ctypes.memmove(vaddr, self.memory.read(bo + offset, nbytes), nbytes)


def use_simulated_device(backend=None, backend_kind: str = "reference", design_folder: str | Path | None = None,
                         part: str | None = None, fault: str | None = None) -> SimulatedDevice:
    """Makes a new simulated device pynq's active device (``Overlay`` and ``allocate`` use it)."""
    device = SimulatedDevice(backend, backend_kind, design_folder, part, fault)
    pynq.Device.active_device = device
    return device
