"""Full-ranking evaluation of any ranker (a `genrec.recommenders.Recommender`, or anything with the same
``recommend``) on an `EvalSet`.

Every user gets a top-``k_max`` list over the whole catalogue (history items excluded unless asked
otherwise); ranking metrics come from the 1-based rank of the held-out target in that list. Beyond-accuracy
measures (coverage, Gini, popularity percentile) and the validity rate describe the lists themselves.
Per-user values are kept so two runs can be compared with a paired test (`genrec.evaluation.compare`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm import tqdm

from genrec.data.split import EvalSet
from genrec.evaluation.beyond_accuracy import beyond_accuracy
from genrec.evaluation.metrics import hit_rate_at_k, mrr_at_k, ndcg_at_k, target_ranks, validity_rate
from genrec.io.files import atomic_path

HR_CUTOFFS = (1, 5, 10, 20)
NDCG_CUTOFFS = (5, 10, 20)
#: Cutoff of the beyond-accuracy measures (coverage, Gini, popularity percentile).
LIST_CUTOFF = 10


@dataclass(frozen=True)
class EvaluationResult:
    """Aggregate metrics plus per-user target ranks (0 = not in the top ``k_max``) and the lists."""

    metrics: dict[str, float]
    ranks: np.ndarray
    items: np.ndarray
    users: tuple[str, ...] = ()
    targets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def per_user(self) -> pd.DataFrame:
        """One row per user: user, target, rank, and every ranking metric's per-user value."""
        k_max = self.items.shape[1] if self.items.ndim == 2 else 0
        frame = pd.DataFrame(
            {
                "user": list(self.users) if self.users else [str(i) for i in range(len(self.ranks))],
                "target": self.targets if len(self.targets) else np.full(len(self.ranks), -1),
                "rank": self.ranks,
            }
        )
        for k in HR_CUTOFFS:
            if k <= k_max:
                frame[f"hr@{k}"] = hit_rate_at_k(self.ranks, k)
        for k in NDCG_CUTOFFS:
            if k <= k_max:
                frame[f"ndcg@{k}"] = ndcg_at_k(self.ranks, k)
        frame["mrr"] = mrr_at_k(self.ranks, k_max)
        return frame

    def save_per_user(self, path: Path) -> None:
        """Write `per_user` as Parquet, atomically."""
        with atomic_path(Path(path)) as tmp:
            self.per_user().to_parquet(tmp, index=False)


def ranking_metrics(ranks: np.ndarray, k_max: int) -> dict[str, float]:
    """Mean HR@{1,5,10,20}, NDCG@{5,10,20} (cutoffs up to ``k_max``) and MRR within the top ``k_max``."""
    metrics: dict[str, float] = {}
    for k in HR_CUTOFFS:
        if k <= k_max:
            metrics[f"hr@{k}"] = float(hit_rate_at_k(ranks, k).mean()) if len(ranks) else 0.0
    for k in NDCG_CUTOFFS:
        if k <= k_max:
            metrics[f"ndcg@{k}"] = float(ndcg_at_k(ranks, k).mean()) if len(ranks) else 0.0
    mrr = float(mrr_at_k(ranks, k_max).mean()) if len(ranks) else 0.0
    metrics[f"mrr@{k_max}"] = mrr
    metrics["mrr"] = mrr
    return metrics


def list_metrics(items: np.ndarray, num_items: int, item_counts: np.ndarray | None) -> dict[str, float]:
    """Validity, coverage@10, Gini of recommendation counts and mean popularity percentile of the lists."""
    metrics = {"validity": validity_rate(items, num_items)}
    metrics.update(beyond_accuracy(items, num_items, item_counts, LIST_CUTOFF))
    return metrics


class Ranker(Protocol):
    """What evaluation needs of a recommender: top-k lists whose ``.items`` is an (users, k) index array.

    Structural, so evaluation sits below the recommenders it measures (docs/architecture.md).
    """

    def recommend(self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True) -> Any: ...


def _infer_num_items(recommender: Ranker, item_counts: np.ndarray | None) -> int | None:
    if item_counts is not None:
        return len(item_counts)
    value = getattr(recommender, "num_items", None)
    return int(value) if isinstance(value, int | np.integer) else None


def evaluate(
    recommender: Ranker,
    eval_set: EvalSet,
    *,
    k_max: int = 20,
    exclude_history: bool = True,
    batch_size: int = 256,
    num_items: int | None = None,
    item_counts: np.ndarray | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Rank the full catalogue for every user of ``eval_set`` and score the held-out target.

    ``num_items`` (defaults to ``len(item_counts)`` or the recommender's ``num_items``) enables the
    catalogue measures; ``item_counts`` (training interactions per item) enables the popularity percentile.
    Without a catalogue size, validity only counts -1 padding as invalid.
    """
    if k_max < 1 or batch_size < 1:
        raise ValueError(f"k_max and batch_size must be >= 1, got {k_max}, {batch_size}")
    start = time.perf_counter()
    chunks = []
    with tqdm(total=len(eval_set), desc="evaluate", unit="user", disable=not progress, leave=False) as bar:
        for lo in range(0, len(eval_set), batch_size):
            batch = eval_set.histories[lo : lo + batch_size]
            chunks.append(recommender.recommend(batch, k_max, exclude_history).items)
            bar.update(len(batch))
    items = np.concatenate(chunks) if chunks else np.zeros((0, k_max), dtype=np.int64)
    elapsed = time.perf_counter() - start
    ranks = target_ranks(items, eval_set.targets)
    metrics = ranking_metrics(ranks, k_max)
    n_items = num_items if num_items is not None else _infer_num_items(recommender, item_counts)
    if n_items is not None:
        metrics.update(list_metrics(items, n_items, item_counts))
    else:
        metrics["validity"] = validity_rate(items, None)
    metrics["users"] = float(len(eval_set))
    metrics["wall_time_s"] = elapsed
    metrics["ms_per_user"] = 1000.0 * elapsed / max(len(eval_set), 1)
    return EvaluationResult(
        metrics=metrics, ranks=ranks, items=items, users=tuple(eval_set.users), targets=eval_set.targets
    )
