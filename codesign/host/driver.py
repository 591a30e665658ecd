"""The PYNQ driver of the recommender overlay: numpy and pynq only (it runs on the board).

    ol = RecommenderOverlay("recommender.bit")          # .hwh and stream.json beside it
    scores = ol.score({"nodes": nodes, "tokens": tokens})   # float64, exact; inputs by name
    scores = ol.score(nodes, tokens)                     # the same: arrays in the layout's field order
    raw = ol.score_raw(nodes, tokens)                    # int32 score words
    ol.measure_latency()                                 # percentiles, throughput, split

The overlay is one AXI DMA v7.1 in simple mode in front of the AXI-Stream top: MM2S sends one
packet of requests (``codesign.stream``: ``request_bytes`` each, one or several beats), S2MM
receives one packet of score words (``score_bytes`` each).
This driver programs the DMA registers itself (PG021) instead of pynq's ``DMA`` driver,
whose ``start``/``wait`` spin with no deadline and report any DMA error as "DMA channel not
started": every wait here has a deadline and raises ``TimeoutError`` naming the channel and
its decoded status, DMA error bits raise ``DmaError``. Buffers are allocated once and reused;
every transfer flushes the requests before sending and invalidates the scores after
receiving (caches are not coherent with the DMA); results are copies. The same code runs on
a board and on the simulated device (``codesign.simdevice``).
"""
from __future__ import annotations

import json
import os
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pynq

from codesign.stream import StreamLayout, check_requests, pack_codes

if os.environ.get("CODESIGN_SIM_DEVICE", "0") != "0":
    # a workstation asking for the simulated PYNQ device: register it with pynq (pynq only
    # probes Device subclasses that were imported). Never set on a board.
    try:
        import codesign.simdevice.device  # noqa: F401
    except ImportError as err:
        raise ImportError(f"CODESIGN_SIM_DEVICE is set but the simulated PYNQ device cannot be imported ({err}): "
                          f"it lives in the codesign repository; unset CODESIGN_SIM_DEVICE on a board") from err

DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
MM2S, S2MM = 0x00, 0x30
DMACR, DMASR, ADDR, ADDR_MSB, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
RS, RESET = 0x1, 0x4
HALTED, IDLE, ERROR_BITS, IRQ_BITS = 0x1, 0x2, 0x70, 0x7000
STATUS_BITS = {0x1: "Halted", 0x2: "Idle", 0x8: "SGIncld", 0x10: "DMAIntErr", 0x20: "DMASlvErr",
               0x40: "DMADecErr", 0x100: "SGIntErr", 0x200: "SGSlvErr", 0x400: "SGDecErr",
               0x1000: "IOC_Irq", 0x2000: "Dly_Irq", 0x4000: "Err_Irq"}
ERROR_MEANING = {0x10: "internal error (a zero length, or a packet longer than the S2MM length)",
                 0x20: "slave error (the memory answered SLVERR: an address the HP port cannot reach)",
                 0x40: "decode error (no memory at that address)"}
# PYNQ images set BOARD; the part each board's bitstreams must be built for
BOARD_PARTS = {"pynq-z1": "xc7z020clg400", "pynq-z2": "xc7z020clg400", "zcu104": "xczu7ev-ffvc1156",
               "zcu102": "xczu9eg-ffvb1156", "ultra96v2": "xczu3eg-sbva484", "ultra96": "xczu3eg-sbva484",
               "kv260": "xck26-sfvc784", "zcu111": "xczu28dr-ffvg1517", "rfsoc4x2": "xczu48dr-ffvg1517"}


class DmaError(RuntimeError):
    """The AXI DMA stopped with an error bit set."""


def decode_status(sr: int) -> str:
    """DMASR as names, e.g. ``0x4011 (Halted, DMAIntErr, Err_Irq)``."""
    names = [name for bit, name in STATUS_BITS.items() if sr & bit]
    return f"0x{sr:08x} ({', '.join(names) or 'running, busy'})"


