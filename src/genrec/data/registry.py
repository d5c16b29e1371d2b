"""Where datasets are resolved: named sets (``ml-100k`` embedded, the Amazon sets read from a data
directory) and data specs, a user's own files (`genrec.data.spec`)."""

from __future__ import annotations

import os
from pathlib import Path

from genrec.data.interactions import InteractionData
from genrec.data.loaders.amazon import load_lcrec_json
from genrec.data.loaders.movielens import load_movielens_100k
from genrec.data.spec import SPEC_SUFFIXES, TABLE_SUFFIXES, is_data_spec, load_data_spec
from genrec.errors import DataError

#: Amazon sets: name -> (folder, file prefix, has an item table).
AMAZON_SETS: dict[str, tuple[str, str, bool]] = {
    "office": ("office", "Office", True),
    "scientific": ("scientific", "Scientific", True),
    "beauty": ("beauty", "Beauty", False),
}
DATASETS: tuple[str, ...] = ("ml-100k", *AMAZON_SETS)


def default_data_dir() -> Path:
    """``$GENREC_DATA_DIR``, else ``../shared/data`` beside the current directory or this checkout."""
    env = os.environ.get("GENREC_DATA_DIR")
    if env:
        return Path(env)
    candidates = [
        Path.cwd().parent / "shared" / "data",
        Path(__file__).resolve().parents[4] / "shared" / "data",
    ]
    for cand in candidates:
        if cand.is_dir():
            return cand
    return candidates[0]


def amazon_paths(name: str, data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path | None]:
    """The interaction file and (optional) item file of an Amazon set; ``data_dir`` may be a str or a path."""
    folder, prefix, has_items = AMAZON_SETS[name]
    root = (Path(data_dir) if data_dir is not None else default_data_dir()) / folder
    inter = root / f"{prefix}.inter.json"
    if not inter.is_file():
        raise DataError(
            f"dataset {name!r} not found; pass --data-dir or set GENREC_DATA_DIR to the folder holding "
            f"{folder}/{prefix}.inter.json",
            path=inter,
        )
    return inter, (root / f"{prefix}.item.json") if has_items else None


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> InteractionData:
    """Load a named dataset ("ml-100k", "office", "scientific", "beauty") or a data spec.

    A data spec is a ``.csv``/``.tsv``/``.parquet`` interactions file or a ``.yaml`` spec naming the
    files (`genrec.data.spec`); relative paths are relative to the working directory, and ``data_dir``
    does not apply to them.
    """
    if name == "ml-100k":
        return load_movielens_100k()
    if name in AMAZON_SETS:
        return load_lcrec_json(*amazon_paths(name, data_dir), name=name)
    if is_data_spec(name):
        return load_data_spec(name)
    suffixes = ", ".join(TABLE_SUFFIXES + SPEC_SUFFIXES)
    raise DataError(
        f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}, or give a data spec "
        f"(a file ending in {suffixes}; see docs/own-data.md)"
    )
