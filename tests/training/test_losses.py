"""`identifier_loss`: cross-entropy over the identifier vocabulary only, exact against full-vocabulary logits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from tiny_pretrained import make_tiny_pretrained

from genrec.errors import GenrecError
from genrec.training.config import BackboneConfig
from genrec.training.examples import IGNORE
from genrec.training.losses import identifier_loss, identifier_vocabulary, target_loss
from genrec.training.pretrained import apply_finetuning


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_pretrained(tmp_path_factory.mktemp("tiny-lm"), layers=2)


def _model(path: Path) -> Any:
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(str(path))


def _batch(vocab_size: int, targets: list[int] | None = None) -> dict[str, torch.Tensor]:
    """Two rows; labelled positions 3..5 of row 0 and 2, 6 of row 1; row 1 right-padded from 7."""
    torch.manual_seed(1)
    ids = torch.randint(5, vocab_size, (2, 9))
    labels = torch.full_like(ids, IGNORE)
    labels[0, 3:6] = ids[0, 3:6]
    labels[1, [2, 6]] = ids[1, [2, 6]]
    if targets is not None:  # force the labelled tokens (and inputs) to these values, in order
        where = (labels != IGNORE).nonzero(as_tuple=True)
        ids[where] = torch.tensor(targets)
        labels[where] = torch.tensor(targets)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _manual(
    model: Any, batch: dict[str, torch.Tensor], vocabulary: list[int], temperature: float = 1.0
) -> torch.Tensor:
    """Hand-built reference: full logits / temperature; identifier targets re-normalised over ``vocabulary``."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits[:, :-1] / temperature
    labels = batch["labels"][:, 1:]
    losses = []
    for b, t in (labels != IGNORE).nonzero().tolist():
        y = int(labels[b, t])
        if y in vocabulary:
            sub = logits[b, t, vocabulary]
            losses.append(-F.log_softmax(sub, -1)[vocabulary.index(y)])
        else:
            losses.append(-F.log_softmax(logits[b, t], -1)[y])
    return torch.stack(losses).mean()


def test_vocabulary_is_the_sorted_union_of_identifier_tokens() -> None:
    assert identifier_vocabulary([[7, 3], [3, 9], [12]]).tolist() == [3, 7, 9, 12]


def test_full_vocabulary_gives_the_plain_target_loss(tiny_dir: Path) -> None:
    model = _model(tiny_dir)
    batch = _batch(model.config.vocab_size)
    everything = torch.arange(model.config.vocab_size)
    torch.testing.assert_close(identifier_loss(model, batch, everything), target_loss(model, batch))


def test_identifier_targets_normalise_over_identifiers_only(tiny_dir: Path) -> None:
    model = _model(tiny_dir)
    vocabulary = [20, 21, 22, 23, 24]
    batch = _batch(model.config.vocab_size, targets=[21, 24, 20, 22, 23])
    loss = identifier_loss(model, batch, torch.tensor(vocabulary))
    torch.testing.assert_close(loss, _manual(model, batch, vocabulary))
    assert loss < target_loss(model, batch)  # a smaller softmax: every target gets more probability


def test_text_targets_still_use_the_full_vocabulary(tiny_dir: Path) -> None:
    model = _model(tiny_dir)
    vocabulary = [20, 21, 22]
    batch = _batch(model.config.vocab_size, targets=[21, 8, 20, 9, 22])  # 8, 9: title text tokens
    torch.testing.assert_close(
        identifier_loss(model, batch, torch.tensor(vocabulary)), _manual(model, batch, vocabulary)
    )


def test_gradients_match_the_reference(tiny_dir: Path) -> None:
    model = _model(tiny_dir)
    vocabulary = [20, 21, 22, 23, 24]
    batch = _batch(model.config.vocab_size, targets=[21, 24, 20, 9, 23])
    identifier_loss(model, batch, torch.tensor(vocabulary)).backward()
    ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    _manual(model, batch, vocabulary).backward()
    for a, p in zip(ours, model.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)


def test_lora_with_trainable_new_token_rows(tiny_dir: Path) -> None:
    """peft wraps the tied head; the identifier rows then come from the (wrapped) input embedding."""
    model = _model(tiny_dir)
    new_tokens = [20, 21, 22, 23, 24]
    cfg = BackboneConfig(kind="pretrained", path=str(tiny_dir), finetune="lora")
    peft_model = apply_finetuning(model, cfg, new_tokens, seed=0)
    with torch.no_grad():  # move the trainable rows away from the base rows, as training would
        for name, p in peft_model.named_parameters():
            if p.requires_grad and "token" in name:
                p.add_(torch.randn_like(p))
    batch = _batch(model.config.vocab_size, targets=[21, 24, 20, 22, 23])
    reference = _manual(peft_model, batch, new_tokens)
    torch.testing.assert_close(identifier_loss(peft_model, batch, torch.tensor(new_tokens)), reference)


def test_a_batch_without_targets_is_an_error(tiny_dir: Path) -> None:
    model = _model(tiny_dir)
    batch = _batch(model.config.vocab_size)
    batch["labels"][:] = IGNORE
    with pytest.raises(GenrecError, match="no labelled target"):
        identifier_loss(model, batch, torch.tensor([20, 21]))


def test_temperature_divides_the_logits(tiny_dir: Path) -> None:
    """LETTER's ranking-guided loss: cross-entropy over logits / T, for both losses, hand-checked."""
    model = _model(tiny_dir)
    vocabulary = [20, 21, 22, 23, 24]
    batch = _batch(model.config.vocab_size, targets=[21, 24, 20, 22, 23])
    everything = list(range(model.config.vocab_size))
    tempered = target_loss(model, batch, temperature=0.5)
    torch.testing.assert_close(tempered, _manual(model, batch, everything, temperature=0.5))
    assert not torch.isclose(tempered, target_loss(model, batch))
    torch.testing.assert_close(
        identifier_loss(model, batch, torch.tensor(vocabulary), temperature=0.5),
        _manual(model, batch, vocabulary, temperature=0.5),
    )


def test_temperature_without_logits_to_keep(tiny_dir: Path) -> None:
    """A model whose forward lacks ``logits_to_keep`` still gets the tempered loss, not its own ``.loss``."""
    model = _model(tiny_dir)
    batch = _batch(model.config.vocab_size)

    class NoKeep(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, labels: Any = None) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, labels=labels)

    wrapped = NoKeep(model)
    everything = list(range(model.config.vocab_size))
    torch.testing.assert_close(
        target_loss(wrapped, batch, temperature=2.0), _manual(model, batch, everything, temperature=2.0)
    )
    torch.testing.assert_close(target_loss(wrapped, batch), target_loss(model, batch))
