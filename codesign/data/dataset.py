"""The prepared data of a design: split, title tokens, evaluation candidates, ego-graphs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codesign.config import DataConfig
from codesign.data.egograph import NeighbourTable, dynamic_adjacency, ego_graphs
from codesign.data.movielens import Interactions, load_movielens
from codesign.data.titles import build_vocabulary, encode, words


def _eval_negatives(data: Interactions, n: int, seed: int) -> np.ndarray:
    """n items per user that the user never interacted with (fixed seed), shape (users, n)."""
    rng = np.random.default_rng(seed)
    seen = np.zeros((data.n_users + 1, data.n_nodes), dtype=bool)
    for part in (data.train, data.valid, data.test):
        seen[part[:, 0], part[:, 1]] = True
    out = np.zeros((data.n_users, n), dtype=np.int64)
    for u in range(1, data.n_users + 1):
        pool = data.item_nodes[~seen[u, data.item_nodes]]
        out[u - 1] = rng.choice(pool, size=n, replace=False)
    return out


def prepare(cfg: DataConfig, folder: Path) -> dict:
    """Writes ``folder/arrays.npz`` and ``folder/vocabulary.json``; returns the manifest."""
    data = load_movielens()
    texts = [words(t, g) for t, g in zip(data.item_text, data.item_genres)]
    train_items = np.unique(data.train[:, 1]) - data.n_users - 1
    vocab = build_vocabulary([texts[i] for i in train_items], cfg.min_token_count)
    tokens = encode(texts, vocab, cfg.title_length)
    # row 0 (padding node) and user rows have empty titles: index by node id
    node_tokens = np.zeros((data.n_nodes, cfg.title_length), dtype=np.int32)
    node_tokens[data.item_nodes] = tokens
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        folder / "arrays.npz", train=data.train, valid=data.valid, test=data.test,
        node_tokens=node_tokens, n_users=data.n_users, n_items=data.n_items,
        valid_negatives=_eval_negatives(data, cfg.eval_negatives, cfg.seed),
        test_negatives=_eval_negatives(data, cfg.eval_negatives, cfg.seed + 1))
    (folder / "vocabulary.json").write_text(json.dumps(vocab, indent=0))
    lengths = (tokens > 0).sum(1)
    return {"users": data.n_users, "items": data.n_items, "nodes": data.n_nodes,
            "train": len(data.train), "valid": len(data.valid), "test": len(data.test),
            "vocabulary": len(vocab) + 2, "title_length": cfg.title_length,
            "mean_title_tokens": float(lengths.mean()),
            "unknown_token_share": float((tokens == 1).sum() / max(1, (tokens > 0).sum())),
            "fanout": cfg.fanout, "ego_graph_nodes": 2 + 2 * cfg.fanout}


def previous_items(train: np.ndarray, k: int) -> np.ndarray:
    """Per training row (user, item, time), the k items its user rated just before it, newest
    first (padding 0 where the user has fewer). Rows of the same time keep their order."""
    order = np.lexsort((np.arange(len(train)), train[:, 2], train[:, 0]))
    users, items = train[order, 0], train[order, 1]
    previous = np.zeros((len(train), k), dtype=train.dtype)
    for j in range(1, k + 1):
        same = np.r_[np.zeros(min(j, len(users)), bool), users[j:] == users[:-j]]
        previous[order[same], j - 1] = items[np.flatnonzero(same) - j]
    return previous


def last_items(train: np.ndarray, n_users: int, n: int) -> np.ndarray:
    """(n_users + 1, n) each user's last n training items, newest first (padding 0)."""
    order = np.lexsort((np.arange(len(train)), train[:, 2], train[:, 0]))
    users, items = train[order, 0], train[order, 1]
    ends = np.flatnonzero(np.r_[users[1:] != users[:-1], True])
    last = np.zeros((n_users + 1, n), dtype=train.dtype)
    for j in range(n):
        at = ends - j
        ok = (at >= 0) & (users[np.maximum(at, 0)] == users[ends])
        last[users[ends[ok]], j] = items[at[ok]]
    return last


def title_counts(node_tokens: np.ndarray, history: np.ndarray, vocab: int) -> np.ndarray:
    """(B, vocab) per row of ``history`` (B, n) item nodes, how many of the items' titles hold
    each token (padding and unknown tokens count 0)."""
    counts = np.zeros((len(history), vocab), dtype=np.uint8)
    rows = np.arange(len(history))[:, None]
    for j in range(history.shape[1]):
        holds = np.zeros((len(history), vocab), dtype=bool)
        holds[rows, node_tokens[history[:, j]]] = True
        counts += holds
    counts[:, :2] = 0
    return counts


