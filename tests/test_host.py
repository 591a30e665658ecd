"""The PYNQ driver (codesign.host) on the simulated PYNQ device with the fixed-point reference.

The overlay is the bitstream step's block design (its ``.hwh`` writer) for the layout of a
small random-weight model; the backend is the real reference of that model. Every bad input
must fail with a message naming the problem, and nothing may hang.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from codesign.bitstream.blockdesign import describe
from codesign.bitstream.hwh import write_hwh
from codesign.boards import load_board
from codesign.fixedpoint import FixedPointModel
from codesign.host.driver import DmaError, RecommenderOverlay, decode_status
from codesign.simdevice.backends import ReferenceBackend, design_layout
from codesign.simdevice.device import use_simulated_device
from codesign.stream import Field, StreamLayout
from tests.random_models import random_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reference():
    fp = FixedPointModel.from_keras(random_model())
    return fp, design_layout(Path("/nonexistent"), fp)


def make_overlay_dir(folder: Path, layout: StreamLayout, board: str = "pynq-z2") -> Path:
    """The files a deploy folder holds: .bit (placeholder here), the generated .hwh, stream.json."""
    folder.mkdir(parents=True, exist_ok=True)
    write_hwh(describe(load_board(board), layout), folder / "recommender.hwh")
    (folder / "recommender.bit").write_text("placeholder: the simulated device reads the .hwh only\n")
    (folder / "stream.json").write_text(json.dumps(layout.to_dict()))
    return folder / "recommender.bit"


@pytest.fixture
def bitfile(tmp_path, reference):
    return make_overlay_dir(tmp_path / "overlay", reference[1])


def requests(layout: StreamLayout, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    node, token = layout.field("nodes"), layout.field("tokens")
    nodes = rng.integers(0, node.rows, (n, node.count)).astype(np.int32)
    tokens = rng.integers(0, token.rows, (n, token.count)).astype(np.int32)
    nodes[0], tokens[0] = node.rows - 1, token.rows - 1                      # the largest ids
    nodes[1], tokens[1] = 0, 0                                               # all padding
    return nodes, tokens


def device(reference, part="xc7z020clg400-1", fault=None):
    fp, layout = reference
    return use_simulated_device(ReferenceBackend(fp, layout), part=part, fault=fault)


def test_scores_are_bit_exact_in_chunks_and_copies(reference, bitfile):
    fp, layout = reference
    dev = device(reference)
    ol = RecommenderOverlay(str(bitfile), max_batch=64)
    clk = ol.clock_dict[0]                             # Overlay.download set FCLK0 on the stub
    assert clk["enable"] and dev.clocks.settings[0][:2] == (clk["divisor0"], clk["divisor1"])
    nodes, tokens = requests(layout, 300)
    expected = fp.predict({"nodes": nodes, "tokens": tokens})
    got = ol.score(nodes, tokens)                       # 5 transfers of <= 64 requests
    assert got.dtype == np.float64 and np.array_equal(got, expected)
    raw = ol.score_raw(nodes[:3], tokens[:3])
    assert raw.dtype == np.int32 and np.array_equal(raw, np.round(expected[:3] * 2 ** layout.score_frac_bits))
    assert np.array_equal(ol.score(nodes[0], tokens[0]), expected[:1])      # one request, 1-D
    kept = ol.score(nodes[:8], tokens[:8])
    ol.score(nodes[8:16], tokens[8:16])                 # reuses the DMA buffers
    assert np.array_equal(kept, expected[:8]), "score() must return a copy, not the DMA buffer"
    assert ol.recvchannel.transferred == 8 * 4 and ol.device.name == "simulated:reference"


def test_bad_requests_are_named(reference, bitfile):
    _, layout = reference
    device(reference)
    ol = RecommenderOverlay(str(bitfile))
    nodes, tokens = requests(layout, 4)
    with pytest.raises(TypeError, match="nodes: ids must be an integer array, got dtype float64"):
        ol.score(nodes.astype(float), tokens)
    with pytest.raises(ValueError, match=r"tokens must have shape \(batch, 5\).*got \(4, 7\)"):
        ol.score(nodes, np.zeros((4, 7), int))
    bad = nodes.copy()
    bad[2, 3] = layout.field("nodes").rows
    with pytest.raises(ValueError, match=r"nodes: 1 ids outside the embedding ROM \(ids 0..59\); "
                                         r"first at index \(2, 3\): 60"):
        ol.score(bad, tokens)
    with pytest.raises(ValueError, match=r"tokens: 20 ids outside the embedding ROM \(ids 0..29\); "
                                         r"first at index \(0, 0\): -30"):
        ol.score(nodes, -tokens - 1)
    with pytest.raises(ValueError, match="same number of requests: nodes has 4, tokens 3"):
        ol.score(nodes, tokens[:3])
    assert np.array_equal(ol.score(nodes, tokens), ol.score(nodes, tokens))   # still usable


def test_missing_files_and_mismatched_overlays(reference, bitfile, tmp_path):
    fp, layout = reference
    device(reference)
    hwh = bitfile.with_suffix(".hwh")
    with pytest.raises(FileNotFoundError, match="no bitstream"):
        RecommenderOverlay(str(tmp_path / "nothing.bit"))
    # a layout that is not the one the DMA was built for
    other = StreamLayout.of([layout.field("nodes"), Field("tokens", (12,), "id", 16, 16, rows=30)],
                            layout.score_frac_bits)
    with pytest.raises(ValueError, match=r"c_m_axis_mm2s_tdata_width = 256 \(expected 512\)"):
        RecommenderOverlay(str(bitfile), layout=other)
    with pytest.raises(ValueError, match="c_sg_length_width 26"):
        RecommenderOverlay(str(bitfile), max_batch=1 << 24)
    # built for another part
    device(reference, part="xczu7ev-ffvc1156-2-e")
    with pytest.raises(ValueError, match="built for xc7z020clg400-1, but this board is xczu7ev-ffvc1156-2-e"):
        RecommenderOverlay(str(bitfile))
    device(reference)
    # a .hwh without a DMA: an AXI-Stream FIFO where the DMA was (the DMA is found by its type)
    tree = ET.parse(hwh)
    dma = next(m for m in tree.getroot().iter("MODULE") if m.get("INSTANCE") == "axi_dma_0")
    dma.set("VLNV", "xilinx.com:ip:axi_fifo_mm_s:4.2")
    dma.set("MODTYPE", "axi_fifo_mm_s")
    tree.write(hwh)
    with pytest.raises(ValueError, match=r"has no AXI DMA \(xilinx.com:ip:axi_dma:7.1\); its IPs: "
                                         r"axi_dma_0 \(xilinx.com:ip:axi_fifo_mm_s:4.2\)"):
        RecommenderOverlay(str(bitfile))
    hwh.unlink()
    with pytest.raises(FileNotFoundError, match=r"no hardware handoff .*recommender.hwh"):
        RecommenderOverlay(str(bitfile))
    shutil.copy(bitfile, tmp_path / "lonely.bit")
    write_hwh(describe(load_board("pynq-z2"), layout), tmp_path / "lonely.hwh")
    with pytest.raises(FileNotFoundError, match="no stream layout .*stream.json"):
        RecommenderOverlay(str(tmp_path / "lonely.bit"))


def test_a_dma_that_never_completes_times_out_and_recovers(reference, bitfile):
    fp, layout = reference
    dev = device(reference, fault="hang")
    ol = RecommenderOverlay(str(bitfile), timeout_s=0.3)
    nodes, tokens = requests(layout, 10)
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"'axi_dma_0' S2MM channel did not complete within 0.3 s: DMASR "
                                           r"0x00000000 \(running, busy\); MM2S DMASR 0x00000000"):
        ol.score(nodes, tokens)
    assert time.perf_counter() - start < 2
    for dma in dev.dmas.values():
        dma.fault = None
    assert np.array_equal(ol.score(nodes, tokens), fp.predict({"nodes": nodes, "tokens": tokens}))


@pytest.mark.parametrize("fault, bit", [("slave", "DMASlvErr"), ("decode", "DMADecErr"),
                                        ("internal", "DMAIntErr")])
def test_dma_error_bits_are_decoded(reference, bitfile, fault, bit):
    fp, layout = reference
    dev = device(reference, fault=fault)
    ol = RecommenderOverlay(str(bitfile))
    nodes, tokens = requests(layout, 3)
    with pytest.raises(DmaError, match=rf"'axi_dma_0' S2MM channel stopped with an error: DMASR 0x[0-9a-f]+ "
                                       rf"\(Halted, {bit}, Err_Irq\)"):
        ol.score(nodes, tokens)
    for dma in dev.dmas.values():
        dma.fault = None
    assert np.array_equal(ol.score(nodes, tokens), fp.predict({"nodes": nodes, "tokens": tokens}))
    assert decode_status(0x1002) == "0x00001002 (Idle, IOC_Irq)"


class NoFlush(RecommenderOverlay):
    def _flush(self, n):
        pass


class NoInvalidate(RecommenderOverlay):
    def _invalidate(self, n):
        pass


def test_flush_and_invalidate_are_needed_and_done(reference, bitfile):
    """The device's memory is not coherent: a driver that skips either reads wrong scores."""
    fp, layout = reference
    nodes, tokens = requests(layout, 50)
    expected = fp.predict({"nodes": nodes, "tokens": tokens})
    for cls in (NoFlush, NoInvalidate):
        device(reference)
        wrong = cls(str(bitfile)).score(nodes, tokens)
        assert np.sum(wrong != expected) > 40, f"{cls.__name__} should read stale data"
    device(reference)
    assert np.array_equal(RecommenderOverlay(str(bitfile)).score(nodes, tokens), expected)


