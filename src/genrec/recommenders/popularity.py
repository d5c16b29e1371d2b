"""Most-popular baseline: ranks items by training interaction count."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.io.files import write_text_atomic
from genrec.recommenders.base import Recommendations
from genrec.recommenders.scoring import top_k_from_scores


class PopularityRecommender:
    """Recommends the items seen most often in training; ties broken by the lower item index."""

    name = "popularity"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.counts: np.ndarray | None = None

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        counts = np.zeros(train.num_items, dtype=np.float64)
        for seq in train.sequences:
            np.add.at(counts, np.asarray(seq, dtype=np.int64), 1.0)
        self.counts = counts

    def _require_fit(self) -> np.ndarray:
        if self.counts is None:
            raise GenrecError("PopularityRecommender is not fitted; call fit() or load() first")
        return self.counts

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        counts = self._require_fit()
        scores = np.broadcast_to(counts, (len(histories), len(counts))).copy()  # (users, items)
        return top_k_from_scores(scores, histories, k, exclude_history)

    def save(self, directory: Path) -> None:
        counts = self._require_fit()
        state = json.dumps({"seed": self.seed, "counts": counts.tolist()})
        write_text_atomic(directory / "popularity.json", state)

    @classmethod
    def load(cls, directory: Path) -> PopularityRecommender:
        state = json.loads((directory / "popularity.json").read_text())
        model = cls(seed=int(state["seed"]))
        model.counts = np.asarray(state["counts"], dtype=np.float64)
        return model
