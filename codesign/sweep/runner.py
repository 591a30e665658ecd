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


def hardware_targets(cfg: DesignConfig) -> list[tuple[str, float | None]]:
    """(board, clock in MHz or None for the board's own) of every build of a point; checked."""
    from codesign.boards import load_board, target_clock_mhz
    boards = cfg.sweep.boards or [cfg.board]
    clocks = cfg.sweep.clocks_mhz or [None]
    for b in boards:
        for c in clocks:
            if c != "auto":                            # auto: the rtl step chooses the clock
                target_clock_mhz(load_board(b), c)       # a clock the board cannot generate fails here
    return [(b, c) for b in boards for c in clocks]


def grid(cfg: DesignConfig) -> dict[str, dict]:
    """Point id -> full config tree of every grid point (one per board and clock when the
    sweep asks for several: ``w8_s8_zcu104_250``)."""
    base = cfg.model_dump(exclude={"sweep"})  # a point does not depend on the rest of the grid
    targets = hardware_targets(cfg)
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
            for board, clock in targets:
                hw = copy.deepcopy(tree)
                hw["board"], hw["rtl"]["clock_mhz"] = board, clock
                suffix = "" if len(targets) == 1 else f"_{board}" + ("" if clock is None else f"_{clock}" if isinstance(clock, str) else f"_{clock:g}")
                points[f"w{bits}_s{size}{suffix}"] = hw
    return points


def training_key(tree: dict) -> str:
    """What a point's training depends on (not its board or clock): points sharing it train once."""
    return point_key({k: v for k, v in tree.items() if k in ("data", "model", "train")})


def point_key(tree: dict) -> str:
    return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:16]


def hardware(rtl: dict) -> dict:
    """The sweep's hardware columns out of an ``rtl`` step result (latency at the met clock)."""
    res = rtl.get("resources") or {}
    timing = rtl.get("timing") or {}
    synthesized = "lut" in res
    return {"lut": int(res["lut"]) if synthesized else int(round(rtl["core"]["adder_cost"])),
            "lut_source": "yosys synth_xilinx" if synthesized else "da4ml estimate (core, not synthesis)",
            "ff": int(res["ff"]) if synthesized and "ff" in res else None,
            "dsp": int(res["dsp"]) if synthesized and "dsp" in res else None,
            "core_stages": rtl["core"]["stages"], "latency_cycles": rtl["latency_cycles"],
            "latency_ns": rtl["latency_ns"], "clock_mhz": rtl["clock_mhz"],
            "target_clock_mhz": rtl.get("target_clock_mhz", rtl["clock_mhz"]),
            "latency_label": (rtl.get("latency") or {}).get("label"),
            "fmax_mhz": timing.get("fmax_mhz"), "worst_ns": timing.get("worst_ns"),
            "meets": timing.get("meets"), "timing_skipped": timing.get("skipped")}


def run_point(folder: str, tree: dict, trained: str | None = None) -> dict:
    """Trains one point in ``folder`` and builds its RTL; writes and returns its ``point.json``.

    ``trained``: a folder where a point with the same training already ran (another board or
    clock): its ``data`` and ``train`` results are linked instead of trained again.
    """
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from codesign.flow import Design, run_flow

    cfg = parse_config(tree)
    design = Design(Path(folder), cfg)
    start = time.perf_counter()
    steps = ["data", "train", "rtl"]
    if trained:
        design.folder.mkdir(parents=True, exist_ok=True)
        for step in ("data", "train"):
            link = design.path(step)
            if not link.exists():
                link.symlink_to(Path(trained).resolve() / step, target_is_directory=True)
        steps = ["rtl"]
    summary = run_flow(design, steps, log=lambda *_: None)
    train = json.loads((design.path("train") / "train.json").read_text())
    metrics, own = train["models"][VARIANT], train.get("baselines") or {}
    q = cfg.model.quant
    same_size = own.get(f"bpr_mf_{cfg.model.embedding_dim}", {}).get("ndcg10")
    result = {"id": Path(folder).name, "key": point_key(tree), "board": cfg.board,
              "bits": q.weight_bits, "size": cfg.model.embedding_dim,
              "ndcg10": metrics["ndcg10"], "hr10": metrics["hr10"], "ndcg10_full": metrics["ndcg10_full"],
              "bpr_mf_same_size_ndcg10": same_size,
              "params": metrics["params"], "hardware": hardware(summary["steps"]["rtl"]),
              "seconds": round(time.perf_counter() - start, 1)}
    write_json(Path(folder) / "point.json", result)
    return result


