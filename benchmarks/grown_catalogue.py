"""A generative recommender on the new-item split: fitted on known items, new ones added by catalogue update.

Issue 53 asks that new items reach genrec's generative configurations the way they would in deployment:
through the catalogue-update path (`genrec.recommenders.catalogue_updates`), never through training. So
`GrownCatalogueRecommender.fit`:

1. takes the *known* items, those with at least one interaction in the training sequences (every new item
   of the split, plus any item seen only as someone's validation or test target), and fits the generative
   recommender on a catalogue of those items alone: the item tokenizer (an RQ-VAE's quantiser, a title
   table, atomic tokens) and the backbone never see the rest. Early stopping uses the validation users
   whose target is known (a model cannot yet name the others);
2. then hands the full catalogue to `add_items`: each unseen item gets an identifier from its text with the
   fitted quantiser frozen (semantic IDs), its title (title IDs) or a new token initialised from its title
   (atomic IDs), and enters the decoding trie. Nothing is retrained.

The catalogue-update protocol appends new items after the known ones, so the inner model numbers items in
that order; the wrapper maps histories in and recommendations out, and callers see the dataset's indices.

`transfer_to` is the zero-shot transfer row: the fitted model gets the target catalogue's items by the same
catalogue update, the source's items are hidden, and target users' histories are ranked over the target's
items only. It uses no interaction of the target set.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from genrec.data.catalogue import Catalogue
from genrec.data.split import EvalSet, TrainData
from genrec.recommenders.base import Recommendations
from genrec.recommenders.catalogue_updates import catalogue_updates
from genrec.recommenders.generative import GenerativeRecommender
from genrec.tokenizers.text_embeddings import EmbedFn
from genrec.training.config import RunConfig


def reorder(catalogue: Catalogue, order: Sequence[int]) -> Catalogue:
    """``catalogue`` with its items in ``order`` (a permutation or a prefix of one)."""
    return Catalogue(
        tuple(catalogue.item_ids[i] for i in order),
        {name: tuple(values[i] for i in order) for name, values in catalogue.fields.items()},
    )


def appended(catalogue: Catalogue, other: Catalogue, prefix: str) -> Catalogue:
    """``catalogue`` followed by every item of ``other``, its ids prefixed (two sets may share an id)."""
    ids = [prefix + i for i in other.item_ids]
    records = {
        new_id: {name: values[j] for name, values in other.fields.items()} for j, new_id in enumerate(ids)
    }
    return catalogue.with_items(ids, records)


class GrownCatalogueRecommender:
    """A `GenerativeRecommender` fitted on known items whose unseen items arrive by catalogue update."""

    name = "generative-grown"

    def __init__(
        self,
        config: RunConfig,
        data_dir: Path | None = None,
        output_dir: Path | None = None,
        embed: EmbedFn | None = None,
    ) -> None:
        self.inner = GenerativeRecommender(config, data_dir=data_dir, output_dir=output_dir, embed=embed)
        self.to_inner = np.zeros(0, dtype=np.int64)  # dataset index -> inner index
        self.to_outer = np.zeros(0, dtype=np.int64)  # inner index -> dataset index
        self.num_known = 0
        self.added: list[int] = []  # dataset indices added by catalogue update
        self.inner_catalogue: Catalogue | None = None  # the dataset's catalogue in inner order
        self.training_log: dict[str, object] = {}

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Fit on the items with a training interaction, then add the others by catalogue update."""
        n = train.num_items
        seen = np.zeros(n, dtype=bool)
        for seq in train.sequences:
            seen[list(seq)] = True
        known, unseen = np.flatnonzero(seen), np.flatnonzero(~seen)
        self.to_outer = np.concatenate([known, unseen])
        self.to_inner = np.empty(n, dtype=np.int64)
        self.to_inner[self.to_outer] = np.arange(n)
        self.num_known = len(known)
        full = reorder(train.catalogue, self.to_outer.tolist())
        known_only = reorder(train.catalogue, known.tolist())
        inner_train = TrainData(known_only, [self._in(s) for s in train.sequences], train.users)
        inner_valid = None
        if valid is not None:
            rows = [r for r, t in enumerate(valid.targets) if seen[int(t)]]
            kept = valid.subset(rows)
            inner_valid = EvalSet(
                kept.users, [self._in(h) for h in kept.histories], self.to_inner[np.asarray(kept.targets)]
            )
        start = time.perf_counter()
        self.inner.fit(inner_train, inner_valid)
        fit_s = time.perf_counter() - start
        updates = catalogue_updates(self.inner)
        assert updates is not None, "a generative recommender always supports catalogue updates"
        new = updates.add_items(full)
        self.inner_catalogue = full
        self.added = [int(self.to_outer[i]) for i in new]
        summary = dict(self.inner.metrics.get("training", {}))
        summary.pop("validation", None)
        loop_s = float(summary.get("wall_time_s", 0.0))
        self.training_log = {
            "known_items": self.num_known,
            "added_items": len(self.added),
            "valid_users_for_early_stopping": 0 if inner_valid is None else len(inner_valid),
            **summary,
            # the loop's time is accumulated over resumes: a run resumed from finished checkpoints (to score
            # it again) trained for loop_wall_time_s, not for the second or so this process spent
            "loop_wall_time_s": loop_s,
            "resumed": loop_s > fit_s + 1.0,
        }

    def _in(self, items: Sequence[int]) -> list[int]:
        return [int(self.to_inner[i]) for i in items]

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        """Top-k dataset item indices per history (padding -1 kept)."""
        recs = self.inner.recommend([self._in(h) for h in histories], k, exclude_history)
        return self._out(recs)

    @property
    def num_items(self) -> int:
        return len(self.to_outer)

    def recommend_among(
        self, histories: Sequence[Sequence[int]], k: int, items: Collection[int], exclude_history: bool = True
    ) -> Recommendations:
        """Top-k dataset item indices among ``items`` only (`GenerativeRecommender.recommend_among`)."""
        among = [int(self.to_inner[i]) for i in items]
        recs = self.inner.recommend_among([self._in(h) for h in histories], k, among, exclude_history)
        return self._out(recs)

    def _out(self, recs: Recommendations) -> Recommendations:
        """Inner recommendations in dataset indices (padding -1 kept)."""
        return Recommendations(
            np.where(recs.items >= 0, self.to_outer[np.maximum(recs.items, 0)], -1), recs.scores
        )

    def transfer_to(self, target: Catalogue) -> TransferredRecommender:
        """This fitted model ranking ``target``'s items (added by catalogue update, source items hidden).

        The source items stay hidden afterwards: call it once, after the source evaluation.
        """
        updates = catalogue_updates(self.inner)
        assert updates is not None
        source_size = self.inner.num_items
        if self.inner_catalogue is None or len(self.inner_catalogue) != source_size:
            raise AssertionError("transfer_to needs a fitted model whose catalogue has not grown since")
        new = updates.add_items(appended(self.inner_catalogue, target, prefix="transfer:"))
        if new != list(range(source_size, source_size + len(target))):
            raise AssertionError("the target's items must follow the source's, in order")
        updates.hide_items(range(source_size))
        return TransferredRecommender(self.inner, source_size)


class TransferredRecommender:
    """A source-trained generative model ranking a target catalogue (target index = inner index - offset)."""

    name = "generative-transferred"

    def __init__(self, inner: GenerativeRecommender, offset: int) -> None:
        self.inner, self.offset = inner, offset

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        shifted = [[int(i) + self.offset for i in h] for h in histories]
        recs = self.inner.recommend(shifted, k, exclude_history)
        if np.any((recs.items >= 0) & (recs.items < self.offset)):
            raise AssertionError("a hidden source item was recommended")
        return Recommendations(np.where(recs.items >= 0, recs.items - self.offset, -1), recs.scores)
