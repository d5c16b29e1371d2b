"""Which backbone a run trains: the compact decoder from scratch or a pretrained LM (one entry point)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from genrec.training.config import BackboneConfig


def build_backbone(
    config: BackboneConfig,
    vocabulary: Sequence[str],
    seed: int,
    token_texts: Mapping[str, Sequence[str]] | None = None,
    token_vectors: Mapping[str, Any] | None = None,
) -> tuple[Any, Any]:
    """(causal LM, LM tokenizer) for ``config``.

    ``vocabulary``: the identifier tokens to give the LM. ``token_texts``: for each token, the texts of the
    items that carry it; ``token_vectors``: for each token, the mean collaborative vector of those items
    (both used by pretrained backbones to initialise the new embedding rows).
    """
    if config.kind == "pretrained":
        from genrec.training.pretrained import build_pretrained_backbone

        return build_pretrained_backbone(config, vocabulary, seed, token_texts, token_vectors)
    from genrec.training.compact import build_backbone as build_compact

    return build_compact(config, vocabulary, seed)
