"""Reserved places for new items in a top-K list: the opposite lever to TIGER's cap.

`NewItemCap` bounds how many new items a list may hold; a model that never ranks new items high (a
generative model fitted before they existed: its beams follow the identifiers it was trained to emit) needs
the opposite. `NewItemSlots` guarantees ``floor(epsilon * K)`` of each top-K list to the model's *own* best
new items, chosen by the same model among the new items only:

- the model's top-K list is taken as it is; if it already holds ``m = floor(epsilon * K)`` new items, it
  is returned unchanged;
- otherwise its lowest-ranked known items make way for the model's best new items not already listed,
  which go at the end, until the list holds ``m`` new ones (new items already listed keep their places). Those are found by ranking among the new items only: `recommend_among` where the model
  has it (a generative model's beam search on a trie of the new items), else by asking the model for
  longer lists until enough new items appear.

The appended items keep their own order and are given scores below every kept item, so a list stays sorted.
``epsilon=0`` returns the model's lists unchanged. Which epsilon to use is a choice: make it on validation
users (`benchmarks/coldstart.py` does, per seed).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from genrec.data.split import EvalSet, TrainData
from genrec.recommenders.base import Recommendations, Recommender


def reserved_places(epsilon: float, k: int) -> int:
    """``floor(epsilon * k)``: how many places of a top-``k`` list are kept for new items."""
    return math.floor(epsilon * k + 1e-9)


def with_new_slots(
    items: np.ndarray, scores: np.ndarray, best_new: np.ndarray, is_new: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lists of ``items`` whose lowest known items make way for ``best_new`` until each holds ``m`` new items.

    ``items``/``scores``: (users, k) ranked lists padded with -1 / -inf; ``best_new``: (users, >= m) the
    model's best new items per row, best first, padded with -1; ``is_new``: (num_items,) bool. Returns the
    new (users, k) items and scores; a row with fewer than ``m`` new candidates gets what there is.
    """
    out_items, out_scores = items.copy(), scores.astype(np.float64, copy=True)
    k = items.shape[1]
    m = min(m, k)
    for row in range(items.shape[0]):
        listed = [int(i) for i in items[row] if i >= 0]
        have = sum(1 for i in listed if is_new[i])
        extra = [int(i) for i in best_new[row] if i >= 0 and int(i) not in listed][: max(0, m - have)]
        if not extra:
            continue
        # make room by dropping the lowest-ranked known items (the listed new items keep their places)
        drop = max(0, len(listed) + len(extra) - k)
        dropped: set[int] = set()
        for position in reversed(range(len(listed))):
            if len(dropped) == drop:
                break
            if not is_new[listed[position]]:
                dropped.add(position)
        kept = [p for p in range(len(listed)) if p not in dropped]
        floor = float(out_scores[row, kept[-1]]) if kept else 0.0
        floor = floor if np.isfinite(floor) else 0.0
        row_items = [listed[p] for p in kept] + extra
        row_scores = [float(out_scores[row, p]) for p in kept] + [floor - 1.0 - j for j in range(len(extra))]
        out_items[row] = -1
        out_scores[row] = -np.inf
        out_items[row, : len(row_items)] = row_items
        out_scores[row, : len(row_scores)] = row_scores
    return out_items, out_scores


class NewItemSlots:
    """Any recommender with ``floor(epsilon * k)`` places of each top-``k`` list kept for new items.

    ``new_items``: the indices that count as new. Fitting and saving are the wrapped model's; the slots are a
    serving-time option, not part of the model (see the module docstring).
    """

    def __init__(self, inner: Recommender, new_items: Collection[int], epsilon: float) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be within [0, 1], got {epsilon}")
        num_items = getattr(inner, "num_items", None)
        largest = max(new_items, default=-1)
        size = int(num_items) if isinstance(num_items, int | np.integer) else largest + 1
        if largest >= size:
            raise ValueError(f"new item {largest} is outside the model's {size} items")
        self.inner, self.epsilon = inner, float(epsilon)
        self.name = inner.name
        self.num_items = size
        self.new_items = sorted(int(i) for i in new_items)
        self.is_new = np.zeros(size, dtype=bool)  # (num_items,)
        self.is_new[self.new_items] = True

    def slots(self, k: int) -> int:
        """How many places of a top-``k`` list are kept for new items."""
        return reserved_places(self.epsilon, k)

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        self.inner.fit(train, valid)

    def best_new(
        self, histories: Sequence[Sequence[int]], m: int, exclude_history: bool = True
    ) -> np.ndarray:
        """(users, m) the model's best new items per history, best first, padded with -1."""
        among = getattr(self.inner, "recommend_among", None)
        if among is not None:
            return np.asarray(among(histories, m, self.new_items, exclude_history).items)
        out = np.full((len(histories), m), -1, dtype=np.int64)
        fetch = min(self.num_items, 2 * m)
        pending = np.arange(len(histories))
        while pending.size:
            recs = self.inner.recommend([histories[int(r)] for r in pending], fetch, exclude_history)
            done = np.zeros(len(pending), dtype=bool)
            for j, row in enumerate(pending):
                found = [int(i) for i in recs.items[j] if i >= 0 and self.is_new[i]][:m]
                out[row, : len(found)] = found
                done[j] = len(found) == m or (recs.items[j] >= 0).sum() < fetch
            pending = pending[~done] if fetch < self.num_items else pending[:0]
            fetch = min(self.num_items, 2 * fetch)
        return out

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """The wrapped model's top-``k`` with its last places given to new items as needed."""
        recs = self.inner.recommend(histories, k, exclude_history=exclude_history)
        m = self.slots(k)
        if m == 0 or not self.new_items:
            return recs
        items, scores = with_new_slots(
            recs.items, recs.scores, self.best_new(histories, m, exclude_history), self.is_new, m
        )
        return Recommendations(items, scores)

    def save(self, directory: Path) -> None:
        self.inner.save(directory)

    @classmethod
    def load(cls, directory: Path) -> Recommender:
        raise TypeError("NewItemSlots is a serving-time wrapper: load the model, then wrap it")
