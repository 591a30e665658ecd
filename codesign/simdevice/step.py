"""The ``host`` step: the PYNQ driver (``codesign.host``) over the frozen vectors, and its latency.

On a board (pynq finds a device of its own) the driver runs there on the built ``.bit``
(device ``board:<board>``). Here it runs, unchanged, on the simulated PYNQ device
(``codesign.simdevice.device``), once per configured backend (device
``simulated:<backend>``); a backend whose inputs are missing is ``"skipped"`` with the
reason. The simulated device reads the ``.hwh`` the bitstream step generated; it ignores
the bitstream's content, so when Vivado did not run the step places a labelled placeholder
``.bit`` beside a copy of that ``.hwh`` (pynq insists on the file).

Writes ``host/latency.json`` (every ``measure_latency`` result) and the step result:
``samples``, ``mismatches``, ``first_mismatch`` and ``device`` of the most hardware-like
backend that ran (rtl, then csim, then reference), ``backends`` (each one's comparison and
latency summary), ``latency`` (per batch size, of the reference backend) and
``host_overhead_us_per_request`` at batch 1 and at the largest batch on the reference backend.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from codesign.console import progress, say
from codesign.flow import Design, register_step, write_json

DEPTH_ORDER = ("rtl", "csim", "reference")
PLACEHOLDER = ("codesign placeholder bitstream: the simulated PYNQ device reads only the .hwh beside it.\n"
               "Build the real bitstream with Vivado (see bitstream/bitstream.json) for a board.\n")


def overlay_files(design: Design, out: Path, simulated: bool) -> tuple[Path | None, str]:
    """(path of the .bit to load, where it came from); ``None`` with the reason when there is none.

    The ``.bit`` and ``.hwh`` of the bitstream step; for the simulated device a copy of the
    ``.hwh`` with a placeholder ``.bit`` when Vivado did not build one. ``stream.json`` (the
    layout of the RTL build) goes beside it.
    """
    from codesign.simdevice.backends import design_layout
    built = design.result("bitstream")
    if built.get("route") != "vivado" or not isinstance(built.get("files", {}).get("hwh"), str):
        return None, (f"board {design.cfg.board} has no PS/AXI DMA overlay (route {built.get('route')!r}): "
                      f"the PYNQ driver needs a Zynq board")
    hwh = Path(built["files"]["hwh"])
    if not hwh.is_file():
        return None, f"no .hwh at {hwh}: re-run the bitstream step"
    bit = hwh.with_suffix(".bit")
    layout = design_layout(design.folder)
    if bit.is_file():
        source = "built by Vivado"
    elif simulated:
        source = "placeholder (Vivado did not run; the simulated device reads only the .hwh)"
    else:
        return None, f"no bitstream {bit}: build it with Vivado (see bitstream/bitstream.json)"
    out.mkdir(parents=True, exist_ok=True)
    target = out / bit.name
    shutil.copyfile(hwh, target.with_suffix(".hwh"))
    if bit.is_file():
        shutil.copyfile(bit, target)
    else:
        target.write_text(PLACEHOLDER)
    (out / "stream.json").write_text(json.dumps(layout.to_dict(), indent=2))
    return target, source


def board_device():
    """pynq's own device when this runs on a board (no simulated device involved), else None."""
    import os
    import warnings

    import pynq
    from codesign.simdevice.device import ENV_DEVICE, SimulatedDevice
    if os.environ.get(ENV_DEVICE):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "No devices found, is the XRT environment sourced?"
        devices = [d for d in pynq.Device.devices if not isinstance(d, SimulatedDevice)]
    return devices[0] if devices else None


def run_driver(bitfile: Path, design: Design, n: int, latency: bool, work: Path) -> dict:
    """The driver on the active device: ``n`` frozen vectors compared, latency when asked."""
    from codesign.compare import compare
    from codesign.host.driver import RecommenderOverlay
    from codesign.sim.step import select_vectors
    import numpy as np
    cfg = design.cfg.host
    vectors, kinds = select_vectors(design, n, work / "vectors.npz")
    vec = np.load(vectors)
    start = time.perf_counter()
    ol = RecommenderOverlay(str(bitfile), max_batch=cfg.max_batch, timeout_s=cfg.timeout_s)
    t0 = time.perf_counter()
    inputs = {name: vec[name] for name in ol.layout.names}     # the model's inputs by name
    got = ol.score(inputs)
    scoring = time.perf_counter() - t0
    result = {**compare(vec["expected"], got), "kinds": kinds, "device": ol.device.name,
              "dma": ol.dma_name, "score_seconds": round(scoring, 3),
              "requests_per_second_end_to_end": len(got) / scoring}
    if latency:
        sizes = [b for b in cfg.batch_sizes if b <= cfg.max_batch]
        result["latency"] = ol.measure_latency(sizes, repeats=cfg.repeats, warmup=cfg.warmup,
                                               inputs=inputs)
    result["total_seconds"] = round(time.perf_counter() - start, 2)
    return result


