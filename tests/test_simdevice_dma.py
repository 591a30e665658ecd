"""The AXI DMA v7.1 simple-mode register model and the simulated device's non-coherent memory."""
from __future__ import annotations

import numpy as np
import pytest

from codesign.simdevice.device import DeviceMemory, SimulatedDevice
from codesign.simdevice.dma import (DMACR, DMASR, ERR_IRQ, HALTED, IDLE, INT_ERR, IOC_IRQ, LENGTH, MM2S, S2MM,
                                    SLV_ERR, AxiDmaModel)
from codesign.stream import StreamLayout, pack_requests, unpack_requests

LAYOUT = StreamLayout.from_dict({"n_nodes": 6, "title_length": 8, "score_frac_bits": 4})   # the old format


class SumBackend:
    """A stand-in accelerator with a known answer: score word = sum of the request's ids."""

    name = "sum"

    def process(self, request_bytes):
        ids = unpack_requests(LAYOUT, request_bytes)
        return (ids["nodes"].sum(1) + ids["tokens"].sum(1)).astype("<i4").view(np.uint8).reshape(-1)


def _dma(fault=None):
    mem = DeviceMemory()
    return mem, AxiDmaModel(mem, SumBackend(), LAYOUT.request_bytes, 4, fault=fault)


def _arm(dma, mem, n, s2mm_len=None, mm2s_len=None):
    src, dst = mem.new(n * LAYOUT.request_bytes), mem.new(n * 4)
    nodes = np.arange(n * 6).reshape(n, 6) % 50
    tokens = np.ones((n, 8), int)
    mem.write(src, pack_requests(LAYOUT, {"nodes": nodes, "tokens": tokens}).tobytes())
    for ch in (S2MM, MM2S):
        dma.write(ch + DMACR, 1)
    dma.write(S2MM + 0x18, dst)
    dma.write(S2MM + LENGTH, n * 4 if s2mm_len is None else s2mm_len)
    dma.write(MM2S + 0x18, src)
    dma.write(MM2S + LENGTH, n * LAYOUT.request_bytes if mm2s_len is None else mm2s_len)
    return dst, nodes.sum(1) + 8


def test_reset_state_start_and_transfer():
    mem, dma = _dma()
    assert dma.read(MM2S + DMASR) == HALTED and dma.read(S2MM + DMASR) == HALTED
    dst, expected = _arm(dma, mem, 5)
    for ch in (MM2S, S2MM):
        sr = dma.read(ch + DMASR)
        assert sr & IDLE and sr & IOC_IRQ and not sr & HALTED
    assert dma.read(S2MM + LENGTH) == 20          # bytes received
    assert np.array_equal(np.frombuffer(mem.read(dst, 20), "<i4"), expected)
    dma.write(S2MM + DMASR, IOC_IRQ)               # write-1-to-clear
    assert not dma.read(S2MM + DMASR) & IOC_IRQ
    dma.write(MM2S + DMACR, 0x4)                   # soft reset: both channels halted
    assert dma.read(S2MM + DMASR) == HALTED and dma.read(S2MM + DMACR) == 0


def test_partial_request_never_completes_and_long_packet_is_an_internal_error():
    mem, dma = _dma()
    _arm(dma, mem, 4, mm2s_len=3 * LAYOUT.request_bytes + 5)    # no TLAST on a score
    assert dma.read(MM2S + DMASR) & IDLE
    assert not dma.read(S2MM + DMASR) & (IDLE | HALTED)
    mem, dma = _dma()
    _arm(dma, mem, 4, s2mm_len=8)                  # 16 score bytes into an 8-byte buffer
    sr = dma.read(S2MM + DMASR)
    assert sr & INT_ERR and sr & ERR_IRQ and sr & HALTED and not dma.read(S2MM + DMACR) & 1
    dma.write(S2MM + DMACR, 1)                     # RS alone does not leave the error
    assert dma.read(S2MM + DMASR) & HALTED


def test_zero_length_bad_address_and_injected_faults():
    mem, dma = _dma()
    dma.write(MM2S + DMACR, 1)
    dma.write(MM2S + LENGTH, 0)
    assert dma.read(MM2S + DMASR) & INT_ERR
    mem, dma = _dma()
    for ch in (S2MM, MM2S):
        dma.write(ch + DMACR, 1)
    dma.write(S2MM + 0x18, 0x10)                  # nothing allocated there
    dma.write(S2MM + LENGTH, 4)
    dma.write(MM2S + 0x18, mem.new(32))
    dma.write(MM2S + LENGTH, 32)
    assert dma.read(S2MM + DMASR) & 0x40           # DMADecErr
    mem, dma = _dma("slave")
    _arm(dma, mem, 2)
    assert dma.read(S2MM + DMASR) & SLV_ERR
    mem, dma = _dma("hang")
    _arm(dma, mem, 2)
    assert not dma.read(S2MM + DMASR) & IDLE and not dma.read(MM2S + DMASR) & IDLE
    with pytest.raises(ValueError, match="unknown DMA fault"):
        _dma("melt")


def test_memory_is_not_coherent():
    dev = SimulatedDevice(backend=SumBackend())
    buf = dev.allocate((4,), np.int32)
    buf[:] = [1, 2, 3, 4]
    assert dev.memory.read(buf.physical_address, 16) == bytes(16)     # the device still sees zeros
    buf.flush()
    assert np.array_equal(np.frombuffer(dev.memory.read(buf.physical_address, 16), "<i4"), [1, 2, 3, 4])
    dev.memory.write(buf.physical_address + 4, np.int32(9).tobytes())
    assert buf[1] == 2                                                 # stale until invalidated
    buf[1:2].invalidate()                                              # a slice invalidates its bytes only
    assert buf.tolist() == [1, 9, 3, 4]


def test_probe_is_opt_in(monkeypatch):
    monkeypatch.delenv("CODESIGN_SIM_DEVICE", raising=False)
    assert SimulatedDevice._probe_() == []
    monkeypatch.setenv("CODESIGN_SIM_DEVICE", "1")
    (dev,) = SimulatedDevice._probe_()
    assert dev.backend_kind == "reference" and dev.name == "simulated:reference"
