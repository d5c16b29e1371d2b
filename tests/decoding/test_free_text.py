"""Greedy free-text generation for embedding grounding equals Hugging Face greedy `generate`."""

from __future__ import annotations

import pytest
import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

from genrec.decoding.free_text import greedy_generate
from genrec.errors import ConfigError


def test_batched_left_padded_greedy_equals_hf_generate_per_prompt() -> None:
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, eos_token_id=1, pad_token_id=0)  # fmt: skip
    model = LlamaForCausalLM(cfg).eval()
    model.generation_config.do_sample, model.generation_config.temperature = True, 3.0  # must be ignored
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]
    ours = greedy_generate(model, prompts, eos_token_id=1, pad_token_id=0, max_new_tokens=7, batch_size=3)
    for prompt, got in zip(prompts, ours, strict=True):
        ref = model.generate(
            input_ids=torch.tensor([prompt]),
            generation_config=GenerationConfig(
                do_sample=False, max_new_tokens=7, eos_token_id=1, pad_token_id=0
            ),
        )[0, len(prompt) :].tolist()
        expected = ref[: ref.index(1)] if 1 in ref else ref
        assert got == expected
    banned = greedy_generate(model, prompts, 1, 0, max_new_tokens=7, banned_token_ids=range(2, 30))
    assert all(t >= 30 or t == 0 for row in banned for t in row)
    with pytest.raises(ConfigError, match="empty prompt"):
        greedy_generate(model, [[]], 1, 0)
