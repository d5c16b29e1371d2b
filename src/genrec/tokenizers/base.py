"""The `ItemTokenizer` protocol: how an item becomes a sequence of identifier tokens and back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from genrec.data.catalogue import Catalogue


@runtime_checkable
class ItemTokenizer(Protocol):
    """Maps catalogue items (by index) to identifier token strings, and back.

    An identifier is a tuple of token strings. For tokenizers that add tokens to a language model
    (atomic, semantic, collaborative, prebuilt), each string is one new token listed by `vocabulary()`.
    Catalogue updates (`add_items`) only append identifiers; an identifier, once given, never changes.
    For text tokenizers (title) the tuple holds one plain-text string and `vocabulary()` is empty: the
    language model's own tokenizer splits it.
    """

    #: Short registry name ("atomic", "title", "semantic", ...).
    name: str

    def fit(self, catalogue: Catalogue, train_sequences: Sequence[Sequence[int]], seed: int) -> None:
        """Assign identifiers to every catalogue item. Must be deterministic for a given seed."""
        ...

    def __len__(self) -> int:
        """Number of items that have an identifier (items are 0..len-1)."""
        ...

    def encode(self, item: int) -> tuple[str, ...]:
        """The identifier of an item index."""
        ...

    def decode(self, tokens: Sequence[str]) -> int | None:
        """The item index an identifier stands for, or None if it names no item."""
        ...

    def vocabulary(self) -> list[str]:
        """New tokens to add to a language model's vocabulary (empty for text identifiers)."""
        ...

    def add_items(self, catalogue: Catalogue) -> list[int]:
        """Catalogue update: give identifiers to items appended to the fitted catalogue.

        ``catalogue`` must hold every known item at its old index followed by the new ones. No existing
        item's identifier changes. Returns the indices of the items added.
        """
        ...

    def save(self, directory: Path) -> None:
        """Write everything needed to restore this tokenizer into ``directory``."""
        ...

    @classmethod
    def load(cls, directory: Path) -> ItemTokenizer:
        """Restore a tokenizer written by `save`."""
        ...
