"""The `Recommender` protocol shared by baselines and generative recommenders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from genrec.data.split import EvalSet, TrainData


@dataclass(frozen=True)
class Recommendations:
    """Top-K lists for a batch of users, best first.

    ``items`` holds item indices, shape (users, k); ``scores`` the model's scores, same shape (higher is
    better). A row with fewer than k valid items is padded with item -1 and score -inf.
    """

    items: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        if self.items.shape != self.scores.shape or self.items.ndim != 2:
            raise ValueError(
                f"items {self.items.shape} and scores {self.scores.shape} must be equal 2-D shapes"
            )


@runtime_checkable
class Recommender(Protocol):
    """Anything that learns from training sequences and ranks the whole catalogue for a history."""

    #: Registry name ("popularity", "sasrec", ...).
    name: str

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Learn from ``train``; ``valid`` (if given) is used for early stopping / model selection only."""
        ...

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """Top-``k`` items per history; with ``exclude_history`` no item of the history is returned."""
        ...

    def save(self, directory: Path) -> None:
        """Write the fitted model into ``directory`` (created if missing)."""
        ...

    @classmethod
    def load(cls, directory: Path) -> Recommender:
        """Restore a model written by `save`."""
        ...
