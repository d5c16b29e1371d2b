"""A tiny random Llama LM whose word-level tokenizer knows the re-ranker's prompt words and letters A..Z.

Item titles in the tiny datasets are placeholders ``item i<id>``; every word of the default prompt, each
``i<n>`` and each capital letter is one token, so prompts differ per candidate and the letters verbalise.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from genrec.recommenders.reranker_prompts import DEFAULT_PROMPT
from tokenizers import Tokenizer, models, pre_tokenizers

SPECIAL = ("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def prompt_words() -> list[str]:
    """Every word of the default prompt and system message, punctuation split off."""
    text = DEFAULT_PROMPT + " You are a recommender system. Answer: item system user assistant"
    for mark in string.punctuation:
        text = text.replace(mark, f" {mark} ")
    return sorted(set(text.split()))


def make_tiny_lm(
    directory: Path, letters: str = string.ascii_uppercase, items: int = 64, seed: int = 0
) -> Path:
    """Write a 2-layer, hidden-32 Llama and its tokenizer into ``directory``; returns the directory.

    ``letters`` are the capital letters the vocabulary holds (leave some out to test the letter check).
    """
    words = [*SPECIAL, *prompt_words(), *list(letters), *(f"i{i}" for i in range(items)), *string.punctuation]
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
        max_position_embeddings=1024,
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
