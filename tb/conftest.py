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


def random_requests(fp, n: int, seed: int = 1) -> dict[str, np.ndarray]:
    """``n`` requests by input name over every input's whole id space / grid, some ids padding."""
    from codesign.vectors.make import random_inputs
    inputs = random_inputs(fp, n, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for op in fp.inputs:
        if op.ids:          # padding ids anywhere, and some all-padding requests
            ids = inputs[op.name]
            ids[rng.random(ids.shape) < 0.3] = 0
            ids[: n // 20] = 0
    return inputs


def rtl_design(model, folder, n: int = 400, latency_cutoff=5) -> tuple[dict, str]:
    """(build.json content + path, vectors .npz path) of ``model``: expected values from
    ``codesign.fixedpoint``, vectors by input name."""
    from codesign.fixedpoint import FixedPointModel
    from codesign.rtl.build import build_rtl
    from codesign.rtl.trace import trace_checked
    fp = FixedPointModel.from_keras(model)
    traced = trace_checked(fp, n_check=3000)
    build = build_rtl(traced, folder / "rtl", latency_cutoff=latency_cutoff, clock_ns=10)
    inputs = random_requests(fp, n)
    expected = fp.predict(inputs)
    keras = model.predict(inputs, verbose=0).reshape(expected.shape)
    assert np.array_equal(keras, expected), "codesign.fixedpoint differs from Keras"
    np.savez(folder / "vectors.npz", expected=expected, **inputs)
    build["path"] = str(folder / "rtl" / "build.json")
    return build, str(folder / "vectors.npz")


@pytest.fixture(scope="session")
def make_rtl_design():
    """``rtl_design``: (build, vectors path) of any Keras model."""
    return rtl_design


@pytest.fixture(scope="session")
def small_rtl_design(tmp_path_factory):
    """(build.json content + path, vectors .npz path) of a small random design."""
    return rtl_design(random_quant_model(SMALL_MODEL), tmp_path_factory.mktemp("small_rtl"))
