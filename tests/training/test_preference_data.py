"""Preference pairs: negatives outside history and positive, seeded per epoch, cached on disk, by source."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from genrec.errors import ConfigError, GenrecError
from genrec.training.preference_data import PairBuilder, PreferenceConfig, target_positions

N_ITEMS = 30


def _sequences() -> list[list[int]]:
    rng = np.random.default_rng(5)
    return [rng.choice(N_ITEMS, size=int(n), replace=False).tolist() for n in rng.integers(2, 12, 40)]


def _config(**values: object) -> PreferenceConfig:
    return PreferenceConfig(**{"negatives": 4, "targets": "all", **values})


def _assert_valid(builder: PairBuilder, epoch: int) -> np.ndarray:
    pairs = builder.pairs(epoch)
    seqs = builder.sequences
    for user, pos, negatives in zip(pairs.users, pairs.positions, pairs.negatives, strict=True):
        seq = seqs[int(user)]
        forbidden = set(seq[: int(pos)]) | {seq[int(pos)]}
        assert not forbidden & set(negatives.tolist())
        assert all(0 <= i < N_ITEMS for i in negatives)
    return pairs.negatives


@pytest.mark.parametrize("source", ["uniform", "popularity"])
def test_negatives_avoid_history_and_positive(source: str) -> None:
    builder = PairBuilder(_sequences(), N_ITEMS, _config(negative_source=source))
    negatives = _assert_valid(builder, 0)
    assert negatives.shape == (sum(len(s) - 1 for s in _sequences()), 4)
    assert all(len(set(row)) == 4 for row in negatives.tolist())  # drawn without replacement


def test_last_targets_are_one_per_user() -> None:
    users, positions = target_positions([[1, 2, 3], [4], [5, 6]], "last")
    assert users.tolist() == [0, 2] and positions.tolist() == [2, 1]


def test_seeded_per_epoch() -> None:
    make = lambda seed: PairBuilder(_sequences(), N_ITEMS, _config(seed=seed))  # noqa: E731
    first = make(0).pairs(0).negatives
    np.testing.assert_array_equal(first, make(0).pairs(0).negatives)
    assert not np.array_equal(first, make(0).pairs(1).negatives)
    assert not np.array_equal(first, make(1).pairs(0).negatives)


def test_popularity_prefers_popular_items() -> None:
    popular = [[0, i] for i in range(1, N_ITEMS)] + [[1, 2]] * 200  # items 1 and 2 are the most frequent
    builder = PairBuilder(popular, N_ITEMS, _config(negatives=1, negative_source="popularity"))
    negatives = builder.pairs(0).negatives[: N_ITEMS - 1, 0]  # the targets whose history is item 0 only
    counts = np.bincount(negatives, minlength=N_ITEMS)
    assert counts[1] + counts[2] > 0.5 * len(negatives)
    uniform = PairBuilder(popular, N_ITEMS, _config(negatives=1)).pairs(0).negatives[: N_ITEMS - 1, 0]
    assert np.isin(uniform, [1, 2]).sum() < np.isin(negatives, [1, 2]).sum()


def test_cache_returns_the_same_pairs(tmp_path: Path) -> None:
    builder = PairBuilder(_sequences(), N_ITEMS, _config(), cache_dir=tmp_path)
    drawn = builder.pairs(2)
    path = builder.cache_path(2)
    assert path is not None and path.is_file()
    builder.draw = lambda epoch: pytest.fail("drew again despite the cache")  # type: ignore[method-assign]
    cached = builder.pairs(2)
    np.testing.assert_array_equal(cached.negatives, drawn.negatives)
    np.testing.assert_array_equal(cached.positions, drawn.positions)
    other_data = PairBuilder(_sequences()[:-1], N_ITEMS, _config(), cache_dir=tmp_path)
    assert other_data.cache_path(2) != path  # keyed by a hash of the data


def test_a_corrupt_cache_is_redrawn(tmp_path: Path) -> None:
    builder = PairBuilder(_sequences(), N_ITEMS, _config(), cache_dir=tmp_path)
    expected = builder.pairs(0).negatives
    path = builder.cache_path(0)
    assert path is not None
    path.write_bytes(b"not an npz file")
    np.testing.assert_array_equal(builder.pairs(0).negatives, expected)


def test_model_negatives_are_the_rankers_top_items_minus_the_positive() -> None:
    seqs = [[3, 4, 5], [7, 8]]
    seen: list[list[int]] = []

    def rank(histories: Sequence[Sequence[int]], k: int) -> np.ndarray:
        seen.extend(list(h) for h in histories)
        # "the model" ranks item (last + 1) first, then 10, 11, ...; -1 pads when asked for a lot
        return np.array([[h[-1] + 1, *range(10, 10 + k - 1)] for h in histories])

    builder = PairBuilder(seqs, N_ITEMS, _config(negatives=2, negative_source="model"), rank=rank)
    pairs = builder.pairs(0)
    # targets: user 0 at 1 (history [3], positive 4), at 2 ([3, 4] -> 5), user 1 at 1 ([7] -> 8)
    assert seen == [[3], [3, 4], [7]]
    assert pairs.negatives.tolist() == [[10, 11], [10, 11], [10, 11]]  # the ranker's 4 / 5 / 8 dropped
    builder.pairs(1)
    assert len(seen) == 3  # the SFT model ranks once, not once per epoch


def test_model_negatives_top_up_short_rankings() -> None:
    def rank(histories: Sequence[Sequence[int]], k: int) -> np.ndarray:
        return np.full((len(histories), k), -1)

    builder = PairBuilder([[1, 2, 3]], N_ITEMS, _config(negative_source="model"), rank=rank)
    _assert_valid(builder, 0)


def test_bad_configs_and_inputs_are_errors() -> None:
    with pytest.raises(ConfigError, match="negative_source"):
        PreferenceConfig(negative_source="random")
    with pytest.raises(ConfigError, match="betta"):
        PreferenceConfig(betta=0.1)
    with pytest.raises(ConfigError, match="beta"):
        PreferenceConfig(beta=0.0)
    with pytest.raises(GenrecError, match="needs a ranker"):
        PairBuilder(_sequences(), N_ITEMS, _config(negative_source="model"))
    with pytest.raises(GenrecError, match="whole catalogue"):
        PairBuilder([[0, 1, 2]], 3, _config()).pairs(0)
