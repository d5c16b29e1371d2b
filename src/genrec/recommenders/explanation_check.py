"""An independent checker for explanations: which attributes and titles does a text name, and are they true?

`check_explanation` reads any text (a grounded sentence or a free-text LM reason) with nothing but the
catalogue; it never sees how the text was made. It finds, in this order, each span masked once found:

1. quoted strings (“…”, "…", «…»): after the word "word"/"words" a title-word claim; otherwise a catalogue
   title (exact, ignoring case, or without MovieLens's "(year)"), a brand or category value, or, with two
   or more words, a *made-up title*;
2. unquoted catalogue titles (exact, case-sensitive, four characters or more);
3. brand values (case-sensitive) and category phrases / genres (case-insensitive), whole words only;
4. runs of two or more capitalised words that are no part of a catalogue title or attribute value:
   also *made-up titles*.

An attribute is *true* when at least one involved item (the history or the recommended item) has it.
Limits: an unquoted made-up title in lower case, or one word long, is not detected; a capitalised phrase
that is no title (a person's name) is flagged; a category word used loosely ("paper") counts as a claim;
title words are only claims in the ``word “…”`` form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from genrec.data.catalogue import Catalogue
from genrec.recommenders.item_attributes import clean_text, title_words

_QUOTED = re.compile(r"“([^”]{1,300})”|\"([^\"]{1,300})\"|«([^»]{1,300})»")
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_CAPITALISED_RUN = re.compile(
    r"[A-Z][\w'&.-]*(?:\s+(?:(?:of|the|and|&|in|for|to|a|an|on|with)\s+)*[A-Z0-9][\w'&.-]*)+"
)
#: Capitalised words that start sentences or address the reader, not names.
_OPENERS = frozenset(
    {"The", "This", "These", "That", "Those", "If", "You", "Your", "They", "It", "Its", "A", "An", "Both"}
    | {"Like", "As", "Since", "With", "Because", "Also", "Try", "We", "I", "Consider", "Our", "He", "She"}
    | {"Then", "So", "And", "But", "Or", "For", "In", "On", "Overall", "Plus", "Perhaps", "Maybe"}
)
_MIN_TITLE_CHARS = 4


def _key(text: str) -> str:
    return clean_text(text).casefold().strip(" .,;:!?")


def _alternation(values: Iterable[str]) -> re.Pattern[str] | None:
    """One whole-word pattern matching any of ``values`` (longest first)."""
    ordered = sorted({v for v in values if v}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(v) for v in ordered) + r")(?!\w)")


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


class ExplanationChecker:
    """The catalogue's titles, brands and category phrases, indexed once for checking many texts."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        n = len(catalogue)
        self.titles: dict[str, list[int]] = {}  # casefolded title (and year-less alias) -> items
        exact: set[str] = set()
        self.brands: dict[str, set[int]] = {}
        self.categories: dict[str, set[int]] = {}  # casefolded phrase -> items
        self._category_names: dict[str, str] = {}
        self._words: list[set[str]] = []
        for i in range(n):
            title = clean_text(catalogue.text(i, "title"))
            for form in {title, _YEAR.sub("", title)}:
                if len(form) >= _MIN_TITLE_CHARS:
                    self.titles.setdefault(form.casefold(), []).append(i)
                    exact.add(form)
            brand = clean_text(catalogue.text(i, "brand"))
            if brand:
                self.brands.setdefault(brand, set()).add(i)
            for phrase in clean_text(catalogue.text(i, "categories")).split(","):
                phrase = phrase.strip()
                if phrase:
                    self.categories.setdefault(phrase.casefold(), set()).add(i)
                    self._category_names.setdefault(phrase.casefold(), phrase)
            self._words.append(set(title_words(title)))
        self._title_pattern = _alternation(exact)
        self._brand_pattern = _alternation(self.brands)
        cats = _alternation(self._category_names.values())
        self._category_pattern = None if cats is None else re.compile(cats.pattern, re.IGNORECASE)
        self._known_text = [*self.titles, *(b.casefold() for b in self.brands), *self.categories]

    def _is_known_fragment(self, span: str) -> bool:
        key = span.casefold()
        return any(key in known for known in self._known_text)

    def check(self, text: str, history: Sequence[int], item: int) -> dict[str, Any]:
        """What ``text`` names about catalogue index ``item`` recommended after ``history`` (indices)."""
        involved = list(dict.fromkeys([*(int(h) for h in history), int(item)]))
        ids = self.catalogue.item_ids
        attributes: list[dict[str, Any]] = []
        titles: list[dict[str, Any]] = []
        unknown: list[str] = []

        def attribute(kind: str, value: str, having: set[int]) -> None:
            true_of = [ids[i] for i in involved if i in having]
            attributes.append({"attribute": kind, "value": value, "items": true_of, "true": bool(true_of)})

        def title(span: str, items: list[int]) -> None:
            titles.append(
                {
                    "title": span,
                    "items": [ids[i] for i in items],
                    "involved": bool(set(items) & set(involved)),
                }
            )

        body = clean_text(text)
        for match in _QUOTED.finditer(body):
            quoted = next(g for g in match.groups() if g is not None)
            key = _key(quoted)
            before = body[max(0, match.start() - 8) : match.start()].casefold()
            if re.search(r"\bwords?\s*$", before):
                attribute("title word", key, {i for i in involved if key in self._words[i]})
            elif key in self.titles:
                title(quoted.strip(), self.titles[key])
            elif clean_text(quoted).strip(" .,;:!?") in self.brands:
                value = clean_text(quoted).strip(" .,;:!?")
                attribute("brand", value, self.brands[value])
            elif key in self.categories:
                attribute("category", self._category_names[key], self.categories[key])
            elif len(key.split()) >= 2:
                unknown.append(quoted.strip())
            body = _mask(body, match.start(), match.end())
        for pattern, kind in ((self._title_pattern, "title"), (self._brand_pattern, "brand")):
            for match in pattern.finditer(body) if pattern is not None else ():
                if kind == "title":
                    title(match.group(), self.titles[match.group().casefold()])
                else:
                    attribute("brand", match.group(), self.brands[match.group()])
                body = _mask(body, match.start(), match.end())
        for match in self._category_pattern.finditer(body) if self._category_pattern is not None else ():
            key = match.group().casefold()
            attribute("category", self._category_names[key], self.categories[key])
            body = _mask(body, match.start(), match.end())
        for match in _CAPITALISED_RUN.finditer(body):
            words = match.group().split()
            while words and words[0] in _OPENERS:
                words = words[1:]
            span = " ".join(words).strip(" .,;:!?'")
            if len(span.split()) >= 2 and not self._is_known_fragment(span):
                unknown.append(span)
        return {
            "attributes": attributes,
            "titles": titles,
            "unknown_titles": unknown,
            "all_attributes_true": all(a["true"] for a in attributes),
            "names_unknown_item": bool(unknown),
        }


_CACHE: list[ExplanationChecker] = []


def checker_for(catalogue: Catalogue) -> ExplanationChecker:
    """The checker of ``catalogue``, built once and reused while the same catalogue object is checked."""
    if not _CACHE or _CACHE[0].catalogue is not catalogue:
        _CACHE[:] = [ExplanationChecker(catalogue)]
    return _CACHE[0]


def check_explanation(text: str, history: Sequence[int], item: int, catalogue: Catalogue) -> dict[str, Any]:
    """Check ``text`` explaining catalogue index ``item`` after ``history`` (see the module docstring).

    Returns ``attributes`` (attribute, value, ids of involved items it is true of, ``true``), ``titles``
    (named catalogue titles, their ids, whether an involved item), ``unknown_titles`` (made-up titles),
    ``all_attributes_true`` and ``names_unknown_item``.
    """
    return checker_for(catalogue).check(text, history, item)
