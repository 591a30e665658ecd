"""The ``sim`` step: the cocotb bench of the top over the frozen vectors, per simulator.

Writes ``sim/rtlsim.json``: per simulator ``samples``, ``mismatches``, ``first_mismatch``,
``latency_cycles`` (first input beat to first output beat), ``ii`` (cycles between accepted
requests at full throughput), ``beats_per_request``, simulated requests per wall-clock
second, simulator name and version; the first simulator's figures also at the top level,
with the latency in ns at the clock the rtl step's timing estimate says is met
(``codesign.latency``) beside the Keras model's CPU time (batch 1, median).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from codesign.boards import load_board
from codesign.console import say, waiting
from codesign.flow import Design, register_step, write_json


def select_vectors(design: Design, n: int, out: Path) -> tuple[Path, dict]:
    """``n`` frozen vectors: corner cases and random requests (all of them when ``n`` is at
    least twice their number or there are no test requests, else ``n // 2``), the rest real
    test requests.

    Writes them (one array per model input, by name, and ``expected``: (n,) for one output, else
    (n, outputs)) to ``out``; returns its path and the count per kind.
    """
    from codesign.vectors.step import load_vectors
    inputs, expected, kind = load_vectors(design.path("vectors") / "vectors.npz")
    half = n < 2 * np.sum(kind != "test") and np.any(kind == "test")   # no test requests (own model): all n
    special = np.flatnonzero(kind != "test")[: n // 2 if half else n]
    test = np.flatnonzero(kind == "test")[: n - len(special)]
    pick = np.sort(np.concatenate([test, special]))
    out.parent.mkdir(parents=True, exist_ok=True)
    picked = np.asarray(expected[pick], np.float64).reshape(len(pick), -1)
    np.savez(out, **{name: value[pick] for name, value in inputs.items()},
             expected=picked[:, 0] if picked.shape[1] == 1 else picked)
    names, counts = np.unique(kind[pick], return_counts=True)
    return out, dict(zip(names.tolist(), counts.tolist()))


def keras_cpu_latency(model, inputs: dict[str, np.ndarray], runs: int = 200) -> dict:
    """Median wall time of one request (the first of ``inputs``, by input name) through the Keras
    model (batch 1, eager call and tf.function)."""
    inputs = {name: value[:1] for name, value in inputs.items()}
    import tensorflow as tf
    graph = tf.function(lambda x: model(x, training=False))
    out = {}
    for name, call in (("eager", lambda: model(inputs, training=False)), ("tf_function", lambda: graph(inputs))):
        for _ in range(10):
            call()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        out[name] = {"median_us": float(np.median(times) * 1e6), "p90_us": float(np.percentile(times, 90) * 1e6)}
    return {**out, "median_us": out["tf_function"]["median_us"], "runs": runs,
            "how": "batch 1 on this machine's CPU (shared, 2 cores), after 10 warm-up calls"}


def simulate(design: Design, build: dict, sim: str, n: int) -> dict:
    from codesign.compare import compare
    from codesign.sim.runner import TB_DIR, missing_simulator, run_cocotb, simulator_version
    reason = missing_simulator(sim)
    if reason:
        return {"simulator": sim, "skipped": reason}
    out = design.path("sim") / sim
    vectors, kinds = select_vectors(design, n, out / "vectors.npz")
    result_path, scores_path = out / "result.json", out / "scores.npy"
    for p in (result_path, scores_path):
        p.unlink(missing_ok=True)
    start = time.perf_counter()
    error = None
    try:
        with waiting(f"{sim}: build and simulate {n} vectors"):
            run_cocotb(sim, build["sources"], build["toplevel"], "test_top", design.path("sim") / "build",
                       module_dir=TB_DIR / "top", libdirs=build["libdirs"],
                       extra_env={"CODESIGN_BUILD": design.path("rtl") / "build.json", "CODESIGN_VECTORS": vectors,
                                  "CODESIGN_RESULT": result_path, "CODESIGN_SCORES": scores_path})
    except (RuntimeError, SystemExit) as err:
        error = str(err)
    measured = json.loads(result_path.read_text()) if result_path.is_file() else {}
    expected = np.load(vectors)["expected"]
    cmp = (compare(expected, np.load(scores_path)) if scores_path.is_file()
           else {"samples": 0, "mismatches": None, "first_mismatch": None})
    return {**cmp, "kinds": kinds, "simulator": sim, "version": simulator_version(sim),
            "latency_cycles": measured.get("latency_cycles"), "ii": measured.get("ii"),
            "beats_per_request": measured.get("beats_per_request"),
            "requests_per_second": measured.get("requests_per_second"),
            "sim_wall_seconds": measured.get("wall_seconds"),
            "total_seconds": round(time.perf_counter() - start, 1),
            **({"error": error} if error else {})}


def simulators_now_available(design: Design, result: dict) -> str | None:
    """A cached result with a skipped simulator is stale once that simulator is installed."""
    from codesign.sim.runner import missing_simulator
    back = [sim for sim, r in (result.get("simulators") or {}).items()
            if isinstance(r, dict) and "skipped" in r and missing_simulator(sim) is None]
    return f"simulator(s) {', '.join(back)} skipped before are installed now" if back else None


@register_step("sim", sections=("rtl",), after=("rtl", "vectors"), recheck=simulators_now_available)
def sim_step(design: Design) -> dict:
    from codesign.train.step import load_trained
    cfg = design.cfg
    build = json.loads((design.path("rtl") / "build.json").read_text())
    runs = {}
    for sim in cfg.rtl.simulators:
        n = cfg.rtl.verilator_vectors if sim == "verilator" else cfg.rtl.icarus_vectors
        runs[sim] = simulate(design, build, sim, n)
        r = runs[sim]
        say(f"{sim}: skipped ({r['skipped']})" if "skipped" in r else
            f"{sim}: {r['mismatches']} mismatches over {r['samples']} vectors, latency {r['latency_cycles']} cycles, "
            f"II {r['ii']}, {r['total_seconds']:.0f} s" + (f"; error: {r['error']}" if "error" in r else ""))
    broken = {sim: r["error"] for sim, r in runs.items() if "error" in r and not r.get("samples")}
    if broken:   # no scores at all: a broken run, not a result to cache
        raise RuntimeError(f"simulation did not complete: {broken}")
    from codesign.latency import latency_figure
    rtl = design.result("rtl")
    target = rtl.get("target_clock_mhz") or load_board(cfg.board).clock_mhz
    first = next((r for r in runs.values() if "skipped" not in r), {})
    cycles = first.get("latency_cycles")
    # the simulated cycles at the clock the rtl step's timing estimate says is met
    latency = None if cycles is None else latency_figure(cycles, target, rtl.get("timing"))
    result = {key: first.get(key) for key in ("samples", "mismatches", "first_mismatch", "latency_cycles",
                                              "ii", "beats_per_request", "requests_per_second", "simulator",
                                              "version")}
    model = load_trained(design, cfg.rtl.variant)
    ran = [sim for sim in cfg.rtl.simulators if "skipped" not in runs[sim]]
    # the CPU time is measured on the vectors step's requests, not on a simulator's folder
    # (which a simulator that is not installed never writes)
    from codesign.vectors.step import load_vectors
    requests, _, _ = load_vectors(design.path("vectors") / "vectors.npz")
    result.update({
        "reference": "codesign.fixedpoint via the vectors step", "simulators": runs,
        "board": cfg.board, "clock_mhz": latency["clock_mhz"] if latency else target, "latency": latency,
        "latency_ns": latency["latency_ns"] if latency else None,
        "interval_ns": (None if first.get("ii") is None or not latency
                        else round(first["ii"] * 1000 / latency["clock_mhz"], 2)),
        "keras_cpu_batch1": keras_cpu_latency(model, requests) if ran else None,
        "passed": bool(first) and all(r.get("mismatches") == 0 and "error" not in r
                                      for r in runs.values() if "skipped" not in r),
    })
    skipped = {sim: r["skipped"] for sim, r in runs.items() if "skipped" in r}
    if skipped:   # a simulator that did not run is never a pass; the next flow retries it
        result["skipped_simulators"] = skipped
        if not first:
            result.update({"passed": None, "skipped": "; ".join(f"{sim}: {why}" for sim, why in skipped.items())})
    write_json(design.path("sim") / "rtlsim.json", result)
    return result
