"""Fixed-fanout ego-graphs around a (user, item) pair.

Node slots of one ego-graph (N = 2 + 2k):
``[user, item, k neighbours of the user (items), k neighbours of the item (users)]``;
missing neighbours are the padding id 0. Neighbours come from the training interactions
only, and the pair's own edge is never among them, so no scored interaction leaks into
the graph that scores it.
"""
from __future__ import annotations

import numpy as np

from codesign.data.movielens import PAD


class NeighbourTable:
    """Training graph as CSR lists; each list is ordered once per ``reshuffle``."""

    def __init__(self, edges: np.ndarray, n_nodes: int, order: str = "random", seed: int = 0):
        if order not in ("random", "recent"):
            raise ValueError(f"neighbour order {order!r} is not one of 'random', 'recent'")
        users, items, times = edges[:, 0], edges[:, 1], edges[:, 2]
        src = np.concatenate([users, items])
        dst = np.concatenate([items, users])
        self.time = np.concatenate([times, times])
        self.src, self.dst, self.order = src, dst, order
        self.indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.add.at(self.indptr, src + 1, 1)
        self.indptr = np.cumsum(self.indptr)
        self.rng = np.random.default_rng(seed)
        self.reshuffle()

    def reshuffle(self, rng: np.random.Generator | None = None) -> None:
        """New random neighbour order (``recent``: newest first, ties random), drawn from
        ``rng`` (default: the table's own generator)."""
        noise = (rng or self.rng).random(len(self.src))
        key2 = -self.time if self.order == "recent" else noise
        self.neighbours = self.dst[np.lexsort((noise, key2, self.src))]

    def degree(self, nodes: np.ndarray) -> np.ndarray:
        return self.indptr[nodes + 1] - self.indptr[nodes]

    def first(self, nodes: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
        """The first k neighbours of each node in the current order, skipping ``exclude``."""
        deg = self.degree(nodes)
        offsets = np.arange(k + 1)
        idx = self.indptr[nodes][:, None] + offsets
        cand = np.where(offsets < deg[:, None], self.neighbours[np.minimum(idx, len(self.neighbours) - 1)], PAD)
        cand = np.where(cand == exclude[:, None], PAD, cand)
        # stable-compact the non-padding entries to the left, then keep k
        keep = np.argsort(cand == PAD, axis=1, kind="stable")
        return np.take_along_axis(cand, keep, axis=1)[:, :k]


def ego_graphs(table: NeighbourTable, users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Node ids (B, 2 + 2k) of the ego-graphs around each (user, item) pair."""
    return np.concatenate([users[:, None], items[:, None],
                           table.first(users, items, k), table.first(items, users, k)], axis=1)


def star_adjacency(k: int) -> np.ndarray:
    """Static normalised adjacency of the ego-graph: two stars with self loops.

    D^-1/2 (A + I) D^-1/2 with user-neighbour and item-neighbour edges; it does not depend
    on which slots are padding, so it is a constant of the hardware.
    """
    n = 2 + 2 * k
    a = np.eye(n)
    for centre, first in ((0, 2), (1, 2 + k)):
        a[centre, first:first + k] = a[first:first + k, centre] = 1
    d = 1 / np.sqrt(a.sum(1))
    return (a * d[:, None] * d[None, :]).astype("float32")


def dynamic_adjacency(nodes: np.ndarray, k: int) -> np.ndarray:
    """Per-request normalised adjacency (B, N, N) of the same stars, padding slots removed."""
    valid = (nodes != PAD).astype("float32")
    base = star_adjacency(k) > 0
    a = base[None] * valid[:, :, None] * valid[:, None, :]
    d = a.sum(2)
    inv = np.divide(1.0, np.sqrt(d), out=np.zeros_like(d), where=d > 0)
    return (a * inv[:, :, None] * inv[:, None, :]).astype("float32")
