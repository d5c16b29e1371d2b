"""Item text embeddings with all-MiniLM-L6-v2, cached on disk by a hash of each text.

Semantic tokenizers quantise these vectors. Embedding a catalogue takes minutes on a CPU, so every
vector is stored once under ``cache_dir()/embeddings/<model>/`` keyed by the SHA-256 of its text (and the
model name): re-fitting, or adding items to a catalogue, only embeds texts never seen before.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrec.assets import cache_dir, minilm_dir
from genrec.data.catalogue import Catalogue
from genrec.io.files import atomic_path

logger = logging.getLogger(__name__)

#: Any function mapping texts to a float32 matrix of shape (len(texts), dim); tests inject fakes.
EmbedFn = Callable[[Sequence[str]], np.ndarray]

MODEL_NAME = "all-MiniLM-L6-v2"


def item_texts(catalogue: Catalogue, items: Sequence[int] | None = None) -> list[str]:
    """The text embedded for each item: title, brand, categories and description as available."""
    indices = range(len(catalogue)) if items is None else items
    return [catalogue.describe(i, ("title", "brand", "categories", "description")) for i in indices]


def text_key(text: str, model: str = MODEL_NAME) -> str:
    """Cache key of one text: SHA-256 over the model name and the text."""
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()


class MiniLMEmbedder:
    """Embeds texts with all-MiniLM-L6-v2 on the CPU, in batches, through a per-text disk cache.

    The model is loaded lazily, only when some text is missing from the cache.
    """

    def __init__(
        self, cache: Path | None = None, batch_size: int = 64, device: str = "cpu", max_seq_length: int = 256
    ) -> None:
        self.cache = cache if cache is not None else cache_dir() / "embeddings" / MODEL_NAME
        self.batch_size = batch_size
        self.device = device
        self.max_seq_length = max_seq_length
        self._model: Any = None

    def _path(self, key: str) -> Path:
        return self.cache / key[:2] / f"{key}.npy"

    def _load_model(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(minilm_dir()), device=self.device)
            self._model.max_seq_length = self.max_seq_length
        return self._model

    def _store(self, key: str, vector: np.ndarray) -> None:
        with atomic_path(self._path(key)) as tmp, open(tmp, "wb") as fh:
            np.save(fh, vector)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, shape (len(texts), 384), float32, L2-normalised."""
        keys = [text_key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key in found or key in missing:
                continue
            path = self._path(key)
            if path.is_file():
                found[key] = np.load(path)
            else:
                missing[key] = text
        if missing:
            logger.info("embedding %d new texts with %s", len(missing), MODEL_NAME)
            model = self._load_model()
            miss_keys = list(missing)
            vectors = model.encode(
                [missing[k] for k in miss_keys],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            ).astype(np.float32)
            for key, vector in zip(miss_keys, vectors, strict=True):
                self._store(key, vector)
                found[key] = vector
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)  # (n, 384)
