"""MovieLens-100K from the installed ``recbole`` wheel, as implicit feedback.

The files are read at run time from the package (the data's terms forbid redistribution):
nothing derived from them is committed.
"""
from __future__ import annotations

import csv
import importlib.resources
from dataclasses import dataclass

import numpy as np

PAD = 0


@dataclass
class Interactions:
    """Implicit feedback with a leave-one-out split by timestamp.

    Node ids: 0 is padding, users are ``1..n_users``, items ``n_users+1..n_users+n_items``.
    ``train`` holds (user, item, timestamp) rows in node ids; ``valid``/``test`` hold each
    user's second-to-last and last item (one row per user, users in order 1..n_users).
    """

    n_users: int
    n_items: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    item_text: list[str]
    item_genres: list[list[str]]

    @property
    def n_nodes(self) -> int:
        return 1 + self.n_users + self.n_items

    @property
    def item_nodes(self) -> np.ndarray:
        return np.arange(self.n_users + 1, self.n_nodes)


def _read(name: str) -> list[list[str]]:
    root = importlib.resources.files("recbole") / "dataset_example" / "ml-100k"
    path = root / f"ml-100k.{name}"
    if not path.is_file():
        raise FileNotFoundError(
            f"MovieLens-100K file {path} not found: install it with "
            "'pip install --no-deps recbole==1.2.1' (the data ships inside that wheel).")
    with path.open(encoding="latin-1") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return rows[1:]


def load_movielens() -> Interactions:
    """Reads ratings and item texts; every rating is a positive interaction."""
    inter = np.array([[int(u), int(i), int(float(t))] for u, i, _, t in _read("inter")], dtype=np.int64)
    items = {int(r[0]): r for r in _read("item")}
    n_users, n_items = int(inter[:, 0].max()), max(items)
    inter[:, 1] += n_users  # item ids follow user ids in the node space
    # leave-one-out by timestamp; ties broken by item id so the split is deterministic
    order = np.lexsort((inter[:, 1], inter[:, 2], inter[:, 0]))
    inter = inter[order]
    last = np.r_[inter[1:, 0] != inter[:-1, 0], True]
    second_last = np.r_[last[1:], False]
    test, valid = inter[last], inter[second_last]
    train = inter[~(last | second_last)]
    if len(test) != n_users or len(valid) != n_users:
        raise ValueError("every user needs at least 3 interactions for the leave-one-out split")
    texts, genres = [], []
    for i in range(1, n_items + 1):
        row = items.get(i, [str(i), "", "", ""])
        title, year, classes = row[1], row[2], row[3] if len(row) > 3 else ""
        genres.append(classes.split())
        texts.append(f"{title} ({year})" if year else title)
    return Interactions(n_users, n_items, train, valid, test, texts, genres)
