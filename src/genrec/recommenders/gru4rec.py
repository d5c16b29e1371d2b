"""GRU4Rec (Hidasi et al., 2016) as a next-item model over the item sequence.

Follows RecBole 1.2.1's GRU4Rec: embedding (64) -> dropout (0.3) -> GRU (hidden 128, no bias) ->
linear back to the embedding size, scored against the tied item embeddings; Xavier initialisation.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import PositiveInt
from torch import nn

from genrec.config import Rate
from genrec.recommenders.config import SequentialConfig
from genrec.recommenders.sequential import NeuralSequentialRecommender, SequenceNetwork


class GRU4RecConfig(SequentialConfig):
    """GRU4Rec options (RecBole defaults) on top of the shared training options."""

    embedding_size: PositiveInt = 64
    hidden_size: PositiveInt = 128
    num_layers: PositiveInt = 1
    dropout: Rate = 0.3


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
    config_cls: ClassVar[type[SequentialConfig]] = GRU4RecConfig

    def build_network(self, num_items: int) -> SequenceNetwork:
        assert isinstance(self.config, GRU4RecConfig)
        return GRU4RecNetwork(self.config, num_items)
