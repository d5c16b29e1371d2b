"""The `Quantiser` protocol and the collision-aware last-level assignment shared by semantic tokenizers.

A quantiser maps embedding vectors to ``levels`` codes (each in ``0..codebook_size-1``), coarse to fine,
and exposes the distances of each vector's last-level residual to the last codebook, so that colliding
items can be spread over the last level (`spread_last_level`).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.optimize import linear_sum_assignment


class Quantiser(Protocol):
    """Residual quantiser over item-text embeddings."""

    levels: int
    codebook_size: int

    def fit(self, x: np.ndarray, seed: int) -> None:
        """Learn the codebooks from embeddings ``x`` of shape (n, dim)."""
        ...

    def codes(self, x: np.ndarray) -> np.ndarray:
        """Nearest-code assignment, shape (n, levels), int64."""
        ...

    def last_level_distances(self, x: np.ndarray) -> np.ndarray:
        """Squared distances of each last-level residual to the last codebook, shape (n, codebook_size)."""
        ...

    def save(self, directory: Path) -> None: ...

    def load_state(self, directory: Path) -> None: ...


def spread_last_level(codes: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Re-assign last-level codes inside each group of items whose full codes collide.

    Items sharing the first ``levels - 1`` codes form a group; in a group where two items got the same
    last code, the group's items are matched one-to-one to distinct last-level codes minimising the total
    distance (`scipy.optimize.linear_sum_assignment`), so an item only moves to the next-nearest free
    code. Groups larger than the codebook keep their nearest codes (the collision level handles them).
    Deterministic: groups and items are visited in index order.

    codes: (n, levels) int; distances: (n, codebook_size). Returns a new (n, levels) array.
    """
    out = codes.copy()
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, row in enumerate(codes):
        groups[tuple(int(c) for c in row[:-1])].append(i)
    for members in groups.values():
        last = codes[members, -1]
        if len(members) < 2 or len(set(last.tolist())) == len(members):
            continue
        if len(members) > distances.shape[1]:
            continue
        cost = distances[members]  # (group, codebook_size)
        rows, cols = linear_sum_assignment(cost)
        out[np.asarray(members)[rows], -1] = cols
    return out
