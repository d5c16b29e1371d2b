"""Known items from the LM-enhanced SASRec, new items from their text: one list (issue 53).

An ID model cannot rank an item nobody has interacted with: its embedding never trained. The text-only
SASRec can, but loses the ID model's accuracy on everything else. This recommender keeps both strengths:

- **known items** (at least one training interaction) are scored by the LM-enhanced SASRec (`sasrec-text`,
  ``fusion=sum``: ID embedding + adapted MiniLM text), standardised per user over the known items;
- **new items** (no training interaction: held out by the new-item split, or added to the catalogue after
  training) are scored by the cosine similarity of their MiniLM text to the user's recent history (the
  content model), standardised per user over the new items, then mapped onto the known items' scale as
  ``text_weight * z + new_item_offset``;
- at most ``floor(epsilon * K)`` new items enter a top-K list (TIGER's cap), so new items take a bounded
  share of every list.

``text_weight``, ``new_item_offset`` and ``epsilon`` are choices made on validation users
(benchmarks/coldstart.py); `with_blend` gives the same fitted model under other choices without refitting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field, PositiveInt

from genrec.data.catalogue import Catalogue
from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.io.files import read_json, write_json_atomic
from genrec.recommenders.base import Recommendations
from genrec.recommenders.content import ContentConfig, ContentRecommender
from genrec.recommenders.scoring import mask_history
from genrec.recommenders.text_sasrec import TextSASRecConfig, TextSASRecRecommender
from genrec.tokenizers.text_embeddings import EmbedFn

BLEND_FILE = "cold_start_blend.json"
BASE_DIR, TEXT_DIR = "known_items", "new_items"


class ColdStartBlendConfig(TextSASRecConfig):
    """The LM-enhanced SASRec's options, plus how new items are scored and how many may enter a list."""

    content_history_items: PositiveInt = 10
    text_weight: float = Field(default=1.0, ge=0.0)
    new_item_offset: float = 1.0
    epsilon: float = Field(default=0.1, ge=0.0, le=1.0)

    def base_config(self) -> TextSASRecConfig:
        own = {"content_history_items", "text_weight", "new_item_offset", "epsilon"}
        return TextSASRecConfig(**{k: v for k, v in self.model_dump().items() if k not in own})


