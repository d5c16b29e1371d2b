"""Item vectors from interactions alone, for semantic IDs on catalogues without text.

Some benchmark sets (Amazon Beauty in the P5/TIGER/LETTER layout) ship item ids and nothing else, so
text embeddings cannot exist. The semantic tokenizers can then quantise a collaborative item embedding
instead: the truncated SVD of the degree-normalised co-occurrence matrix ``D^-1/2 A D^-1/2`` (``A`` counts
the training sequences containing both items), scaled by the square root of the singular values and
L2-normalised per item. Items that co-occur with the same items get nearby vectors, so the residual
quantiser gives them shared code prefixes, as text embeddings do for items with similar descriptions.

Only training sequences are read (no validation/test interaction leaks into the identifiers). Items with
no co-occurrence (or added after fitting) get the zero vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import randomized_svd

from genrec.errors import ConfigError
from genrec.tokenizers.collaborative import cooccurrence


def interaction_embeddings(
    num_items: int, sequences: Sequence[Sequence[int]], dim: int, seed: int
) -> np.ndarray:
    """(num_items, dim) float32 item vectors from the co-occurrence of ``sequences`` (item indices).

    ``dim`` is capped at ``num_items - 1``; missing columns are zero. Deterministic for a given seed.
    """
    if dim < 1:
        raise ConfigError(f"interaction_dim must be >= 1, got {dim}")
    out = np.zeros((num_items, dim), dtype=np.float32)
    graph = cooccurrence(num_items, sequences)  # (n, n) symmetric counts, zero diagonal
    if num_items < 2 or graph.nnz == 0:
        return out
    degree = np.asarray(graph.sum(axis=1)).ravel()  # (n,)
    inv_sqrt = np.zeros_like(degree)
    inv_sqrt[degree > 0] = 1.0 / np.sqrt(degree[degree > 0])
    scale = sparse.diags(inv_sqrt)
    normalised = (scale @ graph @ scale).tocsr()  # (n, n)
    rank = min(dim, num_items - 1)
    u, s, _ = randomized_svd(normalised, n_components=rank, n_iter=7, random_state=seed)  # (n, r), (r,)
    u = u * np.sign(u[np.abs(u).argmax(axis=0), np.arange(rank)])  # fix each column's sign
    vectors = u * np.sqrt(s)[None, :]  # (n, r)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    out[:, :rank] = vectors
    return out
