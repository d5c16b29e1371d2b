"""Where a pretrained LM's new identifier rows start: the items' text and their collaborative vectors.

A new token's embedding row is the mean input embedding of the titles of the items that carry it, so a
code token begins near the items it names (``init_new_tokens: text``). ``text+interactions`` adds the
items' collaborative vector (`interaction_embeddings`: SVD of the training co-occurrence graph) through an
orthonormal projection at the row's own norm, so items bought together also start close. Only training
sequences are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from genrec.data.split import TrainData
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.interaction_embeddings import interaction_embeddings

INIT_INTERACTION_DIM = 64  # width of the collaborative vectors behind ``init_new_tokens: *interactions``


def item_token_texts(item_tokenizer: ItemTokenizer, titles: Sequence[str]) -> dict[str, list[str]]:
    """For each identifier token, the titles of the items that carry it (items without a title skipped)."""
    texts: dict[str, list[str]] = {}
    for item, title in enumerate(titles):
        if title.strip():
            for tok in item_tokenizer.encode(item):
                texts.setdefault(tok, []).append(title)
    return texts


def item_token_vectors(item_tokenizer: ItemTokenizer, train: TrainData, seed: int) -> dict[str, np.ndarray]:
    """For each identifier token, the mean collaborative vector of the items that carry it."""
    vectors = interaction_embeddings(train.num_items, train.sequences, INIT_INTERACTION_DIM, seed)
    members: dict[str, list[int]] = {}
    for item in range(train.num_items):
        for tok in item_tokenizer.encode(item):
            members.setdefault(tok, []).append(item)
    return {tok: vectors[items].mean(0) for tok, items in members.items()}


@torch.no_grad()
def init_token_rows(
    model: Any,
    tokenizer: Any,
    token_ids: Sequence[int],
    token_texts: Sequence[Sequence[str]] | None,
    seed: int,
    token_vectors: Any = None,
) -> int:
    """Initialise the new rows: each token's row is the mean over its texts of the mean input embedding of
    the text's tokens; tokens without text get a random row of the existing rows' scale. Returns how many
    rows came from text. (With tied embeddings the output rows follow.)

    ``token_vectors`` (``(new, dim)`` collaborative vectors, zero rows for none) are added through a
    seeded projection with orthonormal columns, scaled to each row's own norm: text and collaborative
    signal start with equal weight, and tokens of items bought together start close."""
    emb = model.get_input_embeddings().weight  # (vocab, hidden)
    old = emb[: min(token_ids)] if token_ids else emb
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((len(token_ids), emb.shape[1]), generator=generator) * old.std()
    rows = old.mean(0, keepdim=True) + noise  # (new, hidden)
    from_text = 0
    if token_texts is not None:
        cache: dict[str, torch.Tensor] = {}
        for row, texts in enumerate(token_texts):
            vectors = []
            for text in texts:
                if text not in cache:
                    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                    cache[text] = old[ids].mean(0) if ids else old.mean(0)
                vectors.append(cache[text])
            if vectors:
                rows[row] = torch.stack(vectors).mean(0)
                from_text += 1
    if token_vectors is not None:
        rows = rows + collaborative_component(rows, torch.as_tensor(token_vectors, dtype=rows.dtype), seed)
    emb[list(token_ids)] = rows.to(emb.dtype)
    output = model.get_output_embeddings()
    if output is not None and output.weight.data_ptr() != emb.data_ptr():
        output.weight[list(token_ids)] = rows.to(output.weight.dtype)
    return from_text


def collaborative_component(rows: torch.Tensor, vectors: torch.Tensor, seed: int) -> torch.Tensor:
    """``vectors`` (new, dim) mapped into the embedding space of ``rows`` (new, hidden), each scaled by its
    row's norm (an item's vector has unit length). The map has orthonormal columns (rows when dim > hidden),
    so it keeps the vectors' geometry: cosine similarities carry over to the added components."""
    if vectors.shape[0] != rows.shape[0]:
        raise ValueError(f"{vectors.shape[0]} collaborative vectors for {rows.shape[0]} new token rows")
    hidden, dim = rows.shape[1], vectors.shape[1]
    generator = torch.Generator().manual_seed(seed + 1)
    q, _ = torch.linalg.qr(torch.randn((max(hidden, dim), min(hidden, dim)), generator=generator))
    projection = q if hidden >= dim else q.T  # (hidden, dim)
    projected = vectors @ projection.T  # (new, hidden)
    return projected * rows.norm(dim=1, keepdim=True)
