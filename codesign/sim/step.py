"""The ``sim`` step: the cocotb bench of the top over the frozen vectors, per simulator.

Writes ``sim/rtlsim.json``: per simulator ``samples``, ``mismatches``, ``first_mismatch``,
``latency_cycles`` (first input beat to first output beat), ``ii`` (cycles between accepted
requests at full throughput), ``beats_per_request``, simulated requests per wall-clock
second, simulator name and version; the first simulator's figures also at the top level,
with the latency at the board clock beside the Keras model's CPU time (batch 1, median).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from codesign.boards import load_board
from codesign.flow import STEPS, Design, register_step, write_json


def compare_scores(expected: np.ndarray, got: np.ndarray) -> dict:
    try:
        from codesign.compare import compare
    except ImportError:   # the shared helper lands with the fixed-point reference
        bad = np.flatnonzero(np.asarray(expected) != np.asarray(got))
        first = None if bad.size == 0 else {"index": int(bad[0]), "expected": float(expected[bad[0]]),
                                            "got": float(got[bad[0]])}
        return {"samples": int(len(got)), "mismatches": int(bad.size), "first_mismatch": first}
    return compare(expected, got)


def frozen_vectors(design: Design, spec, n: int) -> tuple[Path, str]:
    """The design's frozen vectors (``vectors`` step), else vectors made here from test pairs."""
    if "vectors" in STEPS and design.is_current("vectors"):
        return design.path("vectors") / "vectors.npz", "vectors step (codesign.fixedpoint)"
    from codesign.data.dataset import RecData
    from codesign.rtl.trace import reference_numpy
    data = RecData(design.path("data"), design.cfg.data)
    rng = np.random.default_rng(0)
    users = np.repeat(data.test[:, 0], 1 + data.negatives["test"].shape[1])
    items = np.concatenate([data.test[:, 1:2], data.negatives["test"][data.test[:, 0] - 1]], axis=1).reshape(-1)
    pick = rng.choice(len(users), size=min(n, len(users)), replace=False)
    inputs = data.inputs(users[pick], items[pick])
    expected = reference_numpy(spec, inputs["nodes"], inputs["tokens"])
    path = design.path("sim") / "vectors.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, nodes=inputs["nodes"], tokens=inputs["tokens"], expected=expected)
    return path, "codesign.rtl.trace.reference_numpy (the tracer's exact twin; fixedpoint.py not merged)"


def keras_cpu_latency(model, vectors: Path, runs: int = 200) -> dict:
    """Median wall time of one request through the Keras model (batch 1, eager call)."""
    vec = np.load(vectors)
    inputs = {"nodes": vec["nodes"][:1], "tokens": vec["tokens"][:1]}
    for _ in range(10):
        model(inputs, training=False)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        model(inputs, training=False)
        times.append(time.perf_counter() - start)
    return {"median_us": float(np.median(times) * 1e6), "p90_us": float(np.percentile(times, 90) * 1e6),
            "runs": runs, "how": "model(x, training=False), batch 1, after 10 warm-up calls"}


def simulate(design: Design, build: dict, sim: str, vectors: Path, n: int) -> dict:
    from codesign.sim.runner import TB_DIR, missing_simulator, run_cocotb, simulator_version
    reason = missing_simulator(sim)
    if reason:
        return {"simulator": sim, "skipped": reason}
    out = design.path("sim") / sim
    out.mkdir(parents=True, exist_ok=True)
    result_path, scores_path = out / "result.json", out / "scores.npy"
    for p in (result_path, scores_path):
        p.unlink(missing_ok=True)
    start = time.perf_counter()
    error = None
    try:
        run_cocotb(sim, build["sources"], build["toplevel"], "test_top", design.path("sim") / "build",
                   module_dir=TB_DIR / "top", libdirs=build["libdirs"],
                   extra_env={"CODESIGN_BUILD": design.path("rtl") / "build.json", "CODESIGN_VECTORS": vectors,
                              "CODESIGN_N": n, "CODESIGN_RESULT": result_path, "CODESIGN_SCORES": scores_path})
    except (RuntimeError, SystemExit) as err:
        error = str(err)
    measured = json.loads(result_path.read_text()) if result_path.is_file() else {}
    expected = np.asarray(np.load(vectors)["expected"][:n], np.float64)
    cmp = (compare_scores(expected, np.load(scores_path)) if scores_path.is_file()
           else {"samples": 0, "mismatches": None, "first_mismatch": None})
    return {**cmp, "simulator": sim, "version": simulator_version(sim),
            "latency_cycles": measured.get("latency_cycles"), "ii": measured.get("ii"),
            "beats_per_request": measured.get("beats_per_request"),
            "requests_per_second": measured.get("requests_per_second"),
            "sim_wall_seconds": measured.get("wall_seconds"),
            "total_seconds": round(time.perf_counter() - start, 1),
            **({"error": error} if error else {})}


@register_step("sim", sections=("rtl",), after=("rtl",))
def sim_step(design: Design) -> dict:
    from codesign.rtl.trace import read_model
    from codesign.train.step import load_trained
    cfg = design.cfg
    build = json.loads((design.path("rtl") / "build.json").read_text())
    model = load_trained(design, cfg.rtl.variant)
    n_max = max(cfg.rtl.verilator_vectors, cfg.rtl.icarus_vectors)
    vectors, reference = frozen_vectors(design, read_model(model), n_max)
    runs = {}
    for sim in cfg.rtl.simulators:
        n = cfg.rtl.verilator_vectors if sim == "verilator" else cfg.rtl.icarus_vectors
        runs[sim] = simulate(design, build, sim, vectors, n)
    board = load_board(cfg.board)
    first = next((r for r in runs.values() if "skipped" not in r), {})
    cycles = first.get("latency_cycles")
    result = {key: first.get(key) for key in ("samples", "mismatches", "first_mismatch", "latency_cycles",
                                              "ii", "beats_per_request", "requests_per_second", "simulator",
                                              "version")}
    result.update({
        "reference": reference, "vectors": str(vectors), "simulators": runs,
        "board": cfg.board, "clock_mhz": board.clock_mhz,
        "latency_us_at_board_clock": None if cycles is None else cycles * board.clock_ns / 1000,
        "interval_us_at_board_clock": None if first.get("ii") is None else first["ii"] * board.clock_ns / 1000,
        "keras_cpu_batch1": keras_cpu_latency(model, vectors),
        "passed": all(r.get("mismatches") == 0 and "error" not in r for r in runs.values() if "skipped" not in r)
                  and bool(first),
    })
    write_json(design.path("sim") / "rtlsim.json", result)
    return result
