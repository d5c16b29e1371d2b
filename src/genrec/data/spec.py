"""Data specs: a user's own data wherever a dataset name is accepted.

A data spec is either the path of an interactions file (``.csv``, ``.tsv`` or ``.parquet`` with columns
``user``, ``item`` and optionally ``timestamp``) or the path of a small YAML file naming the files and
their columns::

    interactions: interactions.csv          # relative paths are relative to the YAML file
    items: items.csv                        # optional: item id column + text columns (title, ...)
    columns: {user: user_id, item: item_id, time: timestamp}   # optional; time: null = file order
    item_id_column: item_id                 # optional, default: columns.item
    name: my-shop                           # optional display name
    drop_unknown_items: false               # optional

`DataSpec` validates the YAML (unknown keys are errors); every error names the YAML file and the field,
and errors inside the data files name their line (see `genrec.data.loaders.tabular`).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genrec.data.interactions import InteractionData
from genrec.data.loaders.tabular import load_tabular
from genrec.errors import DataError

#: Suffixes of an interactions file given directly as a data spec.
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
#: Suffixes of a YAML data spec.
SPEC_SUFFIXES = (".yaml", ".yml")


class ColumnNames(BaseModel):
    """Column names in the interactions file; a default ``time`` column may be absent (file order)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(default="user", min_length=1)
    item: str = Field(default="item", min_length=1)
    time: str | None = Field(default="timestamp", min_length=1)


class DataSpec(BaseModel):
    """An interactions file (+ optional item table) and how to read it; paths are used as given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interactions: Path
    items: Path | None = None
    columns: ColumnNames = Field(default_factory=ColumnNames)
    item_id_column: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1)
    drop_unknown_items: bool = False

    def load(self) -> InteractionData:
        """Read the files; a ``time`` column named explicitly must exist, the default one may be absent."""
        return load_tabular(
            self.interactions,
            self.items,
            name=self.name or self.interactions.stem,
            user_col=self.columns.user,
            item_col=self.columns.item,
            time_col=self.columns.time,
            require_time="time" in self.columns.model_fields_set,
            items_id_col=self.item_id_column,
            drop_unknown_items=self.drop_unknown_items,
        )


def is_data_spec(dataset: str | os.PathLike[str]) -> bool:
    """Whether ``dataset`` names a data spec (by its suffix) rather than a named dataset."""
    return Path(dataset).suffix.lower() in TABLE_SUFFIXES + SPEC_SUFFIXES


def dataset_reference(dataset: str) -> str:
    """What a run records for ``dataset``: a named set as is, a spec path made absolute.

    Runs reload their data later (``genrec recommend --users test``, resuming), possibly from another
    working directory; an absolute path still names the same files then.
    """
    return str(Path(dataset).expanduser().resolve()) if is_data_spec(dataset) else dataset


def _validation_error(exc: ValidationError, path: Path) -> DataError:
    """The first problem of a failed validation as a `DataError` naming the YAML file and dotted field."""
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    if first["type"] == "extra_forbidden":
        parent = first["loc"][:-1]
        model = ColumnNames if parent == ("columns",) else DataSpec
        message = f"unknown key; allowed keys: {', '.join(model.model_fields)}"
    elif first["type"] == "missing":
        message = "required key is missing"
    else:
        message = f"{first['msg']} (got {first['input']!r})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return DataError(message, path=path, field=field)


def _data_file(path: Path | None, base: Path, spec_path: Path, field: str) -> Path | None:
    """``path`` resolved against the YAML file's folder; it must be an existing table file."""
    if path is None:
        return None
    resolved = (base / path.expanduser()).resolve()
    if resolved.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(f"{resolved} is not a {', '.join(TABLE_SUFFIXES)} file", path=spec_path, field=field)
    if not resolved.is_file():
        raise DataError(f"file not found: {resolved}", path=spec_path, field=field)
    return resolved


def read_data_spec(path: str | os.PathLike[str]) -> DataSpec:
    """Parse and validate a YAML data spec; its relative file paths become relative to its folder."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError("data spec not found", path=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise DataError(f"invalid YAML: {problem}", path=path, line=line) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read data spec: {exc}", path=path) from None
    if not isinstance(raw, dict):
        raise DataError(
            "expected a mapping with at least 'interactions: FILE' (see docs/own-data.md)", path=path
        )
    try:
        spec = DataSpec.model_validate(raw)
    except ValidationError as exc:
        raise _validation_error(exc, path) from None
    base = path.resolve().parent
    return spec.model_copy(
        update={
            "interactions": _data_file(spec.interactions, base, path, "interactions"),
            "items": _data_file(spec.items, base, path, "items"),
            "name": spec.name or path.stem,
        }
    )


def load_data_spec(dataset: str | os.PathLike[str]) -> InteractionData:
    """Load a data spec: a YAML file (`read_data_spec`) or an interactions file with default columns."""
    path = Path(dataset).expanduser()
    if path.suffix.lower() in SPEC_SUFFIXES:
        return read_data_spec(path).load()
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(
            f"not a data spec: use a {', '.join(TABLE_SUFFIXES)} interactions file or a .yaml spec", path=path
        )
    return DataSpec(interactions=path).load()
