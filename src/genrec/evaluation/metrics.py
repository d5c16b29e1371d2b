"""Ranking metrics as pure functions of the 1-based rank of each user's target (0 = not retrieved)."""

from __future__ import annotations

import numpy as np


def target_ranks(items: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each target in its row of ``items`` (users, k); 0 where the target is absent."""
    hits = items == np.asarray(targets)[:, None]  # (users, k)
    found = hits.any(axis=1)
    return np.where(found, hits.argmax(axis=1) + 1, 0).astype(np.int64)


def hit_rate_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user HR@k: 1 if the target is within the top k."""
    return ((ranks >= 1) & (ranks <= k)).astype(np.float64)


def ndcg_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user NDCG@k with one relevant item: 1 / log2(rank + 1) inside the top k, else 0."""
    inside = (ranks >= 1) & (ranks <= k)
    return np.where(inside, 1.0 / np.log2(np.maximum(ranks, 1) + 1.0), 0.0)


def mrr_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Per-user reciprocal rank inside the top k, else 0."""
    inside = (ranks >= 1) & (ranks <= k)
    return np.where(inside, 1.0 / np.maximum(ranks, 1), 0.0)
