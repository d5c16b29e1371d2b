"""`IdentifierTable`: the bijection between item indices and identifier tuples, shared by tokenizers.

Every tokenizer ends up with one identifier per item; this class stores them, rejects duplicates (so
"identifiers are unique" holds by construction), answers encode/decode, lists the vocabulary and
serialises to the layout of the prebuilt ``*.index*.json`` files: ``{"<item id>": ["<a_1>", ...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from genrec.data.catalogue import Catalogue
from genrec.errors import DataError, GenrecError
from genrec.io.files import read_json, write_json_atomic


class IdentifierTable:
    """Identifiers of items 0..n-1, in index order, with the external item ids they belong to."""

    def __init__(self) -> None:
        self.item_ids: list[str] = []
        self.identifiers: list[tuple[str, ...]] = []
        self._lookup: dict[tuple[str, ...], int] = {}
        # distinct tokens in order of first appearance, kept up to date by `append`: `vocabulary` is
        # asked once per item when a model indexes its catalogue, so recomputing it would be quadratic
        self._tokens: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self.identifiers)

    def append(self, item_id: str, identifier: Sequence[str]) -> int:
        """Give the next item index to ``item_id`` with ``identifier``; duplicates are an error."""
        ident = tuple(identifier)
        if not ident or any(not isinstance(t, str) or not t for t in ident):
            raise DataError(
                f"item {item_id!r}: identifier must be a non-empty tuple of strings, got {ident!r}"
            )
        if ident in self._lookup:
            other = self.item_ids[self._lookup[ident]]
            raise DataError(f"items {other!r} and {item_id!r} would share the identifier {ident!r}")
        index = len(self.identifiers)
        self.item_ids.append(item_id)
        self.identifiers.append(ident)
        self._lookup[ident] = index
        self._tokens.update(dict.fromkeys(ident))
        return index

    def encode(self, item: int) -> tuple[str, ...]:
        if not 0 <= item < len(self.identifiers):
            raise KeyError(f"item index {item} is outside the tokenizer's {len(self.identifiers)} items")
        return self.identifiers[item]

    def decode(self, tokens: Sequence[str]) -> int | None:
        return self._lookup.get(tuple(tokens))

    def contains(self, identifier: Sequence[str]) -> bool:
        return tuple(identifier) in self._lookup

    def vocabulary(self) -> list[str]:
        """Every distinct token, in order of first appearance (deterministic)."""
        return list(self._tokens)

    def new_items(self, catalogue: Catalogue) -> list[int]:
        """Indices of ``catalogue`` items beyond those already stored, checking it extends this table."""
        known = len(self.item_ids)
        if len(catalogue) < known or list(catalogue.item_ids[:known]) != self.item_ids:
            raise GenrecError(
                "catalogue update must keep every known item at its index and only append new items "
                f"(tokenizer knows {known} items, catalogue has {len(catalogue)})"
            )
        return list(range(known, len(catalogue)))

    def to_index_json(self) -> dict[str, list[str]]:
        """``{"<item id>": [token, ...]}`` in item-index order (the prebuilt index file layout)."""
        return {item_id: list(ident) for item_id, ident in zip(self.item_ids, self.identifiers, strict=True)}

    @classmethod
    def from_index_json(cls, payload: object, source: str = "identifiers") -> IdentifierTable:
        """Rebuild from `to_index_json` output (order of keys = item indices)."""
        if not isinstance(payload, dict):
            raise DataError("expected a JSON object of item id -> token list", path=source)
        table = cls()
        for item_id, ident in payload.items():
            if not isinstance(ident, list):
                raise DataError(f"item {item_id!r}: expected a list of tokens", path=source)
            table.append(str(item_id), ident)
        return table


IDENTIFIERS_FILE = "identifiers.json"
META_FILE = "tokenizer.json"


def save_table(directory: Path, name: str, table: IdentifierTable, state: Mapping[str, object]) -> None:
    """Write the identifiers (prebuilt index layout) and the tokenizer's name and state."""
    write_json_atomic(directory / IDENTIFIERS_FILE, table.to_index_json())
    write_json_atomic(directory / META_FILE, {"name": name, "state": dict(state)})


def load_table(directory: Path, name: str) -> tuple[IdentifierTable, dict[str, object]]:
    """Read what `save_table` wrote, checking that it belongs to tokenizer ``name``."""
    meta = read_json(directory / META_FILE)
    if not isinstance(meta, dict) or meta.get("name") != name:
        found = meta.get("name") if isinstance(meta, dict) else None
        raise DataError(f"expected a saved {name!r} tokenizer, found {found!r}", path=directory / META_FILE)
    table = IdentifierTable.from_index_json(
        read_json(directory / IDENTIFIERS_FILE), str(directory / IDENTIFIERS_FILE)
    )
    state = meta.get("state", {})
    return table, state if isinstance(state, dict) else {}
