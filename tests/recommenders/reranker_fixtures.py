"""A tiny random Llama LM whose word-level tokenizer knows the re-ranker's prompt words and letters A..Z.

Item titles in the tiny datasets are placeholders ``item i<id>``; every word of the default prompt, each
``i<n>`` and each capital letter is one token, so prompts differ per candidate and the letters verbalise.
"""

from __future__ import annotations

import string
from pathlib import Path

from genrec.recommenders.reranker_prompts import DEFAULT_PROMPT
from tiny_word_lm import save_tiny_llama, word_level_tokenizer


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
    words = [*prompt_words(), *list(letters), *(f"i{i}" for i in range(items)), *string.punctuation]
    save_tiny_llama(directory, word_level_tokenizer(words), max_positions=1024, seed=seed)
    return directory
