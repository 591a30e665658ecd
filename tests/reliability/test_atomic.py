"""Atomic steps: a run killed at any point, or failing, leaves the last complete result (or
none), and the next run ends where an uninterrupted run ends. Fast: a small step of the test."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from codesign import flow
from codesign.config import parse_config
from codesign.flow import Design, run_flow, run_step
from tests.reliability import fake_step
from tests.reliability.helpers import REPO, env, killed_run, normalized, snapshot

FAKE = [sys.executable, "-m", "tests.reliability.fake_step"]


def run_fake(folder, *args: str) -> str:
    out = subprocess.run(FAKE + [str(folder), *args], capture_output=True, text=True, env=env(),
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def fake(monkeypatch):
    """The fake step registered in this process (and no other step imported)."""
    monkeypatch.setattr(flow, "load_steps", lambda: None)
    fake_step.register()
    yield Design
    fake_step.unregister()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    run_fake(folder)
    return normalized(folder / "fake")


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".old-" in p.name or p.name.endswith(".tmp"))


@pytest.mark.parametrize("point", [1, 2, 3])
def test_first_run_killed_then_resumed(fake, reference, tmp_path, point):
    folder, mark = tmp_path / "D", tmp_path / "mark"
    killed_run(FAKE + [str(folder)], cue=lambda _: mark.exists(),
               extra_env={"CODESIGN_FAKE_HOLD": str(point), "CODESIGN_FAKE_MARK": str(mark)})
    design = Design(folder, parse_config({"name": "fake"}))
    assert not design.is_current("fake")          # a half-written folder is never a result
    assert "fake.json does not exist" in design.why_stale("fake")
    assert "[fake] running" in run_fake(folder)
    assert design.is_current("fake") and normalized(folder / "fake") == reference
    assert leftovers(folder) == []


@pytest.mark.parametrize("point", [1, 2, 3])
def test_forced_rerun_killed_keeps_the_complete_result(fake, reference, tmp_path, point):
    folder, mark = tmp_path / "D", tmp_path / "mark"
    run_fake(folder)
    before = snapshot(folder / "fake")
    killed_run(FAKE + [str(folder), "--force"], cue=lambda _: mark.exists(),
               extra_env={"CODESIGN_FAKE_HOLD": str(point), "CODESIGN_FAKE_MARK": str(mark)})
    assert any(".old-" in n for n in leftovers(folder))      # the old result, moved aside
    log = run_fake(folder)
    assert "rolled back" in log and "[fake] up to date" in log
    assert snapshot(folder / "fake") == before and leftovers(folder) == []


def test_killed_after_the_commit_keeps_the_new_result(fake, reference, tmp_path):
    """The state a run killed between writing its JSON and deleting the old folder leaves."""
    folder = tmp_path / "D"
    run_fake(folder)
    shutil.copytree(folder / "fake", folder / ".fake.old-1-2")
    (folder / ".summary.json.x1.tmp").write_text('{"half')
    before = snapshot(folder / "fake")
    assert "[fake] up to date" in run_fake(folder)
    assert snapshot(folder / "fake") == before and leftovers(folder) == []


def test_failing_step_restores_the_old_folder(fake, tmp_path, monkeypatch):
    design = Design(tmp_path / "D", parse_config({"name": "fake"}))
    run_flow(design, ["fake"], log=lambda *_: None)
    before = snapshot(design.folder / "fake")

    def broken(d):
        (d.path("fake") / "arrays.npz").write_bytes(b"half")
        raise RuntimeError("tool crashed")
    monkeypatch.setattr(flow.STEPS["fake"], "run", broken)
    with pytest.raises(RuntimeError, match="tool crashed"):
        run_step(design, "fake", force=True, log=lambda *_: None)
    assert snapshot(design.folder / "fake") == before and design.is_current("fake")


def test_a_result_using_the_flows_own_keys_is_refused(fake, tmp_path, monkeypatch):
    """A step result with a key the flow writes itself (here 'inputs') would be overwritten."""
    design = Design(tmp_path / "D", parse_config({"name": "fake"}))
    monkeypatch.setattr(flow.STEPS["fake"], "run", lambda d: {"inputs": {"requests": 10}})
    with pytest.raises(TypeError, match=r"\['inputs'\].*rename them"):
        run_step(design, "fake", log=lambda *_: None)
    assert not design.is_current("fake")


def test_cache_key_covers_config_code_and_inputs(fake, tmp_path, monkeypatch):
    design = Design(tmp_path / "D", parse_config({"name": "fake"}))
    run_flow(design, ["fake"], log=lambda *_: None)
    result = design.result("fake")
    assert result["key_parts"]["code"].startswith("0.1.0+")
    assert set(result["outputs"]) == {"arrays.npz", "meta.json", "deep/table.txt"}
    other = Design(design.folder, parse_config({"name": "fake", "vectors": {"seed": 3}}))
    assert other.why_stale("fake") == "its config (vectors) changed"
    monkeypatch.setitem(flow._CODE, "fake", "0.1.0+000000000000")
    assert design.why_stale("fake").startswith("its code changed")


@pytest.fixture(scope="module")
def data_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data_ref") / "D"
    out = subprocess.run([sys.executable, "-m", "codesign.cli", "data", "--out", str(folder)], capture_output=True,
                         text=True, env=env(), cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    return folder


@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_data_step_killed_then_resumed(data_reference, tmp_path, capsys, delay):
    from codesign.cli import main
    folder = tmp_path / "D"
    try:
        killed_run([sys.executable, "-m", "codesign.cli", "data", "--out", str(folder)],
                   cue=lambda out: "[data] running" in out, delay=delay)
    except AssertionError as err:     # finished before the kill: that point was not reached here
        assert "ended before it could be killed" in str(err)
    assert main(["data", "--out", str(folder)]) == 0
    assert normalized(folder / "data") == normalized(data_reference / "data")
    assert (folder / "data" / "data.json").read_text().count('"outputs"') == 1
    assert leftovers(folder) == []
