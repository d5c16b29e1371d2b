"""A loaded dataset: the catalogue plus each user's chronological item sequence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genrec.data.catalogue import Catalogue
from genrec.errors import DataError


@dataclass(frozen=True)
class InteractionData:
    """Users' chronological interaction sequences over a `Catalogue`.

    ``sequences[u]`` holds item *indices* (into ``catalogue``), oldest first, for user ``users[u]``.
    """

    name: str
    catalogue: Catalogue
    users: tuple[str, ...]
    sequences: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if len(self.users) != len(self.sequences):
            raise DataError(f"{self.name}: {len(self.users)} users but {len(self.sequences)} sequences")
        if len(set(self.users)) != len(self.users):
            raise DataError(f"{self.name}: duplicate user ids")
        n = len(self.catalogue)
        for user, seq in zip(self.users, self.sequences, strict=True):
            if seq and (min(seq) < 0 or max(seq) >= n):
                raise DataError(f"{self.name}: user {user!r} has an item index outside the catalogue")

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return len(self.catalogue)

    @property
    def num_interactions(self) -> int:
        return sum(len(s) for s in self.sequences)

    def item_counts(self) -> np.ndarray:
        """Interactions per item index, shape (num_items,)."""
        counts = np.zeros(self.num_items, dtype=np.int64)
        for seq in self.sequences:
            np.add.at(counts, np.asarray(seq, dtype=np.int64), 1)
        return counts

    def stats(self) -> dict[str, float | int | dict[str, float]]:
        """Users, items, interactions, average sequence length, density and text-field coverage."""
        users, items, inter = self.num_users, self.num_items, self.num_interactions
        return {
            "users": users,
            "items": items,
            "interactions": inter,
            "avg_sequence_length": inter / max(users, 1),
            "density": inter / max(users * items, 1),
            "text_field_coverage": self.catalogue.field_coverage(),
        }
