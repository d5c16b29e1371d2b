"""Preference data for DPO / S-DPO / GRPO: each training target's positive item against N drawn negatives.

A *target* is a prefix of a user's training sequence and the item that follows it (the positive). Its
negatives come from a named source, never from the user's history up to the target nor the positive:

- ``uniform``: any other catalogue item, equally likely;
- ``popularity``: drawn in proportion to the item's count in the training sequences (the items a
  next-item model already over-recommends; uniform among the allowed items if none of them was seen);
- ``model``: hard negatives, the SFT model's own top items (its constrained beam) for the prefix. The
  ranker is a plain callable ``rank(histories, k) -> (len(histories), k) item ids`` (-1 pads a short row),
  so this module never depends on a recommender class; short rows are topped up uniformly.

Negatives are drawn once per epoch from `epoch_rng` (the same seed and epoch always give the same pairs,
another epoch other ones) and, given a cache directory, kept on disk under a key of the source, seed,
epoch, the number of negatives and a hash of the sequences, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt

from genrec.config import ConfigModel
from genrec.errors import GenrecError
from genrec.io.files import atomic_path
from genrec.training.examples import epoch_rng

log = logging.getLogger(__name__)

NegativeSource = Literal["uniform", "popularity", "model"]
#: ``rank(histories, k)``: the top-k item ids per history, (len(histories), k); -1 where fewer exist.
Ranker = Callable[[Sequence[Sequence[int]], int], np.ndarray]


class PreferenceConfig(ConfigModel):
    """One preference-training recipe; unknown keys and bad values are `ConfigError`s.

    objective: ``dpo`` (each negative against the positive, pairwise losses averaged), ``sdpo`` (softmax
    DPO: all negatives of a target in one loss) or ``grpo`` (RL on the policy's own constrained-beam
    rollouts, `genrec.training.grpo_loss`; the negative options are then unused). beta: the inverse
    temperature on the log-ratios. sft_weight (DPO / S-DPO): weight of the positive's negative
    log-likelihood added to the loss (RPO; 0 = the plain objective). targets: ``last`` (each user's final training item) or ``all`` (every
    prefix of its training sequence).

    GRPO only: group_size (K items rolled out per target), clip_epsilon (PPO ratio clip), kl_coef (weight
    of the k3 KL to the reference), rank_weight (weight of the rank-aware penalty beside the hit reward)
    and grpo_iterations (gradient steps on each rollout batch; 1 = on-policy, the ratio is then 1).
    """

    objective: Literal["dpo", "sdpo", "grpo"] = "sdpo"
    beta: float = Field(default=1.0, gt=0.0)
    sft_weight: float = Field(default=0.0, ge=0.0)
    negatives: PositiveInt = 3
    negative_source: NegativeSource = "uniform"
    targets: Literal["last", "all"] = "last"
    epochs: PositiveInt = 1
    lr: float = Field(default=1e-4, gt=0.0)
    batch_size: PositiveInt = 16
    eval_users: PositiveInt = 1000
    seed: int = 0
    group_size: int = Field(default=8, ge=2)
    clip_epsilon: float = Field(default=0.2, gt=0.0, lt=1.0)
    kl_coef: float = Field(default=0.04, ge=0.0)
    rank_weight: float = Field(default=1.0, ge=0.0)
    grpo_iterations: PositiveInt = 1


@dataclass(frozen=True)
class PreferencePairs:
    """The preference data of one epoch, one row per target.

    users / positions (targets,): the target is ``sequences[user][position]``, its prefix the items before.
    negatives (targets, N): item ids, none of them in the prefix or equal to the positive.
    """

    users: np.ndarray
    positions: np.ndarray
    negatives: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


def target_positions(sequences: Sequence[Sequence[int]], targets: str) -> tuple[np.ndarray, np.ndarray]:
    """(users, positions) of the training targets: each sequence's last item, or every item after the first."""
    users: list[int] = []
    positions: list[int] = []
    for user, seq in enumerate(sequences):
        chosen = range(1, len(seq)) if targets == "all" else range(max(1, len(seq) - 1), len(seq))
        users.extend([user] * len(chosen))
        positions.extend(chosen)
    return np.asarray(users, dtype=np.int64), np.asarray(positions, dtype=np.int64)


def data_fingerprint(sequences: Sequence[Sequence[int]], num_items: int) -> str:
    """A short hash of the sequences and catalogue size: a cache entry of other data is never reused."""
    digest = hashlib.sha256(json.dumps([num_items, [list(map(int, s)) for s in sequences]]).encode())
    return digest.hexdigest()[:16]


