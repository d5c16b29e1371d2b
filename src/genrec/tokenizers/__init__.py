"""Item identifiers: the tokenizer ladder (atomic, title, semantic, collaborative, prebuilt)."""

from genrec.tokenizers.base import ItemTokenizer

__all__ = ["ItemTokenizer"]