def run_group(root: str, todo: dict[str, dict]) -> list[dict]:
    """Points of one training (several boards/clocks): trains in the first, links the rest."""
    rows, first = [], None
    for pid, tree in todo.items():
        folder = str(Path(root) / "points" / pid)
        rows.append(run_point(folder, tree, trained=first))
        first = first or folder
    return rows


def finished(folder: Path, key: str) -> dict | None:
    """The kept result of a point, if it was finished with the same config."""
    path = folder / "point.json"
    if path.is_file():
        result = json.loads(path.read_text())
        if result.get("key") == key:
            return result
    return None


def pareto(points: list[dict]) -> list[str]:
    """Ids of the points no other point of the same board beats on NDCG@10, LUTs and latency
    (ns at the met clock) at once."""
    from codesign.sweep.plot import non_dominated

    def cost(p):
        return -p["ndcg10"], p["hardware"]["lut"], p["hardware"]["latency_ns"]
    front = {id(p) for board in {p.get("board") for p in points}
             for p in non_dominated([q for q in points if q.get("board") == board], cost)}
    return [p["id"] for p in points if id(p) in front]


def sweep_baselines(out: Path, root: Path) -> dict:
    """NDCG@10 of the baselines the Pareto plot draws, on the split, negatives and metrics every
    point is evaluated on (the grid keeps the design's ``data``): the design folder's own ``train``
    step (``train/metrics.json``) when it ran, else every baseline the points trained (BPR-MF at
    each point's size among them). Returns {"source": ..., "ndcg10": {name: value}}, or {}."""
    out = Path(out)
    own = _baselines_in(out / "train" / "metrics.json")
    if own:
        return {"source": "train/metrics.json", "ndcg10": own}
    found = {}
    for path in sorted(Path(root).glob("points/*/train/metrics.json")):
        found = {**_baselines_in(path), **found}
    return {"source": "the sweep points' train steps", "ndcg10": found} if found else {}


def _baselines_in(path: Path) -> dict[str, float]:
    """name -> NDCG@10 of the baselines in a train step's ``metrics.json`` ({} if none)."""
    if not path.is_file():
        return {}
    found = json.loads(path.read_text()).get("baselines") or {}
    return {name: float(b["ndcg10"]) for name, b in found.items() if isinstance(b, dict) and "ndcg10" in b}


