"""Fake text embedders for tests: no model download, structure known in advance."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

DIM = 16


def fake_embed(texts: Sequence[str]) -> np.ndarray:
    """A seeded Gaussian per text plus a strong "topic" direction: the text's first number modulo 4.

    Items whose texts share a topic are cosine neighbours; texts without a number get topic 0.
    """
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vec = np.random.default_rng(seed).standard_normal(DIM)
        number = re.search(r"\d+", text)
        vec[int(number.group()) % 4 if number else 0] += 6.0
        rows.append(vec / np.linalg.norm(vec))
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), DIM)


def hash_embed(texts: Sequence[str]) -> np.ndarray:
    """Deterministic 8-d text vectors (equal texts, equal vectors) with no structure, shape (len(texts), 8)."""
    rows = [
        np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")).normal(
            size=8
        )
        for t in texts
    ]
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 8)
