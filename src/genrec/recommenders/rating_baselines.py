"""Baselines for preference prediction: scores for "does the user like the target?" without an LM.

All three are fitted on the training part of a time split (`genrec.data.ratings`) and score a
`PreferenceExample`; the score only needs to order examples (AUC), not be a probability.

- `ItemMeanRating`: the target's mean training rating; the global training mean for an unseen item.
- `BiasedMF`: a biased matrix-factorisation rating model (global mean + user bias + item bias + user .
  item factors) fitted by Adam on the squared error of the training ratings, the epoch chosen by
  validation AUC; score = predicted rating. Users/items absent from training keep zero bias and factors.
- `SASRecTargetScore`: genrec's SASRec (CE loss) trained on the training-part item sequences (implicit:
  it models *what* a user rates next, not whether they like it); score = its logit for the target given
  the example's history, as TALLRec's sequential baselines are used.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from genrec.data.catalogue import Catalogue
from genrec.data.ratings import PreferenceExample, Ratings
from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.recommenders.preference_prediction import auc


def _targets(examples: Sequence[PreferenceExample]) -> np.ndarray:
    return np.asarray([e.target for e in examples], dtype=np.int64)


class ItemMeanRating:
    """Score = the target's mean training rating (global mean for items without training ratings)."""

    name = "item-mean"

    def __init__(self) -> None:
        self.means: np.ndarray | None = None

    def fit(self, ratings: Ratings, train_mask: np.ndarray) -> dict[str, Any]:
        items, stars = ratings.item[train_mask], ratings.rating[train_mask].astype(np.float64)
        n = len(ratings.catalogue)
        sums = np.bincount(items, weights=stars, minlength=n)  # (items,)
        counts = np.bincount(items, minlength=n)  # (items,)
        global_mean = float(stars.mean()) if len(stars) else 0.0
        self.means = np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
        return {"train_ratings": len(stars), "unseen_items": int((counts == 0).sum())}

    def predict(self, examples: Sequence[PreferenceExample]) -> np.ndarray:
        if self.means is None:
            raise GenrecError("ItemMeanRating is not fitted")
        return self.means[_targets(examples)]


class _MF(nn.Module):
    def __init__(self, users: int, items: int, dim: int, mean: float) -> None:
        super().__init__()
        self.user = nn.Embedding(users, dim)
        self.item = nn.Embedding(items, dim)
        self.user_bias = nn.Embedding(users, 1)
        self.item_bias = nn.Embedding(items, 1)
        for table in (self.user, self.item):
            nn.init.normal_(table.weight, std=0.01)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)
        self.mean = mean

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        dot = (self.user(users) * self.item(items)).sum(-1)  # (batch,)
        return self.mean + self.user_bias(users)[:, 0] + self.item_bias(items)[:, 0] + dot  # (batch,)


