"""A thin, model-class-independent adapter over a causal LM's forward pass with a KV cache.

Works with anything whose ``forward(input_ids, attention_mask, past_key_values, ...)`` returns an object
(or dict) with ``logits`` and ``past_key_values``. Hugging Face models get a fresh ``DynamicCache`` and
explicit ``position_ids`` (needed for left padding) and ``logits_to_keep=1`` (so a prefill never
materialises (batch, length, vocab) logits) when their forward accepts them. The model's
``generation_config`` is never read: nothing here calls ``generate``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch


def left_pad(prompts: Sequence[Sequence[int]], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded (batch, length) input ids and their attention mask."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        if prompt:
            ids[row, width - len(prompt) :] = torch.as_tensor(list(prompt), dtype=torch.long)
            mask[row, width - len(prompt) :] = 1
    return ids, mask


class CausalLMRunner:
    """Prefill and single-token decode steps with a reorderable KV cache."""

    def __init__(self, model: Any) -> None:
        self.model = model
        params = inspect.signature(model.forward).parameters
        self._accepts = set(params)
        self._config = getattr(model, "config", None)
        first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        # Beam-search state (trie walks, scores) stays on the CPU; only the forward pass runs where the
        # model's weights are, so a model trained on a GPU decodes there without moving it.
        self.device = first.device if first is not None else torch.device("cpu")

    def _forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor, past: Any
    ) -> tuple[torch.Tensor, Any]:
        dev = self.device
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(dev),
            "attention_mask": attention_mask.to(dev),
            "past_key_values": past,
        }
        if "position_ids" in self._accepts:
            kwargs["position_ids"] = positions.to(dev)
        if "use_cache" in self._accepts:
            kwargs["use_cache"] = True
        if "logits_to_keep" in self._accepts:
            kwargs["logits_to_keep"] = 1
        out = self.model(**kwargs)
        logits = out["logits"] if isinstance(out, dict) else out.logits
        new_past = out["past_key_values"] if isinstance(out, dict) else out.past_key_values
        return logits[:, -1, :].to("cpu"), new_past  # (batch, vocab), on the CPU for the search

    def new_cache(self, spare: int | None = None) -> Any:
        """An empty cache for Hugging Face models, None (model-created) otherwise.

        ``spare`` (the most tokens that will be decoded after the prefill) selects `SpareCapacityLayer`
        layers that write in place instead of concatenating (see `genrec.decoding.kv_cache`).
        """
        if self._config is None:
            return None
        try:
            from transformers import DynamicCache
        except ImportError:  # pragma: no cover - transformers is a dependency
            return None
        if spare is not None:
            from genrec.decoding.kv_cache import beam_search_cache

            return beam_search_cache(self._config, spare)
        return DynamicCache(config=self._config)

    def prefill(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, spare: int | None = None
    ) -> tuple[torch.Tensor, Any]:
        """Run left-padded prompts (batch, length); return last-position logits (batch, vocab) and cache."""
        positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # (batch, length)
        return self._forward(input_ids, attention_mask, positions, self.new_cache(spare))

    def step(
        self, tokens: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor, past: Any
    ) -> tuple[torch.Tensor, Any]:
        """Feed one token per row: tokens (rows,), attention_mask (rows, past + 1), positions (rows,)."""
        return self._forward(tokens[:, None], attention_mask, positions[:, None], past)

    @staticmethod
    def reorder(past: Any, rows: torch.Tensor, shared_prefix: int = 0) -> Any:
        """Select (and repeat) cache rows: row i of the result is row ``rows[i]`` of ``past``.

        ``shared_prefix > 0``: same row count, and every row's first ``shared_prefix`` positions already
        equal those of ``rows[i]`` (beams of one prompt), so only the later positions need moving.
        """
        from genrec.decoding.kv_cache import reorder_beams

        return reorder_beams(past, rows, shared_prefix)
