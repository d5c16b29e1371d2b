"""AdamW parameter groups: weight decay on matrices only, as in GPT-2 / nanoGPT / litgpt."""

from __future__ import annotations

from typing import Any

import torch


def weight_decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two optimiser groups: >= 2-D trainable tensors decay; biases and norm weights (1-D) do not.

    Tied parameters (e.g. shared input/output embeddings) appear once.
    """
    seen: set[int] = set()
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
