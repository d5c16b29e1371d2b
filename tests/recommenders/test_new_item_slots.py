"""Reserved new-item places: the model's list, its last places given to its own best new items."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pytest

from genrec.recommenders.base import Recommendations
from genrec.recommenders.new_item_slots import NewItemSlots, with_new_slots
from recommenders.test_new_item_cap import FixedScores


def best_with_slots(scores: np.ndarray, new: set[int], history: set[int], k: int, m: int) -> list[int]:
    """Brute force: the model's top k; if it has fewer than m new items, its lowest known items give way to
    the best-scored new items not listed, appended in score order."""
    ranked = [int(i) for i in np.argsort(-scores, kind="stable") if int(i) not in history]
    top = ranked[:k]
    missing = m - sum(i in new for i in top)
    if missing <= 0:
        return top
    extra = [i for i in ranked if i in new and i not in top][:missing]
    known_positions = [p for p, i in enumerate(top) if i not in new]
    gone = set(known_positions[len(known_positions) - missing :])
    return [i for p, i in enumerate(top) if p not in gone] + extra


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.2, 0.3, 0.5])
def test_slots_give_the_last_places_to_the_best_new_items(epsilon: float) -> None:
    rng = np.random.default_rng(5)
    scores = rng.normal(size=60)
    new = {int(i) for i in np.argsort(scores)[:15]}  # the 15 worst-scored items are the new ones
    model = FixedScores(scores)
    wrapped = NewItemSlots(model, new, epsilon)
    histories = [[0, 1, 2], [int(np.argmin(scores))]]  # the second history holds the best new item
    recs = wrapped.recommend(histories, 10)
    for row, history in enumerate(histories):
        expected = best_with_slots(scores, new, set(history), 10, int(epsilon * 10 + 1e-9))
        assert recs.items[row].tolist() == expected
        assert set(expected).isdisjoint(history)
        assert np.all(np.diff(recs.scores[row]) <= 0), "a list stays sorted by score"


def test_epsilon_zero_is_the_model_unchanged() -> None:
    scores = np.linspace(1.0, 0.0, 30)
    model = FixedScores(scores)
    plain = model.recommend([[1]], 5)
    slotted = NewItemSlots(model, {20, 25}, 0.0).recommend([[1]], 5)
    assert slotted.items.tolist() == plain.items.tolist() == [[0, 2, 3, 4, 5]]


def test_a_list_already_holding_enough_new_items_is_kept() -> None:
    scores = np.linspace(1.0, 0.0, 30)
    recs = NewItemSlots(FixedScores(scores), {0, 1, 29}, 0.2).recommend([[]], 5)
    assert recs.items.tolist() == [[0, 1, 2, 3, 4]]


def test_a_listed_new_item_keeps_its_place_when_known_items_make_way() -> None:
    scores = np.linspace(1.0, 0.0, 30)  # item 4 (new) is last in the top 5; 20 is the next best new item
    recs = NewItemSlots(FixedScores(scores), {4, 20, 25}, 0.4).recommend([[]], 5)
    assert recs.items.tolist() == [[0, 1, 2, 4, 20]]


class AmongOnly(FixedScores):
    """A model whose `recommend_among` is the only way to reach the new items (its lists never hold them)."""

    def __init__(self, scores: np.ndarray, new: set[int]) -> None:
        super().__init__(scores)
        self.new = new
        self.asked: list[list[int]] = []

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        hidden = [list(h) + sorted(self.new) for h in histories]
        return super().recommend(hidden, k, exclude_history=True)

    def recommend_among(
        self, histories: Sequence[Sequence[int]], k: int, items: Collection[int], exclude_history: bool = True
    ) -> Recommendations:
        self.asked.append(sorted(items))
        others = [i for i in range(self.num_items) if i not in set(items)]
        return super().recommend([list(h) + others for h in histories], k, exclude_history=True)


def test_recommend_among_is_used_when_the_model_has_it() -> None:
    scores = np.linspace(1.0, 0.0, 20)
    model = AmongOnly(scores, {3, 9, 15})
    recs = NewItemSlots(model, {3, 9, 15}, 0.2).recommend([[9]], 10)
    known = [i for i in range(20) if i not in {3, 9, 15}]
    assert recs.items.tolist() == [[*known[:8], 3, 15]]  # 9 is history: the next best new item follows
    assert model.asked == [[3, 9, 15]]


def test_with_new_slots_pads_and_bad_inputs_are_refused() -> None:
    is_new = np.zeros(10, dtype=bool)
    is_new[[7, 8]] = True
    items = np.array([[1, 2, -1]])
    scores = np.array([[2.0, 1.0, -np.inf]])
    out, out_scores = with_new_slots(items, scores, np.array([[7, 8]]), is_new, 2)
    assert out.tolist() == [[1, 7, 8]] and out_scores[0, 0] == 2.0 and out_scores[0, 1] < 2.0
    model = FixedScores(np.zeros(5))
    with pytest.raises(ValueError, match="epsilon"):
        NewItemSlots(model, {1}, -0.1)
    with pytest.raises(ValueError, match="outside"):
        NewItemSlots(model, {9}, 0.1)
