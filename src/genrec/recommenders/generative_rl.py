"""One epoch of GRPO-style RL for a fitted `GenerativeRecommender` (MiniOneRec style).

Per batch of training targets (a history prefix and its next item), in an epoch-seeded order:

1. **rollout**: the current policy's own trie-constrained beam search returns K = ``group_size`` distinct
   items per prefix (history excluded, as at recommendation time): the group;
2. **rewards**: hit plus the rank-aware penalty (`genrec.training.grpo_loss.rank_rewards`), and
   group-normalised advantages;
3. **old and reference log-probs**: each group item's identifier-token log-probs under the rollout-time
   policy (no gradient) and the frozen reference (the SFT weights);
4. ``grpo_iterations`` gradient steps of the clipped loss with the k3 KL (`grpo_loss`).

The epoch's record (kept in the run's validation history and in ``rewards.json`` beside the run) is the
mean reward per item, the hit rate of the rollouts and their NDCG (1 / log2(1 + the target's beam
position), 0 without a hit), the share of groups with zero advantage (no learning signal), the mean KL per
item, the clip fraction and the loss. The rank penalties of a group sum to -1 whatever the ranks, so with
``rank_weight > 0`` the mean reward is (hits - rank_weight * groups with a non-target) / items: it follows
the hit rate, and the rollout NDCG is the curve that shows the target moving up the group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from genrec.errors import GenrecError
from genrec.training.examples import epoch_rng
from genrec.training.grpo_loss import group_advantages, grpo_loss, rank_rewards
from genrec.training.preference_data import PreferenceConfig
from genrec.training.preference_loss import preference_batch, sum_by_row, token_logprobs

if TYPE_CHECKING:
    from genrec.recommenders.generative import GenerativeRecommender

#: The per-epoch keys of a GRPO record that form the reward curves.
CURVE_KEYS = (
    "reward", "rollout_hit_rate", "rollout_ndcg", "zero_advantage_share", "kl", "clip_fraction", "loss",
)  # fmt: skip


def grpo_epoch(
    rec: GenerativeRecommender,
    reference: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    sequences: list[list[int]],
    targets: tuple[np.ndarray, np.ndarray],
    config: PreferenceConfig,
    epoch: int,
) -> dict[str, float]:
    """One pass over the training ``targets`` (users, positions); the epoch's means and its step count."""
    model = rec.model
    device = next(model.parameters()).device
    users, positions = targets
    order = epoch_rng(config.seed, epoch).permutation(len(users))
    sums = dict.fromkeys(CURVE_KEYS, 0.0)
    items_seen = groups_seen = steps = 0
    for first in range(0, len(order), config.batch_size):
        rows = order[first : first + config.batch_size]
        histories = [sequences[int(users[r])][: int(positions[r])] for r in rows]
        next_items = np.asarray([sequences[int(users[r])][int(positions[r])] for r in rows], dtype=np.int64)
        rolled = np.asarray(rec.recommend(histories, config.group_size).items, dtype=np.int64)  # (G, K)
        rewards, valid = rank_rewards(rolled, next_items, config.rank_weight)  # (G, K) each
        advantages, no_signal = group_advantages(torch.from_numpy(rewards), torch.from_numpy(valid))
        candidates = np.where(valid, rolled, next_items[:, None])  # (G, K): padding slots masked below
        batch = preference_batch(
            [rec.prompt_ids(h) for h in histories],
            candidates.tolist(),
            rec.item_ids,
            rec.lm_tokenizer.pad_token_id,
        )
        batch = {k: v.to(device) for k, v in batch.items()}
        flat_valid = torch.from_numpy(valid.reshape(-1)).to(device)  # (G * K,)
        flat_adv = advantages.reshape(-1).to(device=device, dtype=torch.float32)  # (G * K,)
        with torch.no_grad():
            old_tokens, token_rows = token_logprobs(model, batch)  # (tokens,) each
            old_sequence = sum_by_row(old_tokens, token_rows, flat_valid.shape[0])  # (G * K,)
            reference_tokens, _ = token_logprobs(reference, batch)  # (tokens,)
        for _ in range(config.grpo_iterations):
            loss, stats = grpo_loss(
                model, batch, old_sequence, reference_tokens, flat_adv, flat_valid,
                config.clip_epsilon, config.kl_coef,
            )  # fmt: skip
            if not torch.isfinite(loss):
                raise GenrecError(
                    f"GRPO loss became {float(loss)} at epoch {epoch}; lower lr or raise kl_coef"
                )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            steps += 1
        n_valid = int(valid.sum())
        sums["reward"] += float(rewards[valid].sum())
        hits = rolled == next_items[:, None]  # (G, K)
        sums["rollout_hit_rate"] += float(hits.any(axis=1).sum())
        sums["rollout_ndcg"] += float((hits / np.log2(np.arange(2, hits.shape[1] + 2))).sum())
        sums["zero_advantage_share"] += float(no_signal.sum())
        sums["kl"] += stats["kl"] * n_valid  # of the last step on this batch
        sums["clip_fraction"] += stats["clip_fraction"] * n_valid
        sums["loss"] += float(loss.detach()) * n_valid
        items_seen += n_valid
        groups_seen += len(rows)
    per_group = ("rollout_hit_rate", "rollout_ndcg", "zero_advantage_share")
    means = {k: v / max(groups_seen if k in per_group else items_seen, 1) for k, v in sums.items()}
    return {**means, "steps": float(steps)}
