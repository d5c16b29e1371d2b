"""Turning a dense (users, items) score matrix into top-K recommendations, with history exclusion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from genrec.recommenders.base import Recommendations


def mask_history(scores: np.ndarray, histories: Sequence[Sequence[int]]) -> None:
    """Set the score of every in-catalogue history item to -inf, in place."""
    n_users, n_items = scores.shape
    rows = np.repeat(np.arange(n_users), [len(h) for h in histories])
    cols = np.fromiter((int(i) for h in histories for i in h), dtype=np.int64, count=len(rows))
    keep = (cols >= 0) & (cols < n_items)
    scores[rows[keep], cols[keep]] = -np.inf


def _select_top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best items per row (any order), equal scores resolved towards lower indices."""
    n_users, n_items = scores.shape
    if k == n_items:
        return np.broadcast_to(np.arange(n_items), (n_users, n_items)).copy()
    # The k-th largest score per row; everything strictly above it is in, ties at it fill by index.
    t = torch.from_numpy(scores)  # (users, items), shares memory
    kth = torch.topk(t, k, dim=1, sorted=False).values.min(dim=1, keepdim=True).values  # (users, 1)
    above = t > kth  # (users, items)
    need = k - above.sum(dim=1, keepdim=True)  # (users, 1)
    at = t == kth
    chosen = above | (at & (torch.cumsum(at, dim=1) <= need))
    return torch.nonzero(chosen)[:, 1].reshape(n_users, k).numpy()  # row-major: ascending within a row


def top_k_from_scores(
    scores: np.ndarray, histories: Sequence[Sequence[int]], k: int, exclude_history: bool
) -> Recommendations:
    """Top-``k`` per row of ``scores`` (users, items); history items get -inf when excluded.

    Ties are broken by the lower item index, so results are deterministic; items scored -inf (excluded)
    are never returned: such slots hold item -1 and score -inf. ``scores`` is modified in place.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n_users, n_items = scores.shape
    scores[np.isnan(scores)] = -np.inf
    if exclude_history:
        mask_history(scores, histories)
    k_eff = min(k, n_items)
    if n_users == 0 or k_eff == 0:
        empty = np.full((n_users, k), -1, dtype=np.int64)
        return Recommendations(items=empty, scores=np.full((n_users, k), -np.inf, dtype=np.float32))
    cand = _select_top(scores, k_eff)  # (users, k) unordered
    cand_scores = np.take_along_axis(scores, cand, axis=1)
    # Stable sort by descending score keeps the ascending-index order among equal scores.
    order = np.argsort(-cand_scores, axis=1, kind="stable")
    items = np.take_along_axis(cand, order, axis=1)
    top_scores = np.take_along_axis(cand_scores, order, axis=1)
    items = np.where(np.isfinite(top_scores), items, -1).astype(np.int64)
    if k_eff < k:
        pad = k - k_eff
        items = np.pad(items, ((0, 0), (0, pad)), constant_values=-1)
        top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    return Recommendations(items=items, scores=top_scores.astype(np.float32))
