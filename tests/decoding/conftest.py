"""Shared fixtures: a tiny random Llama and toy identifier tries."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from genrec.decoding import PrefixTrie

VOCAB = 60
EOS = 2
PAD = 0


@pytest.fixture(scope="session")
def tiny_lm() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        initializer_range=0.3,  # peaked distributions: no near-ties between items
        bos_token_id=1,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )
    model = LlamaForCausalLM(config)
    model.eval()
    return model


def semantic_trie(num_items: int = 40, seed: int = 0) -> PrefixTrie:
    """Fixed-length 3-token identifiers from disjoint code books (tokens 30-39, 40-49, 50-59)."""
    gen = torch.Generator().manual_seed(seed)
    trie = PrefixTrie(VOCAB)
    seen: set[tuple[int, ...]] = set()
    item = 0
    while item < num_items:
        code = tuple(int(x) for x in torch.randint(0, 10, (3,), generator=gen))
        ids = (30 + code[0], 40 + code[1], 50 + code[2])
        if ids in seen:
            continue
        seen.add(ids)
        trie.insert(item, ids)
        item += 1
    return trie


def title_trie() -> PrefixTrie:
    """Variable-length identifiers over "words" 3-29, each terminated by EOS; some are prefixes of others."""
    titles = [
        [5, 6], [5, 6, 7], [5, 6, 7, 8], [5, 9], [10], [10, 11, 12, 13, 14], [10, 11, 15],
        [16, 5, 6], [17, 17, 17], [18, 3], [19, 20, 21], [22], [23, 24], [25, 26, 27, 28, 29],
    ]  # fmt: skip
    trie = PrefixTrie(VOCAB)
    for item, title in enumerate(titles):
        trie.insert(item, [*title, EOS])
    return trie


def random_prompts(n: int, seed: int = 1) -> list[list[int]]:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 12, (n,), generator=gen).tolist()
    return [torch.randint(3, VOCAB, (length,), generator=gen).tolist() for length in lengths]
