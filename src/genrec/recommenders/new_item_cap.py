"""A cap on the share of new items in a top-K list (TIGER's epsilon for cold-start retrieval).

A model that can rank items nobody has interacted with (text-projected SASRec, the content baseline, a
generative model whose identifiers come from text) may flood a list with them. TIGER (Rajput et al.
2023) bounds that: at most ``floor(epsilon * K)`` of the K returned items may be new, and the remaining
places go to the best-ranked known items. `NewItemCap` wraps any `Recommender` and applies the bound
after ranking, so it works for score-based and beam-search models alike:

- the wrapped model is asked for a longer list (``2K`` first, doubling) until every row holds K items
  that respect the cap, or the model's list is exhausted;
- inside the cap, the order is the model's own: a new item keeps its place while the quota lasts, and
  later new items are dropped.

For a score-based model (its ranking of the first L items does not depend on L) the result is exactly
the best K items under the constraint. ``epsilon=1`` returns the model's list unchanged; ``epsilon=0``
returns known items only.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from genrec.data.split import EvalSet, TrainData
from genrec.recommenders.base import Recommendations, Recommender


def capped_rows(
    items: np.ndarray, scores: np.ndarray, is_new: np.ndarray, k: int, max_new: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep, per row, the first ``k`` valid items of ``items`` with at most ``max_new`` new ones.

    ``items``/``scores``: (users, L) ranked lists padded with -1; ``is_new``: (num_items,) bool.
    Returns the capped ``items`` and ``scores`` (users, k), padded with -1 / -inf, and ``full`` (users,)
    telling which rows reached ``k`` items.
    """
    users = items.shape[0]
    out_items = np.full((users, k), -1, dtype=np.int64)  # (users, k)
    out_scores = np.full((users, k), -np.inf, dtype=np.float32)
    full = np.zeros(users, dtype=bool)
    for row in range(users):
        taken, new_taken = 0, 0
        for item, score in zip(items[row], scores[row], strict=True):
            if item < 0 or taken == k:
                break
            if is_new[item]:
                if new_taken == max_new:
                    continue
                new_taken += 1
            out_items[row, taken], out_scores[row, taken] = item, score
            taken += 1
        full[row] = taken == k
    return out_items, out_scores, full


class NewItemCap:
    """Any recommender with at most ``floor(epsilon * k)`` new items in each top-``k`` list.

    ``new_items``: item indices that count as new (for example `NewItemSplit.new_items`). Fitting,
    saving and loading are the wrapped model's; the cap is a serving-time option, not part of the model.
    """

    def __init__(self, inner: Recommender, new_items: Collection[int], epsilon: float) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be within [0, 1], got {epsilon}")
        num_items = getattr(inner, "num_items", None)
        known_max = max(new_items, default=-1)
        size = int(num_items) if isinstance(num_items, int | np.integer) else known_max + 1
        if known_max >= size:
            raise ValueError(f"new item {known_max} is outside the model's {size} items")
        self.inner, self.epsilon = inner, float(epsilon)
        self.name = inner.name
        self.num_items = size
        self.is_new = np.zeros(size, dtype=bool)  # (num_items,)
        self.is_new[list(new_items)] = True

    def max_new(self, k: int) -> int:
        """How many new items a top-``k`` list may hold."""
        return math.floor(self.epsilon * k + 1e-9)

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        self.inner.fit(train, valid)

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """The wrapped model's top-``k`` under the cap (rows padded only when the model runs out)."""
        max_new = self.max_new(k)
        if max_new >= k:
            return self.inner.recommend(histories, k, exclude_history=exclude_history)
        out_items = np.full((len(histories), k), -1, dtype=np.int64)  # (users, k)
        out_scores = np.full((len(histories), k), -np.inf, dtype=np.float32)
        pending = np.arange(len(histories))
        fetch = min(self.num_items, 2 * k)
        while pending.size:
            recs = self.inner.recommend(
                [histories[int(r)] for r in pending], fetch, exclude_history=exclude_history
            )
            items, scores, full = capped_rows(recs.items, recs.scores, self.is_new, k, max_new)
            out_items[pending], out_scores[pending] = items, scores
            exhausted = ((recs.items >= 0).sum(axis=1) < fetch) | (fetch >= self.num_items)
            pending = pending[~full & ~exhausted]
            fetch = min(self.num_items, 2 * fetch)
        return Recommendations(out_items, out_scores)

    def save(self, directory: Path) -> None:
        self.inner.save(directory)

    @classmethod
    def load(cls, directory: Path) -> Recommender:
        raise TypeError("NewItemCap is a serving-time wrapper: load the model, then wrap it")
