"""Title identifiers: the item's title as plain text, split by the language model's own tokenizer.

Titles are whitespace-normalised. Duplicate titles are made unique deterministically, in item-index
order: the first keeps its title, later ones get `` (2)``, `` (3)``, ... (skipping any suffixed title that
is itself taken). Items without a title fall back to ``item <id>`` (see `Catalogue.title`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genrec.data.catalogue import Catalogue
from genrec.tokenizers.table import IdentifierTable, load_table, save_table


def normalise_title(title: str) -> str:
    """Collapse runs of whitespace and strip the ends."""
    return " ".join(title.split())


class TitleTokenizer:
    """One plain-text identifier per item; `vocabulary()` is empty (no new tokens)."""

    name = "title"

    def __init__(self) -> None:
        self.table = IdentifierTable()

    def fit(self, catalogue: Catalogue, train_sequences: Sequence[Sequence[int]], seed: int) -> None:
        self.table = IdentifierTable()
        self.add_items(catalogue)

    def add_items(self, catalogue: Catalogue) -> list[int]:
        new = self.table.new_items(catalogue)
        for i in new:
            base = normalise_title(catalogue.title(i)) or f"item {catalogue.id_of(i)}"
            candidate, k = base, 1
            while self.table.contains((candidate,)):
                k += 1
                candidate = f"{base} ({k})"
            self.table.append(catalogue.id_of(i), (candidate,))
        return new

    def __len__(self) -> int:
        return len(self.table)

    def encode(self, item: int) -> tuple[str, ...]:
        return self.table.encode(item)

    def decode(self, tokens: Sequence[str]) -> int | None:
        if len(tokens) == 1:
            return self.table.decode((normalise_title(tokens[0]),))
        return self.table.decode(tokens)

    def vocabulary(self) -> list[str]:
        return []

    def save(self, directory: Path) -> None:
        save_table(directory, self.name, self.table, {})

    @classmethod
    def load(cls, directory: Path) -> TitleTokenizer:
        tok = cls()
        tok.table, _ = load_table(directory, cls.name)
        return tok
