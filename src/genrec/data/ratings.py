"""Explicit ratings (MovieLens-100K keeps its 1-5 stars), a time split, and preference-prediction examples.

The implicit loaders (`genrec.data.loaders`) keep only *which* items a user touched. Preference prediction
(TALLRec, Bao et al. 2023) needs *how* they rated them: given a user's most recent rated movies, each
shown as liked (rating >= 4, i.e. TALLRec's ``rating > 3``) or disliked, does the user like the target?

- `Ratings`: one row per rating (user, item index into the ``load_movielens_100k()`` catalogue, rating,
  timestamp), sorted chronologically (ties keep file order).
- `time_split`: a deterministic global split by time, 8:1:1 by default: the first 80% of the ratings in
  time train, the next 10% validate, the last 10% test. Held-out examples therefore come later in time
  than every training one (users and items seen only late are new to the models).
- `preference_examples`: for each rating (u, i, t), the user's ``history_len`` most recent ratings
  strictly before t (each liked/disliked), target i, label ``rating >= like_threshold``. A rating whose
  user has no earlier rating has no history and is dropped (counted per part). Histories may use the
  user's own earlier held-out ratings: those are known at prediction time, as in TALLRec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genrec.data.catalogue import Catalogue
from genrec.errors import DataError

PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class Ratings:
    """Explicit ratings, chronological; arrays have one entry per rating, shape (ratings,).

    ``user`` indexes ``users`` (the raw user ids); ``item`` indexes ``catalogue``.
    """

    name: str
    catalogue: Catalogue
    users: tuple[str, ...]
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.user)
        if not (len(self.item) == len(self.rating) == len(self.timestamp) == n):
            raise DataError(f"{self.name}: rating arrays differ in length")
        if n and np.any(np.diff(self.timestamp) < 0):
            raise DataError(f"{self.name}: ratings must be sorted by timestamp")

    def __len__(self) -> int:
        return len(self.user)


def load_movielens_ratings(directory: Path | None = None) -> Ratings:
    """MovieLens-100K's 100,000 ratings with their stars, items indexed like ``load_movielens_100k()``."""
    from genrec.assets import movielens_100k_dir
    from genrec.data.loaders.movielens import load_movielens_100k
    from genrec.data.loaders.recbole_atomic import read_atomic

    root = directory or movielens_100k_dir()
    catalogue = load_movielens_100k(root).catalogue
    path = root / "ml-100k.inter"
    names, rows = read_atomic(path)
    missing = [c for c in ("user_id", "item_id", "rating", "timestamp") if c not in names]
    if missing:
        raise DataError(f"missing columns {missing}", path=path)
    u, i, r, t = (names.index(c) for c in ("user_id", "item_id", "rating", "timestamp"))
    user_ids: dict[str, int] = {}
    users, items, stars, times = [], [], [], []
    for line_no, row in enumerate(rows, start=2):
        try:
            items.append(catalogue.index_of(row[i].strip()))
            stars.append(float(row[r]))
            times.append(int(float(row[t])))
        except (KeyError, ValueError) as exc:
            raise DataError(f"bad rating row: {exc}", path=path, line=line_no) from None
        users.append(user_ids.setdefault(row[u].strip(), len(user_ids)))
    order = np.argsort(np.asarray(times, dtype=np.int64), kind="stable")  # chronological, ties: file order
    return Ratings(
        name="ml-100k",
        catalogue=catalogue,
        users=tuple(user_ids),
        user=np.asarray(users, dtype=np.int64)[order],
        item=np.asarray(items, dtype=np.int64)[order],
        rating=np.asarray(stars, dtype=np.float32)[order],
        timestamp=np.asarray(times, dtype=np.int64)[order],
    )


def time_split(ratings: Ratings, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Part of each rating (0 train, 1 valid, 2 test), by position in time: deterministic, (ratings,)."""
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise DataError(f"time_split: fractions must be three positive numbers summing to 1, got {fractions}")
    n = len(ratings)
    first = round(n * fractions[0])
    second = round(n * (fractions[0] + fractions[1]))
    part = np.zeros(n, dtype=np.int64)
    part[first:second] = 1
    part[second:] = 2
    return part


@dataclass(frozen=True)
class PreferenceExample:
    """One question: the user's recent (item, liked) history before ``timestamp``; is ``target`` liked?"""

    user: int
    history: tuple[int, ...]
    liked: tuple[bool, ...]
    target: int
    label: int
    rating: float
    timestamp: int


@dataclass(frozen=True)
class PreferenceData:
    """The examples of each part (``train``/``valid``/``test``) and the ratings dropped for no history."""

    train: list[PreferenceExample]
    valid: list[PreferenceExample]
    test: list[PreferenceExample]
    dropped: dict[str, int] = field(default_factory=dict)

    def part(self, name: str) -> list[PreferenceExample]:
        if name not in PARTS:
            raise DataError(f"unknown part {name!r}; expected one of {PARTS}")
        out: list[PreferenceExample] = getattr(self, name)
        return out

    def sizes(self) -> dict[str, int]:
        return {name: len(self.part(name)) for name in PARTS}


def preference_examples(
    ratings: Ratings,
    part: np.ndarray,
    history_len: int = 10,
    like_threshold: float = 4.0,
) -> PreferenceData:
    """The examples of every rating (module docstring); history = ratings strictly earlier in time."""
    if history_len < 1:
        raise DataError(f"history_len must be >= 1, got {history_len}")
    if len(part) != len(ratings):
        raise DataError(f"part has {len(part)} entries for {len(ratings)} ratings")
    liked = ratings.rating >= like_threshold  # (ratings,)
    by_user: dict[int, list[int]] = {}
    for row, user in enumerate(ratings.user.tolist()):
        by_user.setdefault(user, []).append(row)  # chronological rows of each user
    out: list[list[PreferenceExample]] = [[], [], []]
    dropped = [0, 0, 0]
    for user, rows in by_user.items():
        times = ratings.timestamp[rows]  # (user's ratings,), non-decreasing
        for k, row in enumerate(rows):
            start = int(np.searchsorted(times, times[k], side="left"))  # first rating at this time
            earlier = rows[max(0, start - history_len) : start]
            p = int(part[row])
            if not earlier:
                dropped[p] += 1
                continue
            out[p].append(
                PreferenceExample(
                    user=user,
                    history=tuple(int(ratings.item[r]) for r in earlier),
                    liked=tuple(bool(liked[r]) for r in earlier),
                    target=int(ratings.item[row]),
                    label=int(liked[row]),
                    rating=float(ratings.rating[row]),
                    timestamp=int(ratings.timestamp[row]),
                )
            )
    for examples in out:
        examples.sort(key=lambda e: e.timestamp)  # stable: chronological, users in first-seen order
    return PreferenceData(out[0], out[1], out[2], dropped=dict(zip(PARTS, dropped, strict=True)))


def sample_examples(examples: list[PreferenceExample], n: int, seed: int) -> list[PreferenceExample]:
    """``n`` examples drawn without replacement by ``seed``, kept in order (all when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(examples):
        return list(examples)
    rng = np.random.default_rng(seed)
    return [examples[i] for i in sorted(rng.choice(len(examples), size=n, replace=False).tolist())]
