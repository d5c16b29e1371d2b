"""A tiny catalogue with categories and brands, and a random word-level Llama for the conversation parser."""

from __future__ import annotations

import string
from pathlib import Path

from genrec.data.catalogue import Catalogue
from genrec.recommenders import conversation_parser as cp
from genrec.recommenders.conversation_parser import ConversationParser
from genrec.recommenders.conversation_state import CatalogueFacets
from tiny_word_lm import save_tiny_llama, word_level_tokenizer
from tokenizers import pre_tokenizers

SHOWS: dict[str, dict[str, str]] = {
    "m0": {"title": "Heat Wave", "categories": "Action, Crime", "brand": "Acme"},
    "m1": {"title": "Quiet Garden", "categories": "Drama", "brand": "Zeta"},
    "m2": {"title": "Laugh Track", "categories": "Comedy", "brand": "Acme"},
    "m3": {"title": "Night Terror", "categories": "Horror", "brand": "Zeta"},
    "m4": {"title": "Space Giggles", "categories": "Comedy, Sci-Fi", "brand": "Orbit"},
    "m5": {"title": "Refill Kit", "categories": "Pens &amp; Refills", "brand": "Nova"},
    "m6": {"title": "Godfather, The (1972)", "categories": "Crime, Drama", "brand": ""},
    "m7": {"title": "Sunny Laughs", "categories": "Comedy, Drama", "brand": "Orbit"},
}
UTTERANCE_WORDS = (
    "more like the second one but not horror no comedy please i want some drama from acme another brand "
    "first third last hello anything"
)


def show_catalogue() -> Catalogue:
    return Catalogue.from_records(list(SHOWS), SHOWS)


def make_parser(directory: Path, catalogue: Catalogue, seed: int = 0) -> ConversationParser:
    """A parser over ``catalogue`` whose LM is a random 2-layer Llama knowing the templates' words."""
    parts = [*cp.VERBALISED.values(), *(f"{v} {s}" for _, v, s in cp.EXAMPLES), UTTERANCE_WORDS]
    for name in ("title", "brand", "categories"):
        parts += [v.replace("&amp;", "&") for v in catalogue.fields.get(name, ())]
    text = " ".join(parts)
    splitter = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    words = [w for w, _ in splitter.pre_tokenize_str(f"{text} {text.lower()}")]
    tokenizer = word_level_tokenizer([*words, *string.punctuation])
    model = save_tiny_llama(directory, tokenizer, seed=seed)
    return ConversationParser(model, tokenizer, CatalogueFacets(catalogue))
