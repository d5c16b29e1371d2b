"""Data specs: an interactions file or a YAML naming files and columns, wherever a dataset name goes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from genrec.data import InteractionData, load_dataset
from genrec.data.loaders.recbole_atomic import load_recbole_atomic
from genrec.data.loaders.tabular import load_tabular
from genrec.data.spec import DataSpec, dataset_reference, is_data_spec, read_data_spec
from genrec.errors import DataError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def sequences(data: InteractionData) -> dict[str, list[str]]:
    """``{user: [item id, ...]}`` in the loaded (chronological) order."""
    ids = data.catalogue.item_ids
    return {u: [ids[i] for i in s] for u, s in zip(data.users, data.sequences, strict=True)}


def shop(tmp_path: Path) -> Path:
    """A YAML spec in ``tmp_path/spec`` naming data files in ``tmp_path/files`` with renamed columns."""
    write(
        tmp_path / "files" / "events.csv",
        "customer,product,bought_at\nann,p2,2024-05-03\nbob,p1,2024-05-01 10:00\nann,p1,2024-05-01T08:00\n"
        "ann,p3,2024-05-02\nbob,p3,2024-05-02\n",
    )
    write(
        tmp_path / "files" / "products.csv",
        "sku,title,categories\np1,Kettle,Tea\np2,Mug,Tea\np3,Beans,Coffee\n",
    )
    return write(
        tmp_path / "spec" / "shop.yaml",
        "interactions: ../files/events.csv\nitems: ../files/products.csv\n"
        "columns: {user: customer, item: product, time: bought_at}\nitem_id_column: sku\n",
    )


def test_yaml_spec_renames_columns_and_resolves_paths_against_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_path = shop(tmp_path)
    monkeypatch.chdir(tmp_path / "files")  # relative paths must not depend on the working directory
    data = load_dataset(str(spec_path))
    assert data.name == "shop"  # the YAML file's stem unless ``name`` is given
    # ISO dates order each user's events: ann p1 (05-01) < p3 (05-02) < p2 (05-03)
    assert sequences(data) == {"bob": ["p1", "p3"], "ann": ["p1", "p3", "p2"]}
    assert data.catalogue.item_ids == ("p1", "p2", "p3")  # the item table's order
    assert data.catalogue.title(1) == "Mug"
    assert data.catalogue.field_coverage()["categories"] == 1.0
    spec = read_data_spec(spec_path)
    assert spec.interactions == (tmp_path / "files" / "events.csv").resolve()


def test_bare_csv_uses_default_columns_and_file_order_without_a_time_column(tmp_path: Path) -> None:
    timed = write(tmp_path / "timed.csv", "user,item,timestamp\nu1,b,9\nu1,a,3\nu2,a,1\n")
    assert sequences(load_dataset(str(timed))) == {"u1": ["a", "b"], "u2": ["a"]}
    untimed = write(tmp_path / "untimed.csv", "user,item\nu1,b\nu1,a\nu2,a\n")
    data = load_dataset(str(untimed))
    assert sequences(data) == {"u1": ["b", "a"], "u2": ["a"]}
    assert data.name == "untimed"


def test_bare_parquet_and_tsv(tmp_path: Path) -> None:
    pd.DataFrame({"user": ["x", "x", "y"], "item": ["p", "q", "p"], "timestamp": [2, 1, 7]}).to_parquet(
        tmp_path / "i.parquet"
    )
    assert sequences(load_dataset(str(tmp_path / "i.parquet"))) == {"x": ["q", "p"], "y": ["p"]}
    tsv = write(tmp_path / "i.tsv", "user\titem\nx\tq\nx\tp\n")
    assert sequences(load_dataset(str(tsv))) == {"x": ["q", "p"]}


def test_time_column_named_in_the_spec_must_exist(tmp_path: Path) -> None:
    write(tmp_path / "i.csv", "user,item\nu1,a\n")
    spec = write(tmp_path / "s.yaml", "interactions: i.csv\ncolumns: {time: when}\n")
    with pytest.raises(DataError, match=r"i\.csv, field 'when': missing column 'when'"):
        load_dataset(str(spec))
    untimed = write(tmp_path / "u.yaml", "interactions: i.csv\ncolumns: {time: null}\nname: mine\n")
    assert load_dataset(str(untimed)).name == "mine"


def test_python_api_spec_model(tmp_path: Path) -> None:
    inter = write(tmp_path / "i.csv", "who,what\nu1,a\nu1,b\n")
    spec = DataSpec.model_validate({"interactions": inter, "columns": {"user": "who", "item": "what"}})
    assert sequences(spec.load()) == {"u1": ["a", "b"]}
    with pytest.raises(ValidationError, match="frozen"):
        spec.name = "other"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "interactions: i.csv\ncolour: red\n",
            r"s\.yaml, field 'colour': unknown key; allowed keys: interactions",
        ),
        (
            "interactions: i.csv\ncolumns: {usr: who}\n",
            r"s\.yaml, field 'columns\.usr': unknown key; allowed keys: user",
        ),
        ("items: i.csv\n", r"s\.yaml, field 'interactions': required key is missing"),
        ("interactions: i.csv\ndrop_unknown_items: [1]\n", r"s\.yaml, field 'drop_unknown_items'"),
        ("interactions: i.csv\ncolumns: {user: ''}\n", r"s\.yaml, field 'columns\.user'"),
        ("interactions: missing.csv\n", r"s\.yaml, field 'interactions': file not found: .*missing\.csv"),
        ("interactions: i.csv\nitems: items.json\n", r"s\.yaml, field 'items': .*items\.json is not a \.csv"),
        ("interactions: [i.csv\n", r"s\.yaml, line 2: invalid YAML"),
        ("- i.csv\n", r"s\.yaml: expected a mapping with at least 'interactions: FILE'"),
    ],
)
def test_bad_spec_names_the_yaml_file_and_field(tmp_path: Path, text: str, pattern: str) -> None:
    write(tmp_path / "i.csv", "user,item\nu1,a\n")
    spec = write(tmp_path / "s.yaml", text)
    with pytest.raises(DataError, match=pattern):
        load_dataset(str(spec))


def test_errors_in_the_data_files_name_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "i.csv", "user,item,timestamp\nu1,a,2024-01-01\nu1,zz,2024-01-02\n")
    write(tmp_path / "items.csv", "item,title\na,Alpha\n")
    spec = write(tmp_path / "s.yaml", "interactions: i.csv\nitems: items.csv\n")
    with pytest.raises(DataError, match=r"i\.csv, line 3, field 'item': item 'zz' is not in the item table"):
        load_dataset(str(spec))
    dropping = write(tmp_path / "d.yaml", "interactions: i.csv\nitems: items.csv\ndrop_unknown_items: true\n")
    assert load_dataset(str(dropping)).num_interactions == 1
    write(tmp_path / "t.csv", "user,item,timestamp\nu1,a,2024-01-01\nu1,a,soon\n")
    with pytest.raises(DataError, match=r"t\.csv, line 3, field 'timestamp': .*'soon' is not a number or"):
        load_dataset(str(tmp_path / "t.csv"))


def test_empty_id_in_the_item_table_names_its_line(tmp_path: Path) -> None:
    write(tmp_path / "i.csv", "user,item\nu1,a\n")
    write(tmp_path / "items.csv", "sku,title\na,Alpha\n,Nameless\n")
    spec = write(tmp_path / "s.yaml", "interactions: i.csv\nitems: items.csv\nitem_id_column: sku\n")
    with pytest.raises(DataError, match=r"items\.csv, line 3, field 'sku': empty item id"):
        load_dataset(str(spec))


def test_missing_spec_and_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.yaml: data spec not found"):
        load_dataset(str(tmp_path / "nope.yaml"))
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_dataset(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match=r"unknown dataset 'movielens'.*or give a data spec"):
        load_dataset("movielens")


def test_dataset_reference_makes_spec_paths_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert dataset_reference("ml-100k") == "ml-100k"
    assert dataset_reference("data/shop.yaml") == str(tmp_path.resolve() / "data" / "shop.yaml")
    assert is_data_spec("x.PARQUET") and not is_data_spec("office")


def test_public_loaders_accept_plain_string_paths(tmp_path: Path) -> None:
    # the README's call: load_tabular("interactions.csv", items="items.csv", ...) with str paths
    inter = write(tmp_path / "interactions.csv", "user_id,item_id,timestamp\nu1,a,1\nu1,b,2\n")
    items = write(tmp_path / "items.csv", "item_id,title\na,Alpha\nb,Beta\n")
    data = load_tabular(str(inter), items=str(items), user_col="user_id", item_col="item_id")
    assert sequences(data) == {"u1": ["a", "b"]} and data.catalogue.title(0) == "Alpha"
    write(tmp_path / "d.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t10\t2\n1\t11\t1\n")
    write(tmp_path / "d.item", "item_id:token\ttitle:token_seq\n10\tTen\n11\tEleven\n")
    atomic = load_recbole_atomic(str(tmp_path / "d.inter"), str(tmp_path / "d.item"))
    assert sequences(atomic) == {"1": ["11", "10"]}
