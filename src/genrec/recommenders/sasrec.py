"""SASRec (Kang & McAuley, 2018): a causal self-attention encoder over the item sequence.

The architecture and defaults follow RecBole 1.2.1's SASRec (post-LayerNorm blocks, GELU feed-forward,
dropout 0.5, tied input/output item embeddings, N(0, 0.02) initialisation) so the two can be compared on
the same split. Loss: ``ce`` (softmax over the full catalogue) or ``bce`` (one sampled negative).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import PositiveInt, model_validator
from torch import nn

from genrec.config import Rate
from genrec.recommenders.config import SequentialConfig
from genrec.recommenders.sequential import NeuralSequentialRecommender, SequenceNetwork


class SASRecConfig(SequentialConfig):
    """SASRec options (RecBole defaults) on top of the shared training options."""

    hidden_size: PositiveInt = 64
    n_layers: PositiveInt = 2
    n_heads: PositiveInt = 2
    inner_size: PositiveInt = 256
    hidden_dropout: Rate = 0.5
    attn_dropout: Rate = 0.5
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02

    @model_validator(mode="after")
    def _heads_divide_hidden_size(self) -> SASRecConfig:
        if self.hidden_size % self.n_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by n_heads {self.n_heads}")
        return self


class _Block(nn.Module):
    """Post-LN transformer block: attention -> dropout -> residual -> LN; FFN -> dropout -> residual -> LN."""

    def __init__(self, cfg: SASRecConfig) -> None:
        super().__init__()
        self.n_heads, self.attn_dropout = cfg.n_heads, cfg.attn_dropout
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.out = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.ff1 = nn.Linear(cfg.hidden_size, cfg.inner_size)
        self.ff2 = nn.Linear(cfg.inner_size, cfg.hidden_size)
        self.norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape  # (batch, len, hidden)
        q, k, v = self.qkv(x).view(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.attn_dropout if self.training else 0.0
        )  # (batch, heads, len, head_dim)
        x = self.norm1(x + self.dropout(self.out(attn.transpose(1, 2).reshape(b, n, d))))
        return self.norm2(x + self.dropout(self.ff2(F.gelu(self.ff1(x)))))


class SASRecNetwork(SequenceNetwork):
    """Item + position embeddings, LayerNorm, dropout, then ``n_layers`` causal blocks."""

    def __init__(self, cfg: SASRecConfig, num_items: int) -> None:
        super().__init__()
        self.items = nn.Embedding(num_items + 1, cfg.hidden_size, padding_idx=0)
        self.positions = nn.Embedding(cfg.max_len, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.apply(lambda m: _init(m, cfg.initializer_range))

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        n = seq.shape[1]  # seq: (batch, len), right-padded, 0 = pad
        x = self.embed_items(seq) + self.positions(torch.arange(n))[None]  # (batch, len, hidden)
        x = self.dropout(self.norm(x))
        causal = torch.ones(n, n, dtype=torch.bool).tril()  # (len, len)
        mask = (causal[None] & (seq != 0)[:, None, :])[:, None]  # (batch, 1, len, len)
        for block in self.blocks:
            x = block(x, mask)
        return x

    def embed_items(self, seq: torch.Tensor) -> torch.Tensor:
        """Input vectors of item indices + 1 (0 = pad), (..., hidden); a subclass may fuse other views."""
        return self.items(seq)

    def item_table(self) -> torch.Tensor:
        return self.items.weight[1:]


def _init(module: nn.Module, std: float) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=std)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class SASRecRecommender(NeuralSequentialRecommender):
    """SASRec next-item recommender (full-catalogue scoring with the tied item embeddings)."""

    name: str = "sasrec"
    config_cls: ClassVar[type[SequentialConfig]] = SASRecConfig

    def build_network(self, num_items: int) -> SequenceNetwork:
        assert isinstance(self.config, SASRecConfig)
        return SASRecNetwork(self.config, num_items)
