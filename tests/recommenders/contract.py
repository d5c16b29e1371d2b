"""Contract tests every `Recommender` must pass; subclass `RecommenderContract` and define `make`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrec.data import LeaveOneOutSplit
from genrec.recommenders.base import Recommender


class RecommenderContract:
    """Mixin: protocol, shapes, history exclusion, seeded determinism, save/load, k > catalogue."""

    def make(self, seed: int) -> Recommender:
        raise NotImplementedError

    def fitted(self, split: LeaveOneOutSplit, seed: int = 0) -> Recommender:
        rec = self.make(seed)
        rec.fit(split.train_data(), split.valid_set())
        return rec

    def test_is_a_recommender(self) -> None:
        assert isinstance(self.make(0), Recommender)

    def test_shapes_and_validity(self, tiny_split: LeaveOneOutSplit) -> None:
        rec = self.fitted(tiny_split)
        hist = tiny_split.test_set().histories[:7]
        out = rec.recommend(hist, 5)
        assert out.items.shape == out.scores.shape == (7, 5)
        assert out.items.dtype == np.int64
        assert ((out.items >= 0) & (out.items < tiny_split.num_items)).all()
        assert all(len(set(row)) == len(row) for row in out.items.tolist())
        assert (np.diff(out.scores, axis=1) <= 1e-6).all(), "scores must be sorted best first"

    def test_history_excluded(self, tiny_split: LeaveOneOutSplit) -> None:
        rec = self.fitted(tiny_split)
        hist = tiny_split.test_set().histories
        out = rec.recommend(hist, 8, exclude_history=True)
        for row, h in zip(out.items.tolist(), hist, strict=True):
            assert not set(row) & set(h)

    def test_history_can_be_included(self, tiny_split: LeaveOneOutSplit) -> None:
        rec = self.fitted(tiny_split)
        n = tiny_split.num_items
        out = rec.recommend(tiny_split.test_set().histories, n, exclude_history=False)
        assert (np.sort(out.items, axis=1) == np.arange(n)).all(), "all items ranked when not excluding"

    def test_deterministic_under_seed(self, tiny_split: LeaveOneOutSplit) -> None:
        hist = tiny_split.test_set().histories
        a = self.fitted(tiny_split, seed=3).recommend(hist, 6)
        b = self.fitted(tiny_split, seed=3).recommend(hist, 6)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)

    def test_save_load_round_trip(self, tiny_split: LeaveOneOutSplit, tmp_path: Path) -> None:
        rec = self.fitted(tiny_split)
        rec.save(tmp_path / "model")
        loaded = type(rec).load(tmp_path / "model")
        hist = tiny_split.test_set().histories
        a, b = rec.recommend(hist, 6), loaded.recommend(hist, 6)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)

    def test_k_larger_than_catalogue(self, tiny_split: LeaveOneOutSplit) -> None:
        rec = self.fitted(tiny_split)
        hist = tiny_split.test_set().histories[:4]
        n = tiny_split.num_items
        out = rec.recommend(hist, n + 5)
        assert out.items.shape == (4, n + 5)
        for row, h in zip(out.items, hist, strict=True):
            valid = row[row >= 0]
            assert len(valid) == n - len(set(h)), "every non-history item exactly once"
            assert (row[len(valid) :] == -1).all(), "padding with -1 at the end"
