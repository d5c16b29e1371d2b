from __future__ import annotations

from pathlib import Path

import pandas as pd

from genrec.data.loaders.recbole_atomic import load_recbole_atomic
from genrec.data.loaders.tabular import load_tabular


def test_csv_sequences_are_chronological_and_ties_keep_file_order(tmp_path: Path) -> None:
    (tmp_path / "i.csv").write_text(
        "user_id,item_id,timestamp\nu1,c,5\nu2,a,1\nu1,a,1\nu1,b,5\nu1,d,3\nu2,b,0\n"
    )
    (tmp_path / "items.csv").write_text("item_id,title,brand\na,Alpha,X\nb,Beta,\nc,Gamma,Y\nd,Delta,Z\n")
    data = load_tabular(tmp_path / "i.csv", tmp_path / "items.csv")
    ids = data.catalogue.item_ids
    seqs = {u: [ids[i] for i in s] for u, s in zip(data.users, data.sequences, strict=True)}
    # u1: a(1), d(3), then c and b tie at 5 and keep file order (c before b).
    assert seqs == {"u1": ["a", "d", "c", "b"], "u2": ["b", "a"]}
    assert data.catalogue.title(ids.index("b")) == "Beta"
    assert data.catalogue.field_coverage()["brand"] == 0.75


def test_parquet_with_custom_column_names(tmp_path: Path) -> None:
    frame = pd.DataFrame({"who": ["x", "x", "y"], "what": ["p", "q", "p"], "when": [2, 1, 7]})
    frame.to_parquet(tmp_path / "i.parquet")
    data = load_tabular(tmp_path / "i.parquet", user_col="who", item_col="what", time_col="when")
    ids = data.catalogue.item_ids
    assert [[ids[i] for i in s] for s in data.sequences] == [["q", "p"], ["p"]]


def test_recbole_atomic_files(tmp_path: Path) -> None:
    (tmp_path / "d.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t30\n1\t11\t3\t20\n2\t10\t4\t1\n"
    )
    (tmp_path / "d.item").write_text("item_id:token\ttitle:token_seq\n10\tTen\n11\tEleven\n12\tTwelve\n")
    data = load_recbole_atomic(tmp_path / "d.inter", tmp_path / "d.item")
    assert data.num_items == 3 and data.num_interactions == 3
    cat = data.catalogue
    assert [cat.id_of(i) for i in data.sequences[0]] == ["11", "10"]
    assert cat.title(cat.index_of("12")) == "Twelve"
