"""GRPO-style RL on item identifiers (MiniOneRec style): rewards, group advantages and the clipped loss.

For each training target (a history prefix and the item that follows it) the policy rolls out a *group*
of K distinct items with its own trie-constrained beam search (`genrec.recommenders.generative_rl`); each
item is one action, its log-probability the sum over its identifier tokens (as in
`genrec.training.preference_loss`).

Reward of the item at 1-based beam position rho_k of a group (``rank_rewards``)::

    r_k = hit_k + rank_weight * p_k,   hit_k = 1 if the item is the target else 0,
    p_k = 0 for the target, else -(1 / log2(rho_k + 1)) / sum_{j non-target} 1 / log2(rho_j + 1)

The rank-aware term p_k is MiniOneRec's ranking reward: a non-target item is penalised more the higher
the policy ranked it (an NDCG-like discount), the penalties of a group summing to -1, so even a group
without a hit carries a signal (push the top wrong items down). With ``rank_weight = 0`` a group without
a hit has equal rewards and no signal.

Group-normalised advantages (``group_advantages``, DeepSeekMath's GRPO): A_k = (r_k - mean(r)) /
(std(r) + eps) over the group's valid items, std the sample std (ddof=1); a group whose rewards are all
equal has A = 0 ("zero-advantage" groups: no signal). With ``rank_weight > 0`` the rank penalty makes
every group of two or more items unequal, so the share of groups without a hit (1 - the rollout hit rate)
is the share whose only signal is the rank penalty.

Loss (``grpo_objective``), per valid item, averaged over the batch's valid items::

    ratio = exp(log pi(y) - log pi_old(y))             (sequence log-probs; pi_old = the rollout policy)
    surrogate = min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)
    kl = sum_t [exp(d_t) - d_t - 1],  d_t = log ref(y_t | ..) - log pi(y_t | ..)   (Schulman's k3, per token)
    loss = -(surrogate - kl_coef * kl)

With one gradient step per rollout (``grpo_iterations = 1``) the ratio is 1 at that step and the clip
never binds; it matters for further steps on the same rollouts.
"""

from __future__ import annotations

import numpy as np
import torch

from genrec.training.preference_loss import sum_by_row, token_logprobs

#: Added to the group's reward std before dividing (a group of equal rewards gets zero advantage).
ADVANTAGE_EPS = 1e-4


def rank_rewards(items: np.ndarray, targets: np.ndarray, rank_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Rewards of each rolled-out item and which slots hold a real item: (groups, K) each.

    items (groups, K): item ids in the policy's beam order, -1 where the search found fewer than K
    (such slots get reward 0 and are masked out). targets (groups,): each group's next item.
    """
    items = np.asarray(items, dtype=np.int64)  # (groups, K)
    valid = items >= 0  # (groups, K)
    hit = (items == np.asarray(targets, dtype=np.int64)[:, None]) & valid  # (groups, K)
    rho = np.arange(1, items.shape[1] + 1, dtype=np.float64)[None, :]  # (1, K): 1-based beam position
    discount = np.where(valid & ~hit, 1.0 / np.log2(rho + 1.0), 0.0)  # (groups, K)
    total = discount.sum(axis=1, keepdims=True)  # (groups, 1)
    penalty = -np.divide(discount, total, out=np.zeros_like(discount), where=total > 0)  # (groups, K)
    rewards = hit.astype(np.float64) + rank_weight * penalty
    return np.where(valid, rewards, 0.0), valid


def group_advantages(rewards: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(r - group mean) / (group sample std + eps) over valid slots, and which groups have no signal.

    rewards / valid (groups, K). Returns advantages (groups, K), 0 on invalid slots, and a (groups,)
    bool: True where every valid reward of the group is equal (or fewer than two are valid).
    """
    mask = valid.to(rewards.dtype)  # (groups, K)
    count = mask.sum(dim=1, keepdim=True)  # (groups, 1)
    mean = (rewards * mask).sum(dim=1, keepdim=True) / count.clamp(min=1)  # (groups, 1)
    centred = (rewards - mean) * mask  # (groups, K)
    std = ((centred**2).sum(dim=1, keepdim=True) / (count - 1).clamp(min=1)).sqrt()  # (groups, 1), ddof=1
    no_signal = (centred.abs().amax(dim=1) < 1e-12) | (count[:, 0] < 2)  # (groups,)
    advantages = torch.where(no_signal[:, None], torch.zeros_like(centred), centred / (std + ADVANTAGE_EPS))
    return advantages, no_signal


def grpo_objective(
    policy_tokens: torch.Tensor,
    reference_tokens: torch.Tensor,
    rows: torch.Tensor,
    old_sequence: torch.Tensor,
    advantages: torch.Tensor,
    valid: torch.Tensor,
    clip_epsilon: float,
    kl_coef: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The GRPO loss from per-token log-probs (see the module docstring) and its diagnostics.

    policy_tokens / reference_tokens / rows (tokens,): each identifier token's log-prob under the policy
    (with gradient) and the frozen reference, and its row. old_sequence / advantages / valid (rows,): the
    rollout-time sequence log-prob, the advantage and whether the row is a real item. Diagnostics: ``kl``
    (mean k3 KL per item), ``clip_fraction`` (share of items whose ratio left [1 - eps, 1 + eps]).
    """
    num_rows = old_sequence.shape[0]
    mask = valid.to(policy_tokens.dtype)  # (rows,)
    policy_sequence = sum_by_row(policy_tokens, rows, num_rows)  # (rows,)
    ratio = torch.exp(policy_sequence - old_sequence)  # (rows,)
    clipped = ratio.clamp(1.0 - clip_epsilon, 1.0 + clip_epsilon)  # (rows,)
    surrogate = torch.minimum(ratio * advantages, clipped * advantages)  # (rows,)
    delta = reference_tokens - policy_tokens  # (tokens,)
    kl = sum_by_row(torch.exp(delta) - delta - 1.0, rows, num_rows)  # (rows,): k3, summed over tokens
    per_row = -(surrogate - kl_coef * kl)  # (rows,)
    items = mask.sum().clamp(min=1.0)
    loss = (per_row * mask).sum() / items
    with torch.no_grad():
        outside = ((ratio < 1.0 - clip_epsilon) | (ratio > 1.0 + clip_epsilon)).to(mask.dtype)
        stats = {
            "kl": float((kl * mask).sum() / items),
            "clip_fraction": float((outside * mask).sum() / items),
        }
    return loss, stats


def grpo_loss(
    policy: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    old_sequence: torch.Tensor,
    reference_tokens: torch.Tensor,
    advantages: torch.Tensor,
    valid: torch.Tensor,
    clip_epsilon: float,
    kl_coef: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """`grpo_objective` of one `preference_batch` of rollouts (one row per group item), forwarding
    ``policy``; ``reference_tokens`` comes from `token_logprobs` of the reference on the same batch."""
    policy_tokens, rows = token_logprobs(policy, batch)  # (tokens,), (tokens,)
    return grpo_objective(
        policy_tokens, reference_tokens, rows, old_sequence, advantages, valid, clip_epsilon, kl_coef
    )
