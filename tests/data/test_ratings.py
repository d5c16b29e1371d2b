"""Explicit ratings, the time split and preference examples (`genrec.data.ratings`)."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.data.catalogue import Catalogue
from genrec.data.ratings import (
    Ratings,
    load_movielens_ratings,
    preference_examples,
    sample_examples,
    time_split,
)
from genrec.errors import DataError


def make_ratings(seed: int = 0, n: int = 400, users: int = 12, items: int = 30) -> Ratings:
    """Random ratings with many equal timestamps (so ties are exercised), sorted by time."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.integers(0, 120, size=n))  # (n,): about 3 ratings per distinct time
    catalogue = Catalogue.from_records([str(i) for i in range(items)])
    return Ratings(
        name="tiny",
        catalogue=catalogue,
        users=tuple(f"u{u}" for u in range(users)),
        user=rng.integers(0, users, size=n),
        item=rng.integers(0, items, size=n),
        rating=rng.integers(1, 6, size=n).astype(np.float32),
        timestamp=times,
    )


def test_split_is_by_time_and_deterministic() -> None:
    ratings = make_ratings()
    part = time_split(ratings)
    assert np.array_equal(part, time_split(ratings))
    assert np.all(np.diff(part) >= 0), "parts follow time order: train, then valid, then test"
    assert np.bincount(part).tolist() == [320, 40, 40]
    assert ratings.timestamp[part == 0].max() <= ratings.timestamp[part == 2].min()
    with pytest.raises(DataError, match="fractions"):
        time_split(ratings, (0.5, 0.5, 0.5))


def test_examples_use_only_earlier_ratings_and_label_by_four_stars() -> None:
    ratings = make_ratings(seed=1)
    part = time_split(ratings)
    data = preference_examples(ratings, part, history_len=4)
    train_times = [e.timestamp for e in data.train]
    for name in ("valid", "test"):
        assert min(e.timestamp for e in data.part(name)) >= max(train_times)
    rows = {}
    for r in range(len(ratings)):  # user -> (time, item, liked) of every rating
        rows.setdefault(int(ratings.user[r]), []).append(
            (int(ratings.timestamp[r]), int(ratings.item[r]), bool(ratings.rating[r] >= 4))
        )
    total = 0
    for name in ("train", "valid", "test"):
        for e in data.part(name):
            total += 1
            assert e.label == int(e.rating >= 4)
            earlier = [(i, ok) for t, i, ok in rows[e.user] if t < e.timestamp]
            assert 1 <= len(e.history) <= 4
            assert list(zip(e.history, e.liked, strict=True)) == earlier[-4:], (
                "the 4 most recent, strictly before"
            )
    assert total + sum(data.dropped.values()) == len(ratings)
    assert sum(data.dropped.values()) >= len(ratings.users) - 1, "each user's first rating has no history"


def test_sample_is_seeded_and_ordered() -> None:
    ratings = make_ratings()
    data = preference_examples(ratings, time_split(ratings))
    a, b = sample_examples(data.train, 20, 3), sample_examples(data.train, 20, 3)
    assert a == b and len(a) == 20
    assert [e.timestamp for e in a] == sorted(e.timestamp for e in a)
    assert sample_examples(data.train, 0, 3) == data.train


def test_movielens_keeps_its_stars() -> None:
    ratings = load_movielens_ratings()
    assert len(ratings) == 100_000
    assert set(np.unique(ratings.rating).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert np.all(np.diff(ratings.timestamp) >= 0)
    star_wars = ratings.catalogue.index_of("50")
    assert "Star Wars" in ratings.catalogue.title(star_wars)
    assert (ratings.item == star_wars).sum() == 583  # its ratings in u.data
