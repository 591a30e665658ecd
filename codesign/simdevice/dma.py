"""A register model of the Xilinx AXI DMA v7.1 in simple (direct register) mode, PG021.

Registers (byte offsets; MM2S at 0x00, S2MM at 0x30):
    +0x00 DMACR  RS 0x1 (run/stop), Reset 0x4, IOC_IrqEn 0x1000, Err_IrqEn 0x4000
    +0x04 DMASR  Halted 0x1, Idle 0x2, DMAIntErr 0x10, DMASlvErr 0x20, DMADecErr 0x40,
                 IOC_Irq 0x1000, Err_Irq 0x4000 (the IRQ bits are write-1-to-clear)
    +0x18/+0x1C  MM2S_SA / S2MM_DA (low, high word of the buffer address)
    +0x28 LENGTH writing it starts the transfer; S2MM LENGTH reads back the bytes received
An error sets its bit and Err_Irq, clears RS and halts the channel (only a reset or RS=1
starts it again). Memory accesses go through ``Memory`` (the device's own view of DRAM,
separate from the CPU's: see ``codesign.simdevice.device``).

The stream side: an MM2S transfer is one packet (TLAST on its last beat) of request beats;
when both channels are armed the packet goes to a ``Backend`` and its score beats come back
as one S2MM packet (the top copies TLAST onto the last score). A packet that is not a whole
number of requests never produces its TLAST, so the S2MM transfer never completes (as on the
hardware). An S2MM length shorter than the packet is a DMAIntErr. ``fault`` injects failures
for tests: ``"hang"`` (the accelerator never answers), ``"slave"``, ``"decode"`` or
``"internal"`` (the named error on the S2MM channel).
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

MM2S, S2MM = 0x00, 0x30
DMACR, DMASR, ADDR, ADDR_MSB, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
RS, RESET = 0x1, 0x4
HALTED, IDLE, INT_ERR, SLV_ERR, DEC_ERR, IOC_IRQ, DLY_IRQ, ERR_IRQ = (
    0x1, 0x2, 0x10, 0x20, 0x40, 0x1000, 0x2000, 0x4000)
IRQ_BITS = IOC_IRQ | DLY_IRQ | ERR_IRQ
FAULTS = {"hang": 0, "internal": INT_ERR, "slave": SLV_ERR, "decode": DEC_ERR}
REGISTER_SPACE = 0x10000


class Memory(Protocol):
    """The device's view of DRAM."""

    def read(self, address: int, nbytes: int) -> bytes: ...

    def write(self, address: int, data: bytes) -> None: ...


class Channel:
    """One direction of the DMA: its five registers and its outstanding transfer."""

    def __init__(self, name: str):
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.cr = 0
        self.sr = HALTED
        self.addr = 0
        self.length = 0
        self.busy = False

    @property
    def running(self) -> bool:
        return bool(self.cr & RS) and not self.sr & HALTED

    def fail(self, bit: int) -> None:
        """An error: its bit and Err_Irq set, RS cleared, the channel halted."""
        self.sr = (self.sr | bit | ERR_IRQ | HALTED) & ~IDLE
        self.cr &= ~RS
        self.busy = False

    def complete(self, length: int | None = None) -> None:
        if length is not None:
            self.length = length
        self.busy = False
        self.sr |= IDLE | IOC_IRQ


class AxiDmaModel:
    """The registers and data movement of one AXI DMA v7.1 in simple mode."""

    def __init__(self, memory: Memory, backend, request_bytes: int, score_bytes: int,
                 length_width: int = 26, fault: str | None = None):
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown DMA fault {fault!r}; choose one of {', '.join(FAULTS)}")
        self.memory = memory
        self.backend = backend
        self.request_bytes = request_bytes
        self.score_bytes = score_bytes
        self.max_length = (1 << length_width) - 1
        self.fault = fault
        self.channels = {MM2S: Channel("MM2S"), S2MM: Channel("S2MM")}
        self.packets = 0

    # ------------------------------------------------------------------ registers
    def read(self, offset: int) -> int:
        """The 32-bit register at ``offset``."""
        ch, reg = self._decode(offset)
        if ch is None:
            return 0
        return {DMACR: ch.cr, DMASR: ch.sr, ADDR: ch.addr & 0xFFFFFFFF, ADDR_MSB: ch.addr >> 32,
                LENGTH: ch.length}.get(reg, 0)

    def write(self, offset: int, value: int) -> None:
        """Writes the 32-bit register at ``offset`` (side effects as PG021 describes)."""
        ch, reg = self._decode(offset)
        if ch is None:
            return
        value &= 0xFFFFFFFF
        if reg == DMACR:
            if value & RESET:    # soft reset resets both channels
                for c in self.channels.values():
                    c.reset()
                return
            ch.cr = value
            if value & RS:
                if ch.sr & HALTED and not ch.sr & (INT_ERR | SLV_ERR | DEC_ERR):
                    ch.sr &= ~(HALTED | IDLE)
            else:
                ch.sr |= HALTED
                ch.busy = False
        elif reg == DMASR:
            ch.sr &= ~(value & IRQ_BITS)
        elif reg == ADDR:
            ch.addr = (ch.addr & ~0xFFFFFFFF) | value
        elif reg == ADDR_MSB:
            ch.addr = (ch.addr & 0xFFFFFFFF) | (value << 32)
        elif reg == LENGTH:
            self._start(ch, value)

    def _decode(self, offset: int) -> tuple[Channel | None, int]:
        base = S2MM if offset >= S2MM else MM2S
        return self.channels.get(base) if offset - base <= LENGTH else None, offset - base

    # ------------------------------------------------------------------ transfers
    def _start(self, ch: Channel, length: int) -> None:
        if not ch.running or ch.busy:
            return          # writes to LENGTH of a halted or busy channel are ignored
        ch.length = length & self.max_length
        ch.sr &= ~IDLE
        if ch.length == 0:
            ch.fail(INT_ERR)
            return
        ch.busy = True
        self._move()

    def _move(self) -> None:
        """Runs the accelerator once both channels are armed."""
        mm2s, s2mm = self.channels[MM2S], self.channels[S2MM]
        if not (mm2s.busy and s2mm.busy):
            return
        if self.fault == "hang":
            return
        try:
            packet = self.memory.read(mm2s.addr, mm2s.length)
        except LookupError:
            mm2s.fail(DEC_ERR)
            return
        mm2s.complete()
        if self.fault:
            s2mm.fail(FAULTS[self.fault])
            return
        whole = len(packet) // self.request_bytes * self.request_bytes
        scores = bytes(np.asarray(self.backend.process(np.frombuffer(packet[:whole], np.uint8)),
                                  np.uint8).reshape(-1)) if whole else b""
        expected = whole // self.request_bytes * self.score_bytes
        if len(scores) != expected:
            raise RuntimeError(f"backend {getattr(self.backend, 'name', '?')!r} returned {len(scores)} score "
                               f"bytes for {whole // self.request_bytes} requests (expected {expected})")
        try:
            self.memory.write(s2mm.addr, scores[:s2mm.length])
        except LookupError:
            s2mm.fail(DEC_ERR)
            return
        self.packets += 1
        if len(scores) > s2mm.length:
            s2mm.fail(INT_ERR)       # the packet is longer than the S2MM buffer length
        elif whole == len(packet):   # TLAST came with the last score
            s2mm.complete(len(scores))
        # else: the partial request never yields a score with TLAST: S2MM stays busy
