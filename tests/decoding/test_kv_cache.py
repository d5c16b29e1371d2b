"""The in-place beam-search KV cache gives exactly what Hugging Face's DynamicCache gives."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import DynamicCache, LlamaForCausalLM

from genrec.decoding import SearchConfig, grounded_beam_search
from genrec.decoding.causal_lm import CausalLMRunner
from genrec.decoding.kv_cache import SpareCapacityLayer, beam_search_cache, reorder_beams

from .conftest import PAD, random_prompts, semantic_trie, title_trie


def _plain_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the search use Hugging Face's DynamicCache and full reorders (the reference path)."""
    monkeypatch.setattr(
        CausalLMRunner, "new_cache", lambda self, spare=None: DynamicCache(config=self._config)
    )
    monkeypatch.setattr(
        CausalLMRunner, "reorder", staticmethod(lambda past, rows, shared_prefix=0: reorder_beams(past, rows))
    )


@pytest.mark.parametrize("make_trie", [semantic_trie, title_trie])
def test_search_results_equal_dynamic_cache(
    tiny_lm: LlamaForCausalLM, make_trie: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    trie = make_trie()
    prompts = random_prompts(7, seed=11)  # different lengths: left padding, prompts finish at different steps
    histories = [[p % len(trie), (p + 3) % len(trie)] for p in range(7)]
    config = SearchConfig(num_beams=5, k=4, batch_size=7)
    fast = grounded_beam_search(tiny_lm, prompts, trie, config, histories=histories, pad_token_id=PAD)
    _plain_runner(monkeypatch)
    plain = grounded_beam_search(tiny_lm, prompts, trie, config, histories=histories, pad_token_id=PAD)
    assert [r.items for r in fast] == [r.items for r in plain]
    for f, p in zip(fast, plain, strict=True):
        assert f.scores == pytest.approx(p.scores, abs=1e-5)


def _filled_layer(
    batch: int, length: int, spare: int
) -> tuple[SpareCapacityLayer, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    keys = torch.randn(batch, 2, length, 4, generator=gen)
    values = torch.randn(batch, 2, length, 4, generator=gen)
    layer = SpareCapacityLayer(spare=spare)
    layer.update(keys, values)
    return layer, keys, values


def test_update_writes_in_place_and_grows_past_its_spare_room() -> None:
    layer, keys, values = _filled_layer(batch=3, length=5, spare=2)
    buffer = layer._key_buffer
    new_k, new_v = torch.ones(3, 2, 1, 4), torch.full((3, 2, 1, 4), 2.0)
    k, v = layer.update(new_k, new_v)
    assert layer._key_buffer is buffer  # no reallocation while there is room
    assert torch.equal(k, torch.cat([keys, new_k], 2)) and torch.equal(v, torch.cat([values, new_v], 2))
    for _ in range(3):  # the third token exceeds the spare room of 2: the buffer grows, contents kept
        k, v = layer.update(new_k, new_v)
    assert layer.get_seq_length() == 9 and k.shape == (3, 2, 9, 4)
    assert torch.equal(k[:, :, :5], keys) and torch.equal(v[:, :, 5:], new_v.expand(3, 2, 4, 4))


def test_reorder_suffix_equals_full_reorder_when_prefixes_are_shared() -> None:
    # rows 0-2 are beams of one prompt, rows 3-5 of another: equal prompt part within each group
    layer, _, _ = _filled_layer(batch=2, length=4, spare=4)
    layer.reorder_cache(torch.tensor([0, 0, 0, 1, 1, 1]))  # expansion to 3 beams each
    gen = torch.Generator().manual_seed(1)
    for _ in range(2):
        layer.update(torch.randn(6, 2, 1, 4, generator=gen), torch.randn(6, 2, 1, 4, generator=gen))
    rows = torch.tensor([2, 2, 0, 5, 3, 3])  # parents within the same prompt
    reference = (layer.keys.index_select(0, rows).clone(), layer.values.index_select(0, rows).clone())
    layer.reorder_suffix(rows, start=4)
    assert torch.equal(layer.keys, reference[0]) and torch.equal(layer.values, reference[1])


def test_reorder_cache_may_drop_and_repeat_rows() -> None:
    layer, keys, _ = _filled_layer(batch=3, length=4, spare=2)
    layer.reorder_cache(torch.tensor([2, 2]))
    assert torch.equal(layer.keys, keys[[2, 2]])
    k, _ = layer.update(torch.zeros(2, 2, 1, 4), torch.zeros(2, 2, 1, 4))  # room survives the reorder
    assert k.shape == (2, 2, 5, 4) and torch.equal(k[:, :, :4], keys[[2, 2]])


def test_replaced_tensors_are_rebuffered() -> None:
    layer, keys, values = _filled_layer(batch=2, length=3, spare=2)
    layer.keys, layer.values = keys[:, :, :2].clone(), values[:, :, :2].clone()  # as crop() would
    k, _ = layer.update(torch.zeros(2, 2, 1, 4), torch.zeros(2, 2, 1, 4))
    assert k.shape == (2, 2, 3, 4) and torch.equal(k[:, :, :2], keys[:, :, :2])


def test_beam_search_cache_uses_spare_capacity_layers(tiny_lm: LlamaForCausalLM) -> None:
    cache = beam_search_cache(tiny_lm.config, spare=3)
    ids = torch.tensor([[5, 6, 7]])
    tiny_lm(input_ids=ids, past_key_values=cache, use_cache=True)
    assert len(cache.layers) == tiny_lm.config.num_hidden_layers
    assert all(isinstance(layer, SpareCapacityLayer) for layer in cache.layers)
    assert cache.get_seq_length() == 3
