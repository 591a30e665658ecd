import numpy as np
import pytest

from codesign.data.egograph import NeighbourTable, dynamic_adjacency, ego_graphs, star_adjacency
from codesign.data.movielens import PAD, load_movielens


@pytest.fixture(scope="module")
def movielens():
    return load_movielens()


def toy_table(order="random"):
    # users 1, 2; items 3, 4, 5; user 1 saw 3, 4, 5; user 2 saw 3
    edges = np.array([[1, 3, 10], [1, 4, 20], [1, 5, 30], [2, 3, 5]])
    return NeighbourTable(edges, n_nodes=6, order=order, seed=0)


def test_shapes_and_slots():
    nodes = ego_graphs(toy_table(), np.array([1, 2]), np.array([3, 4]), k=2)
    assert nodes.shape == (2, 6)
    assert nodes[:, 0].tolist() == [1, 2] and nodes[:, 1].tolist() == [3, 4]


def test_padding_where_fewer_neighbours():
    # user 2 has only item 3; scoring (2, 3) excludes it: both user slots pad
    nodes = ego_graphs(toy_table(), np.array([2]), np.array([3]), k=2)[0]
    assert nodes[2:4].tolist() == [PAD, PAD]
    # item 3's users are 1 and 2; user 2 is excluded: one real, one pad
    assert nodes[4:6].tolist() == [1, PAD]


def test_pair_edge_never_in_its_own_graph():
    table = toy_table()
    for _ in range(20):
        table.reshuffle()
        nodes = ego_graphs(table, np.array([1]), np.array([4]), k=2)[0]
        assert 4 not in nodes[2:4] and 1 not in nodes[4:6]
        assert sorted(nodes[2:4].tolist()) == [3, 5]


def test_recent_order_takes_newest_first():
    nodes = ego_graphs(toy_table("recent"), np.array([1]), np.array([3]), k=2)[0]
    assert nodes[2:4].tolist() == [5, 4]


def test_no_held_out_interaction_in_any_graph(movielens):
    d = movielens
    table = NeighbourTable(d.train, d.n_nodes, seed=0)
    held = np.concatenate([d.valid, d.test])
    held_pairs = set(map(tuple, held[:, :2].tolist()))
    # every neighbour list only holds training edges
    train_pairs = set(map(tuple, d.train[:, :2].tolist()))
    users = np.repeat(np.arange(1, d.n_users + 1), 3)
    items = np.tile(d.item_nodes[:3], d.n_users)
    nodes = ego_graphs(table, users, items, k=4)
    for u, row in zip(users, nodes[:, 2:6]):
        for i in row[row != PAD]:
            assert (u, i) in train_pairs and (u, i) not in held_pairs
    assert len(train_pairs & held_pairs) == 0


def test_static_adjacency_is_symmetric_normalised():
    a = star_adjacency(2)
    assert a.shape == (6, 6) and np.allclose(a, a.T)
    assert a[0, 0] == pytest.approx(1 / 3) and a[0, 2] == pytest.approx(1 / np.sqrt(6))
    assert a[2, 2] == pytest.approx(0.5) and a[0, 1] == 0


def test_dynamic_adjacency_drops_padding():
    nodes = np.array([[1, 3, 4, PAD, 2, PAD]])
    a = dynamic_adjacency(nodes, 2)[0]
    assert np.all(a[3] == 0) and np.all(a[:, 5] == 0)
    assert a[0, 0] == pytest.approx(0.5) and a[0, 2] == pytest.approx(0.5)


def test_training_epochs_depend_on_their_own_seed_only(tiny_design):
    """Two runs seeded alike sample the same epoch (neighbour order included), whatever was
    drawn before them in the process: a variant's training does not depend on the ones before."""
    from codesign.data.dataset import RecData
    data = RecData(tiny_design.path("data"), tiny_design.cfg.data)
    first, y1 = data.training_epoch(np.random.default_rng(5), 2)
    for _ in range(3):   # other trainings in between
        data.training_epoch(np.random.default_rng(9), 2)
    again, y2 = data.training_epoch(np.random.default_rng(5), 2)
    assert np.array_equal(y1, y2)
    for name in first:
        assert np.array_equal(first[name], again[name]), name


def test_previous_items_are_the_users_ratings_just_before():
    from codesign.data.dataset import previous_items
    # user 1 rated 11 (t=3), 10 (t=5), 12 (t=9); user 2 rated 20, then 21 and 22 at the same time
    train = np.array([[1, 10, 5], [1, 11, 3], [2, 20, 1], [1, 12, 9], [2, 21, 2], [2, 22, 2]])
    previous = previous_items(train, k=2)
    assert previous.tolist() == [[11, PAD], [PAD, PAD], [PAD, PAD], [10, 11], [20, PAD], [21, 20]]