def load_layout(layout: StreamLayout | str | os.PathLike | dict | None, bitfile: str | os.PathLike) -> StreamLayout:
    """The stream layout: given, read from a JSON file, or from ``stream.json`` beside ``bitfile``."""
    if isinstance(layout, StreamLayout):
        return layout
    if isinstance(layout, dict):
        return StreamLayout.from_dict(layout)
    path = Path(layout) if layout is not None else Path(bitfile).resolve().parent / "stream.json"
    if not path.is_file():
        raise FileNotFoundError(f"no stream layout {path}: copy stream.json (from 'codesign deploy') beside "
                                f"the bitstream or pass layout=")
    try:
        return StreamLayout.from_dict(json.loads(path.read_text()))
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a stream layout (StreamLayout.to_dict() format): {err!r}") from None


def hwh_part(hwh: str | os.PathLike) -> str | None:
    """The FPGA part a ``.hwh`` was built for (``SYSTEMINFO`` DEVICE, PACKAGE, SPEEDGRADE)."""
    info = ET.parse(hwh).getroot().find(".//SYSTEMINFO")
    if info is None or not info.get("DEVICE"):
        return None
    device = info.get("DEVICE").lower()
    device = device if device.startswith("xc") else "xc" + device
    sep = "" if device.startswith("xc7") else "-"       # xc7z020clg400-1, xczu3eg-sbva484-1
    return device + sep + info.get("PACKAGE", "").lower() + info.get("SPEEDGRADE", "").lower()


def _die(part: str) -> str:
    """``xc7z020`` of ``xc7z020clg400-1``, ``xczu7ev`` of ``xczu7ev-ffvc1156-2-e``."""
    part = part.lower()
    m = re.match(r"xc7[a-z]+\d+", part)
    return m.group(0) if m else part.split("-")[0]


def board_part(device) -> str | None:
    """The part of the board this runs on: the device's own claim, else the PYNQ ``BOARD``."""
    part = getattr(device, "part", None)
    if part:
        return part
    board = os.environ.get("BOARD", "").lower().replace("_", "-")
    return BOARD_PARTS.get(board) or BOARD_PARTS.get(board.replace("-", ""))


class DmaChannel:
    """One channel of the AXI DMA in simple mode, with deadlines on every wait."""

    def __init__(self, mmio, offset: int, name: str, dma_name: str):
        self.mmio, self.offset, self.name, self.dma_name = mmio, offset, name, dma_name
        self.transferred = 0

    def status(self) -> int:
        return self.mmio.read(self.offset + DMASR)

    def start(self, deadline: float) -> None:
        self.mmio.write(self.offset + DMACR, RS)
        while self.status() & HALTED:
            self._check_deadline(deadline, "start")

    def transfer(self, address: int, nbytes: int) -> None:
        """Arms the channel: buffer address, then LENGTH (which starts it)."""
        self.mmio.write(self.offset + DMASR, IRQ_BITS)       # clear IOC/Err IRQ of the last transfer
        self.mmio.write(self.offset + ADDR, address & 0xFFFFFFFF)
        self.mmio.write(self.offset + ADDR_MSB, address >> 32)
        self.transferred = 0
        self.mmio.write(self.offset + LENGTH, nbytes)

    def done(self) -> bool:
        """True when the armed transfer completed; ``DmaError`` on an error bit."""
        sr = self.status()
        if sr & ERROR_BITS:
            meaning = "; ".join(text for bit, text in ERROR_MEANING.items() if sr & bit)
            raise DmaError(f"AXI DMA '{self.dma_name}' {self.name} channel stopped with an error: "
                           f"DMASR {decode_status(sr)}: {meaning}")
        if sr & IDLE:
            self.transferred = self.mmio.read(self.offset + LENGTH)
            return True
        return False

    def _check_deadline(self, deadline: float, what: str) -> None:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"AXI DMA '{self.dma_name}' {self.name} channel did not {what} before the deadline: "
                               f"DMASR {decode_status(self.status())}")