def test_latency_measurement(reference, bitfile):
    device(reference)
    ol = RecommenderOverlay(str(bitfile), max_batch=64)
    lat = ol.measure_latency(batch_sizes=(1, 64), repeats=20, warmup=2)
    assert lat["device"] == "simulated:reference" and [b["batch_size"] for b in lat["batches"]] == [1, 64]
    for b in lat["batches"]:
        for key in ("per_batch_us", "per_request_us"):
            p = b[key]
            assert 0 < p["p50"] <= p["p90"] <= p["p99"] <= p["max"]
        assert set(b["split_us"]) == {"pack", "flush", "dma", "invalidate", "unpack"}
        assert all(v > 0 for v in b["split_us"].values())
        # the phases make up the call (medians of parts vs median of sums: loose)
        assert 0.5 < sum(b["split_us"].values()) / b["per_batch_us"]["p50"] < 2
        assert b["throughput_rps"] == pytest.approx(b["batch_size"] / b["per_batch_us"]["p50"] * 1e6)
        assert 0 < b["host_overhead_us_per_request"] < b["per_request_us"]["p50"]
    big, one = lat["batches"][1], lat["batches"][0]
    assert big["per_request_us"]["p50"] < one["per_request_us"]["p50"]      # batching amortises
    with pytest.raises(ValueError, match=r"batch size 65 is outside 1..max_batch \(64\)"):
        ol.measure_latency(batch_sizes=(65,), repeats=1)


