"""A self-contained *run directory* for serving: the model's own files plus what a server needs besides.

Layout (everything in one folder)::

    RUN_DIR/
      model.json                 which recommender class to load, the dataset it was trained on
      catalogue.json             item ids and text fields, so a server needs no raw data
      fallback_popularity/       (optional) item popularity, served for an empty history
      ...                        whatever ``recommender.save(RUN_DIR)`` wrote (weights, configs, ...)

`save_run` writes it; `load_run` restores ``(recommender, catalogue, info)``. The recommender class is
found by its name (``recommender.name``) in `BUILTIN_RECOMMENDERS`: a new recommender becomes servable
by adding it there.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrec.data.catalogue import Catalogue
from genrec.data.spec import dataset_reference
from genrec.data.split import TrainData
from genrec.errors import DataError, GenrecError
from genrec.io.files import read_json, write_json_atomic
from genrec.recommenders.base import Recommender
from genrec.recommenders.popularity import PopularityRecommender

MODEL_FILE, CATALOGUE_FILE, FALLBACK_DIR = "model.json", "catalogue.json", "fallback_popularity"
FORMAT_VERSION = 1

#: name -> "module:Class" of the recommenders known without a registry (imported lazily: torch is heavy).
BUILTIN_RECOMMENDERS: dict[str, str] = {
    "popularity": "genrec.recommenders.popularity:PopularityRecommender",
    "sasrec": "genrec.recommenders.sasrec:SASRecRecommender",
    "gru4rec": "genrec.recommenders.gru4rec:GRU4RecRecommender",
    "content": "genrec.recommenders.content:ContentRecommender",
    "sasrec-text": "genrec.recommenders.text_sasrec:TextSASRecRecommender",
    "reranker": "genrec.recommenders.reranker:LMReranker",
    "zero-shot-lm": "genrec.recommenders.zero_shot:ZeroShotLMRecommender",
    "cold-start-blend": "genrec.recommenders.cold_start_blend:ColdStartBlendRecommender",
    "generative": "genrec.recommenders.generative:GenerativeRecommender",
}


@dataclass(frozen=True)
class RunInfo:
    """What ``model.json`` records: recommender name, dataset name and data directory (if known)."""

    recommender: str
    dataset: str | None = None
    data_dir: str | None = None
    has_fallback: bool = False
    num_items: int | None = None


def recommender_class(name: str) -> type[Any]:
    """The recommender class registered as ``name``; `GenrecError` naming the known ones otherwise."""
    target = BUILTIN_RECOMMENDERS.get(name)
    if target is None:
        known = ", ".join(sorted(BUILTIN_RECOMMENDERS))
        raise GenrecError(f"unknown recommender {name!r} in {MODEL_FILE}; known: {known}")
    module, _, cls = target.partition(":")
    found_cls: type[Any] = getattr(importlib.import_module(module), cls)
    return found_cls


def catalogue_to_dict(catalogue: Catalogue) -> dict[str, Any]:
    return {"item_ids": list(catalogue.item_ids), "fields": {k: list(v) for k, v in catalogue.fields.items()}}


def catalogue_from_dict(payload: Any, path: Path) -> Catalogue:
    """Rebuild a catalogue from `catalogue_to_dict` output; `DataError` naming ``path`` when malformed."""
    if not isinstance(payload, dict) or not isinstance(payload.get("item_ids"), list):
        raise DataError("expected an object with an 'item_ids' list", path=path)
    fields = payload.get("fields", {})
    if not isinstance(fields, dict):
        raise DataError("'fields' must be an object", path=path, field="fields")
    return Catalogue(
        tuple(str(i) for i in payload["item_ids"]),
        {str(k): tuple(str(x) for x in v) for k, v in fields.items()},
    )


def save_run(
    recommender: Recommender,
    catalogue: Catalogue,
    directory: Path,
    *,
    dataset: str | None = None,
    data_dir: Path | None = None,
    train: TrainData | None = None,
) -> Path:
    """Write a servable run directory (see the module docstring) and return its path.

    ``train`` (optional) provides item popularity for the empty-history fallback; without it a
    popularity model is its own fallback and other models answer an empty history themselves.
    """
    if train is not None and train.num_items != len(catalogue):
        raise DataError(f"training data has {train.num_items} items, the catalogue {len(catalogue)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    recommender.save(directory)
    write_json_atomic(directory / CATALOGUE_FILE, catalogue_to_dict(catalogue))
    has_fallback = False
    if train is not None:
        fallback = PopularityRecommender()
        fallback.fit(train)
        fallback.save(directory / FALLBACK_DIR)
        has_fallback = True
    meta = {
        "format": FORMAT_VERSION,
        "recommender": recommender.name,
        "dataset": None if dataset is None else dataset_reference(dataset),  # a spec path: absolute
        "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
        "num_items": len(catalogue),
        "fallback": FALLBACK_DIR if has_fallback else None,
    }
    write_json_atomic(directory / MODEL_FILE, meta)  # written last: its presence marks a complete run
    return directory


def read_run_info(directory: Path) -> RunInfo:
    """Parse ``model.json``; `DataError` naming the file and field when it is missing or malformed."""
    path = Path(directory) / MODEL_FILE
    if not path.is_file():
        raise DataError(
            f"not a servable run directory (no {MODEL_FILE}); create one with save_run()", path=path
        )
    meta = read_json(path)
    if not isinstance(meta, dict) or not isinstance(meta.get("recommender"), str):
        raise DataError("expected an object with a string 'recommender'", path=path, field="recommender")
    if meta.get("format") != FORMAT_VERSION:
        raise DataError(f"unsupported format {meta.get('format')!r}", path=path, field="format")
    return RunInfo(
        recommender=meta["recommender"],
        dataset=meta.get("dataset"),
        data_dir=meta.get("data_dir"),
        has_fallback=bool(meta.get("fallback")),
        num_items=meta.get("num_items"),
    )


def load_run(directory: Path) -> tuple[Recommender, Catalogue, RunInfo]:
    """Restore the recommender, catalogue and `RunInfo` of a run directory written by `save_run`."""
    directory = Path(directory)
    info = read_run_info(directory)
    cls = recommender_class(info.recommender)
    catalogue = catalogue_from_dict(read_json(directory / CATALOGUE_FILE), directory / CATALOGUE_FILE)
    if info.num_items is not None and info.num_items != len(catalogue):
        raise DataError(
            f"{CATALOGUE_FILE} has {len(catalogue)} items, {MODEL_FILE} says {info.num_items}", path=directory
        )
    recommender = cls.load(directory)
    num_items = getattr(recommender, "num_items", None)
    if isinstance(num_items, int) and num_items and num_items != len(catalogue):
        raise DataError(f"model has {num_items} items, {CATALOGUE_FILE} {len(catalogue)}", path=directory)
    return recommender, catalogue, info


def load_fallback(directory: Path, info: RunInfo) -> PopularityRecommender | None:
    """The run's popularity fallback (or the model itself when it is a popularity model), else None."""
    if info.has_fallback:
        return PopularityRecommender.load(Path(directory) / FALLBACK_DIR)
    if info.recommender == PopularityRecommender.name:
        return PopularityRecommender.load(Path(directory))
    return None
