"""Pure content baseline: the mean text embedding of a user's recent items, cosine-nearest items.

The sceptic's baseline for new items (issue 53, docs/new-items.md): it learns nothing from interactions,
so an item nobody has interacted with is as reachable as any other, known only by its text. Every
catalogue item is embedded with all-MiniLM-L6-v2 through the same cached embedder the semantic tokenizers
use (`genrec.tokenizers.text_embeddings`), so re-fitting costs no new embedding. A user is the mean of
the L2-normalised vectors of their ``history_items`` most recent items; items are scored by cosine
similarity to that mean. The scores are dense (`score`), so serving's rules path ranks them exactly.

Being text-only, it also takes live catalogue updates (`genrec.recommenders.catalogue_updates`): an
added item is embedded and recommendable at once, an item whose text changed is embedded again, and a
hidden item scores -inf until unhidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import PositiveInt
from safetensors.numpy import load_file, save_file

from genrec.config import ConfigModel
from genrec.data.catalogue import Catalogue
from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.io.files import atomic_path, read_json, write_json_atomic
from genrec.recommenders.base import Recommendations
from genrec.recommenders.config import config_from_mapping
from genrec.recommenders.scoring import top_k_from_scores
from genrec.tokenizers.text_embeddings import MODEL_NAME, EmbedFn, MiniLMEmbedder, item_texts

CONTENT_FILE, VECTORS_FILE = "content.json", "content_vectors.safetensors"


class ContentConfig(ConfigModel):
    """``history_items``: how many of the most recent history items form the user's vector.

    ``seed`` is recorded like every model's; the content baseline itself draws nothing at random.
    """

    seed: int = 0
    history_items: PositiveInt = 10


def _normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # (rows, 1)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class ContentRecommender:
    """Ranks the whole catalogue by cosine similarity to the mean embedding of the recent history."""

    name = "content"
    config_cls = ContentConfig

    def __init__(
        self, config: ContentConfig | None = None, progress: bool = False, embed: EmbedFn | None = None
    ) -> None:
        self.config = config if config is not None else ContentConfig()
        self.embed = embed
        self.item_vectors: np.ndarray | None = None  # (items, dim), unit rows
        self.hidden: set[int] = set()

    @property
    def num_items(self) -> int:
        return len(self._require_fit())

    def _embed_items(self, catalogue: Catalogue, items: Sequence[int]) -> np.ndarray:
        """Unit text vectors of ``items`` of ``catalogue``, (len(items), dim)."""
        if self.embed is None:
            self.embed = MiniLMEmbedder()
        vectors = np.asarray(self.embed(item_texts(catalogue, items)), dtype=np.float32)  # (n, dim)
        if vectors.ndim != 2 or len(vectors) != len(items):
            raise GenrecError(f"the embedder returned shape {vectors.shape} for {len(items)} catalogue items")
        return _normalise(vectors)

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Embed every catalogue item's text (interactions are not used: new items are scored alike)."""
        self.item_vectors = self._embed_items(train.catalogue, range(train.num_items))
        self.hidden = set()

    # ------------------------------------------------------------------ live catalogue updates
    def add_items(self, catalogue: Catalogue) -> list[int]:
        """Embed the items of ``catalogue`` beyond the fitted ones; returns their indices."""
        known = len(self._require_fit())
        if len(catalogue) < known:
            raise GenrecError(f"the catalogue has {len(catalogue)} items, fewer than the {known} fitted ones")
        added = list(range(known, len(catalogue)))
        if added:
            self.item_vectors = np.concatenate([self._require_fit(), self._embed_items(catalogue, added)])
        return added

    def refresh_text(self, catalogue: Catalogue, items: Sequence[int]) -> None:
        """Embed the changed text of known ``items`` again: the vector is the text."""
        vectors = self._require_fit()
        rows = [int(i) for i in items]
        if rows:
            vectors[rows] = self._embed_items(catalogue, rows)

    def hide_items(self, indices: Sequence[int]) -> None:
        self.hidden.update(int(i) for i in indices)

    def unhide_items(self, indices: Sequence[int]) -> None:
        self.hidden.difference_update(int(i) for i in indices)

    def _require_fit(self) -> np.ndarray:
        if self.item_vectors is None:
            raise GenrecError("ContentRecommender is not fitted; call fit() or load() first")
        return self.item_vectors

    def user_vectors(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        """Unit mean vector of each history's most recent in-catalogue items, (users, dim); zero if none."""
        items = self._require_fit()
        recent_n = self.config.history_items
        users = np.zeros((len(histories), items.shape[1]), dtype=np.float32)  # (users, dim)
        for row, history in enumerate(histories):
            known = [int(i) for i in history if 0 <= int(i) < len(items)][-recent_n:]
            if known:
                users[row] = items[known].mean(axis=0)
        return _normalise(users)

    def score(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        """Cosine similarity of every catalogue item to each user's vector, (users, items); hidden: -inf."""
        scores = self.user_vectors(histories) @ self._require_fit().T  # (users, items)
        if self.hidden:
            scores[:, sorted(self.hidden)] = -np.inf
        return scores

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """Top-k of the full catalogue per history (ties -> lower index), history excluded by default."""
        scores = self.score(histories).astype(np.float64)  # (users, items)
        return top_k_from_scores(scores, histories, k, exclude_history)

    def save(self, directory: Path) -> None:
        """``content.json`` (name, config, embedding model) + ``content_vectors.safetensors``."""
        vectors = self._require_fit()
        directory = Path(directory)
        with atomic_path(directory / VECTORS_FILE) as tmp:
            save_file({"item_vectors": vectors}, str(tmp))
        meta = {
            "name": self.name,
            "config": self.config.to_dict(),
            "embedding_model": MODEL_NAME,
            "hidden": sorted(self.hidden),
        }
        write_json_atomic(directory / CONTENT_FILE, meta)

    @classmethod
    def load(cls, directory: Path) -> ContentRecommender:
        """Restore a model written by `save`; no text is embedded again."""
        directory = Path(directory)
        meta = read_json(directory / CONTENT_FILE)
        if meta.get("name") != cls.name:
            raise GenrecError(
                f"{directory / CONTENT_FILE} holds a {meta.get('name')!r} model, not {cls.name!r}"
            )
        model = cls(config_from_mapping(ContentConfig, meta.get("config", {})))
        model.item_vectors = load_file(str(directory / VECTORS_FILE))["item_vectors"].astype(np.float32)
        model.hidden = {int(i) for i in meta.get("hidden", [])}
        return model
