"""DPO / S-DPO: exact losses against a hand-built reference, padding safety, and a frozen reference model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from tiny_pretrained import make_tiny_pretrained

from genrec.training.compact import build_compact_model, build_lm_tokenizer
from genrec.training.config import BackboneConfig
from genrec.training.preference_loss import (
    dpo_loss,
    frozen_reference,
    preference_batch,
    preference_loss,
    sdpo_loss,
    sequence_logprobs,
)

#: Identifier token ids of 5 items (2 tokens each) and 3 prompts, for a model of >= 30 tokens.
ITEM_IDS = [[20, 21], [22, 23], [24, 25], [20, 23], [26, 27]]
PROMPTS = [[5, 6, 7], [8, 9], [10, 11, 12, 13, 14]]
CANDIDATES = [[0, 1, 2], [3, 4, 0], [2, 1, 4]]  # positive first, then 2 negatives
PAD = 0


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_pretrained(tmp_path_factory.mktemp("tiny-lm"), layers=2)


def _pretrained(path: Path, seed: int = 0) -> Any:
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(path))
    with torch.no_grad():  # a different policy for each seed, so log-ratios are not zero
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _compact() -> Any:
    tok = build_lm_tokenizer([f"<t{i}>" for i in range(30)])
    config = BackboneConfig(num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32)
    return build_compact_model(config, tok, seed=0).eval()


def _by_hand(model: Any, prompt: list[int], item: int) -> torch.Tensor:
    """log p(item | prompt): one unpadded forward, full log-softmax, summed over the identifier tokens."""
    ids = torch.tensor([[*prompt, *ITEM_IDS[item]]])
    logp = F.log_softmax(model(input_ids=ids).logits[0].float(), -1)  # (length, vocab)
    start = len(prompt)
    return sum(logp[start - 1 + j, tok] for j, tok in enumerate(ITEM_IDS[item]))  # type: ignore[return-value]


def _hand_table(model: Any) -> torch.Tensor:
    """(targets, 1 + N) log-probs, computed row by row."""
    return torch.stack(
        [
            torch.stack([_by_hand(model, prompt, item) for item in items])
            for prompt, items in zip(PROMPTS, CANDIDATES, strict=True)
        ]
    )


def _batch() -> dict[str, torch.Tensor]:
    return preference_batch(PROMPTS, CANDIDATES, ITEM_IDS, PAD)


@pytest.mark.parametrize("backbone", ["pretrained", "compact"])
def test_sequence_logprobs_match_a_plain_forward(backbone: str, tiny_dir: Path) -> None:
    model = _pretrained(tiny_dir) if backbone == "pretrained" else _compact()
    ours = sequence_logprobs(model, _batch()).view(3, 3)
    torch.testing.assert_close(ours, _hand_table(model), rtol=1e-5, atol=1e-5)
    assert ours.max() < 0


def test_padding_does_not_change_a_rows_logprob(tiny_dir: Path) -> None:
    model = _pretrained(tiny_dir)
    alone = sequence_logprobs(model, preference_batch([PROMPTS[1]], [[3]], ITEM_IDS, PAD))
    together = sequence_logprobs(model, preference_batch([PROMPTS[2], PROMPTS[1]], [[0], [3]], ITEM_IDS, PAD))
    assert _batch()["attention_mask"][3:6].sum(1).tolist() == [4, 4, 4]  # prompt 1's rows are padded
    torch.testing.assert_close(together[1], alone[0], rtol=1e-5, atol=1e-5)


def test_dpo_and_sdpo_losses_are_exact(tiny_dir: Path) -> None:
    policy, reference = _pretrained(tiny_dir, seed=0), _pretrained(tiny_dir, seed=1)
    pi, ref = _hand_table(policy).detach(), _hand_table(reference).detach()
    beta = 0.7
    dpo_terms, sdpo_terms = [], []
    for t in range(3):
        r_pos = float(pi[t, 0] - ref[t, 0])
        r_neg = [float(pi[t, j] - ref[t, j]) for j in (1, 2)]
        dpo_terms += [math.log1p(math.exp(-beta * (r_pos - r))) for r in r_neg]  # -log sigmoid(x)
        inner = math.log(sum(math.exp(beta * (r - r_pos)) for r in r_neg))
        sdpo_terms.append(math.log1p(math.exp(inner)))  # -log sigmoid(-inner)
    expected_dpo, expected_sdpo = sum(dpo_terms) / 6, sum(sdpo_terms) / 3
    assert dpo_loss(pi, ref, beta).item() == pytest.approx(expected_dpo, rel=1e-5)
    assert sdpo_loss(pi, ref, beta).item() == pytest.approx(expected_sdpo, rel=1e-5)
    loss, stats = preference_loss(policy, reference, _batch(), 3, "sdpo", beta)
    assert loss.item() == pytest.approx(expected_sdpo, rel=1e-4)
    loss, stats = preference_loss(policy, reference, _batch(), 3, "dpo", beta)
    assert loss.item() == pytest.approx(expected_dpo, rel=1e-4)
    assert 0.0 <= stats["reward_accuracy"] <= 1.0


def test_sdpo_with_one_negative_is_dpo() -> None:
    torch.manual_seed(3)
    pi, ref = torch.randn(7, 2), torch.randn(7, 2)
    torch.testing.assert_close(sdpo_loss(pi, ref, 0.3), dpo_loss(pi, ref, 0.3))
    pi3, ref3 = torch.randn(7, 3), torch.randn(7, 3)  # two negatives: one softmax term, not two pairs
    assert not torch.isclose(sdpo_loss(pi3, ref3, 0.3), dpo_loss(pi3, ref3, 0.3))


def test_a_policy_equal_to_its_reference_scores_log_2(tiny_dir: Path) -> None:
    """Log-ratios are all zero: DPO = log 2, S-DPO = log(1 + N)."""
    policy = _pretrained(tiny_dir)
    reference = frozen_reference(policy)
    assert preference_loss(policy, reference, _batch(), 3, "dpo", 1.0)[0].item() == pytest.approx(math.log(2))
    assert preference_loss(policy, reference, _batch(), 3, "sdpo", 1.0)[0].item() == pytest.approx(
        math.log(3)
    )


def test_gradients_reach_the_policy_only(tiny_dir: Path) -> None:
    policy = _pretrained(tiny_dir)
    reference = frozen_reference(policy)
    with torch.no_grad():
        next(policy.parameters()).add_(0.1)
    before = {k: v.clone() for k, v in reference.state_dict().items()}
    loss, _ = preference_loss(policy, reference, _batch(), 3, "sdpo", 1.0)
    loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in reference.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.parameters())
    torch.optim.SGD(policy.parameters(), lr=1.0).step()
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(value, before[name])
    assert not reference.training


@pytest.mark.parametrize("objective", ["dpo", "sdpo"])
def test_sft_weight_adds_the_positives_negative_log_likelihood(objective: str, tiny_dir: Path) -> None:
    policy, reference = _pretrained(tiny_dir, seed=0), _pretrained(tiny_dir, seed=1)
    positives = _hand_table(policy).detach()[:, 0]  # (targets,) log pi(y+ | x), summed over tokens
    plain, stats = preference_loss(policy, reference, _batch(), 3, objective, 0.7)
    weighted, _ = preference_loss(policy, reference, _batch(), 3, objective, 0.7, sft_weight=0.5)
    expected = plain.item() - 0.5 * positives.mean().item()
    assert weighted.item() == pytest.approx(expected, rel=1e-4) and weighted.item() > plain.item()
    assert stats["positive_logprob"] == pytest.approx(positives.mean().item(), rel=1e-4)
