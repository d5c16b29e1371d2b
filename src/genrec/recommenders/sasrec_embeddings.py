"""Item vectors from a sequential model: the item table of a SASRec trained on the training sequences.

The co-occurrence SVD (`interaction_embeddings`) says which items appear in the same histories; it does
not say which item comes *next*. A SASRec (cross-entropy over the catalogue, RecBole defaults) trained on
the same training sequences learns an item embedding table whose geometry is shaped by next-item
prediction itself, the signal the generative model must later decode. Quantising that table (``source:
sasrec``) gives semantic IDs for catalogues without text whose shared prefixes group items that follow
similar histories; collaborative semantic IDs of this kind appear in the generative-retrieval literature
(e.g. the collaborative regulariser of LETTER uses SASRec embeddings).

Only training sequences are read, and no validation set: the model trains a fixed number of epochs, so
no validation or test target shapes the identifiers. Items never seen in training keep near-initial
vectors; the caller treats them like any other item. Rows are L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from genrec.data.catalogue import Catalogue
from genrec.data.split import TrainData
from genrec.errors import ConfigError


def sasrec_embeddings(
    catalogue: Catalogue,
    sequences: Sequence[Sequence[int]],
    dim: int,
    seed: int,
    epochs: int,
    num_threads: int = 0,
) -> np.ndarray:
    """(num_items, dim) float32 rows of a SASRec item table trained on ``sequences`` for ``epochs``.

    ``dim`` is SASRec's hidden size (even: two attention heads). Deterministic for a given seed and thread
    count. ``num_threads`` 0 keeps torch's current setting (restored afterwards).
    """
    from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender

    if dim < 2 or dim % 2:
        raise ConfigError(f"interaction_dim must be an even number >= 2 for source: sasrec, got {dim}")
    if epochs < 1:
        raise ConfigError(f"sasrec_epochs must be >= 1, got {epochs}")
    num_items = len(catalogue)
    if num_items < 2 or not any(len(s) >= 2 for s in sequences):
        return np.zeros((num_items, dim), dtype=np.float32)
    previous = torch.get_num_threads()
    threads = num_threads or previous
    config = SASRecConfig(
        hidden_size=dim, inner_size=4 * dim, seed=seed, epochs=epochs, patience=epochs, num_threads=threads
    )
    model = SASRecRecommender(config)
    train = TrainData(
        catalogue, [list(map(int, s)) for s in sequences], tuple(map(str, range(len(sequences))))
    )
    try:
        model.fit(train, valid=None)
    finally:
        torch.set_num_threads(previous)
    network = model.network
    assert network is not None  # fit either trains one or raises
    with torch.no_grad():
        table = network.item_table().detach().float().numpy().copy()  # (num_items, dim)
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    return np.divide(table, norms, out=np.zeros_like(table), where=norms > 0).astype(np.float32)