def test_sequential_training_graphs_hold_the_items_rated_just_before(tiny_design):
    """Each training pair's user slots hold the user's ratings just before it (its negatives
    share them); without the option they hold the user's newest ratings of all."""
    from codesign.data.dataset import RecData, previous_items
    cfg = tiny_design.cfg.data
    assert cfg.sequential_neighbours
    data = RecData(tiny_design.path("data"), cfg)
    negatives = 2
    x, y = data.training_epoch(np.random.default_rng(3), negatives)
    nodes = x["nodes"]
    # find each positive's training row by (user, item)
    row_of = {(u, i): r for r, (u, i) in enumerate(data.train[:, :2].tolist())}
    expected = previous_items(data.train, data.k)
    positives = np.flatnonzero(y == 1)
    for r in positives[:500]:
        row = row_of[(nodes[r, 0], nodes[r, 1])]
        assert nodes[r, 2:2 + data.k].tolist() == expected[row].tolist()
        assert nodes[r, 1] not in nodes[r, 2:2 + data.k]
    # negatives carry their positive's user slots: the same set of (user, slots) rows
    slots = {tuple(v) for v in np.c_[nodes[:, :1], nodes[:, 2:2 + data.k]].tolist()}
    assert slots == {tuple(v) for v in np.c_[nodes[positives, :1], nodes[positives, 2:2 + data.k]].tolist()}
    off = RecData(tiny_design.path("data"), cfg.model_copy(update={"sequential_neighbours": False}))
    newest, _ = off.training_epoch(np.random.default_rng(3), negatives)
    assert not np.array_equal(newest["nodes"][:, 2:2 + data.k], nodes[:, 2:2 + data.k])


def test_last_items_are_each_users_newest_training_ratings():
    from codesign.data.dataset import last_items
    train = np.array([[1, 10, 5], [1, 11, 3], [2, 20, 1], [1, 12, 9], [2, 21, 2], [2, 22, 2]])
    assert last_items(train, n_users=3, n=2).tolist() == [[PAD, PAD], [12, 10], [22, 21], [PAD, PAD]]


def test_title_counts_count_titles_not_tokens():
    from codesign.data.dataset import title_counts
    # item 1 is "a a b", item 2 "b c", item 0 padding; tokens 0 (padding) and 1 (unknown) never count
    node_tokens = np.array([[0, 0, 0], [2, 2, 3], [3, 4, 1]])
    counts = title_counts(node_tokens, np.array([[1, 2], [2, 0], [0, 0]]), vocab=5)
    assert counts.tolist() == [[0, 0, 1, 2, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 0]]


def test_title_match_marks_tokens_against_the_items_rated_before(tiny_design):
    """Training titles are marked against the n items rated just before the pair, held-out ones
    against the user's last n training items: token id + vocabulary x min(count, levels)."""
    from codesign.data.dataset import RecData, last_items, previous_items, title_counts
    cfg = tiny_design.cfg.data.model_copy(update={"title_match": 4, "title_match_levels": 2})
    data = RecData(tiny_design.path("data"), cfg)
    plain = RecData(tiny_design.path("data"), cfg.model_copy(update={"title_match": 0}))
    vocab = plain.vocab_size
    assert data.title_vocab == vocab and data.vocab_size == 3 * vocab
    x, y = data.training_epoch(np.random.default_rng(3), 2)
    tokens, nodes = x["tokens"], x["nodes"]
    assert np.array_equal(tokens % vocab, data.node_tokens[nodes[:, 1]])
    assert tokens.max() >= 2 * vocab                    # some tokens are in two of the last titles
    row_of = {(u, i): r for r, (u, i) in enumerate(data.train[:, :2].tolist())}
    counts = title_counts(data.node_tokens, previous_items(data.train, 4), vocab)
    for r in np.flatnonzero(y == 1)[:300]:
        row = row_of[(nodes[r, 0], nodes[r, 1])]
        expected = np.minimum(counts[row, data.node_tokens[nodes[r, 1]]], 2)
        assert (tokens[r] // vocab).tolist() == expected.tolist()
    users, items = data.test[:50, 0], data.test[:50, 1]
    held = data.inputs(users, items)["tokens"]
    last = title_counts(data.node_tokens, last_items(data.train, data.n_users, 4)[users], vocab)
    levels = np.minimum(np.take_along_axis(last, data.node_tokens[items], axis=1), 2)
    assert np.array_equal(held, data.node_tokens[items] + vocab * levels)
    assert np.array_equal(plain.inputs(users, items)["tokens"], data.node_tokens[items])


def test_a_view_of_some_training_rows_keeps_their_history(tiny_design):
    """The LoRA runs train on a view of some training rows: each keeps the items and the title
    counts of its own history, not those of the row at the same index of the whole split."""
    from codesign.data.dataset import RecData
    from codesign.train.adapt import with_positives
    data = RecData(tiny_design.path("data"), tiny_design.cfg.data.model_copy(update={"title_match": 4}))
    rows = np.arange(len(data.train))[::3]
    view = with_positives(data, rows)
    assert np.array_equal(view.previous, data.previous[rows])
    assert np.array_equal(view.row_titles, data.row_titles[rows])
    x, y = view.training_epoch(np.random.default_rng(1), 1)
    row_of = {(u, i): r for r, (u, i) in enumerate(view.train[:, :2].tolist())}
    for r in np.flatnonzero(y == 1)[:200]:
        row = row_of[(x["nodes"][r, 0], x["nodes"][r, 1])]
        assert np.array_equal(x["tokens"][r], view.title_tokens(x["nodes"][r:r + 1, 1], view.row_titles, np.array([row]))[0])
        assert x["nodes"][r, 2:2 + view.k].tolist() == view.previous[row, :view.k].tolist()
