"""Collaborative identifiers: hierarchical spectral clustering of the item co-occurrence graph (OpenP5 CID).

Two items are linked by the number of training sequences containing both (training sequences only, so
no validation/test interaction leaks into the identifiers). Items are split into ``branching`` clusters
by spectral clustering, each cluster again, for ``levels`` levels; a final level numbers the items of a
leaf. Small groups (at most ``branching`` items) are not clustered: each item gets its own code.

The affinity is regularised with a small constant between all pairs (``regularisation`` times the mean
link weight), which keeps the graph connected (items never co-occurring in training still get placed)
and stabilises the spectral embedding of sparse graphs.

Catalogue updates: new items have no interactions, so they go into a dedicated cold-start branch
(first-level code ``branching``, deeper codes 0) and are numbered in order of arrival by the last level.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.cluster import SpectralClustering

from genrec.data.catalogue import Catalogue
from genrec.errors import ConfigError
from genrec.tokenizers.levels import CollisionBreaker, level_token, level_tokens
from genrec.tokenizers.table import IdentifierTable, load_table, save_table


@dataclass(frozen=True)
class CollaborativeConfig:
    levels: int = 2
    branching: int = 16
    regularisation: float = 0.01

    def __post_init__(self) -> None:
        if self.levels < 1 or self.branching < 2 or self.regularisation < 0:
            raise ConfigError(
                "collaborative: levels must be >= 1, branching >= 2 and regularisation >= 0, got "
                f"{self.levels}, {self.branching}, {self.regularisation}"
            )


def cooccurrence(num_items: int, sequences: Sequence[Sequence[int]]) -> sparse.csr_matrix:
    """Symmetric (num_items, num_items) counts of sequences containing both items; zero diagonal."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for seq in sequences:
        items = np.unique(np.asarray(seq, dtype=np.int64))
        if len(items) < 2:
            continue
        r, c = np.meshgrid(items, items, indexing="ij")
        mask = r != c
        rows.append(r[mask])
        cols.append(c[mask])
    if not rows:
        return sparse.csr_matrix((num_items, num_items))
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(num_items, num_items))


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Relabel clusters by their first member, so equal partitions always get equal codes."""
    order = {lab: k for k, lab in enumerate(dict.fromkeys(labels.tolist()))}
    return np.asarray([order[lab] for lab in labels.tolist()], dtype=np.int64)


class CollaborativeTokenizer:
    """Hierarchical collaborative IDs ``(<a_i>, <b_j>, ..., <last_k>)`` from co-occurrence clusters."""

    name = "collaborative"

    def __init__(self, config: CollaborativeConfig | None = None) -> None:
        self.config = config or CollaborativeConfig()
        self.table = IdentifierTable()
        self.breaker = CollisionBreaker()

    def _split(self, graph: np.ndarray, seed: int) -> np.ndarray:
        k = self.config.branching
        if len(graph) <= k:
            return np.arange(len(graph), dtype=np.int64)
        weights = graph[graph > 0]
        eps = self.config.regularisation * (float(weights.mean()) if weights.size else 1.0)
        affinity = graph + max(eps, 1e-12)
        model = SpectralClustering(
            n_clusters=k, affinity="precomputed", assign_labels="cluster_qr", random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return _canonical(model.fit_predict(affinity))

    def _assign(
        self, graph: np.ndarray, members: np.ndarray, level: int, codes: np.ndarray, seed: int
    ) -> None:
        labels = self._split(graph[np.ix_(members, members)], seed + level)
        codes[members, level] = labels
        if level + 1 < self.config.levels:
            for lab in np.unique(labels):
                self._assign(graph, members[labels == lab], level + 1, codes, seed)

    def fit(self, catalogue: Catalogue, train_sequences: Sequence[Sequence[int]], seed: int) -> None:
        """Cluster the co-occurrence graph of ``train_sequences`` (item indices into ``catalogue``)."""
        n = len(catalogue)
        graph = cooccurrence(n, train_sequences).toarray()  # (n, n) dense; catalogues here are small
        codes = np.zeros((n, self.config.levels), dtype=np.int64)
        if n:
            self._assign(graph, np.arange(n), 0, codes, seed)
        self.table = IdentifierTable()
        self.breaker = CollisionBreaker()
        for i in range(n):
            self._append(catalogue.id_of(i), codes[i].tolist())

    def _append(self, item_id: str, codes: list[int]) -> None:
        prefix = level_tokens(codes)
        ident = (*prefix, level_token(self.config.levels, self.breaker.next_code(prefix)))
        self.table.append(item_id, ident)

    def add_items(self, catalogue: Catalogue) -> list[int]:
        """New items go into the cold-start branch (first code = ``branching``)."""
        new = self.table.new_items(catalogue)
        cold = [self.config.branching] + [0] * (self.config.levels - 1)
        for i in new:
            self._append(catalogue.id_of(i), cold)
        return new

    def __len__(self) -> int:
        return len(self.table)

    def encode(self, item: int) -> tuple[str, ...]:
        return self.table.encode(item)

    def decode(self, tokens: Sequence[str]) -> int | None:
        return self.table.decode(tokens)

    def vocabulary(self) -> list[str]:
        """Cluster tokens of every level (first level includes the cold-start branch) and leaf codes."""
        cfg = self.config
        tokens = [level_token(0, c) for c in range(cfg.branching + 1)]
        tokens += [level_token(level, c) for level in range(1, cfg.levels) for c in range(cfg.branching)]
        leaf = max(self.breaker.counts.values(), default=0)
        tokens += [level_token(cfg.levels, c) for c in range(leaf)]
        known = set(tokens)
        extra = [t for t in self.table.vocabulary() if t not in known]
        return tokens + extra

    def save(self, directory: Path) -> None:
        state = {"config": asdict(self.config), "breaker": self.breaker.to_json()}
        save_table(directory, self.name, self.table, state)

    @classmethod
    def load(cls, directory: Path) -> CollaborativeTokenizer:
        table, state = load_table(directory, cls.name)
        config = state.get("config")
        tok = cls(CollaborativeConfig(**config) if isinstance(config, dict) else None)
        tok.table = table
        tok.breaker = CollisionBreaker.from_json(state.get("breaker"))
        return tok
