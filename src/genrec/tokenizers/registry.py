"""Tokenizer registry: name -> class, and construction from a small validated config."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genrec.errors import ConfigError, DataError
from genrec.io.files import read_json
from genrec.tokenizers.atomic import AtomicTokenizer
from genrec.tokenizers.base import ItemTokenizer
from genrec.tokenizers.collaborative import CollaborativeConfig, CollaborativeTokenizer
from genrec.tokenizers.prebuilt import PrebuiltTokenizer
from genrec.tokenizers.residual_kmeans import ResidualKMeansConfig, ResidualKMeansTokenizer
from genrec.tokenizers.rqvae import RQVAEConfig, RQVAETokenizer
from genrec.tokenizers.semantic import SequenceVectorFn
from genrec.tokenizers.table import META_FILE
from genrec.tokenizers.text_embeddings import EmbedFn
from genrec.tokenizers.title import TitleTokenizer

TOKENIZERS: dict[str, Any] = {
    "atomic": AtomicTokenizer,
    "title": TitleTokenizer,
    "rqvae": RQVAETokenizer,
    "residual_kmeans": ResidualKMeansTokenizer,
    "collaborative": CollaborativeTokenizer,
    "prebuilt": PrebuiltTokenizer,
}
#: "semantic" is the issue's name for the RQ-VAE tokenizer.
ALIASES = {"semantic": "rqvae"}


def canonical_name(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in TOKENIZERS:
        choices = ", ".join([*TOKENIZERS, *ALIASES])
        raise ConfigError(f"unknown tokenizer {name!r}; choose one of: {choices}")
    return name


def _semantic_options(opts: dict[str, Any]) -> dict[str, Any]:
    """Pop the options every semantic tokenizer shares (the rest configure its quantiser)."""
    return {
        "spread": bool(opts.pop("spread", True)),
        "source": opts.pop("source", "text"),
        "interaction_dim": int(opts.pop("interaction_dim", 64)),
        "sasrec_epochs": int(opts.pop("sasrec_epochs", 20)),
    }


def build_tokenizer(
    name: str,
    options: Mapping[str, Any] | None = None,
    embed: EmbedFn | None = None,
    sequence_vectors: SequenceVectorFn | None = None,
) -> ItemTokenizer:
    """A fresh tokenizer. ``options`` are the tokenizer's config fields (``path`` for prebuilt);
    ``sequence_vectors`` serves a semantic tokenizer's ``source: sasrec`` (see `SequenceVectorFn`)."""
    name = canonical_name(name)
    opts = dict(options or {})
    try:
        if name == "prebuilt":
            if "path" not in opts:
                raise ConfigError("tokenizer 'prebuilt' needs option 'path' (an *.index*.json file)")
            return PrebuiltTokenizer(Path(opts.pop("path")), **opts)
        if name == "rqvae":
            if "hidden" in opts:
                opts["hidden"] = tuple(opts["hidden"])
            semantic = _semantic_options(opts)  # popped before the quantiser config reads the rest
            config = RQVAEConfig(**opts)
            return RQVAETokenizer(config, embed=embed, sequence_vectors=sequence_vectors, **semantic)
        if name == "residual_kmeans":
            semantic = _semantic_options(opts)
            kmeans = ResidualKMeansConfig(**opts)
            return ResidualKMeansTokenizer(kmeans, embed=embed, sequence_vectors=sequence_vectors, **semantic)
        if name == "collaborative":
            return CollaborativeTokenizer(CollaborativeConfig(**opts))
    except TypeError as exc:
        raise ConfigError(f"tokenizer {name!r}: bad options {sorted(opts)}: {exc}") from None
    if opts:
        raise ConfigError(f"tokenizer {name!r} takes no options, got {sorted(opts)}")
    tokenizer: ItemTokenizer = TOKENIZERS[name]()
    return tokenizer


def load_tokenizer(directory: Path, embed: EmbedFn | None = None) -> ItemTokenizer:
    """Restore whichever tokenizer was saved in ``directory``."""
    meta = read_json(directory / META_FILE)
    name = meta.get("name") if isinstance(meta, dict) else None
    if name not in TOKENIZERS:
        raise DataError(f"unknown tokenizer name {name!r}", path=directory / META_FILE)
    if name in ("rqvae", "residual_kmeans"):
        semantic: ItemTokenizer = TOKENIZERS[name].load(directory, embed=embed)
        return semantic
    loaded: ItemTokenizer = TOKENIZERS[name].load(directory)
    return loaded
