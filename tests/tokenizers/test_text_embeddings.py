"""The on-disk embedding cache (with a fake model) and one slow test with the real all-MiniLM-L6-v2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tokenizer_fixtures import make_catalogue

from genrec.tokenizers.text_embeddings import MiniLMEmbedder, item_texts, text_key


class CountingModel:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
        self.seen.extend(texts)
        return np.asarray([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_cache_embeds_each_distinct_text_once(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(cache=tmp_path)
    model = CountingModel()
    embedder._model = model
    first = embedder(["a", "bb", "a"])
    assert model.seen == ["a", "bb"]
    again = MiniLMEmbedder(cache=tmp_path)
    again._model = CountingModel()
    second = again(["bb", "a", "ccc"])
    assert again._model.seen == ["ccc"]
    assert np.array_equal(second[:2], first[[1, 0]])
    assert (tmp_path / text_key("a")[:2] / f"{text_key('a')}.npy").is_file()
    assert not list(tmp_path.rglob("*.tmp"))


def test_item_text_uses_all_available_fields() -> None:
    cat = make_catalogue(4)
    assert item_texts(cat, [0]) == ["title: Blue Pen; brand: Acme; categories: Office"]


@pytest.mark.slow
def test_real_minilm_embeds_similar_texts_closer(tmp_path: Path) -> None:
    texts = [f"title: ballpoint pen pack of {n}" for n in range(10)] + [
        f"title: laboratory glass beaker {n} ml" for n in range(10)
    ]
    vectors = MiniLMEmbedder(cache=tmp_path)(texts)
    assert vectors.shape == (20, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sims = vectors @ vectors.T
    assert sims[0, 1:10].min() > sims[0, 10:].max()
