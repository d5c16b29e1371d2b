"""Residual k-means semantic identifiers: k-means on the embeddings, then on the residuals, level by level.

The training-free alternative to the RQ-VAE (as in RQ-KMeans indices): no encoder, codebooks are the
k-means centres of each level's residuals (scikit-learn `KMeans`, seeded).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from genrec.errors import ConfigError
from genrec.io.files import atomic_path, read_json, write_json_atomic
from genrec.tokenizers.semantic import SemanticTokenizer, SequenceVectorFn
from genrec.tokenizers.text_embeddings import EmbedFn


@dataclass(frozen=True)
class ResidualKMeansConfig:
    levels: int = 3
    codebook_size: int = 256
    max_iter: int = 100

    def __post_init__(self) -> None:
        for name in ("levels", "codebook_size", "max_iter"):
            if getattr(self, name) < 1:
                raise ConfigError(f"residual_kmeans.{name} must be >= 1, got {getattr(self, name)}")


class ResidualKMeansQuantiser:
    """`Quantiser` whose codebooks (levels, K, dim) are k-means centres of successive residuals."""

    def __init__(self, config: ResidualKMeansConfig | None = None) -> None:
        self.config = config or ResidualKMeansConfig()
        self.levels = self.config.levels
        self.codebook_size = self.config.codebook_size
        self.codebooks = np.zeros((0, 0, 0), dtype=np.float64)
        self.mean = np.zeros(0, dtype=np.float64)

    def fit(self, x: np.ndarray, seed: int) -> None:
        self.mean = x.mean(axis=0).astype(np.float64)
        residual = x.astype(np.float64) - self.mean  # (n, dim)
        books = []
        for level in range(self.levels):
            k = min(self.codebook_size, residual.shape[0])
            km = KMeans(k, n_init=1, max_iter=self.config.max_iter, random_state=seed + level).fit(residual)
            centres = km.cluster_centers_  # (k, dim)
            if k < self.codebook_size:  # tiny catalogues: unused padding codes, far from everything
                pad = np.full((self.codebook_size - k, centres.shape[1]), 1e6)
                centres = np.concatenate([centres, pad])
            books.append(centres)
            residual = residual - centres[self._nearest(residual, centres)]
        self.codebooks = np.stack(books)  # (levels, K, dim)

    @staticmethod
    def _distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
        # (n, K) squared Euclidean distances.
        return (x**2).sum(1)[:, None] - 2.0 * x @ centres.T + (centres**2).sum(1)[None, :]

    def _nearest(self, x: np.ndarray, centres: np.ndarray) -> np.ndarray:
        return self._distances(x, centres).argmin(axis=1)

    def _walk(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.codebooks.size == 0:
            raise ConfigError("residual k-means quantiser used before fit/load")
        residual = x.astype(np.float64) - self.mean
        codes = []
        for level in range(self.levels - 1):
            idx = self._nearest(residual, self.codebooks[level])
            codes.append(idx)
            residual = residual - self.codebooks[level][idx]
        return np.stack(codes, axis=1) if codes else np.zeros((len(x), 0), np.int64), residual

    def codes(self, x: np.ndarray) -> np.ndarray:
        prefix, residual = self._walk(x)
        last = self._nearest(residual, self.codebooks[-1])
        return np.concatenate([prefix, last[:, None]], axis=1).astype(np.int64)  # (n, levels)

    def last_level_distances(self, x: np.ndarray) -> np.ndarray:
        _, residual = self._walk(x)
        return self._distances(residual, self.codebooks[-1])  # (n, K)

    def save(self, directory: Path) -> None:
        # np.savez appends ".npz" to a name without it, so the temporary file carries that suffix
        with atomic_path(directory / "residual_kmeans.npz", suffix=".npz") as tmp:
            np.savez(tmp, codebooks=self.codebooks, mean=self.mean)
        write_json_atomic(directory / "residual_kmeans.json", asdict(self.config))

    def load_state(self, directory: Path) -> None:
        self.config = ResidualKMeansConfig(**read_json(directory / "residual_kmeans.json"))
        self.levels, self.codebook_size = self.config.levels, self.config.codebook_size
        with np.load(directory / "residual_kmeans.npz") as arrays:
            self.codebooks, self.mean = arrays["codebooks"], arrays["mean"]


class ResidualKMeansTokenizer(SemanticTokenizer):
    """Semantic IDs from residual k-means (3 levels x 256 codes by default) plus a collision level."""

    name = "residual_kmeans"

    def __init__(
        self,
        config: ResidualKMeansConfig | None = None,
        embed: EmbedFn | None = None,
        spread: bool = True,
        source: str = "text",
        interaction_dim: int = 64,
        sasrec_epochs: int = 20,
        sequence_vectors: SequenceVectorFn | None = None,
    ) -> None:
        super().__init__(
            ResidualKMeansQuantiser(config),
            embed=embed,
            spread=spread,
            source=source,
            interaction_dim=interaction_dim,
            sasrec_epochs=sasrec_epochs,
            sequence_vectors=sequence_vectors,
        )

    @classmethod
    def load(cls, directory: Path, embed: EmbedFn | None = None) -> ResidualKMeansTokenizer:
        tok = cls(embed=embed)
        tok._restore(directory)
        return tok
