"""Amazon review sets in the LC-Rec / LETTER JSON layout (``<Name>.inter.json`` + ``<Name>.item.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genrec.data.catalogue import TEXT_FIELDS, Catalogue
from genrec.data.interactions import InteractionData
from genrec.errors import DataError


def read_json(path: Path) -> Any:
    """Parse a JSON file; malformed content raises `DataError` with the line and column."""
    if not path.is_file():
        raise DataError("file not found", path=path)
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise DataError("empty file", path=path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno
        ) from None


def _sort_key(item_id: str) -> tuple[int, int | str]:
    return (0, int(item_id)) if item_id.isdigit() else (1, item_id)


def load_lcrec_json(inter_path: Path, item_path: Path | None, name: str) -> InteractionData:
    """Load ``{"user": [item, ...]}`` sequences (already chronological) and an optional item table.

    The catalogue follows the item table's order when there is one, else item ids in numeric order.
    A sequence naming an item absent from the item table raises `DataError` naming the user.
    """
    raw = read_json(inter_path)
    if not isinstance(raw, dict):
        raise DataError("expected a JSON object mapping user ids to item lists", path=inter_path)
    if not raw:
        raise DataError("no users", path=inter_path)
    sequences_ext: list[list[str]] = []
    for user, items in raw.items():
        if not isinstance(items, list) or not all(isinstance(i, int | str) for i in items):
            raise DataError("expected a list of item ids", path=inter_path, field=f"user {user}")
        sequences_ext.append([str(i) for i in items])

    if item_path is not None:
        table = read_json(item_path)
        if not isinstance(table, dict):
            raise DataError("expected a JSON object mapping item ids to records", path=item_path)
        records: dict[str, dict[str, str]] = {}
        for item, rec in table.items():
            if not isinstance(rec, dict):
                raise DataError("expected an object of text fields", path=item_path, field=f"item {item}")
            records[str(item)] = {k: str(rec.get(k) or "") for k in TEXT_FIELDS if k in rec}
        catalogue = Catalogue.from_records(list(records), records)
    else:
        ids = sorted({i for seq in sequences_ext for i in seq}, key=_sort_key)
        catalogue = Catalogue.from_records(ids)

    sequences = []
    for user, seq in zip(raw, sequences_ext, strict=True):
        try:
            sequences.append(tuple(catalogue.index_of(i) for i in seq))
        except KeyError as exc:
            raise DataError(
                f"{exc.args[0]} is not in the item table {item_path}", path=inter_path, field=f"user {user}"
            ) from None
    return InteractionData(name=name, catalogue=catalogue, users=tuple(raw), sequences=tuple(sequences))
