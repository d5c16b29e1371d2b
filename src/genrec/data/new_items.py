"""The new-item split: a seeded share of the catalogue that no model may train on (issue 53).

The question it answers: can a model recommend an item nobody has interacted with, knowing it only from its
text? The rule, applied to every user's chronological sequence ``s`` (length ``n``):

1. A seeded ``fraction`` of the catalogue (``round(fraction * items)``, at least 1, chosen uniformly
   without replacement) are the *new items*. They stay in the catalogue with all their text.
2. The last two positions ``s[n-2]`` and ``s[n-1]`` of the *original* sequence are the user's
   validation and test targets, whatever they are: a new item there is kept. Every interaction with a
   new item *before* them (``s[:n-2]``) is removed.
3. The usual leave-one-out split (`genrec.data.split.leave_one_out`) runs on the result, so the training
   part is exactly the filtered prefix. A user left with fewer than 3 interactions is dropped; users
   dropped because the removal shortened them are counted apart from users that were short already.

Hence no training sequence contains a new item. The test *input* (training part + validation target)
may hold one when the validation target is new; that is an input, never something learnt from.
Evaluation reports, for validation and for test, all users, "new-target" users (target is a new
item) and "known-target" users.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from genrec.data.interactions import InteractionData
from genrec.data.registry import load_dataset
from genrec.data.split import MIN_SEQUENCE_LENGTH, EvalSet, LeaveOneOutSplit, leave_one_out
from genrec.errors import ConfigError

NEW_TARGET, KNOWN_TARGET = "new-target", "known-target"


@dataclass(frozen=True)
class NewItemSplit:
    """A leave-one-out split whose training part never holds a `new_items` item.

    ``dropped_by_removal`` counts users who had 3+ interactions but fewer after the removal;
    ``split.dropped_users`` counts every dropped user (those plus the users short from the start).
    """

    split: LeaveOneOutSplit
    new_items: frozenset[int]
    fraction: float
    seed: int
    dropped_by_removal: int
    removed_interactions: int

    def is_new(self, items: np.ndarray) -> np.ndarray:
        """Boolean mask of ``items`` that are new items, same shape."""
        return np.isin(items, np.fromiter(self.new_items, dtype=np.int64, count=len(self.new_items)))

    def user_groups(self, eval_set: EvalSet) -> dict[str, np.ndarray]:
        """Row indices of ``eval_set`` per group: "new-target" and "known-target" (disjoint, complete)."""
        new = self.is_new(np.asarray(eval_set.targets))
        return {NEW_TARGET: np.flatnonzero(new), KNOWN_TARGET: np.flatnonzero(~new)}

    def valid_groups(self) -> dict[str, np.ndarray]:
        return self.user_groups(self.split.valid_set())

    def test_groups(self) -> dict[str, np.ndarray]:
        return self.user_groups(self.split.test_set())

    def group_sizes(self) -> dict[str, int]:
        """Catalogue, new items, kept and dropped users, and each evaluation group's size."""
        sizes = {
            "items": self.split.num_items,
            "new_items": len(self.new_items),
            "users": self.split.num_users,
            "dropped_users": self.split.dropped_users,
            "dropped_by_removal": self.dropped_by_removal,
            "removed_interactions": self.removed_interactions,
        }
        for stage, groups in (("valid", self.valid_groups()), ("test", self.test_groups())):
            sizes[f"{stage}/all"] = self.split.num_users
            for name, rows in groups.items():
                sizes[f"{stage}/{name}"] = len(rows)
        return sizes


def choose_new_items(num_items: int, fraction: float, seed: int) -> frozenset[int]:
    """``round(fraction * num_items)`` (at least 1) item indices drawn without replacement by ``seed``."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"the new-item fraction must be between 0 and 1 (exclusive), got {fraction}")
    count = max(1, round(fraction * num_items))
    if count >= num_items:
        raise ConfigError(f"a fraction of {fraction} leaves no known item among {num_items} items")
    rng = np.random.default_rng(seed)
    return frozenset(int(i) for i in rng.choice(num_items, size=count, replace=False))


def new_item_split(
    data: InteractionData, fraction: float = 0.1, seed: int = 0, max_history: int = 20
) -> NewItemSplit:
    """Split ``data`` with a seeded ``fraction`` of new items, following the module docstring's rule."""
    new = choose_new_items(data.num_items, fraction, seed)
    sequences = []
    removed = dropped_by_removal = 0
    for seq in data.sequences:
        prefix = tuple(i for i in seq[:-2] if i not in new)
        kept = prefix + tuple(seq[-2:])
        removed += len(seq) - len(kept)
        if len(seq) >= MIN_SEQUENCE_LENGTH > len(kept):
            dropped_by_removal += 1
        sequences.append(kept)
    filtered = InteractionData(data.name, data.catalogue, data.users, tuple(sequences))
    return NewItemSplit(
        split=leave_one_out(filtered, max_history=max_history),
        new_items=new,
        fraction=fraction,
        seed=seed,
        dropped_by_removal=dropped_by_removal,
        removed_interactions=removed,
    )


def dataset_group_sizes(
    name: str, data_dir: str | os.PathLike[str] | None = None, fraction: float = 0.1, seed: int = 0
) -> dict[str, int]:
    """`NewItemSplit.group_sizes` of a named dataset or data spec (`genrec data new-items`)."""
    return new_item_split(load_dataset(name, data_dir), fraction=fraction, seed=seed).group_sizes()


def format_group_sizes(sizes: dict[str, int]) -> list[tuple[str, str]]:
    """Rows of (label, value) for display, numbers with thousands separators."""
    return [(label, f"{value:,}") for label, value in sizes.items()]
