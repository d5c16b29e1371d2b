"""Item text embeddings (all-MiniLM-L6-v2, or an LM's mean-pooled states), cached on disk per text.

Semantic tokenizers quantise the MiniLM vectors; the text-fused SASRec and the content baseline use them
as a frozen view of each item. Embedding a catalogue takes minutes on a CPU, so every
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


class CachedEmbedder:
    """Embeds texts through a per-text disk cache; a subclass supplies the model (`_encode`) and its name.

    The model is loaded lazily, only when some text is missing from the cache.
    """

    model_name = MODEL_NAME
    dim = 384

    def __init__(self, cache: Path | None = None, batch_size: int = 64) -> None:
        self.cache = cache if cache is not None else cache_dir() / "embeddings" / self.model_name
        self.batch_size = batch_size

    def _path(self, key: str) -> Path:
        return self.cache / key[:2] / f"{key}.npy"

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` computed by the model, (len(texts), dim) float32."""
        raise NotImplementedError

    def _store(self, key: str, vector: np.ndarray) -> None:
        with atomic_path(self._path(key)) as tmp, open(tmp, "wb") as fh:
            np.save(fh, vector)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, shape (len(texts), dim), float32, L2-normalised."""
        keys = [text_key(t, self.model_name) for t in texts]
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
            logger.info("embedding %d new texts with %s", len(missing), self.model_name)
            miss_keys = list(missing)
            vectors = self._encode([missing[k] for k in miss_keys]).astype(np.float32)
            for key, vector in zip(miss_keys, vectors, strict=True):
                self._store(key, vector)
                found[key] = vector
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)  # (n, dim)


class MiniLMEmbedder(CachedEmbedder):
    """Embeds texts with all-MiniLM-L6-v2 (sentence-transformers) on the CPU, in batches, cached."""

    def __init__(
        self, cache: Path | None = None, batch_size: int = 64, device: str = "cpu", max_seq_length: int = 256
    ) -> None:
        super().__init__(cache, batch_size)
        self.device = device
        self.max_seq_length = max_seq_length
        self._model: Any = None

    def _load_model(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(minilm_dir()), device=self.device)
            self._model.max_seq_length = self.max_seq_length
        return self._model

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._load_model().encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)  # (n, 384)


class LMMeanEmbedder(CachedEmbedder):
    """Mean-pooled last hidden states of a causal LM (SmolLM2-135M-Instruct by default), L2-normalised.

    The LLM-ESR / AlphaRec line feeds a language model's own representation of an item's text to a
    classical recommender; this is that view. Texts are cut at ``max_tokens`` tokens so a catalogue
    embeds in minutes on a CPU; each vector is cached like MiniLM's, under the model's name.
    """

    model_name = "SmolLM2-135M-Instruct-mean"
    dim = 576

    def __init__(
        self,
        cache: Path | None = None,
        batch_size: int = 16,
        max_tokens: int = 64,
        model_dir: Path | None = None,
    ) -> None:
        super().__init__(cache, batch_size)
        self.max_tokens = max_tokens
        self.model_dir = model_dir
        self._model: Any = None
        self._tokenizer: Any = None

    def _load_model(self) -> tuple[Any, Any]:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModel, AutoTokenizer

            from genrec.assets import smollm2_dir

            path = self.model_dir if self.model_dir is not None else smollm2_dir()
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            if self._tokenizer.pad_token is None:
                self._tokenizer.pad_token = self._tokenizer.eos_token
            self._model = AutoModel.from_pretrained(path).eval()
        return self._model, self._tokenizer

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        model, tokenizer = self._load_model()
        out = []
        with torch.no_grad():
            for lo in range(0, len(texts), self.batch_size):
                batch = tokenizer(
                    list(texts[lo : lo + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                )
                hidden = model(**batch).last_hidden_state  # (batch, tokens, dim)
                mask = batch["attention_mask"][..., None].to(hidden.dtype)  # (batch, tokens, 1)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (batch, dim)
                out.append(torch.nn.functional.normalize(mean, dim=-1).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)
