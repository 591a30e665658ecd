"""Flow step ``bench``: the benchmark in a fresh process, so its thread count really applies.

TensorFlow fixes its thread pools when it runs its first op; in the flow the train step has
done that long before. The step therefore runs ``python -m codesign.bench`` with the design's
config under a deadline (``bench.timeout_seconds``) and returns ``bench/baselines.json``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

import codesign
from codesign.console import child_console, say
from codesign.flow import Design, register_step


def run_isolated(design: Design) -> dict:
    """Runs the benchmark of ``design`` in a child process; returns its ``baselines.json``."""
    folder = design.path("bench")
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "design.bench.yaml"
    config.write_text(yaml.safe_dump(design.cfg.model_dump(), sort_keys=False))
    out = folder / "baselines.json"
    out.unlink(missing_ok=True)
    root = str(Path(codesign.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]),
           "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    timeout = design.cfg.bench.timeout_seconds
    cmd = [sys.executable, "-m", "codesign.bench", "--out", str(design.folder), "--config", str(config)]
    console_env, console_fds = child_console()    # the child's progress bar reaches this console
    try:
        proc = subprocess.run(cmd, env={**env, **console_env}, capture_output=True, text=True, timeout=timeout,
                              pass_fds=console_fds)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the benchmark did not finish within {timeout:g} s (bench.timeout_seconds); "
                           f"raise it or reduce bench.repeats / bench.batch_sizes") from None
    finally:
        config.unlink(missing_ok=True)
    print(proc.stdout, end="")       # into the step's log, with the child's warnings
    print(proc.stderr, end="", file=sys.stderr)
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"the benchmark failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return json.loads(out.read_text())


@register_step("bench", sections=("bench", "rtl.variant"), after=("train",))
def bench_step(design: Design) -> dict:
    if design.cfg.model_file:
        from codesign.hls.byom import OWN_MODEL
        return {"skipped": OWN_MODEL}
    result = run_isolated(design)
    best = (result.get("best_cpu") or {}).get("latency") or {}
    if best:
        say(f"best CPU at batch {best['batch']}: {best['runtime']} ({best['precision']}) p50 {best['p50_us']:.1f} us")
    return result
