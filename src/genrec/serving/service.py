"""The serving core, independent of HTTP: item lookup, title search and batched, rule-aware ranking.

Requests name items by external id or by exact title; `RecommendService.resolve` maps both to catalogue
indices and reports every unknown reference at once (`UnknownItemsError`), so the API can answer 422
naming them. `RecommendService.recommend_batch` ranks many queries in one model call (the unit the
micro-batcher feeds). An empty history is answered by the run's popularity fallback, flagged as
``fallback="popular"``; without one the model ranks the empty history itself (``fallback="model"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genrec.data.catalogue import Catalogue
from genrec.errors import GenrecError
from genrec.recommenders.base import Recommender
from genrec.recommenders.run_dir import RunInfo, load_fallback, load_run
from genrec.serving import live_catalogue
from genrec.serving.rules import item_categories, outside_categories, recommend_with_rules


class UnknownItemsError(GenrecError):
    """Some item references (ids or titles) or categories are not in the catalogue."""

    def __init__(self, field_name: str, unknown: Sequence[str]) -> None:
        self.field_name = field_name
        self.unknown = list(unknown)
        shown = ", ".join(repr(u) for u in self.unknown[:20])
        super().__init__(
            f"{field_name}: unknown {'categories' if 'categor' in field_name else 'items'}: {shown}"
        )


@dataclass(frozen=True)
class Query:
    """One recommendation request, already resolved to catalogue indices."""

    history: tuple[int, ...]
    k: int
    exclude_history: bool = True
    exclude_items: tuple[int, ...] = ()
    include_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ranked:
    """One answer: item indices and scores, best first, and the fallback used (if any)."""

    items: list[int]
    scores: list[float]
    fallback: str | None = None


@dataclass
class RecommendService:
    """A loaded recommender with its catalogue, ready to answer queries (see the module docstring)."""

    recommender: Recommender
    catalogue: Catalogue
    info: RunInfo
    fallback: Recommender | None = None
    _titles: dict[str, int] = field(init=False, repr=False)
    _lower_titles: list[str] = field(init=False, repr=False)
    _categories: list[frozenset[str]] = field(init=False, repr=False)
    _known_categories: set[str] = field(init=False, repr=False)
    #: Hidden items (`hide_item`): added to every query's exclusions, replaced whole on each change.
    hidden: frozenset[int] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        titles: dict[str, int] = {}
        for i in range(len(self.catalogue)):
            titles.setdefault(self.catalogue.text(i, "title"), i)  # first item wins on duplicate titles
        titles.pop("", None)
        self._titles = titles
        self._lower_titles = [self.catalogue.title(i).lower() for i in range(len(self.catalogue))]
        self._categories = item_categories(self.catalogue)
        self._known_categories = set().union(*self._categories) if self._categories else set()

    @classmethod
    def from_run(cls, directory: Path) -> RecommendService:
        recommender, catalogue, info = load_run(directory)
        return cls(recommender, catalogue, info, load_fallback(directory, info))

    @property
    def model_name(self) -> str:
        return self.info.recommender

    def resolve(self, refs: Sequence[str], field_name: str = "history") -> tuple[int, ...]:
        """Catalogue indices of item ids or exact titles (ids take precedence); all unknowns reported."""
        out, unknown = [], []
        for ref in refs:
            if ref in self.catalogue:
                out.append(self.catalogue.index_of(ref))
            elif ref in self._titles:
                out.append(self._titles[ref])
            else:
                unknown.append(ref)
        if unknown:
            raise UnknownItemsError(field_name, unknown)
        return tuple(out)

    def check_categories(self, categories: Sequence[str]) -> tuple[str, ...]:
        """The categories, validated against the catalogue (case-insensitive)."""
        unknown = [c for c in categories if c.strip().lower() not in self._known_categories]
        if unknown:
            raise UnknownItemsError("include_categories", unknown)
        return tuple(categories)

    def search(self, query: str, limit: int = 20) -> list[int]:
        """Items whose title contains ``query`` (case-insensitive) or whose id equals it; prefix matches first."""
        q = query.strip().lower()
        if not q:
            return []
        exact = [self.catalogue.index_of(query.strip())] if query.strip() in self.catalogue else []
        hits = [(t.find(q), len(t), i) for i, t in enumerate(self._lower_titles) if q in t]
        ranked = [i for _, _, i in sorted(hits) if i not in exact]
        return (exact + ranked)[:limit]

    def _exclusions(self, query: Query) -> set[int]:
        banned = set(query.exclude_items) | self.hidden
        if query.include_categories:
            banned.update(outside_categories(self._categories, query.include_categories).tolist())
        return banned

    def _rank(
        self, model: Recommender, queries: Sequence[Query], k: int, exclude_history: bool
    ) -> list[Ranked]:
        recs = recommend_with_rules(
            model,
            [list(q.history) for q in queries],
            k,
            [self._exclusions(q) for q in queries],
            exclude_history,
            len(self.catalogue),
        )
        out = []
        for row in range(len(queries)):
            valid = recs.items[row] >= 0
            items, scores = recs.items[row][valid], np.asarray(recs.scores[row][valid], np.float64)
            out.append(Ranked([int(i) for i in items], [float(s) for s in scores]))
        return out

    def recommend_batch(self, queries: Sequence[Query]) -> list[Ranked]:
        """Answer many queries with as few model calls as possible, each exactly as if it came alone.

        Queries are grouped by what shapes a model call (fallback or model, ``exclude_history``, ``k``:
        a beam search's width follows its k), so one request's k or rules never change another's answer;
        exclusions and category filters are per row inside the call. The usual micro-batch (same k, same
        ``exclude_history``) is one model call.
        """
        results: list[Ranked | None] = [None] * len(queries)
        groups: dict[tuple[bool, bool, int], list[int]] = {}
        for pos, q in enumerate(queries):
            use_fallback = not q.history and self.fallback is not None
            groups.setdefault((use_fallback, q.exclude_history, q.k), []).append(pos)
        for (use_fallback, exclude_history, k), positions in groups.items():
            model = self.fallback if use_fallback and self.fallback is not None else self.recommender
            ranked = self._rank(model, [queries[p] for p in positions], k, exclude_history)
            for p, r in zip(positions, ranked, strict=True):
                flag = ("popular" if use_fallback else "model") if not queries[p].history else None
                results[p] = Ranked(r.items, r.scores, flag)
        return [r for r in results if r is not None]

    def upsert_item(self, item_id: str, fields: Mapping[str, str]) -> int:
        """Add an item with its text, or replace a known item's text (keeping its identifier) and un-hide
        it; returns its catalogue index. Run on the model worker thread (see `genrec.serving.live_catalogue`)."""
        return live_catalogue.upsert_item(self, item_id, fields)

    def hide_item(self, item_id: str) -> None:
        """Never recommend ``item_id`` again until it is upserted; it may still appear in histories."""
        if not isinstance(item_id, str) or item_id not in self.catalogue:
            raise UnknownItemsError("item", [str(item_id)])
        live_catalogue.hide_item(self, self.catalogue.index_of(item_id))
