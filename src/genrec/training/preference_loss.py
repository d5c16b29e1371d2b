"""DPO and softmax-DPO (S-DPO) on item identifiers: sequence log-probabilities against a frozen reference.

An item's log-probability given a prompt is the sum, over its identifier tokens, of the LM's
log-softmax (full vocabulary) at the position before each token: exactly the score trie-constrained beam
search ranks by. Rows of a batch are ``prompt + identifier`` sequences, right-padded, with labels on the
identifier only (`preference_batch`), so padding never enters a row's sum.

With r(y) = log pi(y | x) - log ref(y | x) (policy minus frozen reference), for a positive y+ and
negatives y_1- .. y_N-:

- DPO (Rafailov et al. 2023), each negative paired with the positive, averaged over the N pairs:
  -log sigmoid(beta * (r(y+) - r(y_j-)));
- S-DPO (Chen et al. 2024, "On Softmax Direct Preference Optimization for Recommendation"), all negatives
  in one Plackett-Luce term: -log sigmoid(-log sum_j exp(beta * (r(y_j-) - r(y+)))).

With one negative the two are the same loss. ``sft_weight`` alpha > 0 adds alpha * (-log pi(y+ | x)), the
positive's negative log-likelihood (summed over its identifier tokens, averaged over targets), as RPO (Pang
et al. 2024, "Iterative Reasoning Preference Optimization") does: DPO alone can lower the positive's
likelihood together with the negatives' (only their difference is constrained), and this term stops that.
The reference is a deep copy of the starting (SFT) model,
in eval mode and without gradients (`frozen_reference`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from genrec.training.examples import IGNORE, Example, collate
from genrec.training.losses import _accepts_logits_to_keep, _unwrap


def preference_batch(
    prompts: Sequence[Sequence[int]],
    candidates: Sequence[Sequence[int]],
    item_ids: Sequence[Sequence[int]],
    pad_token_id: int,
) -> dict[str, torch.Tensor]:
    """One row per (prompt, candidate item): ``prompt + identifier``, labels on the identifier only.

    candidates (targets, 1 + N): the positive item first, then the negatives. Row ``t * (1 + N) + j`` is
    candidate j of target t; every tensor is (targets * (1 + N), length), right-padded.
    """
    examples = []
    for prompt, items in zip(prompts, candidates, strict=True):
        for item in items:
            target = list(item_ids[int(item)])
            examples.append(Example([*prompt, *target], [IGNORE] * len(prompt) + target, -1, 1))
    return collate(examples, pad_token_id)


def token_logprobs(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(token | earlier tokens) of every labelled token, and the row it belongs to: (tokens,) each.

    Tokens come row by row, in order (row-major over the labelled positions). Vocabulary logits are
    computed only at labelled positions (the head applied to those hidden states) when the model's
    forward takes ``logits_to_keep``, as `genrec.training.losses` does.
    """
    labels = batch["labels"][:, 1:]  # (rows, length - 1): the token each position predicts
    keep = labels != IGNORE  # (rows, length - 1)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if _accepts_logits_to_keep(model):
        out = model(**inputs, output_hidden_states=True, logits_to_keep=1)
        hidden = out.hidden_states[-1][:, :-1][keep]  # (tokens, hidden), after the final norm
        logits = _unwrap(model).get_output_embeddings()(hidden)  # (tokens, vocab)
    else:
        logits = model(**inputs).logits[:, :-1][keep]  # (tokens, vocab)
    logprobs = -F.cross_entropy(logits.float(), labels[keep], reduction="none")  # (tokens,)
    return logprobs, keep.nonzero()[:, 0]  # (tokens,), (tokens,)


def sum_by_row(values: torch.Tensor, rows: torch.Tensor, num_rows: int) -> torch.Tensor:
    """Per-row sums of per-token ``values`` (tokens,) given each token's row: (num_rows,)."""
    return values.new_zeros(num_rows).index_add(0, rows, values)


def sequence_logprobs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of log p(token | earlier tokens) over each row's labelled tokens: (rows,), float32."""
    logprobs, rows = token_logprobs(model, batch)
    return sum_by_row(logprobs, rows, batch["labels"].shape[0])


def frozen_reference(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``model`` in eval mode with no trainable parameter: the DPO reference policy."""
    reference = copy.deepcopy(model)
    reference.eval()
    reference.requires_grad_(False)
    return reference


def dpo_loss(policy: torch.Tensor, reference: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean pairwise DPO loss. policy / reference: (targets, 1 + N) log-probs, the positive in column 0."""
    ratios = policy - reference  # (targets, 1 + N)
    margins = ratios[:, :1] - ratios[:, 1:]  # (targets, N): r(y+) - r(y_j-)
    return -F.logsigmoid(beta * margins).mean()


def sdpo_loss(policy: torch.Tensor, reference: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean S-DPO loss. policy / reference: (targets, 1 + N) log-probs, the positive in column 0."""
    ratios = policy - reference  # (targets, 1 + N)
    against = ratios[:, 1:] - ratios[:, :1]  # (targets, N): r(y_j-) - r(y+)
    return -F.logsigmoid(-torch.logsumexp(beta * against, dim=1)).mean()


def preference_loss(
    policy: torch.nn.Module,
    reference: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    candidates: int,
    objective: str,
    beta: float,
    sft_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one `preference_batch` (``candidates`` = 1 + N rows per target), plus ``sft_weight``
    times the positives' mean negative log-likelihood, and three diagnostics: ``reward_accuracy`` (share of
    targets whose positive has the largest log-ratio), ``margin`` (mean r(y+) - r(y-) over pairs) and
    ``positive_logprob`` (mean log pi(y+ | x))."""
    with torch.no_grad():
        ref = sequence_logprobs(reference, batch).view(-1, candidates)  # (targets, 1 + N)
    pol = sequence_logprobs(policy, batch).view(-1, candidates)  # (targets, 1 + N)
    if objective not in ("dpo", "sdpo"):
        raise ValueError(f"preference_loss takes objective 'dpo' or 'sdpo', got {objective!r}")
    loss = dpo_loss(pol, ref, beta) if objective == "dpo" else sdpo_loss(pol, ref, beta)
    if sft_weight > 0:
        loss = loss - sft_weight * pol[:, 0].mean()
    with torch.no_grad():
        ratios = pol - ref
        margins = ratios[:, :1] - ratios[:, 1:]  # (targets, N)
        stats = {
            "reward_accuracy": float((margins > 0).all(dim=1).float().mean()),
            "margin": float(margins.mean()),
            "positive_logprob": float(pol[:, 0].mean()),
        }
    return loss, stats
