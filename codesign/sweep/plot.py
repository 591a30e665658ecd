"""Pareto plot of a sweep: NDCG@10 against LUTs, the front highlighted, the baselines drawn."""
from __future__ import annotations

import re
from pathlib import Path


def baseline_label(name: str) -> str:
    """Display name of a train-step baseline key (``bpr_mf_8`` -> ``BPR-MF 8``)."""
    fixed = {"popularity": "popularity", "ease": "EASE", "transitions": "item transitions"}
    if name in fixed:
        return fixed[name]
    m = re.fullmatch(r"(bpr_mf|lightgcn)_(\d+)", name)
    if m:
        return f"{'BPR-MF' if m.group(1) == 'bpr_mf' else 'LightGCN'} {m.group(2)}"
    return name


def pareto_plot(points: list[dict], path: Path, baselines: dict[str, float] | None = None) -> Path:
    """NDCG@10 against LUTs of the sweep's points, the Pareto front dashed, and each baseline
    (name -> NDCG@10 on the same split and negatives) as a labelled horizontal line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 4.6), dpi=120)
    sizes = sorted({p["size"] for p in points})
    markers = dict(zip(sizes, "osD^v<>p*h"))
    bits = sorted({p["bits"] for p in points})
    cmap = plt.get_cmap("viridis", max(2, len(bits)))
    for p in points:
        ax.scatter(p["hardware"]["lut"], p["ndcg10"], marker=markers[p["size"]],
                   color=cmap(bits.index(p["bits"])), s=60 if p.get("pareto") else 30,
                   edgecolors="black" if p.get("pareto") else "none")
        ax.annotate(f"{p['bits']}b/{p['size']}", (p["hardware"]["lut"], p["ndcg10"]),
                    textcoords="offset points", xytext=(4, 4), fontsize=7)
    front = sorted((p for p in points if p.get("pareto")), key=lambda p: p["hardware"]["lut"])
    if front:
        ax.plot([p["hardware"]["lut"] for p in front], [p["ndcg10"] for p in front],
                color="gray", linestyle="--", linewidth=1, label="Pareto front (NDCG, LUT, latency)")
    _baseline_lines(ax, baselines or {}, [p["hardware"]["lut"] for p in points])
    for b in bits:
        ax.scatter([], [], color=cmap(bits.index(b)), label=f"{b}-bit")
    for s in sizes:
        ax.scatter([], [], marker=markers[s], color="gray", label=f"size {s}")
    ax.set_xlabel("LUTs (" + ", ".join(sorted({p["hardware"]["lut_source"] for p in points})) + ")")
    ax.set_ylabel("NDCG@10 (test, 99 sampled negatives)")
    ax.set_title("Accuracy vs resources")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: the points stay visible
    return _save(fig, path)


def _baseline_lines(ax, baselines: dict[str, float], luts: list[float]) -> None:
    """Horizontal lines at the baselines' NDCG@10, each labelled at alternating ends of the plot
    (neighbouring values stay readable) and in the legend."""
    colors = ["tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
    x_left, x_right = min(luts, default=0), max(luts, default=1)
    for k, (name, ndcg) in enumerate(sorted(baselines.items(), key=lambda kv: kv[1])):
        color = colors[k % len(colors)]
        text = f"{baseline_label(name)} {ndcg:.3f}"
        ax.axhline(ndcg, color=color, linestyle=":", linewidth=1, label=text)
        left = k % 2 == 0
        ax.annotate(text, (x_left if left else x_right, ndcg), textcoords="offset points", xytext=(0, 2),
                    ha="left" if left else "right", fontsize=6, color=color)


def non_dominated(points: list[dict], cost) -> list[dict]:
    """The points no other point beats: at least as good in every entry of ``cost(p)`` (a tuple,
    lower is better) and not equal to it."""
    return [p for p in points
            if not any(all(a <= b for a, b in zip(cost(o), cost(p))) and cost(o) != cost(p) for o in points)]


def latency_front(points: list[dict]) -> list[dict]:
    """Points no other point beats on both LUTs and latency (ns), by increasing LUTs."""
    def cost(p):
        return p["hardware"]["lut"], p["hardware"]["latency_ns"]
    return sorted(non_dominated(points, cost), key=cost)


def latency_plot(points: list[dict], path: Path) -> Path:
    """Latency (ns at the met clock) against LUTs, one panel per board, its Pareto front drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    boards = sorted({p.get("board", "-") for p in points})
    fig, axes = plt.subplots(1, len(boards), figsize=(6.0 * len(boards), 4.2), dpi=120, squeeze=False)
    for ax, board in zip(axes[0], boards):
        mine = [p for p in points if p.get("board", "-") == board]
        for p in mine:
            h = p["hardware"]
            ax.scatter(h["lut"], h["latency_ns"], s=30, color="tab:blue" if h.get("meets") else "tab:red")
            ax.annotate(f"{p['bits']}b/{p['size']} @{h['clock_mhz']:.0f}", (h["lut"], h["latency_ns"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
        front = latency_front(mine)
        ax.step([p["hardware"]["lut"] for p in front], [p["hardware"]["latency_ns"] for p in front],
                where="post", color="gray", linestyle="--", linewidth=1, label="Pareto front (LUT, ns)")
        ax.scatter([], [], color="tab:blue", label="meets its clock (estimate)")
        ax.scatter([], [], color="tab:red", label="misses it: at the estimated Fmax")
        ax.set_xlabel("LUTs (" + ", ".join(sorted({p["hardware"]["lut_source"] for p in mine})) + ")")
        ax.set_ylabel("latency (ns at the met clock, before place & route)")
        ax.set_title(f"Latency vs resources: {board}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Writes a finished figure to ``path`` and frees it."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