class RecData:
    """Arrays of a prepared design folder plus the ego-graph sampler over the training graph."""

    def __init__(self, folder: Path, cfg: DataConfig):
        arrays = np.load(folder / "arrays.npz")
        self.cfg = cfg
        self.train, self.valid, self.test = arrays["train"], arrays["valid"], arrays["test"]
        self.node_tokens = arrays["node_tokens"]
        self.n_users, self.n_items = int(arrays["n_users"]), int(arrays["n_items"])
        self.negatives = {"valid": arrays["valid_negatives"], "test": arrays["test_negatives"]}
        self.title_vocab = len(json.loads((folder / "vocabulary.json").read_text())) + 2
        # title_match: a token id is marked with its level (0..levels) as id + title_vocab x level
        self.vocab_size = self.title_vocab * (1 + cfg.title_match_levels if cfg.title_match else 1)
        self.n_nodes = 1 + self.n_users + self.n_items
        self.item_nodes = np.arange(self.n_users + 1, self.n_nodes)
        self.k = cfg.fanout
        # sequential_neighbours: each training row's graph holds the items rated just before it
        depth = max(self.k if cfg.sequential_neighbours else 0, cfg.title_match)
        self.previous = previous_items(self.train, depth) if depth else None
        # title_match: per user (held-out requests) and per training row, the token counts of the
        # titles of the last n items (56 MB for MovieLens-100K's training rows; once, not per epoch)
        self.user_titles = self.row_titles = None
        if cfg.title_match:
            last = last_items(self.train, self.n_users, cfg.title_match)
            self.user_titles = title_counts(self.node_tokens, last, self.title_vocab)
            self.row_titles = title_counts(self.node_tokens, self.previous[:, :cfg.title_match], self.title_vocab)
        self.train_table = NeighbourTable(self.train, self.n_nodes, cfg.neighbour_order, cfg.seed)
        # evaluation graphs use one fixed neighbour order (same seed every run)
        self.eval_table = NeighbourTable(self.train, self.n_nodes, cfg.neighbour_order, cfg.seed + 7)

    def inputs(self, users: np.ndarray, items: np.ndarray, table: NeighbourTable | None = None,
               dynamic: bool = False, user_neighbours: np.ndarray | None = None,
               tokens: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Model inputs of (user, item) pairs: ``nodes``, ``tokens`` (and ``adjacency``);
        ``user_neighbours`` (B, k), when given, fills the user's neighbour slots; ``tokens``
        (B, L), when given, replaces the title tokens (else: the items' titles, marked against the
        users' last training items when ``title_match`` is on)."""
        nodes = ego_graphs(table or self.eval_table, users, items, self.k)
        if user_neighbours is not None:
            nodes[:, 2:2 + self.k] = user_neighbours
        if tokens is None:
            tokens = self.title_tokens(items, self.user_titles, users)
        out = {"nodes": nodes.astype(np.int32), "tokens": tokens.astype(np.int32)}
        if dynamic:
            out["adjacency"] = dynamic_adjacency(nodes, self.k)
        return out

    def title_tokens(self, items: np.ndarray, counts: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
        """(B, L) the items' title token ids; with ``title_match``, each marked with its level:
        ``counts[rows]``'s count of the token, clipped to ``title_match_levels``."""
        tokens = self.node_tokens[items]
        if counts is None:
            return tokens
        level = np.minimum(counts[rows[:, None], tokens], self.cfg.title_match_levels)
        return tokens + self.title_vocab * level.astype(tokens.dtype)

    def training_epoch(self, rng: np.random.Generator, negatives: int,
                       dynamic: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Positives of the training split and ``negatives`` sampled items each, shuffled.

        A sampled negative is an item the user has no training interaction with. Every draw
        (neighbour order included) comes from ``rng``: a training run seeded alike samples
        alike, whatever ran before it in the process.
        """
        self.train_table.reshuffle(rng)
        users = np.repeat(self.train[:, 0], 1 + negatives)
        items = self.train[:, 1].repeat(1 + negatives).copy()
        is_neg = np.tile(np.r_[False, np.ones(negatives, bool)], len(self.train))
        seen = np.zeros((self.n_users + 1, self.n_nodes), dtype=bool)   # (user, item) positives
        seen[self.train[:, 0], self.train[:, 1]] = True
        draw = rng.choice(self.item_nodes, size=int(is_neg.sum()))
        items[is_neg] = draw
        # resample the (rare) negatives that hit a training positive
        bad = np.flatnonzero(is_neg)[seen[users[is_neg], draw]]
        while len(bad):
            items[bad] = rng.choice(self.item_nodes, size=len(bad))
            bad = bad[seen[users[bad], items[bad]]]
        labels = (~is_neg).astype("float32")
        order = rng.permutation(len(users))
        rows = np.repeat(np.arange(len(self.train)), 1 + negatives)[order]
        before = self.previous[rows, :self.k] if self.cfg.sequential_neighbours else None
        # a training pair's titles are marked against the n items rated just before it
        tokens = None if self.row_titles is None else self.title_tokens(items[order], self.row_titles, rows)
        return (self.inputs(users[order], items[order], self.train_table, dynamic, before, tokens),
                labels[order])
