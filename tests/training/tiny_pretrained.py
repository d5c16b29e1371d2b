"""A tiny "pretrained" causal LM directory (random Llama weights + a word-level tokenizer with a chat
template), so pretrained-backbone code paths run in tests in seconds without the real SmolLM2."""

from __future__ import annotations

from pathlib import Path

from tiny_word_lm import save_tiny_llama, word_level_tokenizer

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


def make_tiny_pretrained(directory: Path, layers: int = 2, seed: int = 0) -> Path:
    """Write a tiny model + tokenizer into ``directory`` (a Hugging Face model directory) and return it."""
    tokenizer = word_level_tokenizer(["system", "user", "assistant", *WORDS], split_punctuation=False)
    save_tiny_llama(directory, tokenizer, layers=layers, max_positions=512, seed=seed)
    return directory
