"""Bad input ends in ``error: ...`` and a non-zero exit, never a traceback, and changes nothing;
an existing folder's design is its ``design.yaml``; hints are commands that work as printed."""
from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml

from codesign.cli import main
from tests.reliability.helpers import snapshot

MINE = {"name": "mine", "data": {"title_length": 6}}


def run(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out, out.err[-3000:]
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def mine(tmp_path_factory):
    """A folder holding design 'mine' with its data step done."""
    root = tmp_path_factory.mktemp("mine")
    (root / "mine.yaml").write_text(yaml.safe_dump(MINE))
    assert main(["data", "--config", str(root / "mine.yaml"), "--out", str(root / "D")]) == 0
    return root


@pytest.mark.parametrize("text, key", [
    ("", "is empty"),
    ("train:\n  epochs: true\n", "'train.epochs'"),
    ("train:\n  epochs: 2.5\n", "'train.epochs'"),
    ("model:\n  gnn_channels: [0]\n", "'model.gnn_channels.0'"),
    ("model:\n  gnn_channels: []\n", "'model.gnn_channels'"),
    ("model:\n  fusion_units: [8, 0]\n", "'model.fusion_units.1'"),
    ("train:\n  variants: []\n", "'train.variants'"),
    ("rtl:\n  simulators: [icarus, icarus]\n", "duplicated entries ['icarus']"),
    ("board: zedboard\n", "unknown board; available: alveo-u50, kv260, pynq-z2"),
    ("- a list\n", "expected a mapping"),
])
def test_bad_config_is_refused_before_anything_is_written(tmp_path, capsys, text, key):
    (tmp_path / "bad.yaml").write_text(text)
    rc, _, err = run(capsys, "flow", "--config", tmp_path / "bad.yaml", "--out", tmp_path / "D")
    assert rc == 2 and err.startswith("error: ") and key in err
    assert not (tmp_path / "D").exists()


@pytest.mark.parametrize("args, message", [
    (["flow", "--steps", ","], "no step selected; choose from: data"),
    (["flow", "--steps", "report"], "unknown step(s) report; available: data"),
    (["hls", "--board", "zedboard"], "unknown board 'zedboard' (--board); available: alveo-u50, kv260, pynq-z2"),
    (["flow", "--config", "nowhere.yaml"], "design config nowhere.yaml does not exist"),
])
def test_bad_arguments_change_nothing(mine, capsys, args, message):
    before = snapshot(mine / "D")
    rc, _, err = run(capsys, *args, "--out", mine / "D")
    assert rc == 2 and message in err
    assert snapshot(mine / "D") == before


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    for args in (["data"], ["flow", "--steps", "data"], ["hls", "--model", tmp_path / "m.h5"]):
        rc, _, err = run(capsys, *args, "--out", tmp_path / "f")
        assert rc == 2 and "is a file" in err, err


def test_folder_uses_its_own_design(mine, capsys):
    rc, out, _ = run(capsys, "data", "--out", mine / "D")
    assert rc == 0 and "[data] up to date" in out
    assert yaml.safe_load((mine / "D" / "design.yaml").read_text())["name"] == "mine"
    rc, out, _ = run(capsys, "data", "--config", mine / "mine.yaml", "--out", mine / "D")   # same design: fine
    assert rc == 0 and "[data] up to date" in out


def test_other_design_is_refused_with_two_working_ways_on(mine, tmp_path, capsys):
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"name": "other", "data": {"title_length": 5}}))
    before = snapshot(mine / "D")
    rc, _, err = run(capsys, "flow", "--steps", "data", "--config", other, "--out", mine / "D")
    assert rc == 2 and "holds design 'mine'" in err and "is design 'other'" in err and "differs in: name, data" in err
    assert snapshot(mine / "D") == before
    hints = re.findall(r"'(codesign [^']+)'", err)
    assert len(hints) == 2 and hints[1].endswith("--reconfigure")
    new_folder = shlex.split(hints[0])[-1]
    assert new_folder.endswith("other")
    rc, out, _ = run(capsys, *shlex.split(hints[0])[1:])          # a new folder
    assert rc == 0 and "[data] running" in out
    work = tmp_path / "copy"
    import shutil
    shutil.copytree(mine / "D", work)
    rc, out, _ = run(capsys, *shlex.split(hints[1].replace(str(mine / "D"), str(work)))[1:])   # --reconfigure
    assert rc == 0 and "[data] running" in out
    assert yaml.safe_load((work / "design.yaml").read_text())["name"] == "other"
    assert json.loads((work / "summary.json").read_text())["design"] == "other"


