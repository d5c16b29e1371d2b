"""Fine-tuning the LM re-ranker: leak-free candidate lists, a letter cross-entropy, validation-chosen epoch.

**Which retriever makes which candidates.** Let ``s`` be a user's training sequence (the leave-one-out
split's training part: validation target ``v`` and test target ``t`` are not in it).

- *Test time* (and serving): the retriever ``R`` trained on every user's full ``s`` (early-stopped on the
  validation targets) ranks the history ``s + [v]``; its top ``candidates`` are re-ranked.
- *Validation* (choosing the epoch): the same ``R`` ranks the history ``s`` for target ``v``. ``R`` never
  trained on ``v``, so these candidate lists are exactly what test time produces, one step earlier.
- *Training examples* (round ``r`` = 1 .. ``candidate_rounds``): a fresh retriever ``R_r`` is trained on
  every user's prefix ``s[:-r]`` only, early-stopped on the held-out items ``s[-r]`` (mirroring ``R``'s
  early stopping on ``v``), and ranks the history ``s[:-r]``; the example's label is the position of
  ``s[-r]`` among its top ``candidates``, kept only when ``s[-r]`` was retrieved. ``R_r`` never trained on
  the transition into ``s[-r]``, so the target sits where an unseen next item sits, as ``v`` does for
  ``R`` at validation. With ``targets_per_round`` E > 1, round ``r``'s retriever trains on ``s[:-rE]``
  and gives E examples per user, histories ``s[:-j]`` and targets ``s[-j]`` for j = rE .. (r-1)E + 1:
  none of those targets was in its training, so they stay leak-free; for j < rE the history also holds
  items the retriever never trained on for that user (a milder version of the test-time situation, where
  every history item was trained on). One retriever then yields E times the examples. Scoring the serving retriever ``R`` on the training sequences themselves would
  not: ``R`` fitted those very transitions and ranks their targets unrealistically high, so the LM would
  learn to trust the retriever's first letters far more than it should.

The loss is the cross-entropy of the 20 letter logits at the answer position (letters beyond a shorter
candidate list are masked) with the target's letter as the label. Before the first epoch and after each
one, validation NDCG@10 of the full re-ranked list is measured; the best weights (zero-shot included) are
kept. Users whose validation target the retriever did not retrieve keep the retriever's rank (> the
candidate count), so they add 0 to NDCG@10 whatever the LM does and only retrieved users are scored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.evaluation.metrics import ndcg_at_k
from genrec.recommenders.base import Recommender
from genrec.recommenders.reranker_prompts import (
    RerankerConfig,
    letter_logits,
    masked_log_probs,
    retriever_log_probs,
)


@dataclass(frozen=True)
class RerankExample:
    """One user's prompt material: history, the retriever's candidates (best first) and the target's position."""

    user: str
    history: list[int]
    candidates: list[int]
    label: int
    prior: list[float]  # the retriever's log-probability of each candidate (`retriever_log_probs`)


def retrieved_examples(
    retriever: Recommender, eval_set: EvalSet, candidates: int
) -> tuple[list[RerankExample], np.ndarray]:
    """Examples for the users of ``eval_set`` whose target is in the retriever's top ``candidates``.

    Returns the examples and every user's retriever rank of the target (1-based; 0 = not retrieved).
    """
    found = retriever.recommend(eval_set.histories, candidates, exclude_history=True)
    items, scores = found.items, found.scores  # (users, c) each
    examples, ranks = [], np.zeros(len(eval_set), dtype=np.int64)
    for row, (user, history, target) in enumerate(
        zip(eval_set.users, eval_set.histories, eval_set.targets.tolist(), strict=True)
    ):
        listed = [int(i) for i in items[row] if i >= 0]
        if int(target) in listed:
            label = listed.index(int(target))
            ranks[row] = label + 1
            prior = retriever_log_probs(scores[row, : len(listed)])
            examples.append(RerankExample(user, list(history), listed, label, prior))
    return examples, ranks


def held_out_round(train: TrainData, held_out: int) -> tuple[TrainData, EvalSet]:
    """Training prefixes ``s[:-held_out]`` and the (prefix -> ``s[-held_out]``) set of the users long enough."""
    keep = [u for u, seq in enumerate(train.sequences) if len(seq) > held_out]
    users = tuple(train.users[u] for u in keep)
    prefixes = [list(train.sequences[u][:-held_out]) for u in keep]
    targets = np.asarray([train.sequences[u][-held_out] for u in keep], dtype=np.int64)
    return TrainData(train.catalogue, prefixes, users), EvalSet(users, prefixes, targets)


def leak_free_examples(
    train: TrainData, build_retriever: Callable[[], Recommender], config: RerankerConfig
) -> tuple[list[RerankExample], list[dict[str, float]]]:
    """Training examples whose candidates come from retrievers that never saw the target (module docstring)."""
    examples: list[RerankExample] = []
    log: list[dict[str, float]] = []
    span = config.targets_per_round
    for round_ in range(1, config.candidate_rounds + 1):
        prefixes, targets = held_out_round(train, round_ * span)
        if not len(targets):
            break
        retriever = build_retriever()
        retriever.fit(prefixes, targets)
        for held_out in range(round_ * span, (round_ - 1) * span, -1):
            _, asked = held_out_round(train, held_out)
            found, ranks = retrieved_examples(retriever, asked, config.candidates)
            examples.extend(found)
            log.append(
                {
                    "round": float(round_),
                    "held_out": float(held_out),
                    "users": float(len(asked)),
                    "retrieved": float(len(found)),
                    "retriever_ndcg@10": float(ndcg_at_k(ranks, 10).mean()),
                }
            )
    if config.max_train_examples and len(examples) > config.max_train_examples:
        rng = np.random.default_rng(config.seed)
        chosen = sorted(rng.choice(len(examples), size=config.max_train_examples, replace=False).tolist())
        examples = [examples[i] for i in chosen]
    return examples, log


