"""The new-item split's invariants: no new item outside validation/test targets, determinism, group counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from genrec.cli import app
from genrec.data import Catalogue, InteractionData
from genrec.data.new_items import KNOWN_TARGET, NEW_TARGET, choose_new_items, new_item_split
from genrec.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
NUM_ITEMS = 50


def _data(num_users: int = 120) -> InteractionData:
    """Random sequences of 2..12 distinct items, with text on every item."""
    rng = np.random.default_rng(1)
    ids = [f"i{i}" for i in range(NUM_ITEMS)]
    catalogue = Catalogue.from_records(ids, {i: {"title": f"title of {i}"} for i in ids})
    seqs = tuple(
        tuple(int(x) for x in rng.choice(NUM_ITEMS, size=int(rng.integers(2, 13)), replace=False))
        for _ in range(num_users)
    )
    return InteractionData("toy", catalogue, tuple(f"u{u}" for u in range(num_users)), seqs)


def test_no_new_item_in_any_training_sequence() -> None:
    result = new_item_split(_data(), fraction=0.2, seed=0)
    assert all(not set(seq) & result.new_items for seq in result.split.train_sequences())
    assert all(not set(seq) & result.new_items for seq in result.split.train_data().sequences)


def test_new_items_appear_only_as_validation_or_test_targets() -> None:
    data = _data()
    result = new_item_split(data, fraction=0.2, seed=0)
    split = result.split
    by_user = dict(zip(data.users, data.sequences, strict=True))
    for user, train, valid, test in zip(
        split.users, split.train, split.valid_target, split.test_target, strict=True
    ):
        original = by_user[user]
        assert (int(valid), int(test)) == original[-2:], "targets are the original last two positions"
        assert train == tuple(i for i in original[:-2] if i not in result.new_items)
    # new items do occur as targets (otherwise the new-target group would be empty)
    assert result.is_new(split.test_target).any() and result.is_new(split.valid_target).any()


def test_new_items_keep_their_text() -> None:
    data = _data()
    result = new_item_split(data, fraction=0.2, seed=0)
    catalogue = result.split.train_data().catalogue
    assert len(catalogue) == NUM_ITEMS
    for item in result.new_items:
        assert catalogue.title(item) == f"title of i{item}"


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    a, b = new_item_split(_data(), seed=4), new_item_split(_data(), seed=4)
    assert a.new_items == b.new_items
    assert a.split.train == b.split.train
    assert a.group_sizes() == b.group_sizes()
    assert new_item_split(_data(), seed=5).new_items != a.new_items


@pytest.mark.parametrize(("fraction", "expected"), [(0.1, 5), (0.2, 10), (0.33, 16), (0.001, 1)])
def test_fraction_is_respected(fraction: float, expected: int) -> None:
    chosen = choose_new_items(NUM_ITEMS, fraction, seed=0)
    assert len(chosen) == expected
    assert all(0 <= i < NUM_ITEMS for i in chosen)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.999])
def test_bad_fraction_is_a_clear_error(fraction: float) -> None:
    with pytest.raises(ConfigError, match="fraction"):
        choose_new_items(NUM_ITEMS, fraction, seed=0)


def test_group_counts_add_up() -> None:
    result = new_item_split(_data(), fraction=0.2, seed=0)
    sizes = result.group_sizes()
    for stage in ("valid", "test"):
        assert sizes[f"{stage}/{NEW_TARGET}"] + sizes[f"{stage}/{KNOWN_TARGET}"] == sizes[f"{stage}/all"]
        assert sizes[f"{stage}/{NEW_TARGET}"] > 0 and sizes[f"{stage}/{KNOWN_TARGET}"] > 0
    groups = result.test_groups()
    rows = np.concatenate([groups[NEW_TARGET], groups[KNOWN_TARGET]])
    assert sorted(rows.tolist()) == list(range(result.split.num_users))
    assert result.is_new(result.split.test_target[groups[NEW_TARGET]]).all()
    assert not result.is_new(result.split.test_target[groups[KNOWN_TARGET]]).any()
    assert sizes["new_items"] == 10 and sizes["items"] == NUM_ITEMS


def test_dropped_users_are_counted() -> None:
    catalogue = Catalogue.from_records([f"i{i}" for i in range(20)])
    probe = new_item_split(InteractionData("p", catalogue, ("a",), ((0, 1, 2),)), fraction=0.2, seed=0)
    new = sorted(probe.new_items)
    known = [i for i in range(20) if i not in probe.new_items]
    sequences = (
        (known[0], known[1]),  # too short from the start
        (new[0], known[0], known[1]),  # loses its only training item to the removal
        (new[0], new[1], known[2], known[3]),  # loses both training items
        (known[0], new[0], known[1], known[2]),  # keeps one training item
        (known[0], known[1], new[0], new[1]),  # both targets new: kept whole
    )
    data = InteractionData("p", catalogue, tuple("abcde"), sequences)
    result = new_item_split(data, fraction=0.2, seed=0)
    assert result.new_items == probe.new_items
    assert result.split.users == ("d", "e")
    assert result.split.dropped_users == 3
    assert result.dropped_by_removal == 2
    assert result.removed_interactions == 4
    assert result.split.train == ((known[0],), (known[0], known[1]))


def test_cli_prints_the_group_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(
        app, ["data", "new-items", "examples/own-data/shop.yaml", "--fraction", "0.2", "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    assert NEW_TARGET in result.output and KNOWN_TARGET in result.output and "new_items" in result.output


def test_cli_rejects_a_bad_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(
        app, ["data", "new-items", "examples/own-data/shop.yaml", "--fraction", "1.5"]
    )
    assert isinstance(result.exception, ConfigError)  # `genrec.cli.main` prints it without a traceback
    assert "fraction" in str(result.exception)
