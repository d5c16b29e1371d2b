"""Generic files: CSV or Parquet interactions (user, item, timestamp) plus an optional item table."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from genrec.data.catalogue import Catalogue
from genrec.data.interactions import InteractionData
from genrec.data.loaders.sequences import sequences_from_rows
from genrec.errors import DataError

logger = logging.getLogger(__name__)


def report_dropped(path: Path, count: int, what: str) -> None:
    """The one place filters report how many rows they removed."""
    logger.warning("%s: dropped %d %s", path, count, what)


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file as strings, with errors that name the file (and line for CSV)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
        elif suffix in {".csv", ".tsv", ".txt"}:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
        else:
            raise DataError("unsupported file type (use .csv, .tsv or .parquet)", path=path)
    except pd.errors.EmptyDataError:
        raise DataError("empty file", path=path) from None
    except pd.errors.ParserError as exc:
        # pandas reports "Error tokenizing data. C error: Expected 3 fields in line 5, saw 4".
        raise DataError(f"malformed CSV: {exc}", path=path) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read file: {exc}", path=path) from None
    if frame.empty:
        raise DataError("no data rows", path=path)
    return frame


def _require(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    for col in columns:
        if col not in frame.columns:
            found = ", ".join(map(str, frame.columns))
            raise DataError(f"missing column {col!r} (found: {found})", path=path, field=col)


def _line(path: Path, row: int) -> int | None:
    """Human line number of a data row: header is line 1 for CSV; Parquet has no lines."""
    return row + 2 if path.suffix.lower() in {".csv", ".tsv", ".txt"} else None


def _parse_times(frame: pd.DataFrame, time_col: str, path: Path) -> list[float]:
    """Seconds of each row: numbers as given, else ISO 8601 dates/times (``2024-05-01 18:30``) as UTC
    epoch seconds; `DataError` naming the line of the first value that is neither."""
    raw = frame[time_col]
    parsed = pd.to_numeric(raw, errors="coerce")
    if parsed.isna().any():
        dates = pd.to_datetime(raw.astype(str), format="ISO8601", errors="coerce", utc=True)
        if not dates.isna().any():
            # seconds since 1970 (UTC): only the order of a user's events matters
            return [float(t.timestamp()) for t in dates]
        neither = (parsed.isna() & dates.isna()).to_numpy().nonzero()[0]
        if len(neither):
            row, why = int(neither[0]), "is not a number or an ISO 8601 date/time"
        else:  # every value parses one way or the other, but the column mixes numbers and dates
            row, why = int(dates.isna().to_numpy().nonzero()[0][0]), "is a number in a column of dates"
        raise DataError(
            f"timestamp {raw.iloc[row]!r} {why}",
            path=path,
            line=_line(path, row),
            field=time_col,
        )
    return [float(t) for t in parsed]


def _item_table(
    items: Path, id_col: str, text_cols: Sequence[str] | None
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Item ids in file order and their text fields (every other column unless ``text_cols`` is given)."""
    table = read_table(items)
    _require(table, [id_col], items)
    text = list(text_cols) if text_cols is not None else [c for c in table.columns if c != id_col]
    _require(table, text, items)
    ids = table[id_col].astype(str).str.strip().tolist()
    seen: dict[str, int] = {}
    for row, item in enumerate(ids):
        if not item or item.lower() == "nan":
            raise DataError("empty item id", path=items, line=_line(items, row), field=id_col)
        if item in seen:
            raise DataError(
                f"duplicate item id {item!r} (first on row {seen[item] + 1})",
                path=items,
                line=_line(items, row),
                field=id_col,
            )
        seen[item] = row
    records = {
        i: {c: ("" if pd.isna(v) else str(v)) for c, v in zip(text, vals, strict=True)}
        for i, vals in zip(ids, table[text].itertuples(index=False, name=None), strict=True)
    }
    return ids, records


def load_tabular(
    interactions: str | os.PathLike[str],
    items: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str | None = "timestamp",
    text_cols: Sequence[str] | None = None,
    drop_unknown_items: bool = False,
    items_id_col: str | None = None,
    require_time: bool = True,
) -> InteractionData:
    """Load interactions (+ optional item table) from CSV or Parquet; paths may be str or `Path`.

    Without ``time_col`` the file order is the chronological order; with ``require_time=False`` a file
    that lacks ``time_col`` is read that way too. Times are numbers or ISO 8601 dates. The item table's
    id column is ``items_id_col`` (default: ``item_col``); its other columns (or ``text_cols``) are the
    items' text. Interactions naming an item absent from the item table raise `DataError` with the line,
    or are dropped and counted when ``drop_unknown_items`` is set.
    """
    interactions = Path(interactions)
    frame = read_table(interactions)
    if time_col and not require_time and time_col not in frame.columns:
        time_col = None
    cols = [user_col, item_col] + ([time_col] if time_col else [])
    _require(frame, cols, interactions)
    users = frame[user_col].astype(str).str.strip().tolist()
    item_list = frame[item_col].astype(str).str.strip().tolist()
    for col, values in ((user_col, users), (item_col, item_list)):
        for row, v in enumerate(values):
            if not v or v.lower() == "nan":
                raise DataError("empty value", path=interactions, line=_line(interactions, row), field=col)
    times = _parse_times(frame, time_col, interactions) if time_col else None

    if items is not None:
        items = Path(items)
        ids, records = _item_table(items, items_id_col or item_col, text_cols)
        catalogue = Catalogue.from_records(ids, records)
        keep = [i for i, it in enumerate(item_list) if it in catalogue]
        if len(keep) != len(item_list):
            if not drop_unknown_items:
                row = next(i for i, it in enumerate(item_list) if it not in catalogue)
                raise DataError(
                    f"item {item_list[row]!r} is not in the item table {items}",
                    path=interactions,
                    line=_line(interactions, row),
                    field=item_col,
                )
            report_dropped(interactions, len(item_list) - len(keep), "interactions naming unknown items")
            users = [users[i] for i in keep]
            item_list = [item_list[i] for i in keep]
            times = None if times is None else [times[i] for i in keep]
            if not users:
                raise DataError("no interactions left after dropping unknown items", path=interactions)
    else:
        catalogue = Catalogue.from_records(list(dict.fromkeys(item_list)))
    return sequences_from_rows(name or interactions.stem, catalogue, users, item_list, times)
