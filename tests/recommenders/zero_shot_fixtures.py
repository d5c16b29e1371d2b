"""A tiny random Llama LM whose word-level tokenizer spells the zero-shot prompt and the tiny item titles.

The tiny datasets' titles are ``item i<id>`` (duplicates become ``item i<id> (2)``): every word of the
default zero-shot prompt and system message, ``item``, each ``i<n>``, the digits and the punctuation marks
are one token each, so every title is a distinct token path and no prompt word is unknown.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

from genrec.recommenders.zero_shot_prompts import DEFAULT_PROMPT, ZeroShotConfig
from tiny_word_lm import save_tiny_llama, word_level_tokenizer


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
        *zero_shot_words(),
        *(f"i{i}" for i in range(items)),
        *string.digits,
        *string.punctuation,
        *extra_words,
    ]
    save_tiny_llama(directory, word_level_tokenizer(words), seed=seed)
    return directory
