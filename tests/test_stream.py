"""codesign.stream: the generic request/score layout (fields by model input, multi-beat requests)."""
from __future__ import annotations

import numpy as np
import pytest

from codesign.stream import (Field, StreamLayout, axis_ports, encode_values, pack_requests, pack_scores,
                             unpack_requests, unpack_scores)

# the layout and bytes of the default design, as the code before the generic layout packed them
OLD_FORMAT = {"n_nodes": 6, "title_length": 8, "score_frac_bits": 10, "id_bits": 16, "score_bits": 32,
              "node_rows": 2600, "token_rows": 3000, "request_bits": 256, "beats_per_request": 1}
NODES = np.array([[0, 1, 2, 3, 4, 5], [2599, 65, 300, 7, 1000, 42]])
TOKENS = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [2999, 0, 0, 513, 256, 255, 17, 9]])
OLD_BYTES = ("0000010002000300040005000100020003000400050006000700080000000000"
             "270a41002c010700e8032a00b70b0000000001020001ff001100090000000000")
OLD_SCORES = "0006000000ffffff03000000"      # 1.5, -0.25, 3/1024 at 10 fractional bits


def default_layout() -> StreamLayout:
    return StreamLayout.of([Field("nodes", (6,), "id", 16, 16, rows=2600),
                            Field("tokens", (8,), "id", 16, 16, rows=3000)], score_frac_bits=10)


def test_default_design_keeps_its_bytes():
    layout = default_layout()
    assert (layout.request_bits, layout.stream_bits, layout.beats_per_request, layout.request_bytes,
            layout.score_bits) == (224, 256, 1, 32, 32)
    got = pack_requests(layout, {"nodes": NODES, "tokens": TOKENS})
    assert got.dtype == np.uint8 and got.shape == (2, 32) and got.tobytes().hex() == OLD_BYTES
    assert pack_scores(layout, np.array([1.5, -0.25, 3 / 1024])).tobytes().hex() == OLD_SCORES
    back = unpack_requests(layout, got)
    assert back["nodes"].dtype == np.int32 and np.array_equal(back["nodes"], NODES)
    assert np.array_equal(back["tokens"], TOKENS)
    assert "[255:0] s_axis_tdata" in axis_ports(layout) and "[31:0] m_axis_tdata" in axis_ports(layout)


def test_old_format_and_round_trip_of_the_dict():
    old = StreamLayout.from_dict(OLD_FORMAT)
    assert old == default_layout()
    assert StreamLayout.from_dict(old.to_dict()) == old
    assert pack_requests(old, {"nodes": NODES, "tokens": TOKENS}).tobytes().hex() == OLD_BYTES
    no_rows = StreamLayout.from_dict({"n_nodes": 2, "title_length": 3, "score_frac_bits": 4})
    assert no_rows.field("nodes").rows is None and no_rows.request_bits == 80 and no_rows.stream_bits == 128
    with pytest.raises(ValueError, match="request_bits 99 does not match"):
        StreamLayout.from_dict({**old.to_dict(), "request_bits": 99})
    with pytest.raises(KeyError, match="fields"):
        StreamLayout.from_dict({"score_frac_bits": 3})


@pytest.mark.parametrize("container", [8, 16, 32])
@pytest.mark.parametrize("signed", [False, True])
def test_value_fields_round_trip(container, signed):
    bits = container if container < 32 else 24
    frac = 3
    f = Field("x", (2, 3), "value", bits, container, signed=signed, frac=frac)
    ids = Field("ids", (4,), "id", min(bits, 16), 16 if container == 8 else container, rows=None)
    layout = StreamLayout.of([ids, f, Field("y", (), "value", 5, 8, signed=True, frac=1)], score_frac_bits=6)
    lo, hi = f.code_range
    rng = np.random.default_rng(container + signed)
    codes = rng.integers(lo, hi + 1, (50, 2, 3))
    codes[0] = lo
    codes[1] = hi
    x = codes * 2.0 ** -frac
    id_vals = rng.integers(0, 2 ** ids.bits, (50, 4))
    y = rng.integers(-16, 16, 50) / 2
    packed = pack_requests(layout, {"x": x, "ids": id_vals, "y": y})
    assert packed.shape == (50, layout.request_bytes)
    back = unpack_requests(layout, packed)
    assert back["x"].dtype == np.float64 and back["x"].shape == (50, 2, 3) and np.array_equal(back["x"], x)
    assert np.array_equal(back["ids"], id_vals) and np.array_equal(back["y"], y)
    assert np.array_equal(encode_values(f, x), codes)
    # the bits on the wire: element 0 of x right after the ids, sign-extended to its container
    word = int.from_bytes(packed[0].tobytes(), "little")
    first = (word >> layout.field("x").offset) & ((1 << container) - 1)
    assert first == (lo if lo >= 0 else lo + (1 << container))
    # one request without its batch axis
    one = pack_requests(layout, {"x": x[3], "ids": id_vals[3], "y": y[3]})
    assert np.array_equal(one, packed[3:4])


def test_values_off_the_grid_or_range_name_the_field():
    layout = StreamLayout.of([Field("feat", (4,), "value", 8, 8, signed=True, frac=4)], score_frac_bits=0)
    ok = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"feat: 1 values off the grid.*fixed<8,4>.*grid 2\^-4.*-8\.\.7\.9375.*"
                                         r"index \(1, 2\)"):
        pack_requests(layout, {"feat": ok + np.array([[0, 0, 0, 0], [0, 0, 0.01, 0]])})
    with pytest.raises(ValueError, match=r"feat: 1 values.*range.*index \(0, 0\)"):
        pack_requests(layout, {"feat": ok + np.array([[8, 0, 0, 0], [0, 0, 0, 0]])})
    with pytest.raises(ValueError, match="feat"):
        pack_requests(layout, {"feat": ok + np.nan})
    with pytest.raises(TypeError, match="feat: values must be a real array"):
        pack_requests(layout, {"feat": np.full((1, 4), "a")})


