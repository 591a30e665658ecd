"""The benchmark: every runtime × precision × batch size, verified, timed, and summarised.

``run_bench(design)`` writes ``<folder>/bench/baselines.json`` (and the ONNX files) and returns
the same dict. Its parts:

- ``runs[device][runtime][precision]``: ``verify`` (max |diff| against the Keras model on the
  same real requests, the stated tolerance and whether the runtime is within it; for the
  quantized model also the mismatches against the fixed-point reference) and ``batches``
  (per batch size: p50/p99 per batch and per request, throughput), or ``"skipped"``.
- ``table``: the same as flat rows (device, runtime, precision, batch, p50_us, p99_us,
  throughput_rps, max_abs_diff, within_tolerance): what a comparison table needs.
- ``best_cpu``: the CPU runtime with the lowest batch-1 p50 and the one with the highest
  throughput at the largest batch, among runtimes within tolerance (overall and per precision).
- ``onnx``: the exported files and how they match the Keras model (and the reference).
- ``paper``: the seed paper's figure, quoted, not measured.
"""
from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from codesign.bench.runtimes import (Runner, Unavailable, convert_tflite_int8, export_onnx,
                                     onnx_runner, quantized_weights_in_onnx, set_tf_threads, tf_runner,
                                     tflite_runner)
from codesign.bench.timing import batch_of, time_call
from codesign.console import progress
from codesign.flow import Design, write_json

PAPER = {"latency_ms": [40, 60], "label": "reported by the paper (modelled in R), not measured"}
TF_RUNTIMES = ("tf_eager", "tf_function", "tf_xla")
VERIFY_CHUNK = 256
INT8_MIN_R = 0.95
FLOAT_RTOL = 1e-4
REPRESENTATIVE = 200


def variants(design: Design) -> dict[str, str]:
    """Model variant per precision: the float twin and the hardware model."""
    return {"float": "hybrid_float", "quant": design.cfg.rtl.variant}


def tolerance(runtime: str, precision: str, reference: np.ndarray) -> tuple[str, float, str]:
    """How a runtime must agree with the Keras model: (metric, threshold, why).

    The metric is ``max_abs_diff`` (at most the threshold) for the float32 runtimes, and
    ``pearson_r`` (at least the threshold) for TFLite int8, whose post-training quantization
    changes the model by design: there a bound on max |diff| would only restate the int8 error,
    while a runtime that feeds the wrong input or breaks the graph loses the correlation.
    """
    if runtime == "tflite_int8":
        return "pearson_r", INT8_MIN_R, (f"post-training int8 re-quantizes every tensor (max |diff| is recorded, "
                                         f"not bounded): scores must correlate with Keras' at r >= {INT8_MIN_R}")
    if precision == "quant":
        return "max_abs_diff", 0.0, "the quantized model's scores lie on its fixed-point output grid: exact agreement"
    return "max_abs_diff", FLOAT_RTOL * max(1.0, float(np.abs(reference).max())), \
        f"float32 runtimes differ in summation order only: {FLOAT_RTOL:g} of the largest |score| (at least 1)"


def predict(call, inputs: dict[str, np.ndarray], chunk: int = VERIFY_CHUNK) -> np.ndarray:
    """``call`` over ``inputs`` in chunks, concatenated (float64, shape (n, outputs))."""
    n = len(next(iter(inputs.values())))
    parts = [np.asarray(call({k: np.ascontiguousarray(v[i:i + chunk]) for k, v in inputs.items()}))
             for i in range(0, n, chunk)]
    out = np.concatenate(parts).astype(np.float64)
    return out.reshape(n, -1)


def verify(runner: Runner, inputs: dict[str, np.ndarray], reference: np.ndarray, runtime: str,
           precision: str, expected: np.ndarray | None = None) -> dict:
    """A runtime's outputs against the Keras model (and the fixed-point reference when given)."""
    from codesign.compare import compare
    got = predict(runner.call, inputs)
    if got.shape != reference.shape:
        raise ValueError(f"{runtime} returned outputs of shape {got.shape}, the Keras model {reference.shape}")
    diff = np.abs(got - reference)
    r = float(np.corrcoef(got.ravel(), reference.ravel())[0, 1]) if reference.std() > 0 else None
    metric, tol, why = tolerance(runtime, precision, reference)
    within = diff.max() <= tol if metric == "max_abs_diff" else (r is not None and r >= tol)
    out = {"samples": int(len(got)), "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
           "pearson_r": r, "tolerance_metric": metric, "tolerance": tol, "tolerance_basis": why,
           "within_tolerance": bool(within)}
    if expected is not None:
        out["vs_reference"] = {**compare(expected, got), "max_abs_diff": float(np.abs(got - expected).max())}
    return out


def request_pool(design: Design, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` real requests of the test split (the data step's ego-graphs and title tokens)."""
    from codesign.vectors.step import test_requests
    return test_requests(design, n, seed)


def representative(design: Design, n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """``n`` single training requests (positive pairs) for TFLite's int8 calibration."""
    from codesign.data.step import load_data
    data = load_data(design)
    pick = np.random.default_rng(seed).choice(len(data.train), size=min(n, len(data.train)), replace=False)
    inputs = data.inputs(data.train[pick, 0], data.train[pick, 1],
                         dynamic=design.cfg.model.adjacency == "dynamic")
    return [{k: v[i:i + 1].astype(np.float32 if v.dtype.kind == "f" else np.int32) for k, v in inputs.items()}
            for i in range(len(pick))]


def machine(threads: int, tf_threads: dict) -> dict:
    """Where the numbers come from: CPU model, cores, threads, library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for pkg in ("tensorflow", "onnxruntime", "tf2onnx", "onnx"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "logical_cores": os.cpu_count(), "platform": platform.platform(),
            "load_average_1min_at_start": os.getloadavg()[0],
            "threads": threads, "tensorflow_threads": tf_threads, "versions": versions}


class _Precision:
    """One trained model and everything derived from it once: inputs, reference outputs, files."""

    def __init__(self, design: Design, precision: str, variant: str, pool: dict[str, np.ndarray], n_verify: int):
        import tensorflow as tf
        from codesign.train.step import load_trained
        self.precision, self.variant = precision, variant
        self.model = load_trained(design, variant)
        self.expected = None
        self.fp = None
        self.inputs = {k: v.astype(np.int32) if v.dtype.kind in "iu" else v.astype(np.float32)
                       for k, v in pool.items()}
        if precision == "quant":
            from codesign.fixedpoint import FixedPointModel
            from codesign.vectors.step import on_grid
            self.fp = fp = FixedPointModel.from_keras(self.model)
            self.inputs = on_grid(fp, pool)
        self.verify_inputs = {k: v[:n_verify] for k, v in self.inputs.items()}
        with tf.device("/CPU:0"):
            self.reference = predict(lambda x: self.model(x, training=False).numpy(), self.verify_inputs)
        if precision == "quant":
            self.expected = fp.predict(self.verify_inputs).astype(np.float64).reshape(self.reference.shape)
        self.onnx: Path | None = None
        self.tflite: bytes | None = None
        self.tflite_skip: str | None = None


def _runner(p: _Precision, runtime: str, device: str, threads: int) -> Runner:
    if runtime in TF_RUNTIMES:
        return tf_runner(p.model, runtime, device)
    if runtime == "onnxruntime":
        if p.onnx is None:
            raise Unavailable("no ONNX export of this model (see 'onnx')")
        return onnx_runner(p.onnx, threads, device)
    if runtime == "tflite_int8":
        if device != "/CPU:0":
            raise Unavailable("TFLite int8 runs on the CPU only here (no GPU delegate in the pip package)")
        if p.tflite is None:
            raise Unavailable(p.tflite_skip or "no TFLite model")
        return tflite_runner(p.tflite, threads)
    raise ValueError(f"unknown runtime {runtime!r}")


def _measure(p: _Precision, runtime: str, device: str, design: Design, threads: int, log) -> dict:
    cfg = design.cfg.bench
    try:
        runner = _runner(p, runtime, device, threads)
    except Unavailable as why:
        return {"variant": p.variant, "skipped": str(why)}
    check = verify(runner, p.verify_inputs, p.reference, runtime, p.precision, p.expected)
    batches = {}
    for size in cfg.batch_sizes:
        batches[str(size)] = time_call(runner.call, batch_of(p.inputs, size), cfg.repeats, cfg.warmup,
                                       cfg.max_seconds)
    b1 = batches[str(cfg.batch_sizes[0])]
    log(f"  {device} {runtime:12s} {p.precision:5s}: batch {cfg.batch_sizes[0]} p50 {b1['p50_us']:.1f} us, "
        f"max |diff| {check['max_abs_diff']:.3g}{'' if check['within_tolerance'] else ' BEYOND TOLERANCE'}")
    return {"variant": p.variant, **runner.info, "verify": check, "batches": batches}


def _onnx_check(p: _Precision, folder: Path) -> dict:
    """Exports ``p`` to ``folder/<variant>.onnx`` and checks it against Keras (and the reference)."""
    try:
        p.onnx = export_onnx(p.model, folder / f"{p.variant}.onnx")
    except Unavailable as why:
        return {"variant": p.variant, "skipped": str(why)}
    check = verify(onnx_runner(p.onnx, 1, "/CPU:0"), p.verify_inputs, p.reference, "onnxruntime",
                   p.precision, p.expected)
    if p.precision != "quant":
        return {"variant": p.variant, "file": p.onnx.name, "bytes": p.onnx.stat().st_size,
                "how": "tf2onnx from the float Keras model", **check}
    weights = quantized_weights_in_onnx(p.fp, p.onnx)
    return {"variant": p.variant, "file": p.onnx.name, "bytes": p.onnx.stat().st_size,
            "how": "tf2onnx from the QKeras model: weight quantizers folded into constants (the file stores "
                   "the quantized weights), activation quantizers kept as float Round/Clip ops",
            "quantized_weights": weights, "weights_folded": not weights["missing"], **check}


def best_cpu(table: list[dict]) -> dict:
    """Lowest p50 at the smallest batch and highest throughput at the largest batch, CPU only,
    among runtimes within their tolerance: overall, per precision, and among the runtimes that
    reproduce the Keras scores (``same_scores``: all but TFLite int8)."""
    rows = [r for r in table if r["device"] == "cpu" and r["within_tolerance"]]

    def pick(subset: list[dict]) -> dict:
        if not subset:
            return {"skipped": "no CPU runtime was measured within its tolerance"}
        small, large = min(r["batch"] for r in subset), max(r["batch"] for r in subset)
        lat = min((r for r in subset if r["batch"] == small), key=lambda r: r["p50_us"])
        thr = max((r for r in subset if r["batch"] == large), key=lambda r: r["throughput_rps"])
        keep = ("runtime", "precision", "batch", "p50_us", "p99_us", "throughput_rps")
        return {"latency": {k: lat[k] for k in keep}, "throughput": {k: thr[k] for k in keep}}
    out = pick(rows)
    out["by_precision"] = {prec: pick([r for r in rows if r["precision"] == prec])
                           for prec in sorted({r["precision"] for r in rows})}
    # runtimes that compute the Keras model's own scores (TFLite int8 computes an int8 model)
    out["same_scores"] = pick([r for r in rows if r.get("tolerance_metric") == "max_abs_diff"])
    return out


def flat_table(runs: dict) -> list[dict]:
    """One row per measured device × runtime × precision × batch."""
    rows = []
    for device, per_runtime in runs.items():
        if "skipped" in per_runtime:
            continue
        for runtime, per_precision in per_runtime.items():
            for precision, run in per_precision.items():
                for batch, t in run.get("batches", {}).items():
                    rows.append({"device": device, "runtime": runtime, "precision": precision,
                                 "batch": int(batch), "p50_us": t["p50_us"], "p99_us": t["p99_us"],
                                 "p50_us_per_request": t["p50_us_per_request"],
                                 "p99_us_per_request": t["p99_us_per_request"],
                                 "throughput_rps": t["throughput_rps"],
                                 "throughput_rps_at_p50": t["throughput_rps_at_p50"],
                                 "max_abs_diff": run["verify"]["max_abs_diff"],
                                 "tolerance_metric": run["verify"]["tolerance_metric"],
                                 "within_tolerance": run["verify"]["within_tolerance"]})
    return rows


def run_bench(design: Design, log=print) -> dict:
    """Runs the benchmark of ``design`` (see module docstring); writes ``bench/baselines.json``."""
    cfg = design.cfg.bench
    threads = cfg.threads or os.cpu_count() or 1
    tf_threads = set_tf_threads(threads)   # before TensorFlow runs its first op
    host = machine(threads, tf_threads)
    import tensorflow as tf
    if not design.is_current("train"):
        raise RuntimeError(f"no current trained models in {design.folder}: run "
                           f"'codesign flow --out {design.folder} --steps data,train' first")
    start = time.perf_counter()
    folder = design.path("bench")
    folder.mkdir(parents=True, exist_ok=True)
    pool = request_pool(design, max(max(cfg.batch_sizes), cfg.verify_samples), cfg.seed)
    models: dict[str, dict] = {}
    precisions: dict[str, _Precision] = {}
    onnx: dict[str, dict] = {}
    for precision in cfg.precisions:
        variant = variants(design)[precision]
        if not (design.path("train") / f"{variant}.keras").is_file():
            models[precision] = {"variant": variant, "skipped": f"{variant} was not trained in this design "
                                 f"(add it to train.variants)"}
            continue
        p = _Precision(design, precision, variant, pool, cfg.verify_samples)
        precisions[precision] = p
        models[precision] = {"variant": variant, "params": int(p.model.count_params())}
        onnx[precision] = _onnx_check(p, folder)
        if "tflite_int8" in cfg.runtimes:
            try:
                p.tflite = convert_tflite_int8(p.model, representative(design, REPRESENTATIVE, cfg.seed))
                (folder / f"{variant}_int8.tflite").write_bytes(p.tflite)
            except Unavailable as why:
                p.tflite_skip = str(why)
    devices = {"cpu": "/CPU:0"}
    gpus = tf.config.list_physical_devices("GPU")
    runs: dict[str, dict] = {}
    if not cfg.gpu:
        runs["gpu"] = {"skipped": "disabled by bench.gpu: false"}
    elif not gpus:
        runs["gpu"] = {"skipped": "no GPU visible to TensorFlow"}
    else:
        devices["gpu"] = "/GPU:0"
    for name, device in devices.items():
        runs[name] = {runtime: {} for runtime in cfg.runtimes}
        jobs = [(runtime, prec, p) for runtime in cfg.runtimes for prec, p in precisions.items()]
        for runtime, prec, p in progress(jobs, f"bench on {name}: runtime x precision", unit="run"):
            runs[name][runtime][prec] = _measure(p, runtime, device, design, threads, log)
    runs = {k: runs[k] for k in ("cpu", "gpu")}
    table = flat_table(runs)
    result = {
        "machine": host,
        "requests": {"source": "real requests of the test split (data step): nodes and tokens as int32",
                   "pool": len(next(iter(pool.values()))), "verify_samples": cfg.verify_samples,
                   "tflite_representative": f"{REPRESENTATIVE} training requests"},
        "batch_sizes": list(cfg.batch_sizes), "repeats": cfg.repeats, "warmup": cfg.warmup,
        "max_seconds_per_batch": cfg.max_seconds,
        "models": models, "onnx": onnx, "runs": runs, "table": table, "best_cpu": best_cpu(table),
        "beyond_tolerance": sorted({f"{r['device']}/{r['runtime']}/{r['precision']}" for r in table
                                    if not r["within_tolerance"]}),
        "paper": PAPER, "bench_seconds": round(time.perf_counter() - start, 1),
        "load_average_1min_at_end": os.getloadavg()[0],
    }
    write_json(folder / "baselines.json", result)
    return result


def format_table(result: dict) -> str:
    """The benchmark as a text table (per batch and per request), the skips, the paper row, best CPU."""
    lines = [f"{'device':6s} {'runtime':12s} {'prec':5s} {'batch':>6s} {'p50 us':>10s} {'p99 us':>10s} "
             f"{'us/req':>9s} {'req/s':>11s} {'max|diff|':>10s}"]
    for r in result["table"]:
        mark = "" if r["within_tolerance"] else "  BEYOND TOLERANCE"
        lines.append(f"{r['device']:6s} {r['runtime']:12s} {r['precision']:5s} {r['batch']:6d} "
                     f"{r['p50_us']:10.1f} {r['p99_us']:10.1f} {r['p50_us_per_request']:9.2f} "
                     f"{r['throughput_rps']:11.0f} {r['max_abs_diff']:10.3g}{mark}")
    for device, per_runtime in result["runs"].items():
        if "skipped" in per_runtime:
            lines.append(f"{device}: skipped: {per_runtime['skipped']}")
            continue
        for runtime, per_precision in per_runtime.items():
            for precision, run in per_precision.items():
                if "skipped" in run:
                    lines.append(f"{device} {runtime} {precision}: skipped: {run['skipped']}")
    for precision, m in result["models"].items():
        if "skipped" in m:
            lines.append(f"{precision} ({m['variant']}): skipped: {m['skipped']}")
    lo, hi = result["paper"]["latency_ms"]
    lines.append(f"paper  {lo}-{hi} ms per request: {result['paper']['label']}")
    best = result["best_cpu"]
    if "latency" in best:
        for label, b in (("best CPU", best), ("best CPU with the Keras scores", best["same_scores"])):
            if "latency" not in b:
                continue
            lat, thr = b["latency"], b["throughput"]
            lines.append(f"{label}: latency {lat['runtime']} {lat['precision']} batch {lat['batch']} "
                         f"p50 {lat['p50_us']:.1f} us; throughput {thr['runtime']} {thr['precision']} "
                         f"batch {thr['batch']} {thr['throughput_rps']:.0f} req/s")
    lines.append(f"threads: {result['machine']['threads']} on {result['machine']['cpu']} "
                 f"({result['machine']['logical_cores']} logical cores; 1-min load average "
                 f"{result['machine']['load_average_1min_at_start']:.1f} at start, "
                 f"{result['load_average_1min_at_end']:.1f} at end)")
    return "\n".join(lines)
