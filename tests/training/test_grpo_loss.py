"""GRPO pieces against hand computation: rank rewards, group advantages and the clipped k3-KL loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genrec.training.compact import build_compact_model, build_lm_tokenizer
from genrec.training.config import BackboneConfig
from genrec.training.grpo_loss import ADVANTAGE_EPS, group_advantages, grpo_loss, rank_rewards
from genrec.training.preference_loss import preference_batch, token_logprobs

ITEM_IDS = [[20, 21], [22, 23], [24, 25], [20, 23], [26, 27]]  # 5 items, 2 identifier tokens each
PROMPTS = [[5, 6, 7], [8, 9]]
GROUPS = [[0, 1, 2], [3, 4, 0]]  # 2 groups of K = 3 rolled-out items


def test_rank_rewards_are_hit_plus_the_normalised_rank_penalty() -> None:
    items = np.array([[3, 7, 5, -1], [1, 2, 4, 6]])
    rewards, valid = rank_rewards(items, np.array([7, 9]), rank_weight=0.5)
    assert valid.tolist() == [[True, True, True, False], [True] * 4]
    # group 0: the hit at position 2; non-targets at positions 1 and 3 have discounts 1 and 1/log2(4) = 0.5
    np.testing.assert_allclose(rewards[0], [0.5 * -1 / 1.5, 1.0, 0.5 * -0.5 / 1.5, 0.0])
    # group 1: no hit; discounts 1/log2(rho + 1) normalised to sum 1, weighted by -0.5
    d = np.array([1 / math.log2(r + 1) for r in (1, 2, 3, 4)])
    np.testing.assert_allclose(rewards[1], -0.5 * d / d.sum())
    assert rewards[1, 0] < rewards[1, 1] < rewards[1, 3]  # a wrong item ranked higher is penalised more
    plain, _ = rank_rewards(items, np.array([7, 9]), rank_weight=0.0)
    assert plain.tolist() == [[0, 1, 0, 0], [0, 0, 0, 0]]


def test_group_advantages_normalise_within_each_group() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 5.0, 9.0]])
    valid = torch.tensor([[True] * 3, [True] * 3, [True, False, False]])
    adv, no_signal = group_advantages(rewards, valid)
    std = math.sqrt(((2 / 3) ** 2 + 2 * (1 / 3) ** 2) / 2)  # sample std (ddof=1) of [1, 0, 0]
    expected = torch.tensor([2 / 3, -1 / 3, -1 / 3]) / (std + ADVANTAGE_EPS)
    torch.testing.assert_close(adv[0], expected)
    assert no_signal.tolist() == [False, True, True]  # equal rewards; a single valid item
    assert adv[1:].abs().sum() == 0


def _compact(seed: int, noise: float = 0.0) -> Any:
    tok = build_lm_tokenizer([f"<t{i}>" for i in range(30)])
    config = BackboneConfig(num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)
    model = build_compact_model(config, tok, seed=seed).eval()
    torch.manual_seed(seed)
    with torch.no_grad():  # fresh models are near-uniform; noise makes their log-probs clearly differ
        for p in model.parameters():
            p.add_(noise * torch.randn_like(p))
    return model


def _tokens_by_hand(model: Any, prompt: list[int], item: int) -> list[torch.Tensor]:
    """log p of each identifier token of ``item`` after ``prompt``: one unpadded forward."""
    ids = torch.tensor([[*prompt, *ITEM_IDS[item]]])
    logp = F.log_softmax(model(input_ids=ids).logits[0].float(), -1)  # (length, vocab)
    return [logp[len(prompt) - 1 + j, tok] for j, tok in enumerate(ITEM_IDS[item])]


def test_grpo_loss_is_exact_against_a_hand_computation() -> None:
    policy, reference, old = _compact(0, 0.5), _compact(1, 0.5), _compact(2, 0.5)
    batch = preference_batch(PROMPTS, GROUPS, ITEM_IDS, 0)
    advantages = torch.tensor([1.2, -0.4, -0.8, 0.5, 0.0, -0.5])
    valid = torch.tensor([True, True, True, True, True, False])  # the last slot is padding
    eps, coef = 0.2, 0.3
    with torch.no_grad():
        old_tokens, rows = token_logprobs(old, batch)
        old_sequence = torch.zeros(6).index_add(0, rows, old_tokens)
        reference_tokens, _ = token_logprobs(reference, batch)
    loss, stats = grpo_loss(policy, batch, old_sequence, reference_tokens, advantages, valid, eps, coef)

    terms, kls, clipped = [], [], 0
    with torch.no_grad():
        for row, (prompt, item) in enumerate(
            (p, i) for p, group in zip(PROMPTS, GROUPS, strict=True) for i in group
        ):
            if not valid[row]:
                continue
            pol = [float(t) for t in _tokens_by_hand(policy, prompt, item)]
            ref = [float(t) for t in _tokens_by_hand(reference, prompt, item)]
            old_seq = sum(float(t) for t in _tokens_by_hand(old, prompt, item))
            ratio = math.exp(sum(pol) - old_seq)
            a = float(advantages[row])
            surrogate = min(ratio * a, min(max(ratio, 1 - eps), 1 + eps) * a)
            kl = sum(math.exp(r - p) - (r - p) - 1 for p, r in zip(pol, ref, strict=True))
            terms.append(-(surrogate - coef * kl))
            kls.append(kl)
            clipped += not (1 - eps <= ratio <= 1 + eps)
    assert loss.item() == pytest.approx(sum(terms) / 5, rel=1e-4)
    assert stats["kl"] == pytest.approx(sum(kls) / 5, rel=1e-4)
    assert stats["clip_fraction"] == pytest.approx(clipped / 5)
    assert clipped > 0  # different models: some ratios leave the clip range, so the clip is exercised
    loss.backward()
    grads = [p.grad for p in policy.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_on_policy_with_the_reference_as_policy_the_loss_is_minus_the_mean_advantage() -> None:
    """ratio = 1 and KL = 0 when policy, rollout policy and reference are one model."""
    model = _compact(0)
    batch = preference_batch(PROMPTS, GROUPS, ITEM_IDS, 0)
    with torch.no_grad():
        tokens, rows = token_logprobs(model, batch)
        old_sequence = torch.zeros(6).index_add(0, rows, tokens)
    advantages = torch.tensor([1.0, -0.5, -0.5, 0.3, 0.3, -0.6])
    loss, stats = grpo_loss(
        model, batch, old_sequence, tokens, advantages, torch.ones(6, dtype=torch.bool), 0.2, 1.0
    )
    assert loss.item() == pytest.approx(0.0, abs=1e-6)  # advantages sum to 0 within the batch
    assert stats["kl"] == pytest.approx(0.0, abs=1e-6) and stats["clip_fraction"] == 0.0
