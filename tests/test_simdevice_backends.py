"""The simulated device's C-simulation and RTL backends against the fixed-point reference."""
from __future__ import annotations

import numpy as np
import pytest

from codesign.flow import Design, run_flow
from codesign.stream import pack_requests, pack_scores


def _reference(design: Design):
    from codesign.fixedpoint import FixedPointModel
    from codesign.train.step import load_trained
    from codesign.vectors.step import VARIANT
    return FixedPointModel.from_keras(load_trained(design, VARIANT))


def _random_requests(fp, layout, n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Requests with ids over each input's whole range (padding, first and last id included)."""
    rng = np.random.default_rng(seed)
    limits = {op.name: op.id_limit for op in fp.inputs}
    nodes = rng.integers(0, limits["nodes"], (n, *layout.field("nodes").shape))
    tokens = rng.integers(0, limits["tokens"], (n, *layout.field("tokens").shape))
    nodes[0], tokens[0] = 0, 0
    nodes[1], tokens[1] = limits["nodes"] - 1, limits["tokens"] - 1
    return nodes.astype(np.int32), tokens.astype(np.int32)


@pytest.fixture(scope="module")
def hls_design(tiny_design) -> Design:
    run_flow(tiny_design, ["vectors", "hls"], log=lambda *_: None)
    return tiny_design


def test_csim_backend_is_bit_exact(hls_design):
    from codesign.simdevice.backends import make_backend
    backend = make_backend("csim", hls_design.folder)
    fp = _reference(hls_design)
    z = np.load(hls_design.path("vectors") / "vectors.npz")
    assert len(z["expected"]) >= 10_000
    nodes, tokens = _random_requests(fp, backend.layout, 2000)
    nodes, tokens = np.concatenate([z["nodes"], nodes]), np.concatenate([z["tokens"], tokens])
    expected = pack_scores(backend.layout, fp.predict({"nodes": nodes, "tokens": tokens}))
    got = backend.process(pack_requests(backend.layout, {"nodes": nodes, "tokens": tokens}))
    assert got.dtype == np.uint8 and got.shape == (len(nodes) * 4,)
    got, expected = got.reshape(-1, 4), expected.reshape(-1, 4)
    bad = np.flatnonzero((got != expected).any(axis=1))
    assert bad.size == 0, f"{bad.size} mismatches; first at {bad[0]}"
    # flat bytes (as the DMA buffer holds them) give the same beats
    first = pack_requests(backend.layout, {"nodes": nodes[:5], "tokens": tokens[:5]})
    assert np.array_equal(backend.process(first.ravel()),
                          got[:5].ravel())


def test_csim_backend_rejects_bad_requests(hls_design):
    from codesign.simdevice.csim import CsimBackend
    backend = CsimBackend(hls_design.folder)
    n = backend.layout.request_bytes
    with pytest.raises(ValueError, match="uint8"):
        backend.process(np.zeros((2, n), np.uint16))
    with pytest.raises(ValueError, match=f"whole number of {n}-byte requests"):
        backend.process(np.zeros((2, n + 1), np.uint8))
    assert backend.process(np.zeros((0, n), np.uint8)).shape == (0,)


def test_csim_backend_without_the_hls_step_says_what_to_run(tmp_path, hls_design):
    from codesign.simdevice.backends import BackendUnavailable, make_backend
    with pytest.raises(BackendUnavailable, match=f"codesign hls --out {tmp_path}"):
        make_backend("csim", tmp_path)
    project = tmp_path / "hls" / "project"
    project.mkdir(parents=True)
    (project / "build_lib.sh").write_text((hls_design.path("hls") / "project" / "build_lib.sh").read_text())
    with pytest.raises(BackendUnavailable, match="not compiled .*codesign hls --out"):
        make_backend("csim", tmp_path)


@pytest.mark.slow
def test_rtl_backend_is_bit_exact(deployable_design):
    """The tiny design's RTL top under Verilator, 1,200 requests in three transfers on one build."""
    from codesign.simdevice.backends import make_backend
    from codesign.sim.runner import missing_simulator
    if missing_simulator("verilator"):
        pytest.skip(missing_simulator("verilator"))
    backend = make_backend("rtl", deployable_design.folder)
    fp = _reference(deployable_design)
    z = np.load(deployable_design.path("vectors") / "vectors.npz")
    nodes, tokens = _random_requests(fp, backend.layout, 200)
    nodes, tokens = np.concatenate([z["nodes"][:1000], nodes]), np.concatenate([z["tokens"][:1000], tokens])
    expected = pack_scores(backend.layout, fp.predict({"nodes": nodes, "tokens": tokens})).reshape(-1, 4)
    got = np.concatenate([backend.process(pack_requests(backend.layout, {"nodes": nodes[s:e], "tokens": tokens[s:e]}))
                          for s, e in ((0, 1), (1, 700), (700, len(nodes)))]).reshape(-1, 4)
    bad = np.flatnonzero((got != expected).any(axis=1))
    assert bad.size == 0, f"{bad.size} mismatches; first at {bad[0]}"
    assert backend.transfers == 3 and backend.last_run["frame_bytes"] == [4 * (len(nodes) - 700)]
    backend.close()
