"""Next-item training examples, length-bucketed batches and collation.

Targets are the training prefixes of each user's sequence: position t (t >= 1) is predicted from the
items before it (at most ``max_history`` of them). `ExampleBuilder` picks the targets (all, the last n, or
a sampled budget per user) and lays them out:

- packable templates (bare token sequences): a prompt plus its target is a prefix of the next prompt, so
  a window of up to ``max_history + 1`` items is ONE sequence whose labels hold every chosen target's
  tokens; a causal LM then learns all of those prefixes in one forward pass;
- other templates: one (prompt, target) example per target.

Packable layouts may put text after each identifier (``item_suffix``: a title, a separator); it is part of
the prompt of later targets but never of the loss. Optional alignment examples (`AlignmentExamples`) are
mixed into every epoch at a fixed ratio.

Labels are -100 everywhere except on target identifier tokens, so the loss is on targets only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

IGNORE = -100


@dataclass(frozen=True)
class Example:
    """One training sequence: token ids, labels (-100 outside targets), its user and number of targets."""

    input_ids: list[int]
    labels: list[int]
    user: int
    targets: int


class AlignmentSource(Protocol):
    """Draws ``n`` auxiliary examples (e.g. LC-Rec title <-> identifier alignment) with ``rng``."""

    def sample(self, n: int, rng: np.random.Generator) -> list[Example]: ...


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The random generator of one epoch: the same (seed, epoch) always draws the same examples/order."""
    return np.random.default_rng([seed, epoch])


@dataclass(frozen=True)
class ExampleBuilder:
    """Turns training sequences into `Example`s for one prompt layout.

    item_ids: identifier token ids of each item. prefix: ids before the first history item (packable).
    render: prompt ids of a history of item indices (non-packable templates); None means packable.
    item_suffix: ids that follow each item's identifier in packed sequences (no loss on them).
    alignment / alignment_ratio: extra examples drawn each epoch, ``round(ratio x next-item examples)``.
    """

    item_ids: Sequence[Sequence[int]]
    max_history: int
    prefix: Sequence[int] = ()
    render: Callable[[Sequence[int]], list[int]] | None = None
    item_suffix: Sequence[Sequence[int]] = ()
    alignment: AlignmentSource | None = None
    alignment_ratio: float = 0.0

    def targets(
        self, length: int, mode: str, last_n: int, budget: int, rng: np.random.Generator
    ) -> list[int]:
        """Positions (sorted) of a sequence of ``length`` items that are prediction targets."""
        candidates = list(range(1, length))
        if mode == "last_n":
            return candidates[-last_n:]
        if mode == "sampled" and len(candidates) > budget:
            return sorted(int(t) for t in rng.choice(candidates, size=budget, replace=False))
        return candidates

    def build(
        self,
        sequences: Sequence[Sequence[int]],
        mode: str = "all",
        last_n: int = 1,
        budget: int = 4,
        rng: np.random.Generator | None = None,
    ) -> list[Example]:
        """Examples of all users, in user order (the sampler shuffles)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        out: list[Example] = []
        for user, seq in enumerate(sequences):
            chosen = self.targets(len(seq), mode, last_n, budget, rng)
            if not chosen:
                continue
            if self.render is None:
                out.extend(self._packed(user, seq, chosen))
            else:
                out.extend(self._single(user, seq, t) for t in chosen)
        if self.alignment is not None and self.alignment_ratio > 0 and out:
            out.extend(self.alignment.sample(round(self.alignment_ratio * len(out)), rng))
        return out

    def _packed(self, user: int, seq: Sequence[int], chosen: list[int]) -> list[Example]:
        """Windows covering the chosen targets from the most recent backwards."""
        examples: list[Example] = []
        left = list(chosen)
        while left:
            end = left[-1] + 1
            start = max(0, end - 1 - self.max_history)
            in_window = {t for t in left if t > start}
            left = [t for t in left if t <= start]
            ids = list(self.prefix)
            labels = [IGNORE] * len(ids)
            for pos in range(start, end):
                tokens = list(self.item_ids[seq[pos]])
                ids.extend(tokens)
                labels.extend(tokens if pos in in_window else [IGNORE] * len(tokens))
                if self.item_suffix:
                    suffix = list(self.item_suffix[seq[pos]])
                    ids.extend(suffix)
                    labels.extend([IGNORE] * len(suffix))
            examples.append(Example(ids, labels, user, len(in_window)))
        examples.reverse()
        return examples

    def _single(self, user: int, seq: Sequence[int], t: int) -> Example:
        assert self.render is not None
        prompt = self.render(seq[max(0, t - self.max_history) : t])
        target = list(self.item_ids[seq[t]])
        return Example(prompt + target, [IGNORE] * len(prompt) + target, user, 1)


def bucket_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Length bucketing: sort by length (random tie-break), cut into batches, shuffle the batch order.

    Sequences of a batch have nearly equal lengths, so padding stays small; the order is random.
    """
    lengths_arr = np.asarray(lengths, dtype=np.int64)
    order = np.lexsort((rng.random(len(lengths_arr)), lengths_arr))
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def shard_batches(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    """This rank's batches: every ``world_size``-th batch, after dropping the remainder so that every
    rank runs the same number of steps. Ranks get disjoint examples."""
    usable = len(batches) - len(batches) % world_size
    return batches[rank:usable:world_size]


def collate(examples: Sequence[Example], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` tensors, each (batch, length)."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, ex in enumerate(examples):
        n = len(ex.input_ids)
        ids[row, :n] = torch.tensor(ex.input_ids, dtype=torch.long)
        labels[row, :n] = torch.tensor(ex.labels, dtype=torch.long)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
