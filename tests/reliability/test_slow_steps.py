"""The slow steps (train, hls, rtl, sim) killed with SIGKILL at several points, then run again,
end with the same artifacts and verdicts as an uninterrupted run; another board gets its own
HLS project; a skipped simulator is no pass and is retried. Select with ``-m slow``."""
from __future__ import annotations

import shutil
import sys

import pytest

from codesign.cli import main
from codesign.flow import Design, run_flow
from codesign.sim import runner
from tests.reliability.helpers import killed_run, normalized, snapshot

pytestmark = pytest.mark.slow

# what two honest runs of a step agree on (build trees hold logs, timestamps and binaries)
COMPARED = {"train": ("*.json", "*.keras", "*.npz"), "hls": ("*.json",),
            "rtl": ("*.json", "*.v", "*.hex", "core/src/*.v"), "sim": ("*.json", "*/vectors.npz", "*/scores.npy")}


@pytest.fixture(scope="module")
def built(tiny_design, tmp_path_factory):
    """The tiny design through sim (few simulated vectors), in a folder of its own."""
    folder = tmp_path_factory.mktemp("built") / "D"
    folder.mkdir()
    for name in ("data", "train"):
        shutil.copytree(tiny_design.folder / name, folder / name)
    cfg = tiny_design.cfg.model_copy(deep=True)
    cfg.rtl.verilator_vectors, cfg.rtl.icarus_vectors = 300, 100
    design = Design(folder, cfg)
    run_flow(design, ["data", "train", "vectors", "hls", "rtl", "sim"], log=lambda *_: None)
    return design


def _cli(step: str, folder, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codesign.cli", step, "--out", str(folder), *extra]


# kill points: (output that shows the step got there, seconds more)
POINTS = {"hls": [("[hls] running", 0.0), ("[hls] running", 4.0)],
          "rtl": [("[rtl] running", 0.0), ("[rtl] running", 20.0)],
          "sim": [("[sim] running", 0.0), ("make: Entering directory", 0.0), ("Running entry func", 0.5)],
          "train": [("[train] running", 0.0), ("hybrid_quant: NDCG@10", 0.0)]}
CASES = [(step, i) for step in ("hls", "sim", "rtl") for i in range(len(POINTS[step]))]


def _kill(cmd: list[str], step: str, point: int) -> None:
    cue, delay = POINTS[step][point]
    killed_run(cmd, cue=lambda out: cue in out, delay=delay)


@pytest.mark.parametrize("step, point", CASES)
def test_killed_forced_rerun_rolls_back(built, capsys, step, point):
    before = snapshot(built.path(step))
    _kill(_cli(step, built.folder, "--force"), step, point)
    assert main([step, "--out", str(built.folder)]) == 0
    out = capsys.readouterr().out
    assert "rolled back" in out and f"[{step}] up to date" in out
    assert snapshot(built.path(step)) == before


@pytest.mark.parametrize("step, point", CASES)
def test_killed_first_run_resumes_to_the_same_result(built, capsys, step, point):
    reference = normalized(built.path(step), COMPARED[step])
    shutil.rmtree(built.path(step))
    _kill(_cli(step, built.folder), step, point)
    assert not built.is_current(step)
    assert main([step, "--out", str(built.folder)]) == 0
    assert f"[{step}] running" in capsys.readouterr().out
    assert normalized(built.path(step), COMPARED[step]) == reference


@pytest.mark.parametrize("point", [0, 1])
def test_train_killed_then_resumed_matches(tiny_design, tmp_path, capsys, point):
    folder = tmp_path / "D"
    folder.mkdir()
    shutil.copytree(tiny_design.folder / "data", folder / "data")
    shutil.copy(tiny_design.folder / "design.yaml", folder / "design.yaml")
    _kill(_cli("train", folder), "train", point)
    assert main(["train", "--out", str(folder)]) == 0
    assert normalized(folder / "train", COMPARED["train"]) == normalized(tiny_design.path("train"), COMPARED["train"])


def test_other_board_gets_its_own_hls_project(built, capsys):
    before = snapshot(built.path("hls"))
    assert main(["hls", "--out", str(built.folder), "--board", "zcu104"]) == 0
    assert "hls-zcu104" in capsys.readouterr().out
    assert snapshot(built.path("hls")) == before
    other = Design(built.folder, built.cfg, rename={"hls": "hls-zcu104"})
    assert other.result("hls")["part"] != built.result("hls")["part"]
    import json
    summary = json.loads((built.folder / "summary.json").read_text())
    assert {"hls", "hls-zcu104", "rtl", "sim"} <= set(summary["steps"])
    assert summary["steps"]["hls-zcu104"]["mismatches"] == 0


def test_skipped_simulators_are_no_pass_and_are_retried(built, capsys, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(runner, "missing_simulator", lambda sim: f"{sim} is not installed: test")
        assert main(["sim", "--out", str(built.folder), "--force"]) == 0
        result = built.result("sim")
        assert result["passed"] is None and "skipped" in result
        assert set(result["skipped_simulators"]) == set(built.cfg.rtl.simulators)
        assert main(["report", "--out", str(built.folder)]) == 0
        import json

        from codesign.report.report import _checks
        rows = _checks(json.loads((built.folder / "summary.json").read_text())["steps"])
        assert {r["verdict"] for r in rows if r["step"] == "sim"} == {"skipped"}
        assert built.is_current("sim")
    capsys.readouterr()
    assert "installed now" in built.why_stale("sim")
    assert main(["sim", "--out", str(built.folder)]) == 0
    assert "skipped before are installed now" in capsys.readouterr().out
    assert built.result("sim")["passed"] is True
