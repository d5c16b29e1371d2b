"""The new-item cap (TIGER's epsilon): at most floor(eps*K) new items, otherwise the model's own order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from genrec.recommenders.base import Recommendations
from genrec.recommenders.new_item_cap import NewItemCap, capped_rows
from genrec.recommenders.scoring import top_k_from_scores


class FixedScores:
    """A score-based stand-in: every history gets the same item scores; counts the calls it answers."""

    name = "fixed"

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores
        self.num_items = len(scores)
        self.fetches: list[int] = []

    def fit(self, train: object, valid: object = None) -> None:  # pragma: no cover - not used
        pass

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        self.fetches.append(k)
        dense = np.tile(self.scores, (len(histories), 1)).astype(np.float64)
        return top_k_from_scores(dense, histories, k, exclude_history)

    def save(self, directory: Path) -> None:  # pragma: no cover - not used
        pass

    @classmethod
    def load(cls, directory: Path) -> FixedScores:  # pragma: no cover - not used
        raise NotImplementedError


def best_under_cap(scores: np.ndarray, new: set[int], history: set[int], k: int, max_new: int) -> list[int]:
    """Brute force: walk items by score and keep those the cap allows."""
    out, new_taken = [], 0
    for item in np.argsort(-scores, kind="stable"):
        if int(item) in history:
            continue
        if int(item) in new:
            if new_taken == max_new:
                continue
            new_taken += 1
        out.append(int(item))
        if len(out) == k:
            break
    return out


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.2, 0.5])
def test_cap_gives_the_best_list_the_cap_allows(epsilon: float) -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=60)
    new = {int(i) for i in np.argsort(-scores)[:25]}  # the 25 best-scored items are all new
    model = FixedScores(scores)
    capped = NewItemCap(model, new, epsilon)
    histories = [[0, 1, 2], [int(np.argmax(scores))]]
    recs = capped.recommend(histories, 10)
    for row, history in enumerate(histories):
        expected = best_under_cap(scores, new, set(history), 10, int(epsilon * 10))
        assert recs.items[row].tolist() == expected
        assert sum(i in new for i in recs.items[row]) <= int(epsilon * 10)
    # the top 20 holds at most 5 known items: the wrapper had to ask for a longer list
    assert model.fetches[0] == 20 and len(model.fetches) >= 2


def test_epsilon_one_is_the_model_unchanged_and_zero_is_known_items_only() -> None:
    scores = np.linspace(1.0, 0.0, 30)
    new = {0, 2, 4, 6}
    model = FixedScores(scores)
    assert NewItemCap(model, new, 1.0).recommend([[1]], 5).items.tolist() == [[0, 2, 3, 4, 5]]
    assert NewItemCap(model, new, 0.0).recommend([[1]], 5).items.tolist() == [[3, 5, 7, 8, 9]]


def test_rows_are_padded_only_when_the_catalogue_runs_out() -> None:
    scores = np.linspace(1.0, 0.0, 6)
    recs = NewItemCap(FixedScores(scores), {0, 1, 2, 3}, 0.2).recommend([[5]], 5)
    # known items left: 4 (5 is history); new allowed: floor(0.2 * 5) = 1 -> [0, 4] and padding
    assert recs.items.tolist() == [[0, 4, -1, -1, -1]]
    assert np.isneginf(recs.scores[0, 2:]).all()


def test_capped_rows_keeps_the_model_order_and_scores() -> None:
    items = np.array([[7, 3, 8, 1, -1]])
    scores = np.array([[5.0, 4.0, 3.0, 2.0, -np.inf]])
    is_new = np.zeros(10, dtype=bool)
    is_new[[7, 8]] = True
    out, out_scores, full = capped_rows(items, scores, is_new, 3, 1)
    assert (
        out.tolist() == [[7, 3, 1]] and out_scores.tolist() == [[5.0, 4.0, 2.0]] and full.tolist() == [True]
    )


def test_bad_epsilon_and_unknown_new_items_are_refused() -> None:
    model = FixedScores(np.zeros(5))
    with pytest.raises(ValueError, match="epsilon"):
        NewItemCap(model, {1}, 1.5)
    with pytest.raises(ValueError, match="outside"):
        NewItemCap(model, {9}, 0.1)
