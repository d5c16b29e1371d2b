"""SASRec with a frozen text view of every item: LM-enhanced (IDs + text) and text-projected (text only).

The LLM-ESR / AlphaRec line lets a language model's representation of an item's text carry what its few
interactions cannot: a tail item with three interactions gets most of its vector from what it *is*. Each
catalogue item ``i`` has a frozen text vector ``t_i`` (all-MiniLM-L6-v2, or SmolLM2-135M's mean-pooled
hidden states: ``text_encoder``), embedded once through the cached embedders of
`genrec.tokenizers.text_embeddings`. A learned adapter ``A`` (Linear -> GELU -> Linear) maps it into
SASRec's hidden space, and the item vector is

- ``fusion="sum"``: ``e_i = ID_i + A(t_i)`` (the LM-enhanced SASRec: collaborative and text views fused);
- ``fusion="text-only"``: ``e_i = A(t_i)`` (the text-projected SASRec: an item nobody interacted with gets
  a vector from its text alone, the new-item baseline of docs/new-items.md).

The same vectors are the sequence inputs and score the catalogue (tied, as in SASRec); everything else
(architecture, CE loss, early stopping on validation NDCG@10) is `genrec.recommenders.sasrec`'s.

Live catalogue updates (`genrec.recommenders.catalogue_updates`): an added item is embedded from its text
and recommendable at once (its ID vector is zero: no interaction was learnt), an item whose text changed
is embedded again, and a hidden item scores -inf.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import PositiveInt
from torch import nn

from genrec.data.catalogue import Catalogue
from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.recommenders.config import SequentialConfig
from genrec.recommenders.sasrec import SASRecConfig, SASRecNetwork, SASRecRecommender
from genrec.recommenders.sequential import SequenceNetwork
from genrec.tokenizers.text_embeddings import (
    CachedEmbedder,
    EmbedFn,
    LMMeanEmbedder,
    MiniLMEmbedder,
    item_texts,
)

TEXT_ENCODERS: dict[str, type[CachedEmbedder]] = {"minilm": MiniLMEmbedder, "smollm2": LMMeanEmbedder}


class TextSASRecConfig(SASRecConfig):
    """SASRec options plus the text view: encoder, fusion and the adapter's hidden width."""

    fusion: Literal["sum", "text-only"] = "sum"
    text_encoder: Literal["minilm", "smollm2"] = "minilm"
    adapter_hidden: PositiveInt = 256


class TextSASRecNetwork(SASRecNetwork):
    """SASRec whose item vectors come from a frozen text table through a learned adapter (+ IDs if summed)."""

    text: torch.Tensor  # (items + 1, text_dim) buffer; row 0 is padding

    def __init__(self, cfg: TextSASRecConfig, num_items: int, text: torch.Tensor) -> None:
        super().__init__(cfg, num_items)
        if text.shape[0] != num_items:
            raise GenrecError(f"the text table has {text.shape[0]} rows for {num_items} items")
        padded = torch.cat([torch.zeros(1, text.shape[1]), text.float()])  # (items + 1, text_dim)
        self.register_buffer("text", padded)
        self.adapter = nn.Sequential(
            nn.Linear(text.shape[1], cfg.adapter_hidden),
            nn.GELU(),
            nn.Linear(cfg.adapter_hidden, cfg.hidden_size),
        )
        self.use_ids = cfg.fusion == "sum"

    def embed_items(self, seq: torch.Tensor) -> torch.Tensor:
        vectors = self.adapter(self.text[seq])  # (..., hidden)
        return vectors + self.items(seq) if self.use_ids else vectors

    def item_table(self) -> torch.Tensor:
        vectors = self.adapter(self.text[1:])  # (items, hidden)
        return vectors + self.items.weight[1:] if self.use_ids else vectors


