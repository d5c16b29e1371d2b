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


def validity_rate(items: np.ndarray, num_items: int | None) -> float:
    """Share of returned ids that name a catalogue item; -1 padding and out-of-range ids are invalid.

    With ``num_items=None`` (catalogue size unknown) only the -1 padding counts as invalid.
    """
    if items.size == 0:
        return 0.0
    valid = items >= 0 if num_items is None else (items >= 0) & (items < num_items)
    return float(valid.mean())


def recommendation_counts(items: np.ndarray, num_items: int, k: int) -> np.ndarray:
    """How often each catalogue item appears in the users' top-k lists, shape (num_items,)."""
    top = items[:, :k].ravel()
    top = top[(top >= 0) & (top < num_items)]
    return np.bincount(top, minlength=num_items).astype(np.int64)


def coverage_at_k(items: np.ndarray, num_items: int, k: int) -> float:
    """Share of the catalogue recommended to at least one user within the top k."""
    if num_items < 1:
        return 0.0
    return float((recommendation_counts(items, num_items, k) > 0).mean())


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts: 0 when all are equal, -> 1 when one item takes everything.

    Uses the sorted-values form G = sum_i (2i - n - 1) x_(i) / (n * sum x), i = 1..n ascending.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def popularity_percentiles(item_counts: np.ndarray) -> np.ndarray:
    """Each item's popularity percentile in [0, 1] (1 = most popular); tied counts share the mean rank."""
    from scipy.stats import rankdata

    n = len(item_counts)
    if n <= 1:
        return np.ones(n, dtype=np.float64)
    return (rankdata(item_counts, method="average") - 1.0) / (n - 1)


def mean_popularity_percentile(items: np.ndarray, percentiles: np.ndarray, k: int) -> float:
    """Mean popularity percentile of the valid items in the users' top-k lists (nan if there are none)."""
    top = items[:, :k].ravel()
    top = top[(top >= 0) & (top < len(percentiles))]
    return float(percentiles[top].mean()) if top.size else float("nan")
