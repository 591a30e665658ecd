"""Shared fixtures: a tiny trained design, built once per test session."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from codesign.config import parse_config
from codesign.flow import Design, run_flow

TINY = {
    "name": "tiny",
    # the default design's marked title tokens (a 3x token table), through every level
    "data": {"title_match": 4},
    "model": {"embedding_dim": 4, "gnn_channels": [4, 4], "token_dim": 4, "text_dim": 4,
              "fusion_units": [8]},
    "train": {"epochs": 1, "qat_epochs": 1, "batch_size": 4096,
              "variants": ["hybrid_quant", "gnn_quant", "text_quant"],
              # distillation stays on (cheap); its comparison run and the LoRA experiment are
              # tested apart (tests/test_train_efficiency.py)
              "distill": {"epochs": 10, "compare": False}, "lora": {"enabled": False},
              # the strong baselines are tested apart (tests/test_baselines.py)
              "baselines": {"enabled": False}},
}


@pytest.fixture(scope="session")
def tiny_design(tmp_path_factory) -> Design:
    """A design trained for one epoch on MovieLens-100K (quantized variants and their twins)."""
    design = Design(tmp_path_factory.mktemp("tiny"), parse_config(TINY))
    run_flow(design, ["data", "train"], log=lambda *_: None)
    return design


@pytest.fixture(scope="session")
def deployable_design(tiny_design, tmp_path_factory) -> Design:
    """A copy of the tiny design with the vectors, rtl (no yosys estimates) and bitstream steps:
    what the simulated device's RTL backend and ``codesign deploy`` read."""
    import shutil
    folder = tmp_path_factory.mktemp("deployable") / "tiny"
    shutil.copytree(tiny_design.folder, folder)
    cfg = tiny_design.cfg.model_copy(deep=True)
    cfg.rtl.synth, cfg.rtl.timing, cfg.rtl.latency_cutoff = False, False, 5.0   # no yosys runs
    design = Design(folder, cfg)
    run_flow(design, ["vectors", "rtl", "bitstream"], log=lambda *_: None)
    return design
