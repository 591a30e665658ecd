"""Ranking metrics with ties broken at random, in expectation.

A quantized model often gives equal scores; counting a tie as a win or a loss would favour
or punish it. Each metric is its expected value when tied items are ordered at random.
"""
from __future__ import annotations

import numpy as np


def _expected(pos: np.ndarray, others: np.ndarray, k: int, gain) -> np.ndarray:
    pos = pos[:, None]
    higher = (others > pos).sum(1)
    ties = (others == pos).sum(1)
    # positions (0-based) the positive can take: higher .. higher + ties, equally likely
    ranks = higher[:, None] + np.arange(others.shape[1] + 1)[None, :]
    inside = np.arange(others.shape[1] + 1)[None, :] <= ties[:, None]
    g = np.where(inside & (ranks < k), gain(ranks), 0.0)
    return g.sum(1) / (ties + 1)


def hit_rate(pos: np.ndarray, others: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-row HR@k of the positive score ``pos[r]`` among ``others[r]`` (-inf = excluded)."""
    return _expected(pos, others, k, lambda r: np.ones_like(r, dtype=float))


def ndcg(pos: np.ndarray, others: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-row NDCG@k with one relevant item: 1 / log2(rank + 2) inside the top k."""
    return _expected(pos, others, k, lambda r: 1.0 / np.log2(r + 2.0))


def paired_difference(a: np.ndarray, b: np.ndarray, resamples: int = 2000, seed: int = 0) -> dict:
    """Mean of ``a - b`` over the same users, with a 95% bootstrap interval."""
    diff = np.asarray(a, float) - np.asarray(b, float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean": float(diff.mean()), "ci95": [float(lo), float(hi)]}


def interval_verdict(difference: dict) -> str:
    """'above 0', 'below 0' or 'includes 0' for a ``paired_difference`` ('' without an interval)."""
    lo, hi = (difference.get("ci95") or [None, None])[:2]
    if lo is None or hi is None:
        return ""
    return "above 0" if lo > 0 else "below 0" if hi < 0 else "includes 0"
