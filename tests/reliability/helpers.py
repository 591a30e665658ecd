"""Helpers of the fault tests: folder snapshots, normalised artifacts, runs killed on cue."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
# result keys that differ between two honest runs (timings, paths, content hashes of files
# whose bytes hold a timestamp): left out when two folders are compared
VOLATILE = ("seconds", "cache_key", "inputs", "outputs", "key_parts", "file", "project", "wall",
            "per_second", "time", "cache", "median_us", "p90_us", "stale")


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (the lock file aside): to prove nothing changed."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.name != ".lock"}


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not any(t in k for t in VOLATILE)}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def normalized(folder: Path, patterns: tuple[str, ...] = ("**/*",)) -> dict:
    """Content of a step folder as two honest runs agree on it: arrays of ``.npz``/``.npy``
    files, JSON without volatile keys, weights and config of ``.keras`` files, bytes of the rest
    (only files matching ``patterns``)."""
    out = {}
    # logs (the step's own, a simulator's) hold times and pids: two honest runs differ there
    paths = sorted({p for pattern in patterns for p in Path(folder).glob(pattern) if p.is_file() and p.suffix != ".log"})
    for p in paths:
        rel = p.relative_to(folder).as_posix()
        if p.suffix == ".npz":
            with np.load(p) as z:
                out[rel] = {k: _array(z[k]) for k in sorted(z.files)}
        elif p.suffix == ".npy":
            out[rel] = _array(np.load(p))
        elif p.suffix == ".json":
            out[rel] = _strip(json.loads(p.read_text()))
        elif p.suffix == ".keras":
            out[rel] = _keras(p)
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _array(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() + str(a.shape) + str(a.dtype)


def _keras(path: Path) -> list[str]:
    """The weights of a ``.keras`` zip, in order of their values (its metadata holds the save
    date; its config the process's automatic layer-name counters)."""
    import io
    import zipfile

    import h5py
    with zipfile.ZipFile(path) as z:
        weights = {}
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            f.visititems(lambda name, obj: weights.__setitem__(name, _array(obj[()]))
                         if isinstance(obj, h5py.Dataset) else None)
        return sorted(weights.values())


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "TF_CPP_MIN_LOG_LEVEL": "3"}


def cli(*args: str, timeout: float = 600, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m codesign.cli ARGS`` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "codesign.cli", *args], capture_output=True, text=True,
                          env={**env(), **(extra_env or {})}, timeout=timeout, cwd=REPO)


def killed_run(cmd: list[str], cue, delay: float = 0.0, timeout: float = 600,
               extra_env: dict | None = None) -> str:
    """Starts ``cmd``, waits until ``cue(stdout_so_far)`` is true, waits ``delay`` seconds more and
    SIGKILLs it; returns what it printed. Fails when the cue does not come before the deadline
    or the process ends first."""
    import threading
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**env(), **(extra_env or {})}, cwd=REPO)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while not cue("".join(lines)):
            if proc.poll() is not None:
                reader.join(5)
                if not cue("".join(lines)):
                    raise AssertionError(f"{cmd} ended (rc {proc.returncode}) before the cue:\n{''.join(lines)}")
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"no cue from {cmd} within {timeout} s:\n{''.join(lines)}")
            time.sleep(0.05)
        time.sleep(delay)
        assert proc.poll() is None, f"{cmd} ended before it could be killed:\n{''.join(lines)}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(5)
    return "".join(lines)


def no_traceback(text: str) -> bool:
    return "Traceback" not in text
