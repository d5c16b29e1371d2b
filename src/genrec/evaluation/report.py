"""Human-readable outputs of an evaluation run: a Markdown table and a PNG of HR@K / NDCG@K curves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from genrec.evaluation.metrics import hit_rate_at_k, ndcg_at_k
from genrec.io.files import atomic_path

#: Metric order of the Markdown table; keys absent from a run are skipped.
TABLE_KEYS = (
    "hr@1",
    "hr@5",
    "hr@10",
    "hr@20",
    "ndcg@5",
    "ndcg@10",
    "ndcg@20",
    "mrr",
    "coverage@10",
    "gini@10",
    "popularity_percentile@10",
    "validity",
    "users",
    "wall_time_s",
    "ms_per_user",
)


def metrics_markdown(title: str, metrics: Mapping[str, float]) -> str:
    """A two-column Markdown table of the known metrics, in a fixed order."""
    lines = [f"# {title}", "", "| metric | value |", "|---|---:|"]
    for key in TABLE_KEYS:
        if key in metrics:
            value = metrics[key]
            text = f"{int(value):,}" if key == "users" else f"{value:.4f}"
            lines.append(f"| {key} | {text} |")
    return "\n".join(lines) + "\n"


def curves(ranks: np.ndarray, k_max: int) -> dict[str, list[float]]:
    """Mean HR@K and NDCG@K for K = 1..k_max."""
    ks = range(1, k_max + 1)
    empty = len(ranks) == 0
    return {
        "k": [float(k) for k in ks],
        "hr": [0.0 if empty else float(hit_rate_at_k(ranks, k).mean()) for k in ks],
        "ndcg": [0.0 if empty else float(ndcg_at_k(ranks, k).mean()) for k in ks],
    }


def plot_curves(ranks: np.ndarray, k_max: int, path: Path, title: str) -> None:
    """Write a PNG with HR@K and NDCG@K against K (Agg backend, atomic write)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = curves(ranks, k_max)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(data["k"], data["hr"], marker="o", markersize=3, label="HR@K")
    ax.plot(data["k"], data["ndcg"], marker="s", markersize=3, label="NDCG@K")
    ax.set_xlabel("K")
    ax.set_ylabel("metric")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
