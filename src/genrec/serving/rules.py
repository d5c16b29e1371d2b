"""Business rules inside ranking: per-request item exclusions and category filters that still return K items.

A rule is turned into a set of *excluded item indices* per request (``exclude_items`` directly;
``include_categories`` as "every item outside those categories"). Exclusion then happens where the model
ranks, so K allowed items come back whenever the catalogue has K allowed items:

1. A recommender with ``recommend_excluding(histories, k, exclusions, exclude_history)`` (see
   `SupportsExclusions`) removes the items itself, e.g. inside constrained decoding. Exact.
2. A recommender with a dense ``score(histories) -> (users, items)`` (SASRec, GRU4Rec) is ranked here:
   excluded items get score -inf before the top-K. Exact.
3. Any other `Recommender` is asked for a longer list (``2K`` first, doubling until every row has K
   allowed items or the model's list is exhausted; at most ``K + |excluded|`` is ever needed) and the
   excluded items are dropped. Exact for any model whose ranking does not depend on K (score-based
   models, popularity); for beam search a wider beam may find a different, still valid, list.

Exclusions are deliberately *not* passed as extra history: the history is the model's input, so padding
it with banned items would change what the model predicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from genrec.data.catalogue import Catalogue
from genrec.recommenders.base import Recommendations, Recommender
from genrec.recommenders.scoring import top_k_from_scores


@runtime_checkable
class SupportsExclusions(Protocol):
    """Optional recommender extension: rank with extra per-history exclusions applied inside decoding."""

    def recommend_excluding(
        self,
        histories: Sequence[Sequence[int]],
        k: int,
        exclusions: Sequence[Sequence[int]],
        exclude_history: bool = True,
    ) -> Recommendations: ...


def item_categories(catalogue: Catalogue) -> list[frozenset[str]]:
    """Each item's categories (comma-separated ``categories`` field), lower-cased and stripped."""
    values = catalogue.fields.get("categories", ("",) * len(catalogue))
    return [frozenset(c.strip().lower() for c in v.split(",") if c.strip()) for v in values]


def outside_categories(categories: Sequence[frozenset[str]], include: Sequence[str]) -> np.ndarray:
    """Indices of the items that carry none of ``include`` (case-insensitive), shape (n,)."""
    wanted = {c.strip().lower() for c in include}
    return np.asarray([i for i, cats in enumerate(categories) if not cats & wanted], dtype=np.int64)


def _filter_rows(
    recs: Recommendations, exclusions: Sequence[set[int]], k: int
) -> tuple[list[list[int]], list[list[float]]]:
    items_out, scores_out = [], []
    for row, banned in enumerate(exclusions):
        keep = [
            (int(i), float(s))
            for i, s in zip(recs.items[row], recs.scores[row], strict=True)
            if i >= 0 and int(i) not in banned
        ][:k]
        items_out.append([i for i, _ in keep])
        scores_out.append([s for _, s in keep])
    return items_out, scores_out


def _pack(items: list[list[int]], scores: list[list[float]], k: int) -> Recommendations:
    out_items = np.full((len(items), k), -1, dtype=np.int64)  # (users, k)
    out_scores = np.full((len(items), k), -np.inf, dtype=np.float32)
    for row, (its, scs) in enumerate(zip(items, scores, strict=True)):
        out_items[row, : len(its)] = its
        out_scores[row, : len(scs)] = scs
    return Recommendations(out_items, out_scores)


def _overfetch(
    recommender: Recommender,
    histories: Sequence[Sequence[int]],
    k: int,
    exclusions: Sequence[set[int]],
    exclude_history: bool,
    num_items: int,
) -> Recommendations:
    """Strategy 3 of the module docstring: ask for longer lists until K allowed items per row."""
    if not any(exclusions):
        return recommender.recommend(histories, k, exclude_history=exclude_history)
    items: list[list[int]] = [[] for _ in histories]
    scores: list[list[float]] = [[] for _ in histories]
    pending = list(range(len(histories)))
    fetch = min(num_items, 2 * k)
    while pending:
        recs = recommender.recommend([histories[r] for r in pending], fetch, exclude_history=exclude_history)
        got_items, got_scores = _filter_rows(recs, [exclusions[r] for r in pending], k)
        still = []
        for j, row in enumerate(pending):
            items[row], scores[row] = got_items[j], got_scores[j]
            exhausted = int((recs.items[j] >= 0).sum()) < fetch or fetch >= num_items
            if len(items[row]) < k and not exhausted:
                still.append(row)
        pending = still
        fetch = min(num_items, 2 * fetch)
    return _pack(items, scores, k)


def recommend_with_rules(
    recommender: Recommender,
    histories: Sequence[Sequence[int]],
    k: int,
    exclusions: Sequence[set[int]],
    exclude_history: bool,
    num_items: int,
) -> Recommendations:
    """Top-``k`` per history with ``exclusions[i]`` (item indices) never returned for history i.

    Rows are padded with item -1 / score -inf only when fewer than ``k`` allowed items exist.
    """
    if len(exclusions) != len(histories):
        raise ValueError(f"{len(histories)} histories but {len(exclusions)} exclusion sets")
    if isinstance(recommender, SupportsExclusions):
        return recommender.recommend_excluding(
            histories, k, [sorted(e) for e in exclusions], exclude_history=exclude_history
        )
    score = getattr(recommender, "score", None)
    if callable(score):
        dense = score(histories)  # (users, items)
        scores = (dense.numpy() if isinstance(dense, torch.Tensor) else np.asarray(dense)).astype(
            np.float64, copy=True
        )
        for row, banned in enumerate(exclusions):
            # items added after training lie beyond the score columns: never returned, nothing to mask
            inside = [i for i in banned if 0 <= i < scores.shape[1]]
            if inside:
                scores[row, inside] = -np.inf
        return top_k_from_scores(scores, histories, k, exclude_history)
    return _overfetch(recommender, histories, k, exclusions, exclude_history, num_items)
