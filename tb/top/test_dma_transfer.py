"""The simulated device's ``rtl`` backend on a small random-weight design: one build, many
transfers (``dma_transfer.py``), score beats equal to the reference's."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesign.stream import StreamLayout, pack_requests, pack_scores


@pytest.mark.parametrize("rtl_sim", ["icarus", pytest.param("verilator", marks=pytest.mark.slow)])
def test_rtl_backend_transfers(rtl_sim, small_rtl_design):
    from codesign.sim.runner import missing_simulator
    from codesign.simdevice.rtl import RtlBackend
    if missing_simulator(rtl_sim):
        pytest.skip(missing_simulator(rtl_sim))
    build, vectors = small_rtl_design
    backend = RtlBackend(Path(build["path"]).parents[1], simulator=rtl_sim)
    layout = StreamLayout.from_dict(build["stream"])
    z = np.load(vectors)
    before = {p: p.stat().st_mtime_ns for p in backend.bench.build_dir.rglob("*") if p.is_file()}
    got = [backend.process(pack_requests(layout, {"nodes": z["nodes"][s:e], "tokens": z["tokens"][s:e]}))
           for s, e in ((0, 1), (1, 150), (150, 400))]
    expected = pack_scores(layout, z["expected"]).reshape(-1)
    assert np.array_equal(np.concatenate(got), expected)
    assert backend.transfers == 3 and backend.last_run["frame_bytes"] == [250 * layout.score_bytes]
    # the build was reused: the three runs rebuilt nothing
    assert before and all(p.stat().st_mtime_ns == t for p, t in before.items())
    with pytest.raises(ValueError, match="whole number"):
        backend.process(np.zeros(layout.request_bytes + 1, np.uint8))
    backend.close()
    assert not backend.work.exists()
