"""Unconstrained greedy generation, the first half of BIGRec-style embedding grounding.

The LM writes free text (e.g. a title) for a batch of prompts; `EmbeddingGrounder` then maps each text
to the nearest catalogue items. Same runner as the beam search (left padding, explicit positions, KV
cache, the model's ``generation_config`` never read); rows stop at EOS or after ``max_new_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from genrec.decoding.causal_lm import CausalLMRunner, left_pad
from genrec.errors import ConfigError


@torch.inference_mode()
def greedy_generate(
    model: Any,
    prompts: Sequence[Sequence[int]],
    eos_token_id: int,
    pad_token_id: int,
    max_new_tokens: int = 48,
    batch_size: int = 16,
    banned_token_ids: Sequence[int] = (),
) -> list[list[int]]:
    """Greedy continuation token ids of each prompt (EOS excluded), never emitting ``banned_token_ids``."""
    if max_new_tokens < 1 or batch_size < 1:
        raise ConfigError("greedy_generate: max_new_tokens and batch_size must be >= 1")
    if any(len(p) == 0 for p in prompts):
        raise ConfigError("greedy_generate: empty prompt")
    runner = CausalLMRunner(model)
    outputs: list[list[int]] = []
    banned = torch.as_tensor(list(banned_token_ids), dtype=torch.long)
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        ids, mask = left_pad(chunk, pad_token_id)  # (rows, length)
        logits, past = runner.prefill(ids, mask)  # (rows, vocab)
        positions = mask.sum(1) - 1  # (rows,) position of the last prompt token
        done = torch.zeros(len(chunk), dtype=torch.bool)
        out: list[list[int]] = [[] for _ in chunk]
        for _ in range(max_new_tokens):
            if len(banned):
                logits[:, banned] = float("-inf")
            nxt = logits.argmax(-1)  # (rows,)
            for row in range(len(chunk)):
                if not done[row]:
                    if int(nxt[row]) == eos_token_id:
                        done[row] = True
                    else:
                        out[row].append(int(nxt[row]))
            if bool(done.all()):
                break
            positions = positions + 1
            mask = torch.cat([mask, torch.ones((len(chunk), 1), dtype=mask.dtype)], 1)
            logits, past = runner.step(nxt, mask, positions, past)
        outputs.extend(out)
    return outputs
