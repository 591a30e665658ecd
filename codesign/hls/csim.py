"""Write an hls4ml project, compile its C simulation, run vectors through it and compare
with the fixed-point reference; on a mismatch, trace one failing vector layer by layer."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from codesign.compare import compare, describe
from codesign.fixedpoint import FixedPointModel, InputOp
from codesign.hls.convert import convert, model_inputs
from codesign.hls.oplayers import hls_name


@dataclass
class HlsSettings:
    backend: str = "Vitis"
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    part: str | None = None
    board: str | None = None  # hls4ml board name (VivadoAccelerator)
    clock_period: float = 10.0

    def convert_kwargs(self) -> dict:
        return {"backend": self.backend, "io_type": self.io_type, "strategy": self.strategy,
                "reuse_factor": self.reuse_factor, "part": self.part, "board": self.board,
                "clock_period": self.clock_period}


class CsimMismatch(RuntimeError):
    """The C simulation differs from the reference (the message says where and what to do)."""


def csim_predict(hls_model, fp: FixedPointModel, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """C-simulation outputs (float64; the double bridge is exact for our output widths)."""
    n = len(inputs[fp.input_names[0]])
    out = np.asarray(hls_model.predict(model_inputs(hls_model, fp, inputs)), dtype=np.float64)
    return out.reshape(n, -1)[:, 0] if out.size == n else out.reshape(n, -1)


def build(model, fp: FixedPointModel, folder: Path, settings: HlsSettings, **extra):
    """Converts, writes and compiles the project in ``folder``; returns (hls_model, seconds)."""
    hls_model = convert(model, folder, fp=fp, **settings.convert_kwargs(), **extra)
    start = time.perf_counter()
    hls_model.compile()
    return hls_model, time.perf_counter() - start


def first_bad_layer(model, fp: FixedPointModel, row: dict[str, np.ndarray], folder: Path,
                    settings: HlsSettings) -> dict:
    """Traces one vector through a traced twin of the project: the first layer whose values
    differ from the reference, with both values."""
    hls_model, _ = build(model, fp, folder, settings, trace=True)
    _, traces = hls_model.trace(model_inputs(hls_model, fp, row))
    ref = fp.trace(row)
    for op in fp.ops:
        if isinstance(op, InputOp) or hls_name(op.name) not in traces:
            continue
        expected = op.out.to_float(ref[op.name]).reshape(-1)
        got = np.asarray(traces[hls_name(op.name)], dtype=np.float64).reshape(-1)
        if got.shape == expected.shape and not np.array_equal(expected, got):
            return {"layer": op.name, "kind": op.kind, "type": op.out.ap_type(op.kind == "quant"),
                    "expected": expected.tolist(), "got": got.tolist()}
    return {"layer": None}


def run_csim(model, fp: FixedPointModel, inputs: dict[str, np.ndarray], expected: np.ndarray,
             folder: Path, settings: HlsSettings, kinds: np.ndarray | None = None) -> tuple[dict, object]:
    """Builds the project in ``folder/project`` and compares its C simulation with ``expected``;
    returns (result, compiled hls4ml model)."""
    folder = Path(folder)
    hls_model, compile_seconds = build(model, fp, folder / "project", settings)
    start = time.perf_counter()
    got = csim_predict(hls_model, fp, inputs)
    csim_seconds = time.perf_counter() - start
    result = compare(expected, got)
    result.update({"compile_seconds": round(compile_seconds, 2), "csim_seconds": round(csim_seconds, 2),
                   "project": str(folder / "project"), **asdict(settings)})
    if kinds is not None and result["first_mismatch"]:
        result["first_mismatch"]["kind"] = str(kinds[result["first_mismatch"]["index"]])
    if result["mismatches"]:
        i = result["first_mismatch"]["index"]
        row = {k: v[i:i + 1] for k, v in inputs.items()}
        result["first_bad_layer"] = first_bad_layer(model, fp, row, folder / "trace", settings)
    return result, hls_model


def failure_message(result: dict) -> str:
    """What went wrong and what to do about it."""
    text = f"C simulation differs from the fixed-point reference: {describe(result)}."
    bad = result.get("first_bad_layer") or {}
    if bad.get("layer"):
        text += (f" The first layer that differs is '{bad['layer']}' ({bad['kind']}, reference type "
                 f"{bad['type']}): check its precision in {result['project']}/firmware/defines.h and "
                 f"the kernel in nnet_utils/nnet_codesign.h.")
    return text + " Details in csim.json; the project is kept for debugging."
