"""Fixed-length title tokens: lower-case words and genre tags, id 0 padding, id 1 unknown."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

UNKNOWN = 1


def words(title: str, genres: list[str]) -> list[str]:
    """Genre tags first (they survive truncation), then the title's words and year."""
    return [f"<{g.lower()}>" for g in genres] + re.findall(r"[a-z0-9']+", title.lower())


def build_vocabulary(texts: list[list[str]], min_count: int) -> dict[str, int]:
    """Tokens seen at least ``min_count`` times, most frequent first, ids from 2."""
    counts = Counter(w for t in texts for w in t)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return {w: i + 2 for i, w in enumerate(kept)}


def encode(texts: list[list[str]], vocab: dict[str, int], length: int) -> np.ndarray:
    """Token ids (len(texts), length), truncated or padded with 0."""
    out = np.zeros((len(texts), length), dtype=np.int32)
    for row, text in enumerate(texts):
        ids = [vocab.get(w, UNKNOWN) for w in text][:length]
        out[row, :len(ids)] = ids
    return out
