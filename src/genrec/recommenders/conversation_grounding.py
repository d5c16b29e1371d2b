"""From a user's utterance to clauses and the catalogue values each clause mentions (no LM here).

`Grounder.clauses` finds every catalogue value the utterance names (a category phrase, a brand, an item
title), then splits the utterance into clauses on ", but", " but " (not "anything but"), " and ", ";", "." and "," except
inside a named value ("Pens & Refills" written "pens and refills" stays whole). `Grounder.mentions`
gives, per clause, the *grounded arguments* the clause's action may take:

- categories and brands written out (whole words, case-insensitive, "&" = "and", a plural "s"/"es"
  allowed); values that are everyday words of requests ("max", "basic") are ignored;
- items: an ordinal ("the second one", "2nd", "number 2", "the last one") is the item shown at that
  place in the previous turn; a title written out (MovieLens "Godfather, The (1972)" may be written "the
  godfather"); after "like" / "similar to" / "such as", a title search (`title_search`) for the rest;
- "another brand" / "a different brand" / "same brand" / "this brand": the brand of the item the clause
  refers to, else of the latest reference item, else of the first item shown.

The parser (`genrec.recommenders.conversation_parser`) then lets the LM choose each argument's action.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from genrec.recommenders.conversation_state import CatalogueFacets, ConversationState
from genrec.recommenders.item_attributes import clean_text

Mention = tuple[str, int | str]  # ("item", index) | ("category", value) | ("brand", value)
#: Catalogue values that are also everyday words of a request; never read as a category or brand.
IGNORED_VALUES = frozenset(
    {"please", "something", "brand", "one", "like", "more", "less", "another", "other", "different"}
    | {"same", "item", "items", "max", "tops", "basic", "unknown", "accessories", "supplies", "products"}
)
ORDINALS = {
    "first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4,
    "sixth": 5, "seventh": 6, "eighth": 7, "ninth": 8, "tenth": 9,
}  # fmt: skip
_ORDINAL = re.compile(
    r"\b(?:(?P<word>" + "|".join(ORDINALS) + r")|(?P<num>\d+)(?:st|nd|rd|th)|(?:number|no\.|#)\s*(?P<n>\d+)"
    r"|(?P<last>last))\b"
)
#: ", but" always; " but " unless it means "except" ("anything but horror"); then ";", " and ", ".", ",".
_SEPARATORS = re.compile(r",\s*but\s+|(?<!anything)(?<!everything)(?<!all)\s+but\s+|;|\s+and\s+|\.\s*|,\s*")
_BRAND_ANAPHORA = re.compile(r"\b(?:another|other|different|same|this|that)\s+(?:brand|maker|make)s?\b")
_SIMILAR = re.compile(r"\b(?:like|similar to|such as)\s+(?:the\s+|a\s+)?(?P<rest>.+)$")
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_ARTICLE_SUFFIX = re.compile(r"^(?P<body>.+), (?P<article>the|a|an)$")
MIN_ALIAS = 4


def normalise(text: str) -> str:
    """Lower-case, HTML-unescaped, curly quotes straightened, "&" written "and", spaces collapsed."""
    text = clean_text(text).lower().replace("’", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.replace("&", " and ").split())


def title_aliases(title: str) -> list[str]:
    """Ways a user writes a title: itself, without its year, with a trailing article moved to the front."""
    full = normalise(title)
    bare = _YEAR.sub("", full).strip()
    found = [full, bare]
    moved = _ARTICLE_SUFFIX.match(bare)
    if moved:
        found.append(f"{moved['article']} {moved['body']}")
    return [a for a in dict.fromkeys(found) if len(a) >= MIN_ALIAS]


def _pattern(value: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])" + re.escape(value) + r"(?:s|es)?(?![a-z0-9])")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    mention: Mention


class Grounder:
    """Catalogue-aware clause splitting and argument grounding (see the module docstring)."""

    def __init__(self, facets: CatalogueFacets) -> None:
        self.facets = facets
        catalogue = facets.catalogue
        values: list[tuple[str, Mention]] = []
        for c in sorted(facets.category_values):
            if c not in IGNORED_VALUES and c not in ENGLISH_STOP_WORDS:
                values.append((normalise(c), ("category", c)))
        for b in sorted(facets.brand_values):
            if b not in IGNORED_VALUES and b not in ENGLISH_STOP_WORDS:
                values.append((normalise(b), ("brand", b)))
        titles: dict[str, int] = {}
        for i in range(len(catalogue)):
            for alias in title_aliases(catalogue.title(i)):
                titles.setdefault(alias, i)  # first item wins on a shared alias
        values.extend((alias, ("item", i)) for alias, i in titles.items())
        self._values = [(text, mention, _pattern(text)) for text, mention in values if text]
        self._lower_titles = [normalise(catalogue.title(i)) for i in range(len(catalogue))]

    # ------------------------------------------------------------------ spans and clauses
    def spans(self, text: str) -> list[Span]:
        """Catalogue values named in normalised ``text``: longest first, never overlapping."""
        found: list[Span] = []
        for value, mention, pattern in self._values:
            if value not in text:  # cheap pre-filter before the regex
                continue
            found.extend(Span(m.start(), m.end(), mention) for m in pattern.finditer(text))
        found.sort(key=lambda s: (-(s.end - s.start), s.start))
        kept: list[Span] = []
        for span in found:
            if all(span.end <= k.start or span.start >= k.end for k in kept):
                kept.append(span)
        return sorted(kept, key=lambda s: s.start)

    def clauses(self, utterance: str) -> list[tuple[str, list[Span]]]:
        """The normalised clauses of ``utterance``, each with the value spans inside it (offsets in it)."""
        text = normalise(utterance)
        spans = self.spans(text)
        cuts = [
            m
            for m in _SEPARATORS.finditer(text)
            if not any(s.start < m.end() and m.start() < s.end for s in spans)
        ]
        out: list[tuple[str, list[Span]]] = []
        start = 0
        for end, resume in [*((m.start(), m.end()) for m in cuts), (len(text), len(text))]:
            raw = text[start:end]
            lead = len(raw) - len(raw.lstrip())
            clause = raw.strip()
            if clause:
                inside = [
                    Span(s.start - start - lead, s.end - start - lead, s.mention)
                    for s in spans
                    if start <= s.start and s.end <= end
                ]
                out.append((clause, inside))
            start = resume
        return out

    # ------------------------------------------------------------------ arguments of a clause
    def title_search(self, query: str) -> int | None:
        """The best title containing ``query`` (prefix matches, then shorter titles first), or None."""
        q = normalise(query).strip(" .!?\"'")
        for tail in (" please", " one", " ones"):
            q = q.removesuffix(tail)
        if len(q) < MIN_ALIAS:
            return None
        hits = [(t.find(q), len(t), i) for i, t in enumerate(self._lower_titles) if q in t]
        return min(hits)[2] if hits else None

    def mentions(self, clause: str, spans: Sequence[Span], state: ConversationState) -> list[Mention]:
        """The grounded arguments of one clause, in order, without repeats (see the module docstring)."""
        found: list[Mention] = [s.mention for s in spans]
        for m in _ORDINAL.finditer(clause):
            if m["last"]:
                position = len(state.shown) - 1
            elif m["word"]:
                position = ORDINALS[m["word"]]
            else:
                position = int(m["num"] or m["n"]) - 1
            if 0 <= position < len(state.shown):
                found.append(("item", state.shown[position]))
        if not any(kind == "item" for kind, _ in found):
            similar = _SIMILAR.search(clause)
            if similar and not any(s.start >= similar.start("rest") for s in spans):
                hit = self.title_search(similar["rest"])
                if hit is not None:
                    found.append(("item", hit))
        if _BRAND_ANAPHORA.search(clause) and not any(kind == "brand" for kind, _ in found):
            items = [int(v) for kind, v in found if kind == "item"]
            anchor = items or list(state.references[-1:]) or list(state.shown[:1])
            brand = self.facets.brands[anchor[0]] if anchor else ""
            if brand:
                found.append(("brand", brand))
        return list(dict.fromkeys(found))
