"""Fixtures of the cocotb benches: simulators and a small random-weight design's RTL."""
from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from codesign.sim.runner import SIMULATORS, missing_simulator

# the small design of the benches (random weights: no training needed)
SMALL_MODEL = {"interaction": True}


@pytest.fixture(params=SIMULATORS)
def rtl_sim(request) -> str:
    """Each simulator in turn; skipped when it is not installed."""
    reason = missing_simulator(request.param)
    if reason:
        pytest.skip(reason)
    return request.param


def random_quant_model(model_cfg: dict, n_nodes: int = 300, vocab: int = 200, seed: int = 0):
    """A small hybrid_quant model with random weights (the tests' shared helper)."""
    from tests.random_models import random_model
    return random_model(model=model_cfg, seed=seed, n_nodes=n_nodes, vocab=vocab, title_length=8)


def random_requests(n: int, n_nodes: int, vocab: int, shape: tuple[int, int], seed: int = 1):
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, n_nodes, (n, shape[0]))
    tokens = rng.integers(0, vocab, (n, shape[1]))
    tokens[rng.random(tokens.shape) < 0.4] = 0
    tokens[: n // 20] = 0      # some empty titles
    return nodes, tokens


@pytest.fixture(scope="session")
def small_rtl_design(tmp_path_factory):
    """(build.json content + path, vectors .npz path) of a small random design."""
    from codesign.rtl.build import build_rtl
    from codesign.rtl.trace import read_model, reference_numpy, trace_checked
    folder = tmp_path_factory.mktemp("small_rtl")
    model = random_quant_model(SMALL_MODEL)
    spec = read_model(model)
    traced = trace_checked(spec)
    build = build_rtl(traced, folder / "rtl", latency_cutoff=5, clock_ns=10)
    nodes, tokens = random_requests(400, 300, 200, (spec.n_graph_nodes, spec.title_length))
    expected = reference_numpy(spec, nodes, tokens)
    keras = model.predict({"nodes": nodes, "tokens": tokens}, verbose=0).reshape(-1)
    assert np.array_equal(keras, expected), "numpy twin of the model differs from Keras"
    np.savez(folder / "vectors.npz", nodes=nodes, tokens=tokens, expected=expected)
    build["path"] = str(folder / "rtl" / "build.json")
    return build, str(folder / "vectors.npz")
