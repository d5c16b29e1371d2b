"""Coverage, Gini and popularity percentile of top-K lists against values worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from genrec.data import EvalSet
from genrec.evaluation.beyond_accuracy import beyond_accuracy, item_counts
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.base import Recommendations

# 4 catalogue items; two users' top-2 lists recommend item 1 twice, items 0 and 2 once, item 3 never
LISTS = np.array([[0, 1], [1, 2]])
TRAIN = [[0, 0, 1], [0, 1, 2, 0], [0, 2, 1]]  # training counts: item 0 x5, item 1 x3, item 2 x2, item 3 x0


def test_item_counts_are_training_interactions_per_item() -> None:
    assert item_counts(TRAIN, 4).tolist() == [5, 3, 2, 0]
    assert item_counts([[0, 7, -1]], 2).tolist() == [1, 0]  # out-of-range ids are not counted


def test_measures_match_hand_computed_values() -> None:
    got = beyond_accuracy(LISTS, 4, item_counts(TRAIN, 4), k=2)
    # coverage: items {0, 1, 2} of 4
    assert got["coverage@2"] == pytest.approx(0.75)
    # Gini of counts [1, 2, 1, 0] sorted [0, 1, 1, 2]: sum (2i - n - 1) x_i / (n sum x) = (-1 + 1 + 6) / 16
    assert got["gini@2"] == pytest.approx(6 / 16)
    # percentiles of counts [5, 3, 2, 0]: ranks 4, 3, 2, 1 -> (rank - 1) / 3 = 1, 2/3, 1/3, 0;
    # recommended slots 0, 1, 1, 2 -> (1 + 2/3 + 2/3 + 1/3) / 4
    assert got["popularity_percentile@2"] == pytest.approx((1 + 2 / 3 + 2 / 3 + 1 / 3) / 4)


def test_equal_exposure_has_zero_gini_and_ties_share_a_percentile() -> None:
    lists = np.array([[0, 1], [2, 3]])
    got = beyond_accuracy(lists, 4, np.array([2, 2, 0, 0]), k=2)
    assert got["coverage@2"] == 1.0 and got["gini@2"] == 0.0
    # tied counts share their mean rank: items 0, 1 -> rank 3.5 -> 5/6; items 2, 3 -> rank 1.5 -> 1/6
    assert got["popularity_percentile@2"] == pytest.approx(0.5)


def test_padding_is_not_a_recommendation_and_k_is_capped() -> None:
    got = beyond_accuracy(np.array([[3, -1, -1]]), 4, None, k=10)
    assert got == {"coverage@3": 0.25, "gini@3": pytest.approx(0.75)}  # counts [0, 0, 0, 1]


class Fixed:
    num_items = 4

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        items = LISTS[: len(histories), :k]
        return Recommendations(items, np.ones(items.shape))


def test_the_evaluator_reports_the_same_measures() -> None:
    """The evaluator's hook: `list_metrics` reports exactly `beyond_accuracy` of the lists."""
    eval_set = EvalSet(users=("a", "b"), histories=[[3], [3]], targets=np.array([1, 0]))
    metrics = evaluate(Fixed(), eval_set, k_max=2, item_counts=item_counts(TRAIN, 4)).metrics
    expected = beyond_accuracy(LISTS, 4, item_counts(TRAIN, 4), k=2)
    assert {k: metrics[k] for k in expected} == pytest.approx(expected)