def _standardise(scores: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(scores - mean) / std per row, both taken over ``columns`` only (finite entries); (users, items)."""
    part = scores[:, columns]
    finite = np.isfinite(part)
    count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    mean = np.where(finite, part, 0.0).sum(axis=1, keepdims=True) / count
    var = np.where(finite, (part - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / count
    return (scores - mean) / np.maximum(np.sqrt(var), 1e-8)


class ColdStartBlendRecommender:
    """LM-enhanced SASRec for items with interactions, text similarity for items without (capped share)."""

    name = "cold-start-blend"
    config_cls = ColdStartBlendConfig

    def __init__(
        self,
        config: ColdStartBlendConfig | None = None,
        progress: bool = False,
        embed: EmbedFn | None = None,
    ) -> None:
        self.config = config if config is not None else ColdStartBlendConfig()
        self.known = TextSASRecRecommender(self.config.base_config(), progress=progress, embed=embed)
        self.text = ContentRecommender(
            ContentConfig(seed=self.config.seed, history_items=self.config.content_history_items), embed=embed
        )
        self.is_new: np.ndarray | None = None  # (items,) bool: no training interaction
        self.training_log: dict[str, Any] = {}

    @property
    def num_items(self) -> int:
        return len(self._require_fit())

    def _require_fit(self) -> np.ndarray:
        if self.is_new is None:
            raise GenrecError("ColdStartBlendRecommender is not fitted; call fit() or load() first")
        return self.is_new

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Fit the LM-enhanced SASRec and embed the catalogue; items without interactions count as new."""
        self.known.fit(train, valid)
        self.text.fit(train, valid)
        counts = np.zeros(train.num_items, dtype=np.int64)
        for seq in train.sequences:
            np.add.at(counts, np.asarray(seq, dtype=np.int64), 1)
        self.is_new = counts == 0
        self.training_log = {**self.known.training_log, "new_items": int(self.is_new.sum())}

    def with_blend(
        self, text_weight: float, new_item_offset: float, epsilon: float
    ) -> ColdStartBlendRecommender:
        """The same fitted parts under other blend choices (for the validation sweep; nothing is copied)."""
        other = object.__new__(ColdStartBlendRecommender)
        other.__dict__.update(self.__dict__)
        other.config = self.config.model_copy(
            update={"text_weight": text_weight, "new_item_offset": new_item_offset, "epsilon": epsilon}
        )
        return other

    # ------------------------------------------------------------------ scoring
    def score_parts(self, histories: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The two standardised views, each (users, items), hidden items -inf in both.

        ``known``: SASRec scores standardised over the known items; ``text``: text similarity standardised
        over the new items. `blend` puts them on one scale; kept apart so a sweep computes them once.
        """
        is_new = self._require_fit()
        known_raw = self.known.score(histories)
        known_scores = (known_raw.numpy() if isinstance(known_raw, torch.Tensor) else known_raw).astype(
            np.float64
        )
        text_scores = np.asarray(self.text.score(histories), dtype=np.float64)  # (users, items)
        known = _standardise(known_scores, np.flatnonzero(~is_new))
        text = _standardise(text_scores, np.flatnonzero(is_new)) if is_new.any() else text_scores
        hidden = ~np.isfinite(known_scores) | ~np.isfinite(text_scores)
        known[hidden], text[hidden] = -np.inf, -np.inf
        return known, text

    def blend(self, known: np.ndarray, text: np.ndarray) -> np.ndarray:
        """Known items keep ``known``; new items get ``text_weight * text + new_item_offset``; (users, items)."""
        is_new = self._require_fit()
        out = known.copy()
        out[:, is_new] = self.config.text_weight * text[:, is_new] + self.config.new_item_offset
        return out

    def score(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        """Blended scores on one scale, (users, items): standardised SASRec (known), mapped text (new)."""
        return self.blend(*self.score_parts(histories))

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """Top-``k`` with at most ``floor(epsilon * k)`` new items; rows padded only if items run out."""
        scores = self.score(histories)  # (users, items)
        if exclude_history:
            mask_history(scores, histories)
        return capped_top_k(scores, self._require_fit(), k, math.floor(self.config.epsilon * k + 1e-9))

    # ------------------------------------------------------------------ live catalogue updates
    def add_items(self, catalogue: Catalogue) -> list[int]:
        """New catalogue items enter both parts and count as new (they have no interaction yet)."""
        is_new = self._require_fit()
        added = self.known.add_items(catalogue)
        if self.text.add_items(catalogue) != added:
            raise GenrecError("the two parts of the cold-start blend disagree about the added items")
        self.is_new = np.concatenate([is_new, np.ones(len(added), dtype=bool)])
        return added

    def refresh_text(self, catalogue: Catalogue, items: Sequence[int]) -> None:
        self.known.refresh_text(catalogue, items)
        self.text.refresh_text(catalogue, items)

    def hide_items(self, indices: Sequence[int]) -> None:
        self.known.hide_items(indices)
        self.text.hide_items(indices)

    def unhide_items(self, indices: Sequence[int]) -> None:
        self.known.unhide_items(indices)
        self.text.unhide_items(indices)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """``cold_start_blend.json`` (config, new-item mask) and the two parts in their own folders."""
        is_new = self._require_fit()
        directory = Path(directory)
        self.known.save(directory / BASE_DIR)
        self.text.save(directory / TEXT_DIR)
        meta = {
            "name": self.name,
            "config": self.config.to_dict(),
            "new_items": np.flatnonzero(is_new).tolist(),
        }
        write_json_atomic(directory / BLEND_FILE, meta)

    @classmethod
    def load(cls, directory: Path) -> ColdStartBlendRecommender:
        directory = Path(directory)
        meta = read_json(directory / BLEND_FILE)
        if meta.get("name") != cls.name:
            raise GenrecError(
                f"{directory / BLEND_FILE} holds a {meta.get('name')!r} model, not {cls.name!r}"
            )
        model = cls(ColdStartBlendConfig(**meta["config"]))
        known = TextSASRecRecommender.load(directory / BASE_DIR)
        text = ContentRecommender.load(directory / TEXT_DIR)
        assert isinstance(known, TextSASRecRecommender) and isinstance(text, ContentRecommender)
        model.known, model.text = known, text
        is_new = np.zeros(text.num_items, dtype=bool)
        is_new[meta["new_items"]] = True
        model.is_new = is_new
        return model


def capped_top_k(scores: np.ndarray, is_new: np.ndarray, k: int, max_new: int) -> Recommendations:
    """The best ``k`` entries per row of ``scores`` (users, items) with at most ``max_new`` new items.

    ``is_new``: (items,) bool. Ties go to the lower item index; -inf entries are never returned (item -1).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    # the best k known and the best max_new new items per row, then the best k of those
    known_part = np.where(is_new[None, :], -np.inf, scores)
    new_part = np.where(is_new[None, :], scores, -np.inf)
    parts = [(known_part, k), (new_part, max_new)] if max_new else [(known_part, k)]
    pools = [_top(part, n) for part, n in parts]
    cand = np.concatenate(pools, axis=1)  # (users, k + max_new)
    # each pool's scores from its own part, so an item padded into the wrong pool stays at -inf
    cand_scores = np.concatenate(
        [np.take_along_axis(part, pool, axis=1) for (part, _), pool in zip(parts, pools, strict=True)],
        axis=1,
    )
    order = np.lexsort((cand, -cand_scores), axis=1)[:, :k]  # by score, ties -> lower index
    items = np.take_along_axis(cand, order, axis=1)
    top_scores = np.take_along_axis(cand_scores, order, axis=1).astype(np.float32)
    items = np.where(np.isfinite(top_scores), items, -1)
    if items.shape[1] < k:
        pad = k - items.shape[1]
        items = np.pad(items, ((0, 0), (0, pad)), constant_values=-1)
        top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    return Recommendations(items.astype(np.int64), top_scores)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest entries per row (unordered), (users, min(k, items))."""
    k = min(k, scores.shape[1])
    return np.argpartition(-scores, k - 1, axis=1)[:, :k]
