"""`CausalLMRunner`: the forward pass runs where the model's weights are, the search state stays on the CPU."""

from __future__ import annotations

from typing import Any

import torch

from genrec.decoding.causal_lm import CausalLMRunner, left_pad


class _OnMeta(torch.nn.Module):
    """Weights on the ``meta`` device (a stand-in for a GPU); records where its inputs arrived."""

    def __init__(self, vocab: int = 5) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(vocab, device="meta"))
        self.vocab = vocab
        self.seen: list[torch.device] = []

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        past_key_values: Any = None,
        position_ids: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        assert position_ids is not None
        self.seen += [input_ids.device, attention_mask.device, position_ids.device]
        batch, length = input_ids.shape
        logits = torch.arange(batch * length * self.vocab, dtype=torch.float).reshape(batch, length, -1)
        return {"logits": logits, "past_key_values": past_key_values}


def test_inputs_go_to_the_models_device_and_logits_come_back_to_the_cpu() -> None:
    model = _OnMeta()
    runner = CausalLMRunner(model)
    assert runner.device == torch.device("meta")
    ids, mask = left_pad([[1, 2], [3]], pad_token_id=0)
    logits, _ = runner.prefill(ids, mask)
    assert logits.device == torch.device("cpu") and logits.shape == (2, 5)  # (batch, vocab): last position
    assert logits[0].tolist() == [5.0, 6.0, 7.0, 8.0, 9.0]
    logits, _ = runner.step(
        torch.tensor([4, 4]), torch.ones(2, 3, dtype=torch.long), torch.tensor([2, 1]), None
    )
    assert logits.device == torch.device("cpu") and logits.shape == (2, 5)
    assert model.seen and all(d == torch.device("meta") for d in model.seen)


def test_a_model_without_parameters_runs_on_the_cpu() -> None:
    class NoWeights:  # any object with a forward: nothing to locate
        def forward(self, input_ids: torch.Tensor) -> None:
            return None

    runner = CausalLMRunner(NoWeights())
    assert runner.device == torch.device("cpu")
