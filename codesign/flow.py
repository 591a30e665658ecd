"""The flow: named steps over one design folder, each cached by the config it reads.

A step is a function ``run(design) -> dict`` registered with the config sections it reads
and the steps it follows. Its result goes to ``<folder>/<step>/<step>.json`` together with a
key over those sections and its upstream keys; a later run whose key is unchanged reuses the
result, so a changed config re-runs exactly the steps it affects. ``summary.json`` gathers
every step's result as ``{"design": ..., "steps": {...}}``.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from codesign.config import DesignConfig

STEP_ORDER = ["data", "train", "vectors", "hls", "rtl", "sim", "bitstream", "host", "bench", "report"]


@dataclass
class Step:
    name: str
    run: Callable[["Design"], dict]
    sections: tuple[str, ...]
    after: tuple[str, ...]
    # inside the main job, by default (steps a user asks for by name always run)
    in_flow: bool = True


STEPS: dict[str, Step] = {}


def register_step(name: str, sections: tuple[str, ...], after: tuple[str, ...] = (),
                  in_flow: bool = True) -> Callable:
    """Decorator registering ``run(design) -> dict`` as the flow step ``name``."""
    if name not in STEP_ORDER:
        raise ValueError(f"step {name!r} is not one of {STEP_ORDER}")

    def wrap(run: Callable[["Design"], dict]) -> Callable[["Design"], dict]:
        STEPS[name] = Step(name, run, tuple(sections), tuple(after), in_flow)
        return run
    return wrap


def load_steps() -> None:
    """Imports every ``codesign.<package>.step`` module; each registers its step."""
    import importlib
    import pkgutil

    import codesign
    for info in pkgutil.iter_modules(codesign.__path__):
        if info.ispkg and importlib.util.find_spec(f"codesign.{info.name}.step") is not None:
            importlib.import_module(f"codesign.{info.name}.step")


@dataclass
class Design:
    """A design folder (``build/<design>/``) and the config it is built from."""

    folder: Path
    cfg: DesignConfig

    def path(self, step: str) -> Path:
        return self.folder / step

    def result(self, step: str) -> dict:
        """The stored result of ``step``; a clear error when it has not run."""
        path = self.path(step) / f"{step}.json"
        if not path.is_file():
            raise FileNotFoundError(f"step '{step}' has not run in {self.folder}: "
                                    f"run 'codesign flow --out {self.folder} --steps {step}' first")
        return json.loads(path.read_text())

    def key(self, step: str) -> str:
        """Cache key of ``step``: its config sections and its upstream steps' keys."""
        s = STEPS[step]
        parts = [self.cfg.section_hash(*s.sections)] + [self.key(a) for a in s.after]
        return hashlib.sha256("|".join([step] + parts).encode()).hexdigest()[:16]

    def is_current(self, step: str) -> bool:
        try:
            return self.result(step).get("cache_key") == self.key(step)
        except (FileNotFoundError, json.JSONDecodeError):
            return False


def write_json(path: Path, data: dict) -> None:
    """Writes JSON atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_plain))
    tmp.replace(path)


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def run_step(design: Design, name: str, force: bool = False, log=print) -> dict:
    """Runs one step unless its cached result is current; returns the result."""
    if name not in STEPS:
        raise ValueError(f"unknown step '{name}'; available: {', '.join(s for s in STEP_ORDER if s in STEPS)}")
    if not force and design.is_current(name):
        log(f"[{name}] up to date, cached in {design.path(name)}")
        return design.result(name)
    for upstream in STEPS[name].after:
        if not design.is_current(upstream):
            raise RuntimeError(f"step '{name}' needs step '{upstream}' to be current in "
                               f"{design.folder}; run them together: "
                               f"'codesign flow --out {design.folder} --steps {upstream},{name}'")
    log(f"[{name}] running")
    start = time.perf_counter()
    result = STEPS[name].run(design)
    result = {**result, "seconds": round(time.perf_counter() - start, 2), "cache_key": design.key(name)}
    write_json(design.path(name) / f"{name}.json", result)
    log(f"[{name}] done in {result['seconds']:.1f} s")
    return result


def update_summary(design: Design) -> dict:
    """Gathers every current step result into ``<folder>/summary.json`` and ``report.html``."""
    steps = {}
    for name in STEP_ORDER:
        if name in STEPS and design.is_current(name):
            steps[name] = design.result(name)
    summary = {"design": design.cfg.name, "config": design.cfg.model_dump(), "steps": steps}
    from codesign.latency import design_latency
    summary["latency"] = design_latency(steps)   # the one figure (Vivado's timing replaces the estimate)
    write_json(design.folder / "summary.json", summary)
    from codesign.report.report import write_report
    write_report(design.folder, summary)
    return summary


def run_flow(design: Design, steps: list[str] | None = None, force: bool = False, log=print) -> dict:
    """Runs ``steps`` (default: every registered step of the main job) in flow order."""
    load_steps()
    design.folder.mkdir(parents=True, exist_ok=True)
    (design.folder / "design.yaml").write_text(_yaml(design.cfg))
    chosen = steps or [s for s in STEP_ORDER if s in STEPS and STEPS[s].in_flow]
    unknown = [s for s in chosen if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {', '.join(unknown)}; available: "
                         f"{', '.join(s for s in STEP_ORDER if s in STEPS)}")
    for name in sorted(chosen, key=STEP_ORDER.index):
        run_step(design, name, force=force, log=log)
        update_summary(design)
    return update_summary(design)


def _yaml(cfg: DesignConfig) -> str:
    import yaml
    return yaml.safe_dump(cfg.model_dump(), sort_keys=False)
