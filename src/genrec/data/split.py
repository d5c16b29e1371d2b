"""Leave-one-out split: last item = test target, second-to-last = validation target, the rest = train."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genrec.data.catalogue import Catalogue
from genrec.data.interactions import InteractionData
from genrec.errors import ConfigError

logger = logging.getLogger(__name__)

#: Users need a training item, a validation target and a test target.
MIN_SEQUENCE_LENGTH = 3


@dataclass(frozen=True)
class TrainData:
    """Training input of a recommender: the catalogue and each user's training sequence."""

    catalogue: Catalogue
    sequences: list[list[int]]
    users: tuple[str, ...]

    @property
    def num_items(self) -> int:
        return len(self.catalogue)


@dataclass(frozen=True)
class EvalSet:
    """Users' full histories (model inputs; each model truncates to its own ``max_history``) and targets.

    History exclusion at evaluation time uses these full histories.
    """

    users: tuple[str, ...]
    histories: list[list[int]]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, indices: Sequence[int]) -> EvalSet:
        idx = list(indices)
        return EvalSet(tuple(self.users[i] for i in idx), [self.histories[i] for i in idx], self.targets[idx])

    def sample(self, n: int, seed: int) -> EvalSet:
        """``n`` users drawn without replacement by ``seed``, kept in their order (all of them if n >= len)."""
        if n >= len(self):
            return self
        rng = np.random.default_rng(seed)
        return self.subset(sorted(rng.choice(len(self), size=n, replace=False).tolist()))


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """The leave-one-out split of one dataset.

    ``train[u]`` is user u's whole sequence minus the last two items (what models may learn from);
    ``valid_target[u]`` / ``test_target[u]`` are the item indices to predict. The model *inputs* are
    `valid_histories()` (train) and `test_histories()` (train + validation target), each truncated to the
    most recent ``max_history`` items. Full (untruncated) histories are available for history exclusion.
    """

    data: InteractionData
    users: tuple[str, ...]
    train: tuple[tuple[int, ...], ...]
    valid_target: np.ndarray
    test_target: np.ndarray
    max_history: int
    dropped_users: int

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return self.data.num_items

    def _truncate(self, seq: tuple[int, ...]) -> list[int]:
        return list(seq[-self.max_history :])

    def valid_histories(self, truncate: bool = True) -> list[list[int]]:
        """Model input for validation: each user's training sequence."""
        return [self._truncate(s) if truncate else list(s) for s in self.train]

    def test_histories(self, truncate: bool = True) -> list[list[int]]:
        """Model input for testing: training sequence plus the validation target."""
        full = [(*s, int(v)) for s, v in zip(self.train, self.valid_target, strict=True)]
        return [self._truncate(s) if truncate else list(s) for s in full]

    def train_sequences(self) -> list[list[int]]:
        """Full training sequences (for models that learn from every prefix)."""
        return [list(s) for s in self.train]

    def train_data(self) -> TrainData:
        """What a recommender may learn from: the catalogue and the training sequences."""
        return TrainData(self.data.catalogue, self.train_sequences(), self.users)

    def valid_set(self) -> EvalSet:
        """Validation inputs (training sequences, untruncated) and targets (second-to-last items)."""
        return EvalSet(self.users, self.valid_histories(truncate=False), self.valid_target)

    def test_set(self) -> EvalSet:
        """Test inputs (training sequence + validation item, untruncated) and targets (last items)."""
        return EvalSet(self.users, self.test_histories(truncate=False), self.test_target)


def leave_one_out(data: InteractionData, max_history: int = 20) -> LeaveOneOutSplit:
    """Split each user's sequence leave-one-out; users with fewer than 3 interactions are dropped."""
    if max_history < 1:
        raise ConfigError(f"max_history must be >= 1, got {max_history}")
    users: list[str] = []
    train: list[tuple[int, ...]] = []
    valid: list[int] = []
    test: list[int] = []
    dropped = 0
    for user, seq in zip(data.users, data.sequences, strict=True):
        if len(seq) < MIN_SEQUENCE_LENGTH:
            dropped += 1
            continue
        users.append(user)
        train.append(tuple(seq[:-2]))
        valid.append(seq[-2])
        test.append(seq[-1])
    if dropped:
        logger.warning(
            "%s: dropped %d users with fewer than %d interactions", data.name, dropped, MIN_SEQUENCE_LENGTH
        )
    return LeaveOneOutSplit(
        data=data,
        users=tuple(users),
        train=tuple(train),
        valid_target=np.asarray(valid, dtype=np.int64),
        test_target=np.asarray(test, dtype=np.int64),
        max_history=max_history,
        dropped_users=dropped,
    )
