"""Sample-by-sample comparison of a lower level's outputs with the fixed-point reference.

Used by the C simulation, the RTL simulation and the board driver alike: equality is exact
(the reference is exact, so is the hardware); zero mismatches is the pass condition.
"""
from __future__ import annotations

import numpy as np


def compare(expected, got) -> dict:
    """``{"samples", "mismatches", "first_mismatch": {"index", "expected", "got"} | None}``.

    One sample is one row (the first axis); a row mismatches when any of its values differs.
    """
    expected, got = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    if expected.shape != got.shape:
        raise ValueError(f"cannot compare outputs of shape {got.shape} with expected shape {expected.shape}")
    samples = expected.shape[0] if expected.ndim else 1
    differs = (expected != got).reshape(samples, -1).any(axis=1)
    bad = np.flatnonzero(differs)
    first = None
    if len(bad):
        i = int(bad[0])
        first = {"index": i, "expected": expected[i].tolist(), "got": got[i].tolist()}
    return {"samples": int(samples), "mismatches": int(len(bad)), "first_mismatch": first}


def describe(result: dict) -> str:
    """One line for a log or an error message."""
    text = f"{result['mismatches']} mismatches over {result['samples']} samples"
    first = result.get("first_mismatch")
    if first:
        text += f" (first: sample {first['index']}, expected {first['expected']}, got {first['got']})"
    return text
