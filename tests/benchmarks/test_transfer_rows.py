"""`benchmarks/transfer_rows.py` and `coldstart.py --transfer`: the moved model is scored on the target only."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from benchmark_scripts import load_script

from genrec.data import InteractionData
from genrec.data.catalogue import Catalogue
from genrec.recommenders.content import ContentConfig, ContentRecommender
from genrec.recommenders.registry import build_recommender
from genrec.recommenders.text_sasrec import TextSASRecConfig, TextSASRecRecommender
from recommenders.content_fixtures import fake_embed
from recommenders.tiny_data import make_tiny_data

TINY = {"hidden_size": 16, "max_len": 8, "epochs": 2, "batch_size": 16, "num_threads": 1, "adapter_hidden": 8}


def titled(name: str, num_items: int) -> InteractionData:
    data = make_tiny_data(num_users=30, num_items=num_items)
    ids = data.catalogue.item_ids
    catalogue = Catalogue.from_records(ids, {i: {"title": f"{name} thing {n}"} for n, i in enumerate(ids)})
    return InteractionData(name, catalogue, data.users, data.sequences)


@pytest.fixture
def rows(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_script("transfer_rows")
    sets = {"office": titled("office", 20), "scientific": titled("scientific", 26)}
    monkeypatch.setattr(module, "load_dataset", lambda name: sets[name])

    def build(name: str, options: dict[str, Any], seed: int) -> Any:
        if name == "sasrec-text":
            config = TextSASRecConfig(**{**TINY, "fusion": options["fusion"], "seed": seed})
            return TextSASRecRecommender(config, embed=fake_embed)
        if name == "content":
            return ContentRecommender(ContentConfig(history_items=3), embed=fake_embed)
        return build_recommender(name, options, seed=seed)

    monkeypatch.setattr(module, "build_recommender", build)
    return module


def test_transfer_scores_the_target_catalogue(rows: ModuleType, tmp_path: Path) -> None:
    run = rows.transfer_run("office", "scientific", 0, 1, tmp_path / "moved.parquet")
    assert set(run["valid"]) == set(run["test"]) == {"hr@10", "ndcg@10"}
    assert 0.0 <= run["test"]["ndcg@10"] <= run["test"]["hr@10"] <= 1.0
    assert (tmp_path / "moved.parquet").is_file() and run["per_user"] == "moved.parquet"
    assert run["source_valid_ndcg@10"] is not None, "early-stopped on the source's validation users"


def test_references_are_labelled_by_their_use_of_target_data(rows: ModuleType, tmp_path: Path) -> None:
    refs = rows.reference_runs("scientific", 1, tmp_path)
    assert {k: v["uses_target_data"] for k, v in refs.items()} == {"content": False, "popularity": True}
    assert (tmp_path / "scientific-popularity.parquet").is_file()


def test_transfer_tables_render(tmp_path: Path) -> None:
    report = load_script("coldstart_report")
    ref = {"uses_target_data": True, "valid": {"ndcg@10": 0.01}, "test": {"hr@10": 0.02, "ndcg@10": 0.01}}
    run = {"seed": 0, "valid": {"hr@10": 0.2, "ndcg@10": 0.1}, "test": {"hr@10": 0.3, "ndcg@10": 0.15}}
    text = "\n".join(
        report.transfer_markdown({"office:scientific": {"runs": [run], "references": {"popularity": ref}}})
    )
    assert "| office → scientific | sasrec-text (transferred) | no | 1 | 0.1000 | 0.3000 | 0.1500 |" in text
    assert "| office → scientific | popularity | yes | - | 0.0100 | 0.0200 | 0.0100 |" in text


def test_pairs_merge_per_seed_into_the_coldstart_results(rows: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="office:office"):
        rows.run_pairs(["office:office"], [0], 1, tmp_path, "cmd")
    rows.run_pairs(["office:scientific"], [1, 0], 1, tmp_path, "cmd")
    rows.run_pairs(["office:scientific"], [1], 1, tmp_path, "cmd again")  # a seed run again replaces itself
    saved = rows.load_results(tmp_path / "coldstart.json")
    block = saved["transfer"]["office:scientific"]
    assert [r["seed"] for r in block["runs"]] == [0, 1] and set(block["references"]) == {
        "content",
        "popularity",
    }
    assert saved["commands"] == ["cmd", "cmd again"]
    assert (tmp_path / "coldstart/transfer/office-to-scientific-seed0.parquet").is_file()
    assert "office → scientific" in (tmp_path / "coldstart.md").read_text()
