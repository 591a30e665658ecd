"""``codesign sweep``: a grid over bit widths and layer sizes -> NDCG@10, resources, latency.

Each point is the design with one bit width (weights, embeddings, activations) and one
layer size (embedding, GNN, token and text widths; fusion twice that), trained for the
sweep's short schedule (``hybrid_quant`` only, no comparison runs), then built by the
``rtl`` step (bit-exact da4ml trace, Verilog, latency in cycles of the AXI-Stream top); LUTs
are yosys' when ``sweep.synth`` is on, da4ml's own estimate of the core otherwise (labelled
in ``lut_source``). A finished point is kept in
``<out>/sweep/points/<id>/point.json`` under a key of its config, so an interrupted sweep
resumes where it stopped and a changed grid re-runs only the new points. The sweep's JSON
(``sweep.json``) and the Pareto plot (``pareto.png``) go to ``<out>/sweep/``.
"""
from __future__ import annotations

import concurrent.futures as cf
import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Callable

from codesign.config import DesignConfig, parse_config
from codesign.flow import write_json

VARIANT = "hybrid_quant"


def grid(cfg: DesignConfig) -> dict[str, dict]:
    """Point id -> full config tree of every grid point."""
    base = cfg.model_dump(exclude={"sweep"})  # a point does not depend on the rest of the grid
    points = {}
    for bits in cfg.sweep.bits:
        for size in cfg.sweep.sizes:
            tree = copy.deepcopy(base)
            m, t = tree["model"], tree["train"]
            m["quant"].update(weight_bits=bits, embedding_bits=bits, activation_bits=bits)
            m["quant"]["activation_integer"] = min(m["quant"]["activation_integer"], bits - 1)
            m.update(embedding_dim=size, token_dim=size, text_dim=size,
                     gnn_channels=[size] * len(m["gnn_channels"]),
                     fusion_units=[2 * size] * len(m["fusion_units"]))
            t.update(epochs=cfg.sweep.epochs, qat_epochs=cfg.sweep.qat_epochs, variants=[VARIANT])
            t["distill"]["compare"] = False
            t["lora"]["enabled"] = False
            tree["rtl"]["synth"] = cfg.sweep.synth
            tree["name"] = f"{cfg.name}-w{bits}-s{size}"
            points[f"w{bits}_s{size}"] = tree
    return points


def point_key(tree: dict) -> str:
    return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:16]


def hardware(rtl: dict) -> dict:
    """The sweep's hardware columns out of an ``rtl`` step result."""
    res = rtl.get("resources") or {}
    synthesized = "lut" in res
    return {"lut": int(res["lut"]) if synthesized else int(round(rtl["core"]["adder_cost"])),
            "lut_source": "yosys synth_xilinx" if synthesized else "da4ml estimate (core, not synthesis)",
            "ff": int(res["ff"]) if synthesized and "ff" in res else None,
            "dsp": int(res["dsp"]) if synthesized and "dsp" in res else None,
            "core_stages": rtl["core"]["stages"], "latency_cycles": rtl["latency_cycles"],
            "latency_ns": rtl["latency_ns"], "clock_mhz": rtl["clock_mhz"]}


def run_point(folder: str, tree: dict) -> dict:
    """Trains one point in ``folder`` and builds its RTL; writes and returns its ``point.json``."""
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from codesign.flow import Design, run_flow

    cfg = parse_config(tree)
    design = Design(Path(folder), cfg)
    start = time.perf_counter()
    summary = run_flow(design, ["data", "train", "rtl"], log=lambda *_: None)
    metrics = summary["steps"]["train"]["models"][VARIANT]
    q = cfg.model.quant
    result = {"id": Path(folder).name, "key": point_key(tree),
              "bits": q.weight_bits, "size": cfg.model.embedding_dim,
              "ndcg10": metrics["ndcg10"], "hr10": metrics["hr10"], "ndcg10_full": metrics["ndcg10_full"],
              "params": metrics["params"], "hardware": hardware(summary["steps"]["rtl"]),
              "seconds": round(time.perf_counter() - start, 1)}
    write_json(Path(folder) / "point.json", result)
    return result


