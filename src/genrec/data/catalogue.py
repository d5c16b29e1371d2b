"""The item catalogue: external item ids mapped to contiguous indices, plus item text fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from genrec.errors import DataError

#: Text fields a catalogue may carry; loaders fill the ones their source has.
TEXT_FIELDS: tuple[str, ...] = ("title", "description", "brand", "categories")


@dataclass(frozen=True)
class Catalogue:
    """Items of one dataset.

    Items are addressed everywhere inside genrec by their *index* (0..n-1, contiguous); the external id
    (a string, as found in the source files) is kept for input and output. Text fields are stored as one
    tuple of strings per field, aligned with the indices; a missing value is the empty string.
    """

    item_ids: tuple[str, ...]
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, item_id in enumerate(self.item_ids):
            if item_id in index:
                raise DataError(f"duplicate item id {item_id!r} in the catalogue")
            index[item_id] = i
        object.__setattr__(self, "_index", index)
        for name, values in self.fields.items():
            if len(values) != len(self.item_ids):
                raise DataError(
                    f"text field has {len(values)} values for {len(self.item_ids)} items", field=name
                )

    @classmethod
    def from_records(
        cls, item_ids: Sequence[str], records: Mapping[str, Mapping[str, str]] | None = None
    ) -> Catalogue:
        """Build from ids plus an optional ``{item_id: {field: text}}`` mapping (missing text → "")."""
        records = records or {}
        names: list[str] = []
        for rec in records.values():
            for name in rec:
                if name not in names:
                    names.append(name)
        fields = {
            name: tuple(str(records.get(i, {}).get(name, "") or "") for i in item_ids) for name in names
        }
        return cls(tuple(item_ids), fields)

    def __len__(self) -> int:
        return len(self.item_ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    def index_of(self, item_id: str) -> int:
        """Index of an external item id; raises `KeyError` naming the id if it is unknown."""
        try:
            return self._index[item_id]
        except KeyError:
            raise KeyError(f"unknown item id {item_id!r}") from None

    def id_of(self, index: int) -> str:
        return self.item_ids[index]

    def text(self, index: int, name: str) -> str:
        """One text field of one item ("" when the catalogue has no such field)."""
        values = self.fields.get(name)
        return "" if values is None else values[index]

    def title(self, index: int) -> str:
        """The item's title, or a neutral placeholder naming its id when the catalogue has no titles."""
        return self.text(index, "title") or f"item {self.item_ids[index]}"

    def field_coverage(self) -> dict[str, float]:
        """Share of items with a non-empty value, for each known text field."""
        n = max(len(self), 1)
        names = list(dict.fromkeys([*TEXT_FIELDS, *self.fields]))
        return {name: sum(1 for v in self.fields.get(name, ()) if v.strip()) / n for name in names}

    def describe(self, index: int, names: Iterable[str] = TEXT_FIELDS) -> str:
        """All available text of an item as one string (used for text embeddings)."""
        parts = []
        for name in names:
            value = self.text(index, name).strip()
            if value:
                parts.append(f"{name}: {value}")
        return "; ".join(parts) if parts else f"item {self.item_ids[index]}"

    def with_items(
        self, item_ids: Sequence[str], records: Mapping[str, Mapping[str, str]] | None = None
    ) -> Catalogue:
        """A new catalogue with items appended; existing items keep their indices."""
        records = records or {}
        new_ids = tuple(item_ids)
        names = list(dict.fromkeys([*self.fields, *(n for r in records.values() for n in r)]))
        fields = {}
        for name in names:
            old = self.fields.get(name, ("",) * len(self))
            fields[name] = old + tuple(str(records.get(i, {}).get(name, "") or "") for i in new_ids)
        return Catalogue(self.item_ids + new_ids, fields)
