"""Effects beyond accuracy of a set of top-K lists: catalogue coverage, concentration and popularity bias.

Preference training and RL are known to push popular items; these three measures show whether they do:

- ``coverage@K``: distinct items recommended to at least one user, over the catalogue size;
- ``gini@K``: Gini coefficient of how often each catalogue item (unrecommended ones included, as 0) is
  recommended: 0 when every item is recommended equally often, towards 1 when a few items take all slots;
- ``popularity_percentile@K``: the mean, over every recommended slot, of the item's percentile of training
  interaction counts in [0, 1] (1 = the most interacted-with item; tied counts share their mean rank).

The formulas live in `genrec.evaluation.metrics`; this module is the one place that bundles them (the
evaluator's list measures and `genrec align`'s record both call it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genrec.evaluation.metrics import (
    coverage_at_k,
    gini,
    mean_popularity_percentile,
    popularity_percentiles,
    recommendation_counts,
)

#: The cutoff reported by default (the lists' top 10).
CUTOFF = 10
KEYS = ("coverage", "gini", "popularity_percentile")


def item_counts(sequences: Sequence[Sequence[int]], num_items: int) -> np.ndarray:
    """Training interactions per catalogue item, (num_items,); out-of-range ids are ignored."""
    flat = np.fromiter((int(i) for seq in sequences for i in seq), dtype=np.int64)
    flat = flat[(flat >= 0) & (flat < num_items)]
    return np.bincount(flat, minlength=num_items).astype(np.int64)


def beyond_accuracy(
    items: np.ndarray, num_items: int, counts: np.ndarray | None, k: int = CUTOFF
) -> dict[str, float]:
    """coverage@k, gini@k and (given training ``counts``) popularity_percentile@k of ``items`` (users, >=k).

    ``k`` is capped at the lists' length; -1 padding and out-of-range ids are not recommendations.
    """
    k = min(k, items.shape[1]) if items.ndim == 2 else 0
    if not k or num_items < 1:
        return {}
    measures = {
        f"coverage@{k}": coverage_at_k(items, num_items, k),
        f"gini@{k}": gini(recommendation_counts(items, num_items, k)),
    }
    if counts is not None:
        percentiles = popularity_percentiles(np.asarray(counts))
        measures[f"popularity_percentile@{k}"] = mean_popularity_percentile(items, percentiles, k)
    return measures
