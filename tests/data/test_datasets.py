"""The real datasets load with exactly the published sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genrec.data import load_dataset
from genrec.errors import DataError

EXPECTED = {
    "office": (4_905, 2_420, 53_258),
    "scientific": (8_317, 4_344, 58_492),
    "beauty": (22_363, 12_101, 198_502),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_amazon_sizes(name: str) -> None:
    data = load_dataset(name)
    assert (data.num_users, data.num_items, data.num_interactions) == EXPECTED[name]


@pytest.mark.shared_data
def test_beauty_has_ids_only_but_loads() -> None:
    data = load_dataset("beauty")
    assert data.catalogue.field_coverage()["title"] == 0.0
    assert data.catalogue.title(0).startswith("item ")


def test_movielens_100k() -> None:
    data = load_dataset("ml-100k")
    assert (data.num_users, data.num_items, data.num_interactions) == (943, 1_682, 100_000)
    cat = data.catalogue
    toy_story = cat.index_of("1")
    assert cat.title(toy_story) == "Toy Story (1995)"
    assert "Animation" in cat.text(toy_story, "categories")


def test_unknown_dataset_name() -> None:
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        load_dataset("nope")


@pytest.mark.parametrize("as_type", [str, lambda p: p], ids=["str", "Path"])
def test_data_dir_as_str_or_path_names_the_missing_file(tmp_path: Path, as_type: Any) -> None:
    # A plain string is as good as a Path; an empty folder is a DataError naming the file it looked for.
    with pytest.raises(DataError, match=r"Office\.inter\.json"):
        load_dataset("office", as_type(tmp_path))
