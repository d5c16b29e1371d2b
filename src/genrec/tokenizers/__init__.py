"""Item identifiers: the tokenizer ladder (atomic, title, semantic, collaborative, prebuilt).

Build or restore tokenizers through `genrec.tokenizers.registry` (``build_tokenizer``, ``load_tokenizer``);
it is not imported here so that importing the protocol stays cheap (no torch / scikit-learn).
"""

from genrec.tokenizers.base import ItemTokenizer

__all__ = ["ItemTokenizer"]
