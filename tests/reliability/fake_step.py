"""A small step registered by the fault tests: three artifacts (one nested), written slowly on
request so a test can SIGKILL the run at a chosen point.

``CODESIGN_FAKE_HOLD=<k>`` makes the step, at point k (1: nothing written yet, 2: one
artifact written, 3: every artifact written), create ``CODESIGN_FAKE_MARK`` and sleep.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from codesign import flow
from codesign.flow import Design, register_step, write_json

NAME = "fake"


def _hold(point: int) -> None:
    if os.environ.get("CODESIGN_FAKE_HOLD") == str(point):
        Path(os.environ["CODESIGN_FAKE_MARK"]).write_text(str(point))
        time.sleep(120)


def fake_step(design: Design) -> dict:
    """Artifacts that depend on the config (``vectors.seed``) only: deterministic."""
    out = design.path(NAME)
    rng = np.random.default_rng(design.cfg.vectors.seed)
    _hold(1)
    np.savez(out / "arrays.npz", x=rng.integers(0, 100, 1000), y=rng.normal(size=(50, 4)))
    _hold(2)
    (out / "deep").mkdir()
    (out / "deep" / "table.txt").write_text("\n".join(str(v) for v in rng.integers(0, 9, 200)))
    write_json(out / "meta.json", {"rows": 50})
    _hold(3)
    return {"rows": 50, "checksum": int(rng.integers(0, 1 << 30))}


def register() -> None:
    """Adds the step ``fake`` (no upstream, reads ``vectors``) to the flow of this process."""
    if NAME not in flow.STEP_ORDER:
        flow.STEP_ORDER.append(NAME)
    register_step(NAME, sections=("vectors",))(fake_step)


def unregister() -> None:
    flow.STEPS.pop(NAME, None)
    if NAME in flow.STEP_ORDER:
        flow.STEP_ORDER.remove(NAME)


if __name__ == "__main__":   # python -m tests.reliability.fake_step FOLDER [--force]: one run
    import sys

    from codesign.config import parse_config
    flow.load_steps = lambda: None     # the fake step alone: no TensorFlow import
    register()
    folder = Path(sys.argv[1])
    design = Design(folder, parse_config({"name": "fake"}))
    flow.run_flow(design, [NAME], force="--force" in sys.argv)
