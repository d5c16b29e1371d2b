"""Atomic identifiers: one new, meaningless token per item (``<item_17>``), the classic ID baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genrec.data.catalogue import Catalogue
from genrec.tokenizers.table import IdentifierTable, load_table, save_table


class AtomicTokenizer:
    """Item index ``i`` becomes the single new token ``<item_i>``; the seed plays no role."""

    name = "atomic"

    def __init__(self) -> None:
        self.table = IdentifierTable()

    def fit(self, catalogue: Catalogue, train_sequences: Sequence[Sequence[int]], seed: int) -> None:
        self.table = IdentifierTable()
        self.add_items(catalogue)

    def add_items(self, catalogue: Catalogue) -> list[int]:
        new = self.table.new_items(catalogue)
        for i in new:
            self.table.append(catalogue.id_of(i), (f"<item_{i}>",))
        return new

    def __len__(self) -> int:
        return len(self.table)

    def encode(self, item: int) -> tuple[str, ...]:
        return self.table.encode(item)

    def decode(self, tokens: Sequence[str]) -> int | None:
        return self.table.decode(tokens)

    def vocabulary(self) -> list[str]:
        return self.table.vocabulary()

    def save(self, directory: Path) -> None:
        save_table(directory, self.name, self.table, {})

    @classmethod
    def load(cls, directory: Path) -> AtomicTokenizer:
        tok = cls()
        tok.table, _ = load_table(directory, cls.name)
        return tok
