"""Grounded decoding: every generated recommendation is a real catalogue item."""

from genrec.decoding.beam_search import grounded_beam_search
from genrec.decoding.config import EmptyAllowedSetError, SearchConfig, SearchResult
from genrec.decoding.embedding_grounding import EmbeddingGrounder, Grounding
from genrec.decoding.trie import UNKNOWN, PrefixTrie

__all__ = [
    "UNKNOWN",
    "EmbeddingGrounder",
    "EmptyAllowedSetError",
    "Grounding",
    "PrefixTrie",
    "SearchConfig",
    "SearchResult",
    "grounded_beam_search",
]
