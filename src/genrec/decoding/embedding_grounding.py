"""Embedding grounding (BIGRec-style): map free generated text to the nearest catalogue items.

The generated texts are embedded with the same function that embedded the catalogue, and each is
grounded to the catalogue items at the smallest L2 distance, in batches (one distance matrix per batch,
computed as |a|^2 - 2ab + |b|^2). History items can be excluded per query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from genrec.errors import ConfigError, DataError

EmbedFn = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Grounding:
    """Top-k catalogue items per query: ``items`` (queries, k) indices, ``distances`` (queries, k) L2."""

    items: np.ndarray
    distances: np.ndarray


class EmbeddingGrounder:
    """Nearest-item lookup over fixed catalogue embeddings (rows = item indices)."""

    def __init__(self, embed: EmbedFn, item_embeddings: np.ndarray, batch_size: int = 256) -> None:
        items = np.asarray(item_embeddings, dtype=np.float32)
        if items.ndim != 2 or items.shape[0] == 0:
            raise DataError(f"EmbeddingGrounder: item embeddings must be (items, dim), got {items.shape}")
        if not np.isfinite(items).all():
            raise DataError("EmbeddingGrounder: item embeddings contain NaN or infinity")
        if batch_size < 1:
            raise ConfigError(f"EmbeddingGrounder: batch_size must be >= 1, got {batch_size}")
        self.embed = embed
        self.items = items  # (items, dim)
        self.item_sq = (items.astype(np.float64) ** 2).sum(1)  # (items,)
        self.batch_size = batch_size

    def ground(
        self, texts: Sequence[str], k: int = 10, histories: Sequence[Sequence[int]] | None = None
    ) -> Grounding:
        """The k nearest items to each text, nearest first, never an item of ``histories[i]``."""
        n_items = self.items.shape[0]
        if histories is not None and len(histories) != len(texts):
            raise ConfigError(f"ground: {len(histories)} histories for {len(texts)} texts")
        longest = max((len(set(h)) for h in histories), default=0) if histories is not None else 0
        if not 1 <= k <= n_items - longest:
            raise ConfigError(f"ground: k={k} must be in [1, {n_items - longest}] (catalogue minus history)")
        out_items = np.empty((len(texts), k), dtype=np.int64)
        out_dist = np.empty((len(texts), k), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            query = np.asarray(self.embed(batch), dtype=np.float64)  # (batch, dim)
            if query.shape != (len(batch), self.items.shape[1]):
                raise DataError(
                    f"ground: embedding function returned shape {query.shape}, expected "
                    f"{(len(batch), self.items.shape[1])}"
                )
            sq = (query**2).sum(1)[:, None] - 2.0 * query @ self.items.T.astype(np.float64) + self.item_sq
            sq = np.maximum(sq, 0.0)  # (batch, items)
            if histories is not None:
                for row, hist in enumerate(histories[start : start + len(batch)]):
                    idx = [i for i in hist if 0 <= i < n_items]
                    sq[row, idx] = np.inf
            part = np.argpartition(sq, k - 1, axis=1)[:, :k]  # (batch, k) unordered
            part_d = np.take_along_axis(sq, part, 1)
            order = np.lexsort((part, part_d), axis=1)  # by distance, ties by item index
            out_items[start : start + len(batch)] = np.take_along_axis(part, order, 1)
            out_dist[start : start + len(batch)] = np.sqrt(np.take_along_axis(part_d, order, 1))
        return Grounding(items=out_items, distances=out_dist)