class RecommenderOverlay(pynq.Overlay):
    """The recommender accelerator behind an AXI DMA: ``score``, ``score_raw``, ``measure_latency``."""

    def __init__(self, bitfile: str, layout: StreamLayout | str | None = None, max_batch: int = 1024,
                 timeout_s: float = 5.0, download: bool = True):
        bitfile = os.path.abspath(bitfile)
        hwh = os.path.splitext(bitfile)[0] + ".hwh"
        if not os.path.isfile(bitfile):
            raise FileNotFoundError(f"no bitstream {bitfile}: build it with the bitstream step (Vivado) and copy "
                                    f"it with its .hwh")
        if not os.path.isfile(hwh):
            raise FileNotFoundError(f"no hardware handoff {hwh}: pynq needs the .hwh Vivado wrote with "
                                    f"{os.path.basename(bitfile)}, beside it with the same name")
        if not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive integer, got {max_batch!r}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.layout = load_layout(layout, bitfile)
        self.max_batch, self.timeout_s = max_batch, float(timeout_s)
        self._check_part(hwh, pynq.Device.active_device)
        super().__init__(bitfile, download=download)
        name, ip = self._find_dma()
        self.dma_name = name
        self._mmio = pynq.MMIO(int(ip["phys_addr"]), int(ip.get("addr_range", 0x10000)))
        self.sendchannel = DmaChannel(self._mmio, MM2S, "MM2S", name)
        self.recvchannel = DmaChannel(self._mmio, S2MM, "S2MM", name)
        self._requests = pynq.allocate((max_batch, self.layout.request_bytes), np.uint8)
        self._scores = pynq.allocate((max_batch, self.layout.score_bytes // 4), np.int32)
        # plain-ndarray views for the CPU's own reads and writes (slicing a PynqBuffer costs
        # microseconds of bookkeeping); the PynqBuffers stay for flush/invalidate and addresses
        self._request_words = self._requests.view(np.ndarray)
        words = self._scores.view(np.ndarray)
        self._score_words = words[:, 0] if self.layout.score_count == 1 else words[:, :self.layout.score_count]
        self._scale = 2.0 ** -self.layout.score_frac_bits
        self.reset_dma()

    # ------------------------------------------------------------------ checks
    def _check_part(self, hwh: str, device) -> None:
        built, board = hwh_part(hwh), board_part(device)
        if built and board and _die(built) != _die(board):
            raise ValueError(f"{os.path.basename(hwh)} was built for {built}, but this board is {board} "
                             f"({getattr(device, 'name', 'device')}): rebuild the bitstream for this board "
                             f"(codesign flow --steps bitstream with board set to it)")

    def _find_dma(self) -> tuple[str, dict]:
        dmas = {n: ip for n, ip in self.ip_dict.items() if ip.get("type") == DMA_VLNV}
        if not dmas:
            found = ", ".join(f"{n} ({ip.get('type')})" for n, ip in self.ip_dict.items()) or "nothing"
            raise ValueError(f"the .hwh of {os.path.basename(self.bitfile_name)} has no AXI DMA ({DMA_VLNV}); "
                             f"its IPs: {found}. The overlay needs the block design of the bitstream step")
        if len(dmas) > 1:
            raise ValueError(f"the .hwh has {len(dmas)} AXI DMAs ({', '.join(dmas)}); expected one")
        name, ip = next(iter(dmas.items()))
        params = {k.lower(): str(v) for k, v in ip.get("parameters", {}).items()}
        want = {"c_include_sg": "0", "c_include_mm2s": "1", "c_include_s2mm": "1",
                "c_m_axis_mm2s_tdata_width": str(self.layout.stream_bits),
                "c_s_axis_s2mm_tdata_width": str(self.layout.score_bits)}
        bad = [f"{k} = {params.get(k, 'missing')} (expected {v})" for k, v in want.items() if params.get(k) != v]
        if bad:
            raise ValueError(f"DMA '{name}' does not match the stream layout (requests {self.layout.stream_bits} "
                             f"bits, scores {self.layout.score_bits} bits, simple mode): " + "; ".join(bad))
        max_bytes = (1 << int(params.get("c_sg_length_width", 14))) - 1
        if self.max_batch * self.layout.request_bytes > max_bytes:
            raise ValueError(f"max_batch {self.max_batch} needs {self.max_batch * self.layout.request_bytes}-byte "
                             f"transfers; DMA '{name}' moves at most {max_bytes} bytes (c_sg_length_width "
                             f"{params.get('c_sg_length_width', 14)}): lower max_batch to "
                             f"{max_bytes // self.layout.request_bytes}")
        return name, ip

    def inputs(self, *arrays, **named) -> dict:
        """The requests as {input name: array}: one dict, or one array per field in the layout's
        order (``score(nodes, tokens)`` on the default design), or the arrays by name."""
        names = self.layout.names
        if len(arrays) == 1 and isinstance(arrays[0], dict) and not named:
            return arrays[0]
        if len(arrays) > len(names):
            raise TypeError(f"{len(arrays)} input arrays for the {len(names)} inputs of the stream "
                            f"({', '.join(names)})")
        clash = [n for n in names[:len(arrays)] if n in named]
        if clash:
            raise TypeError(f"input {clash[0]!r} given twice (by position and by name)")
        return {**dict(zip(names, arrays)), **named}

    def check_requests(self, *arrays, **named) -> tuple[int, dict]:
        """(B, {name: int64 codes (B, count)}) of the requests; ``TypeError``/``ValueError``
        naming the input (field) and what is wrong (``codesign.stream.check_requests``)."""
        return check_requests(self.layout, self.inputs(*arrays, **named))

    # ------------------------------------------------------------------ DMA
    def reset_dma(self) -> None:
        """Soft-resets the DMA (clears errors and a stuck transfer) and starts both channels."""
        deadline = time.perf_counter() + self.timeout_s
        self._mmio.write(MM2S + DMACR, RESET)
        while self._mmio.read(MM2S + DMACR) & RESET:
            self.sendchannel._check_deadline(deadline, "finish its reset")
        self.recvchannel.start(deadline)
        self.sendchannel.start(deadline)

    def _wait(self, deadline: float) -> None:
        pending = [self.sendchannel, self.recvchannel]
        while pending:
            pending = [ch for ch in pending if not ch.done()]
            if pending and time.perf_counter() > deadline:
                ch = pending[-1]
                other = self.sendchannel if ch is self.recvchannel else self.recvchannel
                raise TimeoutError(
                    f"AXI DMA '{self.dma_name}' {ch.name} channel did not complete within {self.timeout_s:g} s: "
                    f"DMASR {decode_status(ch.status())}; {other.name} DMASR {decode_status(other.status())}. "
                    f"Causes: the accelerator is not answering (clock, reset, not programmed) or a packet "
                    f"without TLAST (a transfer that is not a whole number of requests)")

    def _flush(self, n: int) -> None:
        """CPU caches -> DRAM for the first ``n`` requests (the DMA reads DRAM, not the caches)."""
        self._requests[:n].flush()

    def _invalidate(self, n: int) -> None:
        """Drops cached lines of the first ``n`` scores, so the CPU reads what the DMA wrote."""
        self._scores[:n].invalidate()

    def _transfer(self, n: int, times: list | None = None) -> None:
        """Moves ``n`` packed requests (already in the request buffer) through the accelerator."""
        t0 = time.perf_counter()
        self._flush(n)
        t1 = time.perf_counter()
        try:
            self.recvchannel.transfer(self._scores.physical_address, n * self.layout.score_bytes)
            self.sendchannel.transfer(self._requests.physical_address, n * self.layout.request_bytes)
            self._wait(t1 + self.timeout_s)
        except (TimeoutError, DmaError):
            self.reset_dma()      # leaves the DMA usable for the next call
            raise
        t2 = time.perf_counter()
        self._invalidate(n)
        t3 = time.perf_counter()
        if self.recvchannel.transferred != n * self.layout.score_bytes:
            raise DmaError(f"AXI DMA '{self.dma_name}' S2MM channel received {self.recvchannel.transferred} bytes "
                           f"for {n} requests (expected {n * self.layout.score_bytes})")
        if times is not None:
            times += [t1 - t0, t2 - t1, t3 - t2]

    def _score(self, inputs: dict, raw: bool, times: list | None = None) -> np.ndarray:
        """The one path of ``score``/``score_raw``/``measure_latency``: check ``inputs`` (by name),
        then per chunk of ``max_batch`` pack, flush, DMA, invalidate, unpack into a new array.
        ``times`` gets the five phase durations (s) of the last chunk; checking the requests
        counts as packing."""
        t0 = time.perf_counter()
        total, codes = check_requests(self.layout, inputs)
        count = self.layout.score_count
        shape = (total,) if count == 1 else (total, count)
        out = np.empty(shape, np.int32 if raw else np.float64)
        for start in range(0, total, self.max_batch):
            n = min(self.max_batch, total - start)
            chunk = codes if n == total else {k: v[start:start + n] for k, v in codes.items()}
            pack_codes(self.layout, chunk, n, out=self._request_words)
            t1 = time.perf_counter()
            phases = []
            self._transfer(n, phases)
            t2 = time.perf_counter()
            words = self._score_words[:n]
            if raw:
                out[start:start + n] = words
            else:
                np.multiply(words, self._scale, out=out[start:start + n])
            if times is not None:
                times[:] = [t1 - t0, *phases, time.perf_counter() - t2]
            t0 = time.perf_counter()
        return out

    def score_raw(self, *arrays, **named) -> np.ndarray:
        """int32 score words (score = word / 2**score_frac_bits) of a batch, (B,) or (B, score_count);
        inputs as for ``score``; split in ``max_batch`` chunks."""
        return self._score(self.inputs(*arrays, **named), raw=True)

    def score(self, *arrays, **named) -> np.ndarray:
        """float64 scores (exact: the int32 words scaled by 2**-score_frac_bits), (B,) or (B, score_count).

        Inputs: ``score({"nodes": ..., "tokens": ...})`` (by the layout's field names), or
        ``score(nodes, tokens)`` (one array per field, in the layout's order), or by keyword;
        (batch, *shape) each, or one request without the batch axis.
        """
        return self._score(self.inputs(*arrays, **named), raw=False)

    # ------------------------------------------------------------------ latency
    def _sample_requests(self, n: int, rng: np.random.Generator) -> dict:
        """``n`` random valid requests: ids below each field's ROM depth, values on each field's grid."""
        out = {}
        for f in self.layout.fields:
            lo, hi = f.code_range
            codes = rng.integers(lo, hi + 1, (n, *f.shape))
            out[f.name] = codes.astype(np.int32) if f.kind == "id" else codes * 2.0 ** -f.frac
        return out

    def measure_latency(self, batch_sizes=(1, 8, 64, 256, 1024), repeats: int = 100, warmup: int = 10,
                        inputs: dict | None = None, seed: int = 0, nodes=None, tokens=None) -> dict:
        """Latency per batch size, split like FINN's throughput test.

        One call is exactly ``score(nodes, tokens)``: check and pack the requests into the DMA
        buffer (``pack``), ``flush``, DMA + accelerator (``dma``: arm S2MM and MM2S, poll until
        both complete), ``invalidate``, unpack into a new float64 array (``unpack``). Per batch
        size: p50/p90/p99/max of the whole call per batch and per request (µs), throughput
        (requests/s at the median), the median of each phase (µs per batch) and the host
        overhead (everything but ``dma``) per request.
        Requests: ``inputs`` (a dict by input name; ``nodes``/``tokens`` for the default design)
        cycled, or random valid ones.
        """
        if inputs is None and nodes is not None:
            inputs = self.inputs(nodes, tokens) if tokens is not None else self.inputs(nodes)
        if inputs is None:
            inputs = self._sample_requests(max(batch_sizes), np.random.default_rng(seed))
        n_inputs, _ = self.check_requests(inputs)
        if repeats < 1 or warmup < 0:
            raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
        results = []
        for b in batch_sizes:
            if not 1 <= b <= self.max_batch:
                raise ValueError(f"batch size {b} is outside 1..max_batch ({self.max_batch})")
            pick = np.arange(b) % n_inputs
            batch = {k: np.asarray(v)[pick] for k, v in inputs.items()}
            phases = []
            for i in range(warmup + repeats):
                t: list = []
                self._score(batch, raw=False, times=t)
                if i >= warmup:
                    phases.append(t)
            ph = np.asarray(phases) * 1e6                     # (repeats, 5) µs
            total = ph.sum(axis=1)
            median = np.median(ph, axis=0)
            split = dict(zip(("pack", "flush", "dma", "invalidate", "unpack"), median.round(3).tolist()))
            host = float(np.median(total - ph[:, 2]))
            results.append({
                "batch_size": int(b), "repeats": int(repeats), "warmup": int(warmup),
                "per_batch_us": _percentiles(total), "per_request_us": _percentiles(total / b),
                "throughput_rps": float(b / (np.median(total) * 1e-6)),
                "split_us": split,
                "host_overhead_us_per_request": host / b,
            })
        return {"device": getattr(self.device, "name", type(self.device).__name__),
                "timer": "time.perf_counter", "batches": results}


def _percentiles(values: np.ndarray) -> dict:
    return {"p50": float(np.percentile(values, 50)), "p90": float(np.percentile(values, 90)),
            "p99": float(np.percentile(values, 99)), "max": float(np.max(values))}
