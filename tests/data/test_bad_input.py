"""Every kind of bad input gives a DataError naming the file and the line or field."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genrec.data.loaders.amazon import load_lcrec_json
from genrec.data.loaders.recbole_atomic import load_recbole_atomic
from genrec.data.loaders.tabular import load_tabular
from genrec.errors import DataError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "X.inter.json", '{\n  "0": [1, 2, 3],\n  "1": [4, 5\n}')
    with pytest.raises(DataError, match=r"X\.inter\.json, line 4: malformed JSON"):
        load_lcrec_json(bad, None, "x")


def test_json_sequence_of_wrong_type_names_user(tmp_path: Path) -> None:
    bad = write(tmp_path / "X.inter.json", json.dumps({"0": [1, 2, 3], "7": "oops"}))
    with pytest.raises(DataError, match=r"field 'user 7'.*list of item ids"):
        load_lcrec_json(bad, None, "x")


def test_json_item_absent_from_item_table(tmp_path: Path) -> None:
    inter = write(tmp_path / "X.inter.json", json.dumps({"0": [0, 1, 9]}))
    items = write(tmp_path / "X.item.json", json.dumps({"0": {"title": "a"}, "1": {"title": "b"}}))
    with pytest.raises(DataError, match=r"X\.inter\.json, field 'user 0'.*unknown item id '9'"):
        load_lcrec_json(inter, items, "x")


def test_empty_json_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"X\.inter\.json: empty file"):
        load_lcrec_json(write(tmp_path / "X.inter.json", "  \n"), None, "x")


def test_malformed_csv_names_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "inter.csv", "user_id,item_id,timestamp\nu1,a,1\nu1,b,2,extra\n")
    with pytest.raises(DataError, match=r"inter\.csv: malformed CSV.*line 3"):
        load_tabular(bad)


def test_csv_missing_column(tmp_path: Path) -> None:
    bad = write(tmp_path / "inter.csv", "user,item_id,timestamp\nu1,a,1\n")
    with pytest.raises(DataError, match=r"inter\.csv, field 'user_id': missing column 'user_id'"):
        load_tabular(bad)


def test_csv_bad_timestamp_names_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "inter.csv", "user_id,item_id,timestamp\nu1,a,1\nu1,b,yesterday\n")
    with pytest.raises(DataError, match=r"inter\.csv, line 3, field 'timestamp'"):
        load_tabular(bad)


def test_csv_item_absent_from_item_table_names_line(tmp_path: Path) -> None:
    inter = write(tmp_path / "inter.csv", "user_id,item_id,timestamp\nu1,a,1\nu1,zz,2\n")
    items = write(tmp_path / "items.csv", "item_id,title\na,Alpha\nb,Beta\n")
    with pytest.raises(DataError, match=r"inter\.csv, line 3, field 'item_id': item 'zz' is not in"):
        load_tabular(inter, items)


def test_unknown_items_can_be_dropped_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inter = write(tmp_path / "inter.csv", "user_id,item_id,timestamp\nu1,a,1\nu1,zz,2\nu1,b,3\n")
    items = write(tmp_path / "items.csv", "item_id,title\na,Alpha\nb,Beta\n")
    data = load_tabular(inter, items, drop_unknown_items=True)
    assert data.num_interactions == 2
    assert "dropped 1 interactions naming unknown items" in caplog.text


def test_duplicate_item_ids_in_item_table(tmp_path: Path) -> None:
    inter = write(tmp_path / "inter.csv", "user_id,item_id,timestamp\nu1,a,1\n")
    items = write(tmp_path / "items.csv", "item_id,title\na,Alpha\nb,Beta\na,Again\n")
    with pytest.raises(DataError, match=r"items\.csv, line 4, field 'item_id': duplicate item id 'a'"):
        load_tabular(inter, items)


def test_empty_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"inter\.csv: empty file"):
        load_tabular(write(tmp_path / "inter.csv", ""))


def test_header_only_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"inter\.csv: no data rows"):
        load_tabular(write(tmp_path / "inter.csv", "user_id,item_id,timestamp\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_tabular(tmp_path / "nope.csv")


def test_parquet_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "inter.parquet"
    pd.DataFrame({"user_id": ["u"], "item": ["a"]}).to_parquet(path)
    with pytest.raises(DataError, match=r"inter\.parquet, field 'item_id': missing column"):
        load_tabular(path, time_col=None)


def test_atomic_wrong_field_count_names_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n1\t2\n")
    with pytest.raises(DataError, match=r"x\.inter, line 3: expected 3 tab-separated fields"):
        load_recbole_atomic(bad)


def test_atomic_duplicate_item(tmp_path: Path) -> None:
    inter = write(tmp_path / "x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n")
    item = write(tmp_path / "x.item", "item_id:token\ttitle:token_seq\n2\tA\n2\tB\n")
    with pytest.raises(DataError, match=r"x\.item, line 3, field 'item_id': duplicate item id '2'"):
        load_recbole_atomic(inter, item)


def test_atomic_unknown_item(tmp_path: Path) -> None:
    inter = write(tmp_path / "x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n1\t5\t4\n")
    item = write(tmp_path / "x.item", "item_id:token\ttitle:token_seq\n2\tA\n")
    with pytest.raises(DataError, match=r"x\.inter, line 3: item '5' is not in the item table"):
        load_recbole_atomic(inter, item)


def test_atomic_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"x\.inter, line 1: empty file"):
        load_recbole_atomic(write(tmp_path / "x.inter", ""))
