"""RecBole atomic files: tab-separated ``.inter`` / ``.item`` with ``name:type`` headers."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from genrec.data.catalogue import Catalogue
from genrec.data.interactions import InteractionData
from genrec.data.loaders.sequences import sequences_from_rows
from genrec.errors import DataError


def read_atomic(path: str | os.PathLike[str]) -> tuple[list[str], list[list[str]]]:
    """Read an atomic file: (field names without types, rows). Every row must have every field."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError("empty file (no header line)", path=path, line=1) from None
        names = [h.split(":", 1)[0].strip() for h in header]
        rows = []
        for line_no, row in enumerate(reader, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(names):
                raise DataError(
                    f"expected {len(names)} tab-separated fields ({', '.join(names)}), found {len(row)}",
                    path=path,
                    line=line_no,
                )
            rows.append(row)
    if not rows:
        raise DataError("no data rows", path=path)
    return names, rows


def _column(names: list[str], wanted: str, path: Path) -> int:
    if wanted not in names:
        raise DataError(f"missing column {wanted!r} (found: {', '.join(names)})", path=path, field=wanted)
    return names.index(wanted)


def load_item_table(
    path: str | os.PathLike[str], item_field: str = "item_id", text_fields: dict[str, str] | None = None
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Item ids in file order and their text, from an ``.item`` file (a str or `Path`).

    ``text_fields`` maps file columns to catalogue fields (default: every other column, same name).
    """
    path = Path(path)
    names, rows = read_atomic(path)
    id_col = _column(names, item_field, path)
    mapping = text_fields or {n: n for n in names if n != item_field}
    cols = {dst: _column(names, src, path) for src, dst in mapping.items()}
    ids: list[str] = []
    records: dict[str, dict[str, str]] = {}
    first_line: dict[str, int] = {}
    for line_no, row in enumerate(rows, start=2):
        item = row[id_col].strip()
        if not item:
            raise DataError("empty item id", path=path, line=line_no, field=item_field)
        if item in records:
            raise DataError(
                f"duplicate item id {item!r} (first seen on line {first_line[item]})",
                path=path,
                line=line_no,
                field=item_field,
            )
        first_line[item] = line_no
        ids.append(item)
        records[item] = {dst: row[c].strip() for dst, c in cols.items()}
    return ids, records


def load_recbole_atomic(
    inter_path: str | os.PathLike[str],
    item_path: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    user_field: str = "user_id",
    item_field: str = "item_id",
    time_field: str | None = "timestamp",
    text_fields: dict[str, str] | None = None,
    drop_unknown_items: bool = False,
) -> InteractionData:
    """Load RecBole ``.inter`` (+ optional ``.item``) files; paths may be str or `Path`.

    Interactions naming an item absent from the item table raise `DataError` with the line, unless
    ``drop_unknown_items`` is set, in which case they are dropped and counted in the returned data's name
    log (see `genrec.data.loaders.tabular.report_dropped`).
    """
    inter_path = Path(inter_path)
    names, rows = read_atomic(inter_path)
    u_col = _column(names, user_field, inter_path)
    i_col = _column(names, item_field, inter_path)
    t_col = _column(names, time_field, inter_path) if time_field else None
    if item_path is not None:
        ids, records = load_item_table(item_path, item_field, text_fields)
        catalogue = Catalogue.from_records(ids, records)
    else:
        catalogue = None
    users: list[str] = []
    items: list[str] = []
    times: list[float] = []
    dropped = 0
    for line_no, row in enumerate(rows, start=2):
        user, item = row[u_col].strip(), row[i_col].strip()
        if not user or not item:
            raise DataError("empty user or item id", path=inter_path, line=line_no)
        if catalogue is not None and item not in catalogue:
            if drop_unknown_items:
                dropped += 1
                continue
            raise DataError(
                f"item {item!r} is not in the item table {item_path}", path=inter_path, line=line_no
            )
        if t_col is not None:
            try:
                times.append(float(row[t_col]))
            except ValueError:
                raise DataError(
                    f"timestamp {row[t_col]!r} is not a number",
                    path=inter_path,
                    line=line_no,
                    field=time_field,
                ) from None
        users.append(user)
        items.append(item)
    if catalogue is None:
        catalogue = Catalogue.from_records(list(dict.fromkeys(items)))
    if dropped:
        from genrec.data.loaders.tabular import report_dropped

        report_dropped(inter_path, dropped, "interactions naming items absent from the item table")
    return sequences_from_rows(
        name or inter_path.stem, catalogue, users, items, times if t_col is not None else None
    )
