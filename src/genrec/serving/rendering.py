"""Catalogue indices and ranked answers turned into API response models (shared by all routes)."""

from __future__ import annotations

from typing import Literal

from genrec.serving.schemas import ItemSummary, RecommendedItem
from genrec.serving.service import Ranked, RecommendService


def item_summary(service: RecommendService, index: int) -> ItemSummary:
    cat = service.catalogue
    return ItemSummary(id=cat.id_of(index), title=cat.title(index), categories=cat.text(index, "categories"))


def recommended_items(service: RecommendService, ranked: Ranked) -> list[RecommendedItem]:
    """The ranked items, best first, with their titles, scores and 1-based ranks."""
    out = []
    for rank, (index, score) in enumerate(zip(ranked.items, ranked.scores, strict=True), 1):
        summary = item_summary(service, index)
        out.append(RecommendedItem(id=summary.id, title=summary.title, score=score, rank=rank))
    return out


def fallback_flag(ranked: Ranked) -> Literal["popular", "model"] | None:
    """How an empty history was answered: "popular" (the run's fallback), "model", or None (not empty)."""
    return "popular" if ranked.fallback == "popular" else "model" if ranked.fallback == "model" else None
