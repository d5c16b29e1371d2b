"""Full-ranking evaluation of any `Recommender` on an `EvalSet`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from genrec.data.split import EvalSet
from genrec.evaluation.metrics import hit_rate_at_k, mrr_at_k, ndcg_at_k, target_ranks
from genrec.recommenders.base import Recommender

HR_CUTOFFS = (1, 5, 10, 20)
NDCG_CUTOFFS = (5, 10, 20)


@dataclass(frozen=True)
class EvaluationResult:
    """Aggregate metrics plus per-user target ranks (0 = not in the top ``k_max``)."""

    metrics: dict[str, float]
    ranks: np.ndarray
    items: np.ndarray


def evaluate(
    recommender: Recommender,
    eval_set: EvalSet,
    *,
    k_max: int = 20,
    exclude_history: bool = True,
    batch_size: int = 256,
) -> EvaluationResult:
    """Rank the full catalogue for every user and score the held-out target."""
    start = time.perf_counter()
    chunks = []
    for lo in range(0, len(eval_set), batch_size):
        recs = recommender.recommend(eval_set.histories[lo : lo + batch_size], k_max, exclude_history)
        chunks.append(recs.items)
    items = np.concatenate(chunks) if chunks else np.zeros((0, k_max), dtype=np.int64)
    elapsed = time.perf_counter() - start
    ranks = target_ranks(items, eval_set.targets)
    metrics: dict[str, float] = {}
    for k in HR_CUTOFFS:
        if k <= k_max:
            metrics[f"hr@{k}"] = float(hit_rate_at_k(ranks, k).mean())
    for k in NDCG_CUTOFFS:
        if k <= k_max:
            metrics[f"ndcg@{k}"] = float(ndcg_at_k(ranks, k).mean())
    metrics[f"mrr@{k_max}"] = float(mrr_at_k(ranks, k_max).mean())
    metrics["users"] = float(len(eval_set))
    metrics["wall_time_s"] = elapsed
    metrics["ms_per_user"] = 1000.0 * elapsed / max(len(eval_set), 1)
    return EvaluationResult(metrics=metrics, ranks=ranks, items=items)
