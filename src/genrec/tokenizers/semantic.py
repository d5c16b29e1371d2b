"""`SemanticTokenizer`: identifiers from quantised item-text embeddings (the TIGER recipe).

Each item's text is embedded (all-MiniLM-L6-v2 by default), a residual quantiser gives it ``levels``
codes, optionally spread over the last level where codes collide (`spread_last_level`), and a final
collision-breaking level numbers the items that still share all codes. Identifiers are level-prefixed
tokens: ``("<a_12>", "<b_3>", "<c_200>", "<d_0>")``.

Cold start: a new item's codes come from its text alone (embedded and passed through the trained
quantiser, nearest codes, no spreading), then the next free collision-breaking code for that prefix, so
no existing identifier ever changes.

``source: interactions`` quantises collaborative item vectors (`interaction_embeddings`: SVD of the
training co-occurrence graph) instead of text, for catalogues that have no text; ``source: sasrec`` quantises
the item table of a SASRec trained on the training sequences (`sequential_embeddings`). New items then have
no interactions: they get the zero vector's codes and are numbered by the collision level.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from genrec.data.catalogue import Catalogue
from genrec.errors import ConfigError, GenrecError
from genrec.tokenizers.interaction_embeddings import interaction_embeddings
from genrec.tokenizers.levels import CollisionBreaker, level_token, level_tokens
from genrec.tokenizers.quantiser import Quantiser, spread_last_level
from genrec.tokenizers.table import IdentifierTable, load_table, save_table
from genrec.tokenizers.text_embeddings import EmbedFn, MiniLMEmbedder, item_texts

#: What the quantiser reads: item-text embeddings, collaborative vectors from training interactions
#: (co-occurrence SVD), or the item table of a SASRec trained on the training sequences.
SOURCES = ("text", "interactions", "sasrec")

#: ``source: sasrec``'s item vectors, ``(catalogue, sequences, dim, seed, epochs) -> (n_items, dim)``. A
#: sequential model is a recommender, a layer above tokenizers, so whoever builds the tokenizer passes it
#: in (`genrec.recommenders.sasrec_embeddings.sasrec_embeddings`).
SequenceVectorFn = Callable[[Catalogue, Sequence[Sequence[int]], int, int, int], np.ndarray]


class SemanticTokenizer:
    """Semantic IDs from a `Quantiser`; subclasses choose the quantiser (RQ-VAE, residual k-means)."""

    name = "semantic"

    def __init__(
        self,
        quantiser: Quantiser,
        embed: EmbedFn | None = None,
        spread: bool = True,
        source: str = "text",
        interaction_dim: int = 64,
        sasrec_epochs: int = 20,
        sequence_vectors: SequenceVectorFn | None = None,
    ) -> None:
        if source not in SOURCES:
            raise ConfigError(f"{self.name}: source must be one of {SOURCES}, got {source!r}")
        if interaction_dim < 1:
            raise ConfigError(f"{self.name}: interaction_dim must be >= 1, got {interaction_dim}")
        if sasrec_epochs < 1:
            raise ConfigError(f"{self.name}: sasrec_epochs must be >= 1, got {sasrec_epochs}")
        self.quantiser = quantiser
        self.embed: EmbedFn = embed if embed is not None else MiniLMEmbedder()
        self.spread = spread
        self.source = source
        self.interaction_dim = interaction_dim
        self.sasrec_epochs = sasrec_epochs
        self.sequence_vectors = sequence_vectors
        self.table = IdentifierTable()
        self.breaker = CollisionBreaker()
        #: Quantiser codes (before collision breaking) of every item, shape (n, levels).
        self.codes = np.zeros((0, quantiser.levels), dtype=np.int64)
        #: Nearest-code assignment before spreading, kept for the stats report, shape (n, levels).
        self.raw_codes = np.zeros((0, quantiser.levels), dtype=np.int64)
        self.timings: dict[str, float] = {}

    def _embed(self, catalogue: Catalogue, items: Sequence[int]) -> np.ndarray:
        x = np.asarray(self.embed(item_texts(catalogue, items)), dtype=np.float32)  # (n, dim)
        if x.ndim != 2 or x.shape[0] != len(items):
            raise GenrecError(f"embedding function returned shape {x.shape} for {len(items)} texts")
        return x

    def fit(self, catalogue: Catalogue, train_sequences: Sequence[Sequence[int]], seed: int) -> None:
        """Embed every item (its text, or its training interactions), fit the quantiser, assign identifiers."""
        t0 = time.perf_counter()
        if self.source == "interactions":
            x = interaction_embeddings(len(catalogue), train_sequences, self.interaction_dim, seed)
        elif self.source == "sasrec":
            if self.sequence_vectors is None:
                raise ConfigError(
                    f"{self.name}: source: sasrec needs the sequence_vectors function; build the tokenizer "
                    "with build_tokenizer(..., sequence_vectors=genrec.recommenders.sasrec_embeddings."
                    "sasrec_embeddings)"
                )
            x = self.sequence_vectors(
                catalogue, train_sequences, self.interaction_dim, seed, self.sasrec_epochs
            )
        else:
            fields = ("title", "brand", "categories", "description")
            if len(catalogue) and not any(
                catalogue.text(i, f).strip() for i in range(len(catalogue)) for f in fields
            ):
                raise ConfigError(
                    f"{self.name}: the catalogue has no item text (title, brand, categories, description), so "
                    "text semantic IDs cannot be built; set the option source: interactions, or use "
                    "collaborative, atomic or prebuilt identifiers"
                )
            x = self._embed(catalogue, range(len(catalogue)))
        t1 = time.perf_counter()
        self.quantiser.fit(x, seed)
        raw = self.quantiser.codes(x)
        codes = spread_last_level(raw, self.quantiser.last_level_distances(x)) if self.spread else raw
        t2 = time.perf_counter()
        self.timings = {"embed_s": t1 - t0, "quantise_s": t2 - t1}
        self.table = IdentifierTable()
        self.breaker = CollisionBreaker()
        self.codes = np.zeros((0, self.quantiser.levels), dtype=np.int64)
        self.raw_codes = raw
        self._append(catalogue, list(range(len(catalogue))), codes)

    def _append(self, catalogue: Catalogue, items: Sequence[int], codes: np.ndarray) -> None:
        levels = self.quantiser.levels
        for i, row in zip(items, codes, strict=True):
            prefix = level_tokens(row.tolist())
            ident = (*prefix, level_token(levels, self.breaker.next_code(prefix)))
            self.table.append(catalogue.id_of(i), ident)
        self.codes = np.concatenate([self.codes, codes.astype(np.int64)], axis=0)

    def add_items(self, catalogue: Catalogue) -> list[int]:
        """Cold start: codes of new items from their text through the trained quantiser."""
        new = self.table.new_items(catalogue)
        if new:
            if self.source != "text":  # no interactions yet: the zero vector's codes
                dim = self.interaction_dim
                codes = self.quantiser.codes(np.zeros((len(new), dim), dtype=np.float32))
            else:
                codes = self.quantiser.codes(self._embed(catalogue, new))
            self.raw_codes = np.concatenate([self.raw_codes, codes], axis=0)
            self._append(catalogue, new, codes)
        return new

    def __len__(self) -> int:
        return len(self.table)

    def encode(self, item: int) -> tuple[str, ...]:
        return self.table.encode(item)

    def decode(self, tokens: Sequence[str]) -> int | None:
        return self.table.decode(tokens)

    def vocabulary(self) -> list[str]:
        """Every code token of every level; the collision level reserves ``codebook_size`` codes too.

        Stable under catalogue updates unless more than ``codebook_size`` items come to share one prefix.
        """
        levels, size = self.quantiser.levels, self.quantiser.codebook_size
        base = [level_token(level, c) for level in range(levels) for c in range(size)]
        last = max(size, *self.breaker.counts.values()) if self.breaker.counts else size
        return base + [level_token(levels, c) for c in range(last)]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.quantiser.save(directory)
        np.save(directory / "codes.npy", np.stack([self.codes, self.raw_codes]))
        state = {
            "spread": self.spread,
            "breaker": self.breaker.to_json(),
            "timings": self.timings,
            "source": self.source,
            "interaction_dim": self.interaction_dim,
            "sasrec_epochs": self.sasrec_epochs,
        }
        save_table(directory, self.name, self.table, state)

    def _restore(self, directory: Path) -> None:
        self.table, state = load_table(directory, self.name)
        self.quantiser.load_state(directory)
        self.spread = bool(state.get("spread", True))
        self.source = str(state.get("source", "text"))
        dim = state.get("interaction_dim", 64)
        self.interaction_dim = int(dim) if isinstance(dim, int | float | str) else 64
        epochs = state.get("sasrec_epochs", 20)
        self.sasrec_epochs = int(epochs) if isinstance(epochs, int | float | str) else 20
        self.breaker = CollisionBreaker.from_json(state.get("breaker"))
        both = np.load(directory / "codes.npy")
        self.codes, self.raw_codes = both[0], both[1]
        timings = state.get("timings", {})
        self.timings = {str(k): float(v) for k, v in timings.items()} if isinstance(timings, dict) else {}