def crossings(points: list[dict], baselines: dict[str, float]) -> dict[str, dict]:
    """Per baseline: the ids of the points below and at or above its NDCG@10 (the grid crosses a
    baseline when both lists are non-empty)."""
    return {name: {"below": [p["id"] for p in points if p["ndcg10"] < value],
                   "above": [p["id"] for p in points if p["ndcg10"] >= value]}
            for name, value in baselines.items()}


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
        groups: dict[str, dict[str, dict]] = {}     # one job per training, its boards/clocks in turn
        for pid, tree in todo.items():
            groups.setdefault(training_key(tree), {})[pid] = tree
        with factory(scheduler, workers or cfg.sweep.workers) as pool:
            futures = {pool.submit(run_group, str(root), group): list(group) for group in groups.values()}
            for fut in cf.as_completed(futures):
                pids = futures[fut]
                try:
                    for r in fut.result():
                        done[r["id"]] = r
                        h = r["hardware"]
                        fmax = "-" if h.get("fmax_mhz") is None else f"{h['fmax_mhz']:.0f}"
                        log(f"[sweep] {r['id']}: NDCG@10 {r['ndcg10']:.4f}, LUT {h['lut']}, "
                            f"{h['latency_ns']} ns at {h['clock_mhz']:g} MHz (Fmax est. {fmax}) ({r['seconds']} s)")
                except Exception as err:  # a failed point is reported and re-run next time
                    for pid in pids:
                        errors[pid] = f"{type(err).__name__}: {err}"
                    log(f"[sweep] {', '.join(pids)} failed: {type(err).__name__}: {err}")
    rows = [done[p] for p in points if p in done]
    front = pareto(rows)
    for r in rows:
        r["pareto"] = r["id"] in front
    baselines = sweep_baselines(out, root)
    result = {"label": "NDCG@10 after the sweep's short training; latency of the rtl step's AXI-Stream top "
                       "in ns at the clock its timing estimate meets (estimated before place & route); "
                       "LUT from yosys when sweep.synth, else da4ml's estimate of the core; "
                       "Pareto front per board",
              "grid": cfg.sweep.model_dump(), "points": rows, "pareto": front, "errors": errors,
              "baselines": baselines, "crossings": crossings(rows, baselines.get("ndcg10", {}))}
    write_json(root / "sweep.json", result)
    if rows:
        from codesign.sweep.plot import latency_plot, pareto_plot
        pareto_plot(rows, root / "pareto.png", baselines.get("ndcg10"))
        latency_plot(rows, root / "latency.png")
    return result


def format_table(result: dict) -> str:
    width = max([10] + [len(r["id"]) + 1 for r in result["points"]])
    cols = (f"{'point':<{width}}{'bits':>5}{'size':>5}{'NDCG@10':>9}{'LUT':>8}{'FF':>7}{'DSP':>5}{'cycles':>7}"
            f"{'MHz':>7}{'Fmax':>6}{'ns':>7}  pareto")
    lines = [cols]
    for r in sorted(result["points"], key=lambda r: r["hardware"]["lut"]):
        h = r["hardware"]
        ff, dsp = ("-" if h.get(k) is None else h[k] for k in ("ff", "dsp"))
        fmax = "-" if h.get("fmax_mhz") is None else f"{h['fmax_mhz']:.0f}"
        lines.append(f"{r['id']:<{width}}{r['bits']:>5}{r['size']:>5}{r['ndcg10']:>9.4f}{h['lut']:>8}{ff:>7}{dsp:>5}"
                     f"{h['latency_cycles']:>7}{h.get('clock_mhz', 0):>7.1f}{fmax:>6}{h['latency_ns']:>7.1f}"
                     f"  {'*' if r['pareto'] else ''}")
    sources = sorted({r["hardware"]["lut_source"] for r in result["points"]})
    lines.append(f"LUT: {', '.join(sources)}; ns: cycles at the met clock (MHz), estimated before place & route")
    return "\n".join(lines + baseline_lines(result))


def baseline_lines(result: dict) -> list[str]:
    """Console lines: each baseline's NDCG@10 and how many points fall below / at or above it."""
    from codesign.sweep.plot import baseline_label
    base = result.get("baselines") or {}
    if not base.get("ndcg10"):
        return ["baselines: none yet (run the train step of this folder to draw them)"]
    cross = result.get("crossings") or {}
    lines = [f"baselines (same split and negatives, {base['source']}):"]
    for name, value in sorted(base["ndcg10"].items(), key=lambda kv: kv[1]):
        c = cross.get(name, {"below": [], "above": []})
        lines.append(f"  {baseline_label(name):<14}{value:>8.4f}  points below {len(c['below'])}, "
                     f"at or above {len(c['above'])}")
    return lines
