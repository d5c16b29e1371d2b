"""A tiny shop catalogue with brands, categories and titles, and a random word-level Llama that knows its words.

Every word of the grounded explainer's templates and of the catalogue is one token, so the trie over the
explainer's sentences branches where the wording does and a random LM really chooses among them.
"""

from __future__ import annotations

import string
from pathlib import Path

from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from genrec.data.catalogue import Catalogue
from genrec.recommenders import grounded_explain as ge
from tiny_word_lm import save_tiny_llama, word_level_tokenizer
from tokenizers import pre_tokenizers

SHOP: dict[str, dict[str, str]] = {
    "p1": {"title": "Acme Blue Gel Pen", "brand": "Acme", "categories": "Writing, Pens"},
    "p2": {"title": "Acme Red Gel Pen", "brand": "Acme", "categories": "Writing, Pens"},
    "p3": {"title": "Zeta Ruled Paper Pad", "brand": "Zeta", "categories": "Paper, Notebooks"},
    "p4": {"title": "Zeta Graph Paper Pad", "brand": "Zeta", "categories": "Paper, Notebooks"},
    "p5": {"title": "Orbit Desk Lamp", "brand": "Orbit &amp; Co", "categories": "Lighting"},
    "p6": {"title": "Nova Stapler", "brand": "", "categories": "Desk Tools"},
}
PROMPT_WORDS = (
    "The shopper recently chose nothing yet Recommended item Fact and have the same of is In one sentence "
    "say why may like using only these facts Answer"
)


def shop_catalogue() -> Catalogue:
    return Catalogue.from_records(list(SHOP), SHOP)


def _corpus(catalogue: Catalogue) -> str:
    parts = [ge.SYSTEM, PROMPT_WORDS, *ge.OPENERS, *ge.CONNECTIVES, *ge.CATEGORY_CLAUSES, *ge.NO_FACT_ENDINGS]
    parts += [*ge.OWN_CATEGORY_CLAUSES, *(c for cs in ge.SHARED_CLAUSES.values() for c in cs)]
    parts += [*(c for cs in ge.OWN_CLAUSES.values() for c in cs), "brand category genre title word"]
    for name in ("title", "brand", "categories"):
        parts += list(catalogue.fields.get(name, ()))
    return " ".join(parts).replace("&amp;", "&").lower() + " " + " ".join(parts).replace("&amp;", "&")


def make_word_lm(
    directory: Path, catalogue: Catalogue, seed: int = 0
) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """A random 2-layer Llama whose word-level vocabulary covers ``catalogue`` and the templates."""
    splitter = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    words = [w for w, _ in splitter.pre_tokenize_str(_corpus(catalogue))]
    tokenizer = word_level_tokenizer([*words, *string.punctuation, "“", "”"])
    model = save_tiny_llama(directory, tokenizer, seed=seed)
    return model, tokenizer