class PairBuilder:
    """Draws (and caches) each epoch's `PreferencePairs`; see the module docstring.

    ``model_key`` names the ranker's model in the cache key (e.g. a hash of the SFT weights): hard
    negatives of another model are never reused. ``rank`` is required for the ``model`` source.
    """

    def __init__(
        self,
        sequences: Sequence[Sequence[int]],
        num_items: int,
        config: PreferenceConfig,
        *,
        rank: Ranker | None = None,
        cache_dir: Path | None = None,
        model_key: str = "",
    ) -> None:
        if config.negative_source == "model" and rank is None:
            raise GenrecError("negative_source 'model' needs a ranker (rank(histories, k) -> item ids)")
        if num_items < 2:
            raise GenrecError(f"preference pairs need at least 2 catalogue items, got {num_items}")
        self.sequences = [[int(i) for i in s] for s in sequences]
        self.num_items = num_items
        self.config = config
        self.rank = rank
        self.cache_dir = cache_dir
        self.model_key = model_key
        self.users, self.positions = target_positions(self.sequences, config.targets)
        self._hard: np.ndarray | None = None  # the ranker's candidates: the same model every epoch
        flat = np.fromiter((i for s in self.sequences for i in s), dtype=np.int64)
        self.popularity = np.bincount(flat, minlength=num_items)[:num_items].astype(np.float64)  # (items,)

    def cache_path(self, epoch: int) -> Path | None:
        """The cache file of ``epoch`` (None without a cache directory)."""
        if self.cache_dir is None:
            return None
        cfg = self.config
        key = f"{cfg.negative_source}-{cfg.targets}-n{cfg.negatives}-seed{cfg.seed}-epoch{epoch}"
        data = data_fingerprint(self.sequences, self.num_items)
        model = f"-{self.model_key}" if cfg.negative_source == "model" and self.model_key else ""
        return Path(self.cache_dir) / f"pairs-{key}-{data}{model}.npz"

    def pairs(self, epoch: int) -> PreferencePairs:
        """The pairs of ``epoch``: from the cache when present and intact, drawn (and cached) otherwise."""
        path = self.cache_path(epoch)
        if path is not None and path.is_file():
            cached = self._read(path)
            if cached is not None:
                return cached
        pairs = self.draw(epoch)
        if path is not None:
            with atomic_path(path, suffix=".npz") as tmp:
                np.savez(tmp, users=pairs.users, positions=pairs.positions, negatives=pairs.negatives)
        return pairs

    def _read(self, path: Path) -> PreferencePairs | None:
        """A cached epoch, or None (logged) when the file does not match these targets: it is redrawn."""
        try:
            with np.load(path) as npz:
                pairs = PreferencePairs(npz["users"], npz["positions"], npz["negatives"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable preference cache %s (%s)", path, exc)
            return None
        expected = (len(self.users), self.config.negatives)
        if pairs.negatives.shape != expected or not np.array_equal(pairs.users, self.users):
            log.warning("ignoring preference cache %s: it does not match the training targets", path)
            return None
        return pairs

    def draw(self, epoch: int) -> PreferencePairs:
        """Draw the negatives of every target for ``epoch`` (no cache involved)."""
        rng = epoch_rng(self.config.seed, epoch)
        hard = self._hard_candidates() if self.config.negative_source == "model" else None
        rows = []
        for row, (user, pos) in enumerate(zip(self.users.tolist(), self.positions.tolist(), strict=True)):
            seq = self.sequences[user]
            excluded = set(seq[:pos]) | {seq[pos]}
            candidates = None if hard is None else hard[row]
            rows.append(self._negatives_of(excluded, candidates, rng))
        negatives = np.asarray(rows, dtype=np.int64).reshape(len(rows), self.config.negatives)
        return PreferencePairs(self.users.copy(), self.positions.copy(), negatives)

    def _hard_candidates(self) -> np.ndarray:
        """The ranker's top ``negatives + 1`` items per prefix (history excluded by the ranker itself)."""
        if self._hard is None:
            assert self.rank is not None
            histories = [self.sequences[u][:p] for u, p in zip(self.users, self.positions, strict=True)]
            k = min(self.config.negatives + 1, self.num_items)
            ranked = np.asarray(self.rank(histories, k), dtype=np.int64)
            if ranked.shape != (len(histories), k):
                raise GenrecError(f"the ranker returned shape {ranked.shape}, expected {(len(histories), k)}")
            self._hard = ranked
        return self._hard

    def _negatives_of(
        self, excluded: set[int], candidates: np.ndarray | None, rng: np.random.Generator
    ) -> list[int]:
        """N negatives outside ``excluded``: the ranker's candidates first, then drawn by the source."""
        n = self.config.negatives
        chosen: list[int] = []
        if candidates is not None:
            chosen = [int(i) for i in candidates if i >= 0 and int(i) not in excluded][:n]
        if len(chosen) == n:
            return chosen
        allowed = np.setdiff1d(np.arange(self.num_items), np.fromiter(excluded | set(chosen), np.int64))
        if len(allowed) == 0:
            if not chosen:
                raise GenrecError(
                    "a training target has no possible negative: its history covers the whole catalogue"
                )
            allowed = np.asarray(chosen, dtype=np.int64)  # repeat the few negatives there are
        weights = self._weights(allowed)
        possible = len(allowed) if weights is None else int(np.count_nonzero(weights))
        drawn = rng.choice(allowed, size=n - len(chosen), replace=possible < n - len(chosen), p=weights)
        return chosen + [int(i) for i in drawn]

    def _weights(self, allowed: np.ndarray) -> np.ndarray | None:
        """Sampling probabilities over ``allowed``: popularity-proportional, or None (uniform)."""
        if self.config.negative_source != "popularity":
            return None
        counts = self.popularity[allowed]
        total = counts.sum()
        return None if total == 0 else counts / total
