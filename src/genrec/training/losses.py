"""Next-token losses on target positions only, computed without the full vocabulary where possible.

`target_loss` is the plain causal-LM loss (mean cross-entropy over labelled tokens) with logits only from the
first labelled position on. `identifier_loss` scores each target identifier token against the identifier
vocabulary alone: trie-constrained decoding can never emit any other token, so the other ~50k rows of a
pretrained LM head only cost time (on a trimmed SmolLM2 with atomic identifiers the head is as costly as the
transformer). Labelled tokens outside that vocabulary (the title text of an identifier -> title alignment
example) still get the full vocabulary.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from genrec.errors import GenrecError
from genrec.training.examples import IGNORE


def _unwrap(model: torch.nn.Module) -> Any:
    inner: Any = getattr(model, "module", model)  # DDP wraps the model
    if hasattr(inner, "get_base_model"):  # peft
        inner = inner.get_base_model()
    return inner


def _accepts_logits_to_keep(model: torch.nn.Module) -> bool:
    return "logits_to_keep" in inspect.signature(_unwrap(model).forward).parameters


def _tempered(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``, without copying a (tokens, vocab) tensor when the temperature is 1."""
    return logits if temperature == 1.0 else logits / temperature


def target_loss(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], temperature: float = 1.0
) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled positions, computing logits only where needed.

    ``temperature``: the cross-entropy is taken over ``logits / temperature`` (LETTER's ranking-guided
    generation loss; below 1 it weighs the highest-scoring wrong tokens more). 1 is the plain LM loss.

    Positions before the first labelled target of the batch (the prompt prefix) never get vocabulary
    logits (``logits_to_keep``); for a pretrained LM, whose head spans ~50k tokens, that head is as costly
    as the rest of a trimmed model. Equals the model's own ``labels=`` loss (mean over labelled tokens).
    """
    labels = batch["labels"]  # (batch, length)
    length = labels.shape[1]
    predicts = (labels[:, 1:] != IGNORE).any(0).nonzero()  # positions t whose token t+1 is a target
    if len(predicts) == 0:
        return model(**batch).loss
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if _accepts_logits_to_keep(model):
        first = int(predicts[0])
        keep = torch.arange(first, length - 1, device=labels.device)
        logits = model(**inputs, logits_to_keep=keep).logits  # (batch, kept, vocab)
    else:
        first = 0
        logits = model(**inputs).logits[:, :-1]  # (batch, length - 1, vocab)
    return F.cross_entropy(
        _tempered(logits.flatten(0, 1).float(), temperature),
        labels[:, first + 1 :].flatten(),
        ignore_index=IGNORE,
    )


def identifier_vocabulary(item_ids: Sequence[Sequence[int]]) -> torch.Tensor:
    """Sorted token ids that occur in some item's identifier: all that trie decoding can emit."""
    return torch.tensor(sorted({int(t) for ids in item_ids for t in ids}), dtype=torch.long)


def _identifier_rows(model: torch.nn.Module, vocabulary: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """The output-layer rows of ``vocabulary`` (vocab, hidden) and the layer's bias rows (or None)."""
    inner = _unwrap(model)
    head = inner.get_output_embeddings()
    if isinstance(head, torch.nn.Linear):
        bias = head.bias[vocabulary] if head.bias is not None else None
        return head.weight[vocabulary], bias
    if getattr(inner.config, "tie_word_embeddings", False):
        # Tied head wrapped by peft (trainable new-token rows): the input embedding of a token is its head row.
        return inner.get_input_embeddings()(vocabulary), None
    raise GenrecError(
        f"training.loss_vocabulary='identifiers' needs a plain or tied output layer, got {type(head).__name__}; "
        "use loss_vocabulary='full'"
    )


def identifier_loss(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], vocabulary: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Mean cross-entropy over labelled tokens; identifier targets scored against ``vocabulary`` only.

    ``vocabulary``: sorted identifier token ids (`identifier_vocabulary`). Other labelled tokens (alignment
    titles) are scored against the full vocabulary, so every labelled token counts once, as in `target_loss`.
    ``temperature`` divides every logit, as in `target_loss`.
    """
    labels = batch["labels"][:, 1:]  # (batch, length - 1): the token each position predicts
    keep = labels != IGNORE  # (batch, length - 1)
    if not bool(keep.any()):
        raise GenrecError("a training batch has no labelled target token")
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        output_hidden_states=True,
        logits_to_keep=1,
    )
    hidden = out.hidden_states[-1][:, :-1][keep]  # (targets, hidden), after the final norm
    targets = labels[keep]  # (targets,)
    vocabulary = vocabulary.to(targets.device)
    slot = torch.searchsorted(vocabulary, targets).clamp(max=len(vocabulary) - 1)  # (targets,)
    is_identifier = vocabulary[slot] == targets  # (targets,)
    total = hidden.new_zeros((), dtype=torch.float32)
    if bool(is_identifier.any()):
        rows, bias = _identifier_rows(model, vocabulary)  # (vocab_ids, hidden)
        logits = hidden[is_identifier] @ rows.T  # (id_targets, vocab_ids)
        if bias is not None:
            logits = logits + bias
        total = total + F.cross_entropy(
            _tempered(logits.float(), temperature), slot[is_identifier], reduction="sum"
        )
    if not bool(is_identifier.all()):
        head = _unwrap(model).get_output_embeddings()
        logits = head(hidden[~is_identifier])  # (text_targets, full vocab)
        total = total + F.cross_entropy(
            _tempered(logits.float(), temperature), targets[~is_identifier], reduction="sum"
        )
    return total / len(targets)
