"""A tiny random Llama LM whose word-level tokenizer spells the zero-shot prompt and the tiny item titles.

The tiny datasets' titles are ``item i<id>`` (duplicates become ``item i<id> (2)``): every word of the
default zero-shot prompt and system message, ``item``, each ``i<n>``, the digits and the punctuation marks
are one token each, so every title is a distinct token path and no prompt word is unknown.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from genrec.recommenders.zero_shot_prompts import DEFAULT_PROMPT, ZeroShotConfig
from recommenders.reranker_fixtures import CHAT_TEMPLATE, SPECIAL
from tokenizers import Tokenizer, models, pre_tokenizers


def words_of(text: str) -> list[str]:
    """The words of ``text`` with punctuation split off, as the tiny tokenizer splits them."""
    for mark in string.punctuation:
        text = text.replace(mark, f" {mark} ")
    return text.split()


def zero_shot_words() -> list[str]:
    """Every word of the default prompt, system message and answer prefix, plus the chat roles."""
    defaults = ZeroShotConfig.model_fields
    text = " ".join([DEFAULT_PROMPT, str(defaults["system"].default), str(defaults["answer_prefix"].default)])
    return sorted({*words_of(text), "item", "system", "user", "assistant"})


def make_zero_shot_lm(
    directory: Path, items: int = 64, extra_words: Sequence[str] = (), seed: int = 0
) -> Path:
    """Write a 2-layer, hidden-32 Llama and its word-level tokenizer into ``directory``; returns it."""
    words = [
        *SPECIAL,
        *zero_shot_words(),
        *(f"i{i}" for i in range(items)),
        *string.digits,
        *string.punctuation,
        *extra_words,
    ]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(words))}
    word_level = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    word_level.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=word_level,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="</s>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory
