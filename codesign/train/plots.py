"""Training curves: validation NDCG@10 per epoch of every variant."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(histories: dict[str, list[dict]], path: Path) -> Path:
    """Writes a PNG with one validation NDCG@10 curve per variant."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, history in histories.items():
        ax.plot([h["epoch"] + 1 for h in history], [h["valid_ndcg10"] for h in history],
                marker="o", ms=3, label=name)
    ax.set_xlabel("epoch (quantized variants: QAT epochs, started from their float twin)")
    ax.set_ylabel("validation NDCG@10 (99 sampled negatives)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