def finished(folder: Path, key: str) -> dict | None:
    """The kept result of a point, if it was finished with the same config."""
    path = folder / "point.json"
    if path.is_file():
        result = json.loads(path.read_text())
        if result.get("key") == key:
            return result
    return None


def pareto(points: list[dict]) -> list[str]:
    """Ids of the points no other point beats on NDCG@10, LUTs and latency at once."""
    def dominates(a, b):
        ha, hb = a["hardware"], b["hardware"]
        ge = a["ndcg10"] >= b["ndcg10"] and ha["lut"] <= hb["lut"] and ha["latency_ns"] <= hb["latency_ns"]
        gt = a["ndcg10"] > b["ndcg10"] or ha["lut"] < hb["lut"] or ha["latency_ns"] < hb["latency_ns"]
        return ge and gt
    return [p["id"] for p in points if not any(dominates(o, p) for o in points if o is not p)]


def run_sweep(out: Path, cfg: DesignConfig, scheduler: str | None = None, workers: int | None = None,
              log: Callable = print, executor_factory=None) -> dict:
    """Runs every unfinished grid point through the executor; writes sweep.json and pareto.png."""
    from codesign.sweep.executor import executor as default_executor

    root = Path(out) / "sweep"
    points = grid(cfg)
    done: dict[str, dict] = {}
    todo = {}
    for pid, tree in points.items():
        kept = finished(root / "points" / pid, point_key(tree))
        if kept:
            done[pid] = kept
        else:
            todo[pid] = tree
    log(f"[sweep] {len(points)} points: {len(done)} kept, {len(todo)} to run "
        f"({'dask ' + scheduler if scheduler else 'local processes'})")
    errors = {}
    if todo:
        factory = executor_factory or default_executor
        with factory(scheduler, workers or cfg.sweep.workers) as pool:
            futures = {pool.submit(run_point, str(root / "points" / pid), tree): pid
                       for pid, tree in todo.items()}
            for fut in cf.as_completed(futures):
                pid = futures[fut]
                try:
                    done[pid] = fut.result()
                    r = done[pid]
                    log(f"[sweep] {pid}: NDCG@10 {r['ndcg10']:.4f}, LUT {r['hardware']['lut']}, "
                        f"{r['hardware']['latency_ns']} ns ({r['seconds']} s)")
                except Exception as err:  # a failed point is reported and re-run next time
                    errors[pid] = f"{type(err).__name__}: {err}"
                    log(f"[sweep] {pid} failed: {errors[pid]}")
    rows = [done[p] for p in points if p in done]
    front = pareto(rows)
    for r in rows:
        r["pareto"] = r["id"] in front
    result = {"label": "NDCG@10 after the sweep's short training; latency of the rtl step's AXI-Stream top; "
                       "LUT from yosys when sweep.synth, else da4ml's estimate of the core",
              "grid": cfg.sweep.model_dump(), "points": rows, "pareto": front, "errors": errors}
    write_json(root / "sweep.json", result)
    if rows:
        from codesign.sweep.plot import pareto_plot
        pareto_plot(rows, root / "pareto.png")
    return result


def format_table(result: dict) -> str:
    cols = f"{'point':<10}{'bits':>5}{'size':>5}{'NDCG@10':>9}{'LUT':>8}{'FF':>7}{'DSP':>5}{'cycles':>7}{'ns':>7}  pareto"
    lines = [cols]
    for r in sorted(result["points"], key=lambda r: r["hardware"]["lut"]):
        h = r["hardware"]
        ff, dsp = ("-" if h[k] is None else h[k] for k in ("ff", "dsp"))
        lines.append(f"{r['id']:<10}{r['bits']:>5}{r['size']:>5}{r['ndcg10']:>9.4f}{h['lut']:>8}{ff:>7}{dsp:>5}"
                     f"{h['latency_cycles']:>7}{h['latency_ns']:>7.1f}  {'*' if r['pareto'] else ''}")
    sources = sorted({r["hardware"]["lut_source"] for r in result["points"]})
    return "\n".join(lines + [f"LUT: {', '.join(sources)}"])