BLOCKER = """
import importlib.abc, sys
BLOCKED = {"tensorflow", "keras", "qkeras", "hls4ml", "da4ml", "spektral", "yaml", "torch", "tf_keras"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: a PYNQ board does not have it")
sys.meta_path.insert(0, Blocker())
"""


def test_driver_imports_without_heavy_packages(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    check = textwrap.dedent("""
        import sys
        try:
            import tensorflow
        except ImportError as err:
            assert "blocked" in str(err)
        else:
            raise SystemExit("the blocker does not work")
        import codesign.host, codesign.stream
        from codesign.host import RecommenderOverlay
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in
                       {"tensorflow", "qkeras", "hls4ml", "da4ml", "yaml", "keras"})
        assert not heavy, heavy
        ours = sorted(m for m in sys.modules if m.startswith("codesign"))
        assert ours == ["codesign", "codesign.host", "codesign.host.driver", "codesign.stream"], ours
        print("ok")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    env.pop("CODESIGN_SIM_DEVICE", None)
    out = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_host_step_skips_boards_without_a_zynq_overlay(tmp_path):
    from codesign.config import parse_config
    from codesign.flow import Design, write_json
    from codesign.simdevice.step import board_device, overlay_files
    design = Design(tmp_path, parse_config({"board": "alveo-u50"}))
    write_json(design.path("bitstream") / "bitstream.json", {"route": "vitis", "files": {}})
    bit, reason = overlay_files(design, tmp_path / "host" / "overlay", simulated=True)
    assert bit is None and "alveo-u50 has no PS/AXI DMA overlay (route 'vitis')" in reason
    assert board_device() is None          # this machine has no board; the simulated device is opt-in


def test_pack_into_a_buffer_matches_a_fresh_pack():
    from codesign.stream import pack_requests, unpack_requests
    layout = StreamLayout.from_dict({"n_nodes": 6, "title_length": 5, "score_frac_bits": 13})
    rng = np.random.default_rng(3)
    nodes, tokens = rng.integers(0, 2 ** 16, (7, 6)), rng.integers(0, 2 ** 16, (7, 5))
    buf = np.full((9, layout.request_bytes), 0xAB, np.uint8)       # stale bytes must be cleared
    inputs = {"nodes": nodes, "tokens": tokens}
    packed = pack_requests(layout, inputs, out=buf)
    assert np.array_equal(packed, pack_requests(layout, inputs)) and np.shares_memory(packed, buf)
    back = unpack_requests(layout, buf[:7])
    assert np.array_equal(back["nodes"], nodes) and np.array_equal(back["tokens"], tokens)
    assert (buf[7:] == 0xAB).all()
    with pytest.raises(ValueError, match=r"out must be uint8 \(>= 7, 32\)"):
        pack_requests(layout, inputs, out=buf[:5])


def test_a_board_copy_of_the_driver_refuses_the_simulated_device_variable(tmp_path):
    """The driver package as copied to a board (codesign/host + stream.py), with the workstation
    variable set by mistake: a clear ImportError, not a pynq device hunt."""
    pkg = tmp_path / "codesign"
    shutil.copytree(ROOT / "codesign" / "host", pkg / "host")
    shutil.copy(ROOT / "codesign" / "stream.py", pkg / "stream.py")
    (pkg / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "CODESIGN_SIM_DEVICE": "reference"}
    # a board has no editable install of the repository: drop its import hook
    board = "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
    out = subprocess.run([sys.executable, "-c", board + "import codesign.host"], env=env, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode != 0 and "unset CODESIGN_SIM_DEVICE on a board" in out.stderr
    env.pop("CODESIGN_SIM_DEVICE")
    out = subprocess.run([sys.executable, "-c", board + "import codesign.host; print('ok')"], env=env, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