def test_bad_ids_shapes_and_names_are_named():
    layout = default_layout()
    with pytest.raises(ValueError, match=r"tokens: 1 ids outside the embedding ROM \(ids 0\.\.2999\); "
                                         r"first at index \(1, 3\): 3000"):
        pack_requests(layout, {"nodes": NODES, "tokens": TOKENS + np.array([[0] * 8, [0, 0, 0, 2487] + [0] * 4])})
    with pytest.raises(ValueError, match="nodes: 1 ids outside"):
        pack_requests(layout, {"nodes": NODES - np.eye(2, 6, dtype=int), "tokens": TOKENS})
    with pytest.raises(TypeError, match="nodes: ids must be an integer array"):
        pack_requests(layout, {"nodes": NODES * 1.0, "tokens": TOKENS})
    with pytest.raises(ValueError, match=r"tokens must have shape \(batch, 8\)"):
        pack_requests(layout, {"nodes": NODES, "tokens": TOKENS[:, :7]})
    with pytest.raises(ValueError, match="missing tokens; unknown words"):
        pack_requests(layout, {"nodes": NODES, "words": TOKENS})
    with pytest.raises(ValueError, match="nodes has 2, tokens 1"):
        pack_requests(layout, {"nodes": NODES, "tokens": TOKENS[:1]})
    no_rows = StreamLayout.of([Field("n", (2,), "id", 12, 16)], 0)
    with pytest.raises(ValueError, match=r"outside the 12-bit ids \(0\.\.4095\)"):
        pack_requests(no_rows, {"n": np.array([[1, 4096]])})


def test_bad_fields_and_layouts():
    with pytest.raises(ValueError, match="'x': 17 bits do not fit its 16-bit container"):
        Field("x", (2,), "value", 17, 16)
    with pytest.raises(ValueError, match="container 12"):
        Field("x", (2,), "value", 8, 12)
    with pytest.raises(ValueError, match="rows .* belongs to id fields"):
        Field("x", (2,), "value", 8, 8, rows=4)
    with pytest.raises(ValueError, match=r"rows 70000 is not in 1..2\*\*16"):
        Field("x", (2,), "id", 16, 16, rows=70000)
    with pytest.raises(ValueError, match="kind 'float'"):
        Field("x", (2,), "float", 8, 8)
    with pytest.raises(ValueError, match="unique"):
        StreamLayout.of([Field("x", (2,), "id", 8, 8)] * 2, 0)
    with pytest.raises(ValueError, match="overlap"):
        StreamLayout((Field("a", (2,), "id", 8, 8), Field("b", (2,), "id", 8, 8, offset=8)), 0)
    with pytest.raises(ValueError, match="power of two"):
        StreamLayout.of([Field("x", (2,), "id", 8, 8)], 0, max_stream_bits=48)


def test_multi_beat_requests():
    # 40 x 32 bits + 20 x 16 bits = 1600 bits: two 1024-bit beats
    layout = StreamLayout.of([Field("a", (40,), "value", 20, 32, signed=True, frac=8),
                              Field("b", (4, 5), "id", 10, 16, rows=1000)], score_frac_bits=8, score_count=3)
    assert (layout.request_bits, layout.stream_bits, layout.beats_per_request, layout.request_bytes) == \
        (1600, 1024, 2, 256)
    assert layout.score_bits == 128 and layout.score_bytes == 16
    rng = np.random.default_rng(0)
    a = rng.integers(-2 ** 19, 2 ** 19, (7, 40)) / 256
    b = rng.integers(0, 1000, (7, 4, 5))
    out = np.full((9, layout.request_bytes), 0xAB, np.uint8)     # a reused buffer: stale bytes
    packed = pack_requests(layout, {"a": a, "b": b}, out=out)
    assert packed.base is out or packed is out[:7] or np.shares_memory(packed, out)
    assert not out[:7, 200:].any(), "the unused bits of the request word must be zero"
    assert np.array_equal(out[7:], np.full((2, 256), 0xAB, np.uint8)), "rows past the batch must stay untouched"
    assert np.array_equal(packed, pack_requests(layout, {"a": a, "b": b}))
    back = unpack_requests(layout, packed.reshape(-1))          # flat bytes, as the DMA moves them
    assert np.array_equal(back["a"], a) and np.array_equal(back["b"], b)
    narrow = StreamLayout.of(layout.fields, 8, max_stream_bits=256)
    assert (narrow.stream_bits, narrow.beats_per_request, narrow.request_bytes) == (256, 7, 224)
    assert "[255:0] s_axis_tdata" in axis_ports(narrow)
    assert StreamLayout.from_dict(narrow.to_dict()) == narrow


def test_scores_of_several_outputs():
    layout = StreamLayout.of([Field("x", (1,), "id", 8, 8)], score_frac_bits=2, score_count=3)
    scores = np.array([[1.25, -2.0, 0.5], [0, 3.75, -0.25]])
    words = pack_scores(layout, scores)
    assert words.shape == (2, 16) and not words[:, 12:].any()
    assert np.array_equal(np.frombuffer(words[0, :12].tobytes(), "<i4"), [5, -8, 2])
    got = unpack_scores(layout, words)
    assert got.shape == (2, 3) and np.array_equal(got, scores)
    with pytest.raises(ValueError, match="2\\^-2 grid"):
        pack_scores(layout, scores + 0.1)
    one = StreamLayout.of([Field("x", (1,), "id", 8, 8)], score_frac_bits=2)
    assert unpack_scores(one, pack_scores(one, [1.0, 2.5])).shape == (2,)
