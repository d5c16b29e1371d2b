"""Embedding grounding with a fake, deterministic embedding function."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.decoding.embedding_grounding import EmbeddingGrounder
from genrec.errors import ConfigError, DataError

CATALOGUE = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, -1.0]])


def fake_embed(texts: list[str]) -> np.ndarray:
    """'x,y' -> the point (x, y)."""
    return np.array([[float(v) for v in t.split(",")] for t in texts])


def test_nearest_items_by_l2_in_batches() -> None:
    grounder = EmbeddingGrounder(fake_embed, CATALOGUE, batch_size=2)
    out = grounder.ground(["0.9,0.1", "2.9,3.2", "0,1.6"], k=2)
    assert out.items.tolist() == [[1, 0], [3, 2], [2, 0]]
    assert out.distances[0] == pytest.approx([np.hypot(0.1, 0.1), np.hypot(0.9, 0.1)], abs=1e-6)
    brute = np.linalg.norm(CATALOGUE[None] - fake_embed(["2.9,3.2"])[:, None], axis=-1)[0]
    assert out.distances[1] == pytest.approx(np.sort(brute)[:2], abs=1e-6)


def test_history_exclusion() -> None:
    grounder = EmbeddingGrounder(fake_embed, CATALOGUE)
    out = grounder.ground(["0.9,0.1", "0.9,0.1"], k=2, histories=[[1, 0], []])
    assert out.items.tolist() == [[2, 4], [1, 0]]  # |(0.9,0.1)-(0,2)| = 2.10 < 2.20


def test_bad_inputs() -> None:
    with pytest.raises(DataError):
        EmbeddingGrounder(fake_embed, np.zeros((0, 2)))
    grounder = EmbeddingGrounder(fake_embed, CATALOGUE)
    with pytest.raises(ConfigError):
        grounder.ground(["0,0"], k=5, histories=[[0]])
    with pytest.raises(DataError, match="shape"):
        EmbeddingGrounder(lambda t: np.zeros((len(t), 3)), CATALOGUE).ground(["a"], k=1)