def test_step_without_its_upstream_gives_a_hint_that_works(tmp_path, capsys, mine):
    import shutil
    work = tmp_path / "D"
    shutil.copytree(mine / "D", work)
    (work / "data" / "arrays.npz").write_bytes((work / "data" / "arrays.npz").read_bytes()[:1000])  # truncated
    rc, _, err = run(capsys, "train", "--out", work)
    assert rc == 2 and "data/arrays.npz changed since the step wrote it" in err
    assert "'codesign flow --out " + str(work) + " --steps data,train'" in err
    rc, _, err = run(capsys, "vectors", "--out", work)     # two steps missing: both in the hint
    assert rc == 2 and "train/train.json does not exist" in err
    assert "'codesign flow --out " + str(work) + " --steps data,train,vectors'" in err


def test_model_into_a_design_folder_is_refused(mine, tmp_path, capsys):
    before = snapshot(mine / "D")
    (tmp_path / "m.h5").write_bytes(b"")
    rc, _, err = run(capsys, "hls", "--model", tmp_path / "m.h5", "--out", mine / "D")
    assert rc == 2 and "holds a design" in err and "codesign hls --model" in err
    assert snapshot(mine / "D") == before


def test_summary_and_step_json_faults_are_named_and_mended(mine, tmp_path, capsys):
    import shutil
    work = tmp_path / "D"
    shutil.copytree(mine / "D", work)
    (work / "summary.json").write_text("{}")
    rc, _, err = run(capsys, "eval", "--out", work)
    assert rc == 2 and "summary.json is not a summary" in err and f"codesign report --out {work}" in err
    (work / "summary.json").write_text('{"steps": ')
    rc, _, err = run(capsys, "eval", "--out", work)
    assert rc == 2 and "summary.json is unreadable" in err
    rc, _, _ = run(capsys, "report", "--out", work)            # the fix, as printed
    assert rc == 0 and "data" in json.loads((work / "summary.json").read_text())["steps"]
    (work / "data" / "data.json").write_text("[]")
    rc, out, _ = run(capsys, "data", "--out", work)
    assert rc == 0 and "data/data.json holds a list, not a step result" in out
    (work / "data" / "vocabulary.json").unlink()
    rc, out, _ = run(capsys, "data", "--out", work)
    assert rc == 0 and "data/vocabulary.json is missing" in out
    assert (work / "data" / "vocabulary.json").is_file()
    (work / "design.yaml").write_text("data: [")
    rc, _, err = run(capsys, "data", "--out", work)
    assert rc == 2 and "design.yaml" in err and "is the design of" in err


def test_internal_error_keeps_its_traceback_and_asks_for_a_report(tmp_path, capsys, monkeypatch):
    import codesign.cli as cli

    def bug(args):
        raise KeyError("a bug")
    monkeypatch.setattr(cli, "cmd_eval", bug)
    assert main(["eval", "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'a bug'" in err and "please report it" in err


def test_single_step_merges_into_the_summary(mine, tmp_path, capsys):
    import shutil
    work = tmp_path / "D"
    shutil.copytree(mine / "D", work)
    summary = json.loads((work / "summary.json").read_text())
    summary["steps"]["bench"] = {"note": "a result of a step this command does not run"}
    (work / "summary.json").write_text(json.dumps(summary))
    rc, out, _ = run(capsys, "data", "--out", work, "--force")
    assert rc == 0 and "[data] running" in out
    steps = json.loads((work / "summary.json").read_text())["steps"]
    # kept, and marked stale: the bench step has no current result in this folder
    assert steps["bench"]["note"] == "a result of a step this command does not run" and "data" in steps
    assert "bench/bench.json does not exist" in steps["bench"]["stale"]


def test_failed_command_on_a_new_folder_creates_nothing(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    for args in (["train", "--out", tmp_path / "new"], ["sim", "--out", tmp_path / "new"],
                 ["data", "--out", tmp_path / "f" / "D"]):
        rc, _, err = run(capsys, *args)
        assert rc == 2 and err.startswith("error: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