def wrap_for_fine_tuning(model: Any, config: RerankerConfig) -> Any:
    """A LoRA peft model (adapters on ``lora_targets``) or the model itself with every weight trainable."""
    from genrec.training.pretrained import wrap_trainable

    return wrap_trainable(
        model,
        full=config.fine_tune == "full",
        lora_rank=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        lora_targets=config.lora_targets,
        seed=config.seed,
    )


def letter_loss(
    model: Any,
    prompts: Sequence[Sequence[int]],
    labels: Sequence[int],
    counts: Sequence[int],
    letters: Any,
    priors: Sequence[Sequence[float]] | None = None,
) -> torch.Tensor:
    """Mean cross-entropy of the target letters over each prompt's candidate letters (one forward pass).

    With ``priors`` (the retriever's log-probabilities per candidate) the LM's logits are added to them,
    so the LM learns a correction of the retriever's ranking (`RerankerConfig.retriever_prior`).
    """
    letter_ids, pad_token_id = letters
    logits = letter_logits(model, prompts, letter_ids, pad_token_id)  # (batch, letters)
    if priors is not None:
        offset = torch.zeros_like(logits)  # (batch, letters); letters past a row's count are masked below
        for row, prior in enumerate(priors):
            offset[row, : len(prior)] = torch.as_tensor(list(prior), dtype=logits.dtype)
        logits = logits + offset
    log_probs = masked_log_probs(logits, counts)  # (batch, letters)
    return F.nll_loss(log_probs, torch.as_tensor(list(labels), dtype=torch.int64))


def reranked_ndcg(scores: Sequence[np.ndarray], labels: Sequence[int], total_users: int) -> float:
    """Mean NDCG@10 over ``total_users`` when the retrieved users' targets rank by ``scores``.

    Ties keep the retriever's order; users outside the examples (target not retrieved) add 0.
    """
    ranks = np.asarray(
        [
            int((row > row[label]).sum() + (row[:label] == row[label]).sum()) + 1
            for row, label in zip(scores, labels, strict=True)
        ],
        dtype=np.int64,
    )
    return float(ndcg_at_k(ranks, 10).sum()) / max(total_users, 1)


class FineTuner:
    """Trains a (wrapped) LM on tokenised examples; keeps the weights with the best validation NDCG@10.

    ``prompts``/``labels``/``counts`` describe the training examples; ``validate`` scores the model
    (eval mode) on the validation users and returns NDCG@10.
    """

    def __init__(
        self,
        model: Any,
        config: RerankerConfig,
        letters: tuple[list[int], int],
        validate: Callable[[], float],
    ) -> None:
        self.model = model
        self.config = config
        self.letters = letters
        self.validate = validate

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def _validate(self) -> float:
        self.model.eval()
        with torch.no_grad():
            score = self.validate()
        return score

    def train(
        self,
        prompts: Sequence[Sequence[int]],
        labels: Sequence[int],
        counts: Sequence[int],
        priors: Sequence[Sequence[float]] | None = None,
    ) -> dict[str, Any]:
        """Run the epochs; return the training log (loss, validation NDCG@10 per epoch, chosen epoch)."""
        cfg = self.config
        if not prompts:
            raise GenrecError("no training example: the retriever retrieved no held-out target")
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        rng = np.random.default_rng(cfg.seed)
        start = time.perf_counter()
        best_score, best_epoch, best_state = self._validate(), 0, self._trainable_state()
        history: list[dict[str, float]] = [{"epoch": 0.0, "valid_ndcg@10": best_score}]
        stopped = "epochs"
        for epoch in range(1, cfg.epochs + 1):
            self.model.train()
            total, steps = 0.0, 0
            order = rng.permutation(len(prompts))
            for lo in range(0, len(order), cfg.batch_size):
                batch = order[lo : lo + cfg.batch_size]
                loss = letter_loss(
                    self.model,
                    [prompts[i] for i in batch],
                    [labels[i] for i in batch],
                    [counts[i] for i in batch],
                    self.letters,
                    None if priors is None else [priors[i] for i in batch],
                )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, steps = total + float(loss.item()), steps + 1
                if cfg.max_train_seconds and time.perf_counter() - start > cfg.max_train_seconds:
                    stopped = "time budget"
                    break
            score = self._validate()
            history.append({"epoch": float(epoch), "loss": total / max(steps, 1), "valid_ndcg@10": score})
            if score > best_score:
                best_score, best_epoch, best_state = score, epoch, self._trainable_state()
            if stopped != "epochs":
                break
        with torch.no_grad():
            for name, param in self.model.named_parameters():
                if name in best_state:
                    param.copy_(best_state[name])
        self.model.eval()
        return {
            "best_epoch": best_epoch,
            "best_valid_ndcg@10": best_score if math.isfinite(best_score) else None,
            "stopped": stopped,
            "fine_tune_s": time.perf_counter() - start,
            "history": history,
        }
