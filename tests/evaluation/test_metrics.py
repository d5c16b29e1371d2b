"""Metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genrec.evaluation.metrics import (
    coverage_at_k,
    gini,
    hit_rate_at_k,
    mean_popularity_percentile,
    mrr_at_k,
    ndcg_at_k,
    popularity_percentiles,
    recommendation_counts,
    target_ranks,
    validity_rate,
)


def test_target_ranks_one_based_zero_if_absent() -> None:
    items = np.array([[5, 3, 9], [1, 2, 4], [7, -1, -1]])
    assert target_ranks(items, np.array([3, 8, 7])).tolist() == [2, 0, 1]


def test_ranking_metrics_by_hand() -> None:
    ranks = np.array([1, 2, 0, 11])
    assert hit_rate_at_k(ranks, 1).tolist() == [1, 0, 0, 0]
    assert hit_rate_at_k(ranks, 10).tolist() == [1, 1, 0, 0]
    assert ndcg_at_k(ranks, 10)[1] == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(ranks, 10).tolist()[2:] == [0.0, 0.0]
    assert ndcg_at_k(ranks, 20)[3] == pytest.approx(1 / math.log2(12))
    assert mrr_at_k(ranks, 20).tolist() == pytest.approx([1.0, 0.5, 0.0, 1 / 11])


def test_gini() -> None:
    assert gini(np.array([4, 4, 4, 4])) == 0.0
    assert gini(np.array([0, 0, 0, 8])) == pytest.approx(0.75)  # (n-1)/n for one item taking all
    assert gini(np.array([1, 3])) == pytest.approx(0.25)  # (-1*1 + 1*3) / (2*4)
    assert gini(np.zeros(3)) == 0.0


def test_coverage_validity_counts() -> None:
    items = np.array([[0, 1, -1], [1, 7, 2]])
    assert validity_rate(items, num_items=5) == pytest.approx(4 / 6)  # -1 and 7 are invalid
    assert validity_rate(items, num_items=None) == pytest.approx(5 / 6)  # size unknown: only -1 is invalid
    assert validity_rate(np.zeros((0, 3), dtype=np.int64), num_items=None) == 0.0
    assert recommendation_counts(items, 5, k=2).tolist() == [1, 2, 0, 0, 0]
    assert coverage_at_k(items, 5, k=2) == pytest.approx(2 / 5)
    assert coverage_at_k(items, 5, k=3) == pytest.approx(3 / 5)


def test_popularity_percentiles() -> None:
    pct = popularity_percentiles(np.array([10, 0, 5, 5]))
    assert pct.tolist() == pytest.approx([1.0, 0.0, 0.5, 0.5])
    items = np.array([[0, 1], [2, -1]])
    assert mean_popularity_percentile(items, pct, k=2) == pytest.approx(0.5)
    assert math.isnan(mean_popularity_percentile(np.array([[-1]]), pct, k=1))
