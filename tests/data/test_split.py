from __future__ import annotations

import numpy as np
import pytest

from genrec.data import Catalogue, InteractionData, leave_one_out
from genrec.errors import ConfigError


def _data() -> InteractionData:
    catalogue = Catalogue.from_records([f"i{i}" for i in range(30)])
    rng = np.random.default_rng(0)
    seqs = [tuple(int(x) for x in rng.choice(30, size=n, replace=False)) for n in (2, 3, 5, 25, 1, 8)]
    return InteractionData("toy", catalogue, tuple(f"u{i}" for i in range(len(seqs))), tuple(seqs))


def test_targets_are_last_and_second_to_last() -> None:
    data = _data()
    split = leave_one_out(data, max_history=4)
    kept = [s for s in data.sequences if len(s) >= 3]
    assert split.num_users == len(kept) == 4
    assert split.dropped_users == 2
    for seq, train, valid, test in zip(kept, split.train, split.valid_target, split.test_target, strict=True):
        assert test == seq[-1]
        assert valid == seq[-2]
        assert train == seq[:-2]


def test_targets_never_in_their_own_training_input() -> None:
    split = leave_one_out(_data(), max_history=4)
    for hist, valid, test in zip(split.valid_histories(), split.valid_target, split.test_target, strict=True):
        assert valid not in hist and test not in hist
    for hist, test in zip(split.test_histories(), split.test_target, strict=True):
        assert test not in hist


def test_histories_truncated_to_most_recent_items() -> None:
    data = _data()
    split = leave_one_out(data, max_history=4)
    long_user = split.users.index("u3")
    seq = data.sequences[3]
    assert split.valid_histories()[long_user] == list(seq[-6:-2])
    assert split.test_histories()[long_user] == list(seq[-5:-1])
    assert split.test_histories(truncate=False)[long_user] == list(seq[:-1])
    assert split.test_set().histories[long_user] == list(seq[:-1])


def test_split_identical_across_runs() -> None:
    a, b = leave_one_out(_data()), leave_one_out(_data())
    assert a.train == b.train and a.users == b.users
    np.testing.assert_array_equal(a.valid_target, b.valid_target)
    np.testing.assert_array_equal(a.test_target, b.test_target)


def test_rejects_non_positive_max_history() -> None:
    with pytest.raises(ConfigError, match="max_history"):
        leave_one_out(_data(), max_history=0)


def test_sample_draws_distinct_users_in_their_order_by_seed() -> None:
    valid = leave_one_out(_data(), max_history=4).valid_set()
    a, b = valid.sample(2, seed=7), valid.sample(2, seed=7)
    assert a.users == b.users and len(set(a.users)) == 2
    positions = [valid.users.index(u) for u in a.users]
    assert positions == sorted(positions)
    for user, target in zip(a.users, a.targets, strict=True):
        assert target == valid.targets[valid.users.index(user)]
    assert valid.sample(len(valid), seed=7) is valid and valid.sample(10**6, seed=1) is valid
