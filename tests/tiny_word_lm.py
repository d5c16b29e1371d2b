"""A tiny random Llama with a word-level tokenizer: the one builder behind every test LM fixture.

Each fixture chooses its vocabulary (the words its prompts and titles use); this module turns the words into
a Hugging Face tokenizer with a ChatML chat template and writes a random 2-layer, hidden-32 Llama beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from tokenizers import Tokenizer, models, pre_tokenizers

SPECIAL = ("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def word_level_tokenizer(words: Sequence[str], split_punctuation: bool = True) -> PreTrainedTokenizerFast:
    """A tokenizer whose tokens are SPECIAL then ``words`` (first occurrence wins), split on whitespace
    (and punctuation when ``split_punctuation``); unknown words become ``<unk>``."""
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys([*SPECIAL, *words]))}
    word_level = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    word_level.pre_tokenizer = (
        pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
        if split_punctuation
        else pre_tokenizers.WhitespaceSplit()
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
    return tokenizer


def save_tiny_llama(
    directory: Path,
    tokenizer: PreTrainedTokenizerFast,
    *,
    layers: int = 2,
    max_positions: int = 2048,
    seed: int = 0,
) -> LlamaForCausalLM:
    """A random Llama (hidden 32, 4 heads, 2 KV heads, tied embeddings) for ``tokenizer``, saved with it."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
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
    return model
