"""Latency of one runtime over batch sizes: warm-up, repeats under a time budget, percentiles."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

MIN_REPEATS = 3


def batch_of(pool: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """The first ``size`` requests of ``pool`` as contiguous arrays."""
    have = len(next(iter(pool.values())))
    if size > have:
        raise ValueError(f"batch size {size} exceeds the {have} requests in the input pool")
    return {k: np.ascontiguousarray(v[:size]) for k, v in pool.items()}


def time_call(call: Callable[[dict], object], inputs: dict[str, np.ndarray], repeats: int, warmup: int,
              max_seconds: float) -> dict:
    """Times ``call(inputs)``: ``warmup`` untimed calls, then up to ``repeats`` timed calls (at
    least ``MIN_REPEATS``, stopping early once ``max_seconds`` of timed calls have passed).

    Per batch: ``p50_us``, ``p99_us``, ``mean_us``; per request (divided by the batch size):
    ``p50_us_per_request``, ``p99_us_per_request``; ``throughput_rps`` = requests / total timed
    time (stalls included), ``throughput_rps_at_p50`` = batch / p50 (the typical call).
    """
    batch = len(next(iter(inputs.values())))
    for _ in range(warmup):
        call(inputs)
    times: list[float] = []
    deadline = time.perf_counter() + max_seconds
    while len(times) < repeats and (len(times) < MIN_REPEATS or time.perf_counter() < deadline):
        start = time.perf_counter()
        call(inputs)
        times.append(time.perf_counter() - start)
    t = np.asarray(times) * 1e6
    p50, p99 = float(np.percentile(t, 50)), float(np.percentile(t, 99))
    return {"batch": batch, "repeats": len(times), "p50_us": p50, "p99_us": p99, "mean_us": float(t.mean()),
            "p50_us_per_request": p50 / batch, "p99_us_per_request": p99 / batch,
            "throughput_rps": batch * len(times) / float(np.sum(times)),
            "throughput_rps_at_p50": batch / (p50 * 1e-6)}
