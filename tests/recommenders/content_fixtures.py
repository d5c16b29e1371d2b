"""A fake text embedder for the content baseline's tests: no model download, structure known in advance."""

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
