"""Helpers for tokenizer tests: a tiny synthetic catalogue, sequences and a fake (hash-based) embedder."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from genrec.data.catalogue import Catalogue

NUM_ITEMS = 40


def fake_embed(texts: Sequence[str]) -> np.ndarray:
    """Deterministic pseudo-embeddings: a seeded Gaussian per text, plus a shared topic direction."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vec = np.random.default_rng(seed).standard_normal(16)
        topic = sum(map(ord, text.split(":")[-1].strip()[:1] or "x")) % 4
        vec[topic] += 3.0
        rows.append(vec / np.linalg.norm(vec))
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 16)


def make_catalogue(n: int = NUM_ITEMS, start: int = 0) -> Catalogue:
    """Items ``p<start>..``: duplicate titles every 7th item, no title every 11th, a brand on some."""
    records: dict[str, dict[str, str]] = {}
    ids = [f"p{i}" for i in range(start, start + n)]
    for i, item_id in enumerate(ids, start=start):
        title = "Blue Pen" if i % 7 == 0 else ("" if i % 11 == 0 else f"Gadget number {i}")
        records[item_id] = {"title": title, "brand": "Acme" if i % 3 == 0 else "", "categories": "Office"}
    return Catalogue.from_records(ids, records)


def make_sequences(n: int = NUM_ITEMS) -> list[list[int]]:
    """Users who browse two neighbourhoods of the catalogue (so co-occurrence has structure)."""
    rng = np.random.default_rng(7)
    seqs = []
    for u in range(60):
        block = (u % 4) * (n // 4)
        seqs.append([int(block + rng.integers(0, n // 4)) for _ in range(5)])
    return seqs
