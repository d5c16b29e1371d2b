"""Recommender registry: name -> class and config class; build from overrides, load from a directory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrec.config import ConfigModel
from genrec.errors import ConfigError, GenrecError
from genrec.io.files import read_json
from genrec.recommenders.base import Recommender
from genrec.recommenders.cold_start_blend import BLEND_FILE, ColdStartBlendRecommender
from genrec.recommenders.config import config_from_mapping
from genrec.recommenders.content import CONTENT_FILE, ContentRecommender
from genrec.recommenders.gru4rec import GRU4RecRecommender
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.reranker import RERANKER_FILE, LMReranker
from genrec.recommenders.sasrec import SASRecRecommender
from genrec.recommenders.sequential import META_FILE, NeuralSequentialRecommender
from genrec.recommenders.text_sasrec import TextSASRecRecommender
from genrec.recommenders.zero_shot import ZERO_SHOT_FILE, ZeroShotLMRecommender


@dataclass(frozen=True)
class RegistryEntry:
    """A trainable recommender: its class and (for the neural ones) its config class."""

    cls: type[Any]
    config_cls: type[ConfigModel] | None


REGISTRY: dict[str, RegistryEntry] = {
    "popularity": RegistryEntry(PopularityRecommender, None),
    "sasrec": RegistryEntry(SASRecRecommender, SASRecRecommender.config_cls),
    "gru4rec": RegistryEntry(GRU4RecRecommender, GRU4RecRecommender.config_cls),
    "content": RegistryEntry(ContentRecommender, ContentRecommender.config_cls),
    "reranker": RegistryEntry(LMReranker, LMReranker.config_cls),
    "sasrec-text": RegistryEntry(TextSASRecRecommender, TextSASRecRecommender.config_cls),
    "zero-shot-lm": RegistryEntry(ZeroShotLMRecommender, ZeroShotLMRecommender.config_cls),
    "cold-start-blend": RegistryEntry(ColdStartBlendRecommender, ColdStartBlendRecommender.config_cls),
}


def _entry(name: str) -> RegistryEntry:
    if name not in REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def resolve_config(name: str, overrides: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The full, validated configuration of model ``name`` (defaults + overrides + seed) as a dict."""
    entry = _entry(name)
    values = {**overrides, "seed": seed}
    if entry.config_cls is None:
        extra = sorted(set(values) - {"seed"})
        if extra:
            raise ConfigError(f"model {name!r} takes no options besides seed; got {', '.join(extra)}")
        return {"seed": seed}
    return config_from_mapping(entry.config_cls, values).to_dict()


def build_recommender(
    name: str, overrides: Mapping[str, Any] | None = None, *, seed: int = 0, progress: bool = False
) -> Recommender:
    """An unfitted recommender ``name`` with its config defaults replaced by ``overrides``."""
    entry = _entry(name)
    resolved = resolve_config(name, overrides or {}, seed)
    if entry.config_cls is None:
        model: Recommender = entry.cls(seed=seed)
        return model
    config = config_from_mapping(entry.config_cls, resolved)
    neural: Recommender = entry.cls(config, progress=progress)
    return neural


def load_recommender(directory: Path) -> Recommender:
    """Load whichever registered recommender was saved in ``directory``."""
    directory = Path(directory)
    if (directory / "popularity.json").is_file():
        return PopularityRecommender.load(directory)
    if (directory / CONTENT_FILE).is_file():
        return ContentRecommender.load(directory)
    if (directory / BLEND_FILE).is_file():
        return ColdStartBlendRecommender.load(directory)
    if (directory / RERANKER_FILE).is_file():
        return LMReranker.load(directory)
    if (directory / ZERO_SHOT_FILE).is_file():
        return ZeroShotLMRecommender.load(directory)
    if (directory / META_FILE).is_file():
        name = str(read_json(directory / META_FILE).get("name"))
        cls = _entry(name).cls
        if issubclass(cls, NeuralSequentialRecommender):
            return cls.load(directory)
    if (directory / "run.json").is_file():  # a generative recommender (imported lazily: transformers)
        from genrec.recommenders.generative import GenerativeRecommender

        return GenerativeRecommender.load(directory)
    raise GenrecError(
        f"{directory} holds no saved recommender (no popularity.json, {CONTENT_FILE}, {META_FILE} or run.json)"
    )
