"""Pareto plot of a sweep: NDCG@10 against LUTs, the front highlighted."""
from __future__ import annotations

from pathlib import Path


def pareto_plot(points: list[dict], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
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
    for b in bits:
        ax.scatter([], [], color=cmap(bits.index(b)), label=f"{b}-bit")
    for s in sizes:
        ax.scatter([], [], marker=markers[s], color="gray", label=f"size {s}")
    ax.set_xlabel("LUTs (" + ", ".join(sorted({p["hardware"]["lut_source"] for p in points})) + ")")
    ax.set_ylabel("NDCG@10 (test, 99 sampled negatives)")
    ax.set_title("Accuracy vs resources")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