class TextSASRecRecommender(SASRecRecommender):
    """SASRec fused with frozen item text vectors (module docstring); ``embed`` injects an embedder (tests)."""

    name: str = "sasrec-text"
    config_cls: ClassVar[type[SequentialConfig]] = TextSASRecConfig

    def __init__(
        self, config: SequentialConfig | None = None, *, progress: bool = False, embed: EmbedFn | None = None
    ) -> None:
        super().__init__(config, progress=progress)
        self.embed = embed
        self.text_vectors: np.ndarray | None = None  # (items, text_dim), set by fit or load
        self.hidden: set[int] = set()

    def _embedder(self) -> EmbedFn:
        if self.embed is None:
            assert isinstance(self.config, TextSASRecConfig)
            self.embed = TEXT_ENCODERS[self.config.text_encoder]()
        return self.embed

    def _embed_items(self, catalogue: Catalogue, items: Sequence[int]) -> np.ndarray:
        vectors = np.asarray(self._embedder()(item_texts(catalogue, items)), dtype=np.float32)  # (n, dim)
        if vectors.ndim != 2 or len(vectors) != len(items):
            raise GenrecError(f"the text embedder returned shape {vectors.shape} for {len(items)} items")
        return vectors

    def fit(self, train: TrainData, valid: EvalSet | None = None) -> None:
        """Embed every catalogue item's text (cached on disk), then train as SASRec does."""
        self.text_vectors = self._embed_items(train.catalogue, range(train.num_items))
        self.hidden = set()
        super().fit(train, valid)

    def build_network(self, num_items: int) -> SequenceNetwork:
        assert isinstance(self.config, TextSASRecConfig)
        if self.text_vectors is None or len(self.text_vectors) != num_items:
            raise GenrecError(f"{self.name} needs the text vectors of its {num_items} items before building")
        return TextSASRecNetwork(self.config, num_items, torch.from_numpy(self.text_vectors))

    def prepare_from_weights(self, state: dict[str, torch.Tensor]) -> None:
        """On load, the saved text table (row 0 is padding) is the one the network is built with."""
        self.text_vectors = state["text"][1:].numpy().copy()

    @torch.no_grad()
    def transfer_to(self, catalogue: Catalogue) -> TextSASRecRecommender:
        """The same trained model over another catalogue, with no training on it (zero-shot transfer).

        Only ``fusion="text-only"`` can move: its item vectors are a function of text alone, so the
        other catalogue's items are embedded and pass through the same adapter and transformer. A
        ``sum`` model's ID vectors belong to its own catalogue's items and cannot.
        """
        net = self._network()
        assert isinstance(self.config, TextSASRecConfig)
        if self.config.fusion != "text-only":
            raise GenrecError(
                f"only a fusion=text-only model transfers to another catalogue; this one is {self.config.fusion!r}"
            )
        moved = TextSASRecRecommender(self.config, progress=self.progress, embed=self.embed)
        moved.text_vectors = moved._embed_items(catalogue, range(len(catalogue)))
        moved.num_items = len(catalogue)
        target = moved.build_network(len(catalogue))
        shared = {k: v for k, v in net.state_dict().items() if k not in ("text", "items.weight")}
        missing, unexpected = target.load_state_dict(shared, strict=False)
        if set(missing) != {"text", "items.weight"} or unexpected:
            raise GenrecError(
                f"transfer: unexpected weights {sorted(unexpected)} / missing {sorted(missing)}"
            )
        target.eval()
        moved.network = target
        moved.training_log = {**self.training_log, "transferred_to_items": len(catalogue)}
        return moved

    # ------------------------------------------------------------------ live catalogue updates
    def _network(self) -> TextSASRecNetwork:
        net = self._require_fit()
        assert isinstance(net, TextSASRecNetwork)
        return net

    @torch.no_grad()
    def add_items(self, catalogue: Catalogue) -> list[int]:
        """Embed the items of ``catalogue`` beyond the fitted ones (ID vectors zero); returns their indices."""
        net = self._network()
        known = self.num_items
        if len(catalogue) < known:
            raise GenrecError(f"the catalogue has {len(catalogue)} items, fewer than the {known} fitted ones")
        added = list(range(known, len(catalogue)))
        if not added:
            return []
        vectors = torch.from_numpy(self._embed_items(catalogue, added))  # (added, text_dim)
        net.text = torch.cat([net.text, vectors])
        grown = nn.Embedding(len(catalogue) + 1, net.items.embedding_dim, padding_idx=0)
        grown.weight.zero_()
        grown.weight[: known + 1] = net.items.weight
        net.items = grown
        self.text_vectors = net.text[1:].numpy().copy()
        self.num_items = len(catalogue)
        return added

    @torch.no_grad()
    def refresh_text(self, catalogue: Catalogue, items: Sequence[int]) -> None:
        """Embed the changed text of known ``items`` again; their ID vectors stay."""
        net = self._network()
        rows = [int(i) for i in items]
        self._check_indices(rows)
        if rows:
            net.text[torch.as_tensor(rows) + 1] = torch.from_numpy(self._embed_items(catalogue, rows))
            self.text_vectors = net.text[1:].numpy().copy()

    def hide_items(self, indices: Sequence[int]) -> None:
        self._check_indices(indices)
        self.hidden.update(int(i) for i in indices)

    def unhide_items(self, indices: Sequence[int]) -> None:
        self._check_indices(indices)
        self.hidden.difference_update(int(i) for i in indices)

    def _check_indices(self, indices: Sequence[int]) -> None:
        bad = [int(i) for i in indices if not 0 <= int(i) < self.num_items]
        if bad:
            raise GenrecError(f"item indices {bad[:5]} are outside the model's {self.num_items} items")

    @torch.no_grad()
    def score(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """SASRec's scores, (users, items); hidden items -inf."""
        scores = super().score(histories)
        if self.hidden:
            scores[:, sorted(self.hidden)] = -torch.inf
        return scores