def _summary(latency: dict) -> dict:
    """Per batch size: the percentiles, throughput and split of one ``measure_latency`` result."""
    return {str(b["batch_size"]): {k: b[k] for k in ("per_batch_us", "per_request_us", "throughput_rps", "split_us",
                                                     "host_overhead_us_per_request")}
            for b in latency["batches"]}


@register_step("host", sections=("host", "board"), after=("vectors", "hls", "rtl", "bitstream"))
def host_step(design: Design) -> dict:
    from codesign.boards import load_board
    from codesign.simdevice.backends import BackendUnavailable, make_backend
    from codesign.simdevice.device import use_simulated_device
    import pynq
    cfg = design.cfg.host
    out = design.path("host")
    board = load_board(design.cfg.board)
    runs: dict[str, dict] = {}
    real = board_device()
    if real is not None:
        bitfile, source = overlay_files(design, out / "overlay", simulated=False)
        runs["board"] = ({"skipped": source} if bitfile is None else
                         run_driver(bitfile, design, cfg.reference_vectors, True, out / "board"))
        if bitfile is not None:
            runs["board"]["device"] = f"board:{design.cfg.board}"
    else:
        bitfile, source = overlay_files(design, out / "overlay", simulated=True)
        counts = {"reference": cfg.reference_vectors, "csim": cfg.csim_vectors, "rtl": cfg.rtl_vectors}
        for kind in progress(cfg.backends, "PYNQ driver on the simulated device, per backend", unit="backend"):
            if bitfile is None:
                runs[kind] = {"skipped": source}
                continue
            try:
                backend = make_backend(kind, design.folder)
            except BackendUnavailable as err:
                runs[kind] = {"skipped": str(err)}
                continue
            previous = getattr(pynq.Device, "_active_device", None)
            use_simulated_device(backend, design_folder=design.folder, part=board.part)
            try:
                runs[kind] = run_driver(bitfile, design, counts[kind], kind in cfg.latency_backends, out / kind)
            finally:
                if previous is not None:
                    pynq.Device.active_device = previous
    done = {k: r for k, r in runs.items() if "skipped" not in r}
    say("driver: " + "; ".join(f"{k} skipped" if "skipped" in r else f"{k} {r['mismatches']} mismatches over "
                               f"{r['samples']} vectors" for k, r in runs.items()))
    write_json(out / "latency.json", {k: r["latency"] for k, r in done.items() if "latency" in r})
    lead = next((done[k] for k in ("board",) + DEPTH_ORDER if k in done), {})
    result = {key: lead.get(key) for key in ("samples", "mismatches", "first_mismatch", "device")}
    result.update({
        "board": design.cfg.board, "bitstream": source,
        "backends": {k: {**{key: v for key, v in r.items() if key != "latency"},
                         **({"latency": _summary(r["latency"])} if "latency" in r else {})}
                     for k, r in runs.items()},
        "passed": bool(done) and all(r["mismatches"] == 0 for r in done.values()),
        "latency_file": str(out / "latency.json"),
    })
    if real is None:
        result["latency_note"] = ("simulated device: 'dma' is the DMA register model plus the backend computing "
                                  "on this CPU, not FPGA time; pack, flush, invalidate and unpack are the "
                                  "driver's own host cost (as on a board)")
    timed = runs.get("board") if "board" in done else runs.get("reference")
    if timed and "latency" in timed:
        batches = timed["latency"]["batches"]
        result["latency"] = _summary(timed["latency"])
        result["latency_device"] = timed["device"]
        result["host_overhead_us_per_request"] = {f"batch_{b['batch_size']}": b["host_overhead_us_per_request"]
                                                  for b in (batches[0], batches[-1])}
    return result