class BiasedMF:
    """Biased matrix factorisation of the training ratings; see the module docstring."""

    name = "mf"

    def __init__(
        self,
        dim: int = 32,
        lr: float = 0.01,
        weight_decay: float = 0.05,
        epochs: int = 30,
        batch_size: int = 1024,
        seed: int = 0,
    ) -> None:
        self.dim, self.lr, self.weight_decay = dim, lr, weight_decay
        self.epochs, self.batch_size, self.seed = epochs, batch_size, seed
        self.net: _MF | None = None
        self.seen_users: np.ndarray | None = None
        self.seen_items: np.ndarray | None = None

    def fit(
        self, ratings: Ratings, train_mask: np.ndarray, valid: Sequence[PreferenceExample] = ()
    ) -> dict[str, Any]:
        """Adam on the squared error (L2 on the rows of each batch); the best-validation-AUC epoch is kept."""
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        users = torch.as_tensor(ratings.user[train_mask])  # (train,)
        items = torch.as_tensor(ratings.item[train_mask])  # (train,)
        stars = torch.as_tensor(ratings.rating[train_mask], dtype=torch.float32)  # (train,)
        self.seen_users = np.bincount(users.numpy(), minlength=len(ratings.users)) > 0
        self.seen_items = np.bincount(items.numpy(), minlength=len(ratings.catalogue)) > 0
        net = _MF(len(ratings.users), len(ratings.catalogue), self.dim, float(stars.mean()))
        self.net = net
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        start = time.perf_counter()
        best = (-math.inf, 0, copy.deepcopy(net.state_dict()))
        history = []
        for epoch in range(1, self.epochs + 1):
            net.train()
            order = torch.as_tensor(rng.permutation(len(stars)))
            total = 0.0
            for lo in range(0, len(order), self.batch_size):
                b = order[lo : lo + self.batch_size]
                u, i = users[b], items[b]
                err = ((net(u, i) - stars[b]) ** 2).mean()
                reg = (net.user(u) ** 2).sum(-1).mean() + (net.item(i) ** 2).sum(-1).mean()
                reg = reg + (net.user_bias(u) ** 2).mean() + (net.item_bias(i) ** 2).mean()
                loss = err + self.weight_decay * reg
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(err.item()) * len(b)
            record = {"epoch": float(epoch), "train_mse": total / len(stars)}
            if valid:
                record["valid_auc"] = auc([e.label for e in valid], self.predict(valid))
            history.append(record)
            score = record.get("valid_auc", float(epoch))
            if score > best[0]:
                best = (score, epoch, copy.deepcopy(net.state_dict()))
        net.load_state_dict(best[2])
        return {"best_epoch": best[1], "train_s": time.perf_counter() - start, "history": history}

    @torch.no_grad()
    def predict(self, examples: Sequence[PreferenceExample]) -> np.ndarray:
        if self.net is None or self.seen_users is None or self.seen_items is None:
            raise GenrecError("BiasedMF is not fitted")
        self.net.eval()
        u = np.asarray([e.user for e in examples], dtype=np.int64)
        i = _targets(examples)
        user_vec = self.net.user(torch.as_tensor(u)) * torch.as_tensor(self.seen_users[u])[:, None]  # (n, d)
        item_vec = self.net.item(torch.as_tensor(i)) * torch.as_tensor(self.seen_items[i])[:, None]  # (n, d)
        bias_u = self.net.user_bias(torch.as_tensor(u))[:, 0] * torch.as_tensor(self.seen_users[u])  # (n,)
        bias_i = self.net.item_bias(torch.as_tensor(i))[:, 0] * torch.as_tensor(self.seen_items[i])  # (n,)
        return (self.net.mean + bias_u + bias_i + (user_vec * item_vec).sum(-1)).double().numpy()


def training_sequences(ratings: Ratings, train_mask: np.ndarray) -> TrainData:
    """Each user's chronological training-part items, as SASRec's implicit training input."""
    sequences: list[list[int]] = [[] for _ in ratings.users]
    for user, item in zip(ratings.user[train_mask].tolist(), ratings.item[train_mask].tolist(), strict=True):
        sequences[user].append(int(item))
    return TrainData(catalogue=ratings.catalogue, sequences=sequences, users=ratings.users)


def eval_set(examples: Sequence[PreferenceExample], users: tuple[str, ...]) -> EvalSet:
    """The examples as next-item questions (history -> target) for SASRec's early stopping."""
    return EvalSet(
        users=tuple(users[e.user] for e in examples),
        histories=[list(e.history) for e in examples],
        targets=_targets(examples),
    )


class SASRecTargetScore:
    """SASRec (CE) trained on training-part sequences; score = logit of the target after the history."""

    name = "sasrec"

    def __init__(self, seed: int = 0, options: dict[str, Any] | None = None) -> None:
        self.seed = seed
        self.options = {"loss": "ce", **(options or {})}
        self.model: Any = None

    def fit(
        self, ratings: Ratings, train_mask: np.ndarray, valid: Sequence[PreferenceExample] = ()
    ) -> dict[str, Any]:
        """Fit on the training sequences; SASRec's own epoch choice uses validation next-item NDCG@10."""
        from genrec.recommenders.registry import build_recommender

        self.model = build_recommender("sasrec", self.options, seed=self.seed)
        start = time.perf_counter()
        self.model.fit(
            training_sequences(ratings, train_mask), eval_set(valid, ratings.users) if valid else None
        )
        log = dict(getattr(self.model, "training_log", {}))
        log.pop("history", None)
        return {**log, "train_s": time.perf_counter() - start}

    @torch.no_grad()
    def predict(self, examples: Sequence[PreferenceExample], batch: int = 1024) -> np.ndarray:
        if self.model is None:
            raise GenrecError("SASRecTargetScore is not fitted")
        out = np.zeros(len(examples), dtype=np.float64)
        for lo in range(0, len(examples), batch):
            part = examples[lo : lo + batch]
            scores = self.model.score([list(e.history) for e in part])  # (batch, items)
            rows = torch.arange(len(part))
            out[lo : lo + len(part)] = scores[rows, torch.as_tensor(_targets(part))].double().numpy()
        return out


def catalogue_titles(catalogue: Catalogue) -> list[str]:
    """Every item's title, by catalogue index (the LM's names for items)."""
    return [catalogue.title(i) for i in range(len(catalogue))]
