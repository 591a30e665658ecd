"""Property (slow): random small models of the supported layers convert to C simulations
that equal the fixed-point reference on every vector."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign.fixedpoint import FixedPointModel
from codesign.hls.csim import HlsSettings, run_csim
from tests.random_models import random_model
from tests.test_hls import _vectors


@st.composite
def designs(draw):
    bits = st.integers(3, 10)
    width = st.integers(1, 6)
    model = {
        "embedding_dim": draw(width), "token_dim": draw(width), "text_dim": draw(width),
        "gnn_channels": draw(st.lists(width, min_size=1, max_size=2)),
        "fusion_units": draw(st.lists(st.integers(1, 8), min_size=0, max_size=2)),
        "interaction": draw(st.booleans()),
        "quant": {"weight_bits": draw(bits), "embedding_bits": draw(bits), "activation_bits": draw(bits),
                  "activation_integer": draw(st.integers(0, 3)), "embedding_integer": draw(st.integers(0, 2)),
                  "adjacency_bits": draw(bits), "recip_bits": draw(bits)},
    }
    return {"model": model, "adjacency": draw(st.sampled_from(["static", "dynamic"])),
            "variant": draw(st.sampled_from(["hybrid_quant", "gnn_quant", "text_quant"])),
            "fanout": draw(st.integers(1, 3)), "title_length": draw(st.integers(1, 6)),
            "scale": draw(st.sampled_from([0.3, 1.0, 3.0])), "seed": draw(st.integers(0, 1000)),
            "io_type": draw(st.sampled_from(["io_parallel", "io_stream"]))}


@pytest.mark.slow
@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(d=designs())
def test_random_models_are_bit_exact_in_csim(tmp_path_factory, d):
    model = random_model(d["adjacency"], d["scale"], d["seed"], d["variant"], d["model"],
                         d["fanout"], d["title_length"])
    fp = FixedPointModel.from_keras(model)
    inputs, expected = _vectors(fp, n=300, seed=d["seed"])
    folder = tmp_path_factory.mktemp("prop")
    result, _ = run_csim(model, fp, inputs, expected, folder, HlsSettings(io_type=d["io_type"]))
    assert result["mismatches"] == 0, (d, result)
