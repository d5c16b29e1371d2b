"""Behaviour specific to the title, prebuilt and collaborative tokenizers, the registry and the stats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tokenizer_fixtures import make_catalogue, make_sequences

from genrec.data.catalogue import Catalogue
from genrec.errors import ConfigError, DataError
from genrec.tokenizers.collaborative import CollaborativeConfig, CollaborativeTokenizer, cooccurrence
from genrec.tokenizers.prebuilt import PrebuiltTokenizer
from genrec.tokenizers.quantiser import spread_last_level
from genrec.tokenizers.registry import build_tokenizer, load_tokenizer
from genrec.tokenizers.stats import collision_rate, identifier_stats
from genrec.tokenizers.title import TitleTokenizer


def test_duplicate_titles_are_disambiguated_in_index_order() -> None:
    records = {
        "x": {"title": "Pen"},
        "y": {"title": " Pen  "},
        "z": {"title": "Pen (2)"},
        "w": {"title": "Pen"},
        "v": {"title": ""},
    }
    cat = Catalogue.from_records(list(records), records)
    tok = TitleTokenizer()
    tok.fit(cat, [], seed=0)
    assert [tok.encode(i)[0] for i in range(5)] == ["Pen", "Pen (2)", "Pen (2) (2)", "Pen (3)", "item v"]
    assert tok.decode(["  Pen   (3) "]) == 3


def test_prebuilt_adds_a_level_only_when_the_file_collides(tmp_path: Path) -> None:
    cat = make_catalogue(4)
    path = tmp_path / "X.index.json"
    path.write_text(json.dumps({f"p{i}": ["<a_1>", f"<b_{i // 2}>"] for i in range(4)}))
    tok = PrebuiltTokenizer(path)
    tok.fit(cat, [], seed=0)
    assert [tok.encode(i) for i in range(4)] == [
        ("<a_1>", "<b_0>", "<c_0>"),
        ("<a_1>", "<b_0>", "<c_1>"),
        ("<a_1>", "<b_1>", "<c_0>"),
        ("<a_1>", "<b_1>", "<c_1>"),
    ]
    path.write_text(json.dumps({f"p{i}": ["<a_1>", f"<b_{i}>"] for i in range(4)}))
    tok.fit(cat, [], seed=0)
    assert tok.encode(2) == ("<a_1>", "<b_2>")


def test_prebuilt_colliding_level_extends_only_items_that_share_a_code(tmp_path: Path) -> None:
    path = tmp_path / "X.index.json"
    codes = {
        "p0": ["<a_1>", "<b_0>"],
        "p1": ["<a_1>", "<b_1>"],
        "p2": ["<a_1>", "<b_0>"],
        "p3": ["<a_2>", "<b_0>"],
    }
    path.write_text(json.dumps(codes))
    tok = build_tokenizer("prebuilt", {"path": str(path), "collision_level": "colliding"})
    tok.fit(make_catalogue(4), [], seed=0)
    assert [tok.encode(i) for i in range(4)] == [
        ("<a_1>", "<b_0>", "<c_0>"),
        ("<a_1>", "<b_1>"),
        ("<a_1>", "<b_0>", "<c_1>"),
        ("<a_2>", "<b_0>"),
    ]
    assert tok.decode(("<a_1>", "<b_0>")) is None  # a shared code alone names no item
    assert tok.vocabulary() == ["<a_1>", "<b_0>", "<c_0>", "<b_1>", "<c_1>", "<a_2>"]
    tok.save(tmp_path / "saved")
    again = load_tokenizer(tmp_path / "saved")
    assert [again.encode(i) for i in range(4)] == [tok.encode(i) for i in range(4)]

    # catalogue updates: a new item of a shared code continues its numbering; new items sharing a new
    # code are both extended; an item with a code of its own keeps it
    codes |= {
        "p4": ["<a_1>", "<b_0>"],
        "p5": ["<a_3>", "<b_3>"],
        "p6": ["<a_3>", "<b_3>"],
        "p7": ["<a_4>", "<b_4>"],
    }
    path.write_text(json.dumps(codes))
    for target in (tok, again):
        assert target.add_items(make_catalogue(8)) == [4, 5, 6, 7]
        assert [target.encode(i) for i in range(4, 8)] == [
            ("<a_1>", "<b_0>", "<c_2>"),
            ("<a_3>", "<b_3>", "<c_0>"),
            ("<a_3>", "<b_3>", "<c_1>"),
            ("<a_4>", "<b_4>"),
        ]


def test_prebuilt_colliding_level_refuses_an_update_that_would_grow_a_known_identifier(
    tmp_path: Path,
) -> None:
    path = tmp_path / "X.index.json"
    path.write_text(json.dumps({"p0": ["<a_1>", "<b_0>"], "p1": ["<a_1>", "<b_1>"]}))
    tok = PrebuiltTokenizer(path, collision_level="colliding")
    tok.fit(make_catalogue(2), [], seed=0)
    path.write_text(
        json.dumps({"p0": ["<a_1>", "<b_0>"], "p1": ["<a_1>", "<b_1>"], "p2": ["<a_1>", "<b_1>"]})
    )
    with pytest.raises(DataError, match=r"'p2' shares its code .* with item 'p1'") as err:
        tok.add_items(make_catalogue(3))
    assert str(path) in str(err.value)
    assert len(tok) == 2  # nothing half-added


def test_prebuilt_rejects_an_unknown_collision_level(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="collision_level must be one of"):
        build_tokenizer("prebuilt", {"path": str(tmp_path / "X.index.json"), "collision_level": "some"})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"p0": ["<a_1>"]}, "have no identifier"),
        ({"p0": "<a_1>", "p1": ["<a_2>"]}, "list of token strings"),
        ({"p0": ["<a_1>"], "p1": ["<a_1>", "<b_1>"]}, "levels"),
    ],
)
def test_prebuilt_bad_files_name_the_problem(tmp_path: Path, payload: object, message: str) -> None:
    path = tmp_path / "bad.index.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(DataError, match=message) as err:
        PrebuiltTokenizer(path).fit(make_catalogue(2), [], seed=0)
    assert str(path) in str(err.value)


def test_cooccurrence_counts_sequences_sharing_items() -> None:
    graph = cooccurrence(4, [[0, 1, 1], [1, 0, 2], [3]]).toarray()
    assert graph[0, 1] == graph[1, 0] == 2
    assert graph[0, 2] == graph[1, 2] == 1
    assert graph[3].sum() == 0 and np.all(np.diag(graph) == 0)


def test_collaborative_clusters_follow_cooccurrence_and_cold_items_get_their_own_branch() -> None:
    cat = make_catalogue(40)
    tok = CollaborativeTokenizer(CollaborativeConfig(levels=1, branching=4))
    tok.fit(cat, make_sequences(40), seed=0)  # users browse four blocks of ten items
    first = [tok.encode(i)[0] for i in range(40)]
    blocks = [set(first[b * 10 : (b + 1) * 10]) for b in range(4)]
    assert all(len(b) == 1 for b in blocks)
    assert len(set.union(*blocks)) == 4
    grown = cat.with_items(["new"])
    tok.add_items(grown)
    assert tok.encode(40)[0] == "<a_4>"


def test_spread_last_level_separates_collisions_by_next_nearest_code() -> None:
    codes = np.array([[0, 1], [0, 1], [1, 1]])
    distances = np.array([[0.0, 1.0, 5.0], [0.1, 0.2, 0.3], [0.0, 9.0, 9.0]])
    spread = spread_last_level(codes, distances)
    assert spread.tolist() == [[0, 0], [0, 1], [1, 1]]


def test_stats_report_collisions_utilisation_and_prefix_sharing() -> None:
    ids = [("<a_0>", "<b_0>", "<c_0>"), ("<a_0>", "<b_0>", "<c_1>"), ("<a_1>", "<b_0>", "<c_0>")]
    stats = identifier_stats(ids, prefix_levels=2, codebook_sizes=[4, 4])
    assert stats["collision_rate"] == pytest.approx(1 / 3)
    assert stats["max_items_per_prefix"] == 2
    assert stats["unique_rate"] == 1.0
    assert stats["levels"] == [
        {"level": 0, "codes_used": 2, "codebook_size": 4, "utilisation": 0.5},
        {"level": 1, "codes_used": 1, "codebook_size": 4, "utilisation": 0.25},
    ]
    assert collision_rate([]) == 0.0


def test_registry_rejects_unknown_names_and_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown tokenizer 'nope'"):
        build_tokenizer("nope")
    with pytest.raises(ConfigError, match="takes no options"):
        build_tokenizer("atomic", {"levels": 2})
    with pytest.raises(ConfigError, match="needs option 'path'"):
        build_tokenizer("prebuilt")
    with pytest.raises(ConfigError, match="bad options"):
        build_tokenizer("rqvae", {"layers": 3})
    with pytest.raises(ConfigError, match="codebook_size"):
        build_tokenizer("residual_kmeans", {"codebook_size": 0})
    assert build_tokenizer("semantic").name == "rqvae"
