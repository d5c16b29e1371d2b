"""A tiny "pretrained" causal LM directory (random Llama weights + a word-level tokenizer with a chat
template), so pretrained-backbone code paths run in tests in seconds without the real SmolLM2."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from tokenizers import Tokenizer, models, pre_tokenizers

WORDS = [
    "red",
    "blue",
    "green",
    "black",
    "white",
    "small",
    "large",
    "wooden",
    "metal",
    "chair",
    "lamp",
    "desk",
    "table",
    "pen",
    "paper",
    "ink",
    "box",
    "you",
    "are",
    "a",
    "recommender",
    "system",
    "list",
    "the",
    "items",
    "this",
    "user",
    "interacts",
    "with",
    "oldest",
    "first",
    "one",
    "identifier",
    "per",
    "item",
    "title",
    "and",
    "line",
    "which",
    "has",
    "what",
    "is",
    "of",
    "why",
    "might",
    "like",
    "because",
]
SPECIAL = ("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tiny_pretrained(directory: Path, layers: int = 2, seed: int = 0) -> Path:
    """Write a tiny model + tokenizer into ``directory`` (a Hugging Face model directory) and return it."""
    words = list(dict.fromkeys([*SPECIAL, "system", "user", "assistant", *WORDS]))
    vocab = {tok: i for i, tok in enumerate(words)}
    word_level = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
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
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
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
