"""Live catalogue changes inside the serving core: upsert an item with its text, hide an item.

`RecommendService.upsert_item` and `RecommendService.hide_item` delegate here. Both run on the single model
worker thread, never beside ranking; request handlers on other threads may read the service's lookups at
any time, so nothing they read is changed in place: new structures are built first, then swapped in by
attribute assignment (`swap_lookups`). Item indices only ever grow, so an index resolved before a swap
stays valid after it.

- A new item is appended to the catalogue. A model implementing
  `genrec.recommenders.catalogue_updates.SupportsCatalogueUpdates` (the generative recommender) gives it an
  identifier from its text, frozen quantiser and all, and can recommend it in the next request. An ID
  model (popularity, SASRec, GRU4Rec) cannot score it: the item is known to the service (histories,
  exclusions, search) but that model never recommends it.
- Upserting a known item replaces its text fields with exactly the fields given (PUT semantics; a field
  not given becomes empty), keeps its index and identifier, and un-hides it.
- A hidden item is in ``service.hidden``, which ranking adds to every query's exclusions (so hiding works
  for every model, fallback included); a generative model also drops it from its decoding trie.

Identifiers are assigned deterministically, so replaying the same changes in the same order on a freshly
loaded run (what the server does at startup from its store) rebuilds the same identifiers and answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from genrec.data.catalogue import Catalogue
from genrec.errors import DataError
from genrec.recommenders.catalogue_updates import catalogue_updates
from genrec.serving.rules import item_categories

if TYPE_CHECKING:
    from genrec.serving.service import RecommendService

#: Longest accepted item id and text value (characters): bounded request size and memory per item.
MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class Lookups:
    """The service's read-side structures for one catalogue version (see `RecommendService`)."""

    titles: dict[str, int]
    lower_titles: list[str]
    categories: list[frozenset[str]]
    known_categories: set[str]


def exact_titles(catalogue: Catalogue) -> dict[str, int]:
    """Exact title -> index; the first item wins on duplicate titles, items without a title are left out."""
    titles: dict[str, int] = {}
    for i in range(len(catalogue)):
        titles.setdefault(catalogue.text(i, "title"), i)
    titles.pop("", None)
    return titles


def current_lookups(service: RecommendService) -> Lookups:
    """The lookups the service reads now (shared, never modified)."""
    return Lookups(service._titles, service._lower_titles, service._categories, service._known_categories)


def changed_lookups(old: Lookups, catalogue: Catalogue, index: int) -> Lookups:
    """Lookups of ``catalogue``, which differs from the catalogue ``old`` describes only in item ``index``
    (appended, or its text replaced). Built beside ``old``, which is never modified; only the changed
    item is parsed, so an upsert costs list copies, not a pass over every item's text."""
    one = Catalogue((catalogue.id_of(index),), {"categories": (catalogue.text(index, "categories"),)})
    (categories,) = item_categories(one)
    lower = catalogue.title(index).lower()
    if index == len(old.lower_titles):  # appended
        title = catalogue.text(index, "title")
        titles = old.titles if not title or title in old.titles else {**old.titles, title: index}
        return Lookups(
            titles=titles,
            lower_titles=[*old.lower_titles, lower],
            categories=[*old.categories, categories],
            known_categories=old.known_categories | categories,
        )
    lower_titles, all_categories = list(old.lower_titles), list(old.categories)
    lower_titles[index], all_categories[index] = lower, categories
    return Lookups(
        titles=exact_titles(catalogue),  # the old title may now belong to a later item with the same title
        lower_titles=lower_titles,
        categories=all_categories,
        known_categories=set().union(*all_categories),
    )


def swap_lookups(service: RecommendService, catalogue: Catalogue, lookups: Lookups) -> None:
    """Make ``catalogue`` current: each attribute is replaced whole (never mutated), the catalogue last."""
    service._titles = lookups.titles
    service._lower_titles = lookups.lower_titles
    service._categories = lookups.categories
    service._known_categories = lookups.known_categories
    service.catalogue = catalogue


def validate_item(item_id: object, fields: object) -> dict[str, str]:
    """The item's text fields as a plain dict; `DataError` naming the offending field otherwise."""
    if not isinstance(item_id, str) or not item_id.strip() or item_id != item_id.strip():
        raise DataError(
            f"item id must be a non-empty string without surrounding whitespace, got {item_id!r}", field="id"
        )
    if len(item_id) > MAX_ID_CHARS:
        raise DataError(f"item id is longer than {MAX_ID_CHARS} characters", field="id")
    if not isinstance(fields, Mapping):
        raise DataError(f"item {item_id!r}: fields must be a mapping of name to text", field="fields")
    out: dict[str, str] = {}
    for name, value in fields.items():
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"item {item_id!r}: field names must be non-empty strings, got {name!r}")
        if not isinstance(value, str):
            raise DataError(
                f"item {item_id!r}: text must be a string, got {type(value).__name__}", field=name
            )
        if len(value) > MAX_TEXT_CHARS:
            raise DataError(f"item {item_id!r}: text is longer than {MAX_TEXT_CHARS} characters", field=name)
        out[name] = value
    return out


def with_text(catalogue: Catalogue, index: int, fields: Mapping[str, str]) -> Catalogue:
    """A new catalogue in which item ``index`` has exactly ``fields`` as its text (others ``""``)."""
    names = list(dict.fromkeys([*catalogue.fields, *fields]))
    updated: dict[str, tuple[str, ...]] = {}
    for name in names:
        values = list(catalogue.fields.get(name, ("",) * len(catalogue)))
        values[index] = fields.get(name, "")
        updated[name] = tuple(values)
    return Catalogue(catalogue.item_ids, updated)


def upsert_item(service: RecommendService, item_id: str, fields: Mapping[str, str]) -> int:
    """Add ``item_id`` with ``fields`` or replace a known item's text; returns its catalogue index.

    Everything that can fail on bad input runs before the model changes; the service's lookups change last.
    """
    text = validate_item(item_id, fields)
    old = service.catalogue
    if item_id in old:
        index = old.index_of(item_id)
        changed = with_text(old, index, text)
    else:
        index = len(old)
        changed = old.with_items([item_id], {item_id: text})
    lookups = changed_lookups(current_lookups(service), changed, index)
    updates = catalogue_updates(service.recommender)
    if updates is not None and index < len(old):
        updates.refresh_text(changed, [index])
        updates.unhide_items([index])
    elif updates is not None:
        updates.add_items(changed)
    swap_lookups(service, changed, lookups)
    service.hidden = service.hidden - {index}
    return index


def hide_item(service: RecommendService, index: int) -> None:
    """Never recommend item ``index`` again until it is upserted (hiding a hidden item changes nothing)."""
    updates = catalogue_updates(service.recommender)
    if updates is not None:
        updates.hide_items([index])
    service.hidden = service.hidden | {index}
