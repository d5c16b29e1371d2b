"""GRU4Rec (Hidasi et al., 2016) as a next-item model over the item sequence.

Follows RecBole 1.2.1's GRU4Rec: embedding (64) -> dropout (0.3) -> GRU (hidden 128, no bias) ->
linear back to the embedding size, scored against the tied item embeddings; Xavier initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from genrec.errors import ConfigError
from genrec.recommenders.config import TrainingConfig
from genrec.recommenders.sequential import NeuralSequentialRecommender, SequenceNetwork


@dataclass(frozen=True)
class GRU4RecConfig(TrainingConfig):
    """GRU4Rec options (RecBole defaults) on top of the shared training options."""

    embedding_size: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("embedding_size", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")


class GRU4RecNetwork(SequenceNetwork):
    """Embedding -> dropout -> GRU -> linear projection to the item embedding space."""

    def __init__(self, cfg: GRU4RecConfig, num_items: int) -> None:
        super().__init__()
        self.items = nn.Embedding(num_items + 1, cfg.embedding_size, padding_idx=0)
        self.dropout = nn.Dropout(cfg.dropout)
        self.gru = nn.GRU(cfg.embedding_size, cfg.hidden_size, cfg.num_layers, bias=False, batch_first=True)
        self.dense = nn.Linear(cfg.hidden_size, cfg.embedding_size)
        nn.init.xavier_normal_(self.items.weight)
        for name, param in self.gru.named_parameters():
            if name.startswith("weight"):
                nn.init.xavier_uniform_(param)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        # seq: (batch, len), right-padded; a causal RNN never looks at the padding after a position.
        out, _ = self.gru(self.dropout(self.items(seq)))  # (batch, len, hidden)
        return self.dense(out)  # (batch, len, embedding)

    def item_table(self) -> torch.Tensor:
        return self.items.weight[1:]


class GRU4RecRecommender(NeuralSequentialRecommender):
    """GRU4Rec next-item recommender."""

    name: str = "gru4rec"
    config_cls: ClassVar[type[TrainingConfig]] = GRU4RecConfig

    def build_network(self, num_items: int) -> SequenceNetwork:
        assert isinstance(self.config, GRU4RecConfig)
        return GRU4RecNetwork(self.config, num_items)
