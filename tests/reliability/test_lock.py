"""One writer per folder: a second run exits at once naming the holder; a dead holder's lock
is taken over; temporary names never collide."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from codesign import flow
from codesign.config import parse_config
from codesign.flow import Design, FolderBusy, locked, run_flow, write_json
from tests.reliability import fake_step
from tests.reliability.helpers import REPO, env

HOLD = ("import sys, time; from pathlib import Path; from codesign.flow import locked\n"
        "with locked(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(120)\n")


@pytest.fixture
def holder(tmp_path):
    """A live process holding ``tmp_path/D``'s lock."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "D")], stdout=subprocess.PIPE,
                            text=True, env=env(), cwd=REPO)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_second_writer_exits_at_once_naming_the_first(holder, tmp_path, capsys, monkeypatch):
    from codesign.cli import main
    monkeypatch.setattr(flow, "load_steps", lambda: None)
    fake_step.register()
    try:
        with pytest.raises(FolderBusy, match=rf"is being written by pid {holder.pid} \(started 20"):
            run_flow(Design(tmp_path / "D", parse_config({"name": "fake"})), ["fake"])
        assert main(["flow", "--out", str(tmp_path / "D"), "--steps", "fake"]) == 2
    finally:
        fake_step.unregister()
    err = capsys.readouterr().err
    assert f"is being written by pid {holder.pid}" in err and "Traceback" not in err
    assert not (tmp_path / "D" / "fake").exists()


def test_lock_of_a_killed_process_is_taken_over(holder, tmp_path):
    holder.kill()
    holder.wait(timeout=30)
    with locked(tmp_path / "D"):
        assert (tmp_path / "D" / ".lock").read_text().split()[0] == str(os.getpid())


def test_lock_is_reentrant_in_one_process(tmp_path):
    with locked(tmp_path):
        with locked(tmp_path):
            pass
        assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())


def test_concurrent_json_writers_never_collide(tmp_path):
    """Unique temporary names: many threads writing one file leave one whole JSON."""
    errors = []

    def write(i):
        try:
            for _ in range(20):
                write_json(tmp_path / "summary.json", {"writer": i, "pad": "x" * 20000})
        except Exception as err:    # noqa: BLE001 - any failure is the finding
            errors.append(err)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    import json
    assert errors == [] and json.loads((tmp_path / "summary.json").read_text())["pad"] == "x" * 20000
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
