"""Turning a dense (users, items) score matrix into top-K recommendations, with history exclusion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genrec.recommenders.base import Recommendations


def top_k_from_scores(
    scores: np.ndarray, histories: Sequence[Sequence[int]], k: int, exclude_history: bool
) -> Recommendations:
    """Top-``k`` per row of ``scores`` (users, items); history items get -inf when excluded.

    Ties are broken by the lower item index, so results are deterministic. ``scores`` is modified.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n_users, n_items = scores.shape
    if exclude_history:
        rows = np.repeat(np.arange(n_users), [len(h) for h in histories])
        cols = np.fromiter((i for h in histories for i in h), dtype=np.int64, count=len(rows))
        scores[rows, cols] = -np.inf
    k_eff = min(k, n_items)
    # A stable sort of -scores keeps the lower index first among equal scores (exact, deterministic).
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k_eff]  # (users, k)
    top_scores = np.take_along_axis(scores, order, axis=1)
    items = np.where(np.isfinite(top_scores), order, -1).astype(np.int64)
    if k_eff < k:
        pad = k - k_eff
        items = np.pad(items, ((0, 0), (0, pad)), constant_values=-1)
        top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    return Recommendations(items=items, scores=top_scores.astype(np.float32))
