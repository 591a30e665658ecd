"""The ``vectors`` step on the tiny trained design: real requests, corner cases, reference outputs."""
from __future__ import annotations

import json

import numpy as np

from codesign.fixedpoint import FixedPointModel
from codesign.flow import run_flow
from codesign.train.step import load_trained
from codesign.vectors.step import load_vectors


def test_vectors_step_freezes_real_and_corner_requests(tiny_design):
    run_flow(tiny_design, ["vectors"], log=lambda *_: None)
    inputs, expected, kind = load_vectors(tiny_design.path("vectors") / "vectors.npz")
    info = json.loads((tiny_design.path("vectors") / "vectors.json").read_text())
    assert (kind == "test").sum() >= 10_000
    for k in ("zero_nodes", "zero_tokens", "max_nodes", "max_tokens", "extreme_nodes", "zero_all", "random"):
        assert k in info["kinds"], k
    assert (inputs["nodes"][kind == "zero_nodes"] == 0).all()
    assert (inputs["tokens"][kind == "zero_tokens"] == 0).all()
    # the stored outputs are the reference's, recomputed here from the saved model
    fp = FixedPointModel.from_keras(load_trained(tiny_design, "hybrid_quant"))
    assert np.array_equal(fp.predict(inputs), expected)
    kv = info["keras_vs_reference"]
    assert kv["samples"] == len(expected) and kv["why"]
    assert kv["max_diff_lsb"] <= 1 or kv["mismatches"] * 100 < kv["samples"]
    formats = json.loads((tiny_design.path("vectors") / "formats.json").read_text())
    assert formats["output"] == "score" and {"gcn0", "title_pool"} <= {l["name"] for l in formats["layers"]}
