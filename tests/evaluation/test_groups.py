"""Group-wise evaluation on a ranker whose lists are known: higher item index = better."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from genrec.data import EvalSet
from genrec.evaluation.groups import ALL_USERS, evaluate_groups, new_item_share
from genrec.recommenders.base import Recommendations
from genrec.recommenders.scoring import top_k_from_scores

NUM_ITEMS = 30
NEW_ITEMS = frozenset({29, 28})


class ByIndex:
    """Ranks items by descending index; records the exclude flag it was called with."""

    num_items = NUM_ITEMS

    def __init__(self) -> None:
        self.excluded: list[bool] = []

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        self.excluded.append(exclude_history)
        scores = np.tile(np.arange(NUM_ITEMS, dtype=np.float64), (len(histories), 1))  # (users, items)
        return top_k_from_scores(scores, histories, k, exclude_history)


def _eval_set() -> EvalSet:
    histories = [[0, 1], [29, 2], [28, 29], [5]]
    # ranks with history excluded: 29 -> 1; 28 -> 1 (29 in history); 27 -> 1 (both new in history); 20 -> 10
    targets = np.array([29, 28, 27, 20], dtype=np.int64)
    return EvalSet(("a", "b", "c", "d"), histories, targets)


def test_group_metrics_follow_the_ranks() -> None:
    ranker = ByIndex()
    groups = {"new-target": [0, 1], "known-target": [2, 3]}
    out = evaluate_groups(ranker, _eval_set(), groups, new_items=NEW_ITEMS)
    assert set(ranker.excluded) == {True}, "history is always excluded"
    assert out.metrics["new-target"]["hr@1"] == 1.0
    assert out.metrics["known-target"]["hr@1"] == 0.5
    assert out.metrics["known-target"]["ndcg@10"] == pytest.approx((1.0 + 1.0 / np.log2(11)) / 2)
    assert out.metrics[ALL_USERS]["hr@1"] == 0.75
    assert out.metrics[ALL_USERS]["users"] == 4.0 and out.metrics["new-target"]["users"] == 2.0
    # "all" is the user-weighted mean of two disjoint, complete groups
    mean = (out.metrics["new-target"]["ndcg@10"] + out.metrics["known-target"]["ndcg@10"]) / 2
    assert out.metrics[ALL_USERS]["ndcg@10"] == pytest.approx(mean)


def test_new_item_share_counts_new_items_in_the_top_10() -> None:
    out = evaluate_groups(ByIndex(), _eval_set(), {"first": [0], "third": [2]}, new_items=NEW_ITEMS)
    assert out.metrics["first"]["new_item_share@10"] == pytest.approx(0.2)  # 29 and 28 in the top 10
    assert out.metrics["third"]["new_item_share@10"] == 0.0  # both new items are in its history
    assert out.metrics[ALL_USERS]["new_item_share@10"] == pytest.approx((2 + 1 + 0 + 2) / 40)
    assert "| third |" in out.table()


def test_share_ignores_padding_and_is_nan_without_items() -> None:
    items = np.array([[28, -1, -1], [3, 4, -1]], dtype=np.int64)
    assert new_item_share(items, NEW_ITEMS) == pytest.approx(1 / 3)
    assert np.isnan(new_item_share(np.full((1, 10), -1, dtype=np.int64), NEW_ITEMS))


def test_bad_groups_are_rejected() -> None:
    with pytest.raises(ValueError, match="reserved"):
        evaluate_groups(ByIndex(), _eval_set(), {ALL_USERS: [0]})
    with pytest.raises(ValueError, match="outside"):
        evaluate_groups(ByIndex(), _eval_set(), {"g": [7]})
    with pytest.raises(ValueError, match="k_max"):
        evaluate_groups(ByIndex(), _eval_set(), {}, k_max=5)
