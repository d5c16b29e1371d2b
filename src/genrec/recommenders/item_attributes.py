"""Checkable item attributes from catalogue text, and the attributes a recommended item shares with a history.

An *attribute* is a (kind, value) pair that is either true or false of an item and can be looked up in
the catalogue: its brand, each phrase of its comma-separated categories (MovieLens genres are its
categories), and each title word that is not an English stop word. Values are HTML-unescaped (the Amazon
sets store ``AT&amp;T``); title words are lower-cased. Grounded explanations name only attributes that
`shared_attributes` finds, so every phrase they name is true of the items they name it for.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from genrec.data.catalogue import Catalogue

BRAND, CATEGORY, GENRE, TITLE_WORD = "brand", "category", "genre", "title word"
#: Datasets whose ``categories`` field holds genres, so explanations call them genres.
GENRE_DATASETS = frozenset({"ml-100k"})
_WORD = re.compile(r"[a-z][a-z0-9]*(?:['-][a-z0-9]+)*")
MIN_WORD_LENGTH = 3


def category_kind(dataset: str | None) -> str:
    """``"genre"`` for datasets whose categories are genres (MovieLens), else ``"category"``."""
    return GENRE if dataset is not None and dataset.lower() in GENRE_DATASETS else CATEGORY


def clean_text(value: str) -> str:
    """HTML entities decoded and whitespace collapsed (catalogue text as a reader sees it)."""
    return " ".join(html.unescape(value).split())


def title_words(title: str) -> list[str]:
    """Lower-cased words of a title, without stop words, numbers or words shorter than three letters."""
    words = _WORD.findall(clean_text(title).lower())
    kept = [w for w in words if len(w) >= MIN_WORD_LENGTH and w not in ENGLISH_STOP_WORDS]
    return list(dict.fromkeys(kept))


def category_phrases(categories: str) -> list[str]:
    """The comma-separated phrases of a categories field, cleaned, in order, without repeats."""
    phrases = [clean_text(p) for p in categories.split(",")]
    return list(dict.fromkeys(p for p in phrases if p))


def item_attributes(catalogue: Catalogue, item: int, category_label: str = CATEGORY) -> dict[str, list[str]]:
    """The checkable attributes of catalogue index ``item``: kind -> values (kinds with no value omitted).

    Kinds are ``brand``, ``category_label`` (``category``, or ``genre`` for MovieLens) and ``title word``.
    """
    found: dict[str, list[str]] = {}
    brand = clean_text(catalogue.text(item, "brand"))
    if brand:
        found[BRAND] = [brand]
    phrases = category_phrases(catalogue.text(item, "categories"))
    if phrases:
        found[category_label] = phrases
    words = title_words(catalogue.text(item, "title"))
    if words:
        found[TITLE_WORD] = words
    return found


@dataclass(frozen=True)
class SharedAttribute:
    """An attribute of the recommended item and the history items (indices, most recent first) having it."""

    kind: str
    value: str
    history_items: tuple[int, ...]


class AttributeIndex:
    """Every item's attributes plus how many items have each value (rarer values are more specific).

    Built once per catalogue; `shared_attributes` then costs a few dictionary look-ups per history item.
    """

    #: Kinds in the order explanations prefer them (a shared brand says more than a shared word).
    KIND_ORDER: tuple[str, ...] = (BRAND, GENRE, CATEGORY, TITLE_WORD)
    #: Share of the catalogue above which a value is too common to say much.
    BROAD_SHARE = 0.2

    def __init__(self, catalogue: Catalogue, category_label: str = CATEGORY) -> None:
        self.catalogue = catalogue
        self.category_label = category_label
        self._attributes = [item_attributes(catalogue, i, category_label) for i in range(len(catalogue))]
        self._frequency: Counter[tuple[str, str]] = Counter(
            (kind, value) for attrs in self._attributes for kind, values in attrs.items() for value in values
        )

    def attributes(self, item: int) -> dict[str, list[str]]:
        return self._attributes[item]

    def frequency(self, kind: str, value: str) -> int:
        """Number of catalogue items having the attribute."""
        return self._frequency[(kind, value)]

    def has(self, item: int, kind: str, value: str) -> bool:
        return value in self._attributes[item].get(kind, ())

    def shared_attributes(
        self, history: Sequence[int], item: int, max_history: int = 10
    ) -> list[SharedAttribute]:
        """Attributes of ``item`` that at least one of the last ``max_history`` history items also has.

        Values most items have (over ``BROAD_SHARE`` of the catalogue, such as a root category or "pack")
        come last; then kinds in `KIND_ORDER`, rarest value first. The recommended item itself is never
        counted as its own history.
        """
        recent = [int(h) for h in reversed(history) if int(h) != int(item)][:max_history]
        shared: list[SharedAttribute] = []
        for kind, values in self._attributes[item].items():
            for value in values:
                having = tuple(dict.fromkeys(h for h in recent if self.has(h, kind, value)))
                if having:
                    shared.append(SharedAttribute(kind, value, having))
        order = {kind: rank for rank, kind in enumerate(self.KIND_ORDER)}
        broad = self.BROAD_SHARE * len(self.catalogue)
        shared.sort(
            key=lambda s: (
                self.frequency(s.kind, s.value) > broad,
                order.get(s.kind, len(order)),
                self.frequency(s.kind, s.value),
            )
        )
        return shared
