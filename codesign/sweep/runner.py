"""``codesign sweep``: a grid over bit widths and layer sizes -> NDCG@10, resources, latency.

Each point is the design with one bit width (weights, embeddings, activations) and one
layer size (embedding, GNN, token and text widths; fusion twice that), trained for the
sweep's short schedule (``hybrid_quant`` only, no comparison runs), then estimated with
da4ml (see ``codesign.sweep.estimate``). A finished point is kept in
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
            tree["name"] = f"{cfg.name}-w{bits}-s{size}"
            points[f"w{bits}_s{size}"] = tree
    return points


def point_key(tree: dict, latency_cutoff: float) -> str:
    payload = json.dumps({"config": tree, "latency_cutoff": float(latency_cutoff)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def run_point(folder: str, tree: dict, latency_cutoff: float) -> dict:
    """Trains and estimates one point in ``folder``; writes and returns its ``point.json``."""
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from codesign.boards import load_board
    from codesign.flow import Design, run_flow
    from codesign.sweep.estimate import estimate
    from codesign.train.step import load_trained

    cfg = parse_config(tree)
    design = Design(Path(folder), cfg)
    start = time.perf_counter()
    summary = run_flow(design, ["data", "train"], log=lambda *_: None)
    metrics = summary["steps"]["train"]["models"][VARIANT]
    model = load_trained(design, VARIANT)
    est = estimate(model, latency_cutoff, load_board(cfg.board).clock_ns)
    q = cfg.model.quant
    result = {"id": Path(folder).name, "key": point_key(tree, latency_cutoff),
              "bits": q.weight_bits, "size": cfg.model.embedding_dim,
              "ndcg10": metrics["ndcg10"], "hr10": metrics["hr10"], "ndcg10_full": metrics["ndcg10_full"],
              "params": metrics["params"], "estimate": est, "seconds": round(time.perf_counter() - start, 1)}
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
        ge = (a["ndcg10"] >= b["ndcg10"] and a["estimate"]["lut"] <= b["estimate"]["lut"]
              and a["estimate"]["latency_ns"] <= b["estimate"]["latency_ns"])
        gt = (a["ndcg10"] > b["ndcg10"] or a["estimate"]["lut"] < b["estimate"]["lut"]
              or a["estimate"]["latency_ns"] < b["estimate"]["latency_ns"])
        return ge and gt
    return [p["id"] for p in points if not any(dominates(o, p) for o in points if o is not p)]


def run_sweep(out: Path, cfg: DesignConfig, scheduler: str | None = None, workers: int | None = None,
              log: Callable = print, executor_factory=None) -> dict:
    """Runs every unfinished grid point through the executor; writes sweep.json and pareto.png."""
    from codesign.sweep.executor import executor as default_executor

    root = Path(out) / "sweep"
    points = grid(cfg)
    cutoff = cfg.sweep.latency_cutoff
    done: dict[str, dict] = {}
    todo = {}
    for pid, tree in points.items():
        kept = finished(root / "points" / pid, point_key(tree, cutoff))
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
            futures = {pool.submit(run_point, str(root / "points" / pid), tree, cutoff): pid
                       for pid, tree in todo.items()}
            for fut in cf.as_completed(futures):
                pid = futures[fut]
                try:
                    done[pid] = fut.result()
                    r = done[pid]
                    log(f"[sweep] {pid}: NDCG@10 {r['ndcg10']:.4f}, LUT~{r['estimate']['lut']}, "
                        f"{r['estimate']['latency_ns']} ns ({r['seconds']} s)")
                except Exception as err:  # a failed point is reported and re-run next time
                    errors[pid] = f"{type(err).__name__}: {err}"
                    log(f"[sweep] {pid} failed: {errors[pid]}")
    rows = [done[p] for p in points if p in done]
    front = pareto(rows)
    for r in rows:
        r["pareto"] = r["id"] in front
    result = {"label": "NDCG@10 from the sweep's short training; LUT/FF/latency are da4ml estimates",
              "grid": cfg.sweep.model_dump(), "points": rows, "pareto": front, "errors": errors}
    write_json(root / "sweep.json", result)
    if rows:
        from codesign.sweep.plot import pareto_plot
        pareto_plot(rows, root / "pareto.png")
    return result


def format_table(result: dict) -> str:
    cols = f"{'point':<10}{'bits':>5}{'size':>5}{'NDCG@10':>9}{'LUT~':>8}{'FF~':>7}{'stages':>7}{'ns':>7}  pareto"
    lines = [cols]
    for r in sorted(result["points"], key=lambda r: r["estimate"]["lut"]):
        e = r["estimate"]
        lines.append(f"{r['id']:<10}{r['bits']:>5}{r['size']:>5}{r['ndcg10']:>9.4f}{e['lut']:>8}{e['ff']:>7}"
                     f"{e['stages']:>7}{e['latency_ns']:>7.1f}  {'*' if r['pareto'] else ''}")
    return "\n".join(lines)
