"""`benchmarks/llm_direct.py`: a re-ranker row is measured beside its own retriever on the same users."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from benchmark_scripts import load_script

from genrec.data import leave_one_out
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.popularity import PopularityRecommender
from recommenders.reranker_fixtures import make_tiny_lm
from recommenders.tiny_data import make_tiny_data


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_script("llm_direct")
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(module, "PER_USER", tmp_path / "results" / "per_user")
    lm = make_tiny_lm(tmp_path / "lm")
    options = {"lm": str(lm), "retriever": "popularity", "retriever_options": {}, "fine_tune": "none"}
    monkeypatch.setitem(module.ROWS, "tiny-reranker", ("reranker", options))
    return module


def test_reranker_row_carries_its_retrievers_figures_and_the_paired_comparison(script: ModuleType) -> None:
    split = leave_one_out(make_tiny_data(num_users=48, num_items=40))
    run = script.run_one(split, "tiny-reranker", 0, 1, False, "tiny")
    popularity = PopularityRecommender()
    popularity.fit(split.train_data())
    alone = evaluate(popularity, split.test_set(), k_max=20).metrics
    assert run["retriever"]["test"]["all"]["ndcg@10"] == pytest.approx(alone["ndcg@10"])
    assert set(run["test"]) == {"all", "head-target", "tail-target"}
    reranked = pd.read_parquet(script.RESULTS / run["per_user"])
    retrieved = pd.read_parquet(script.RESULTS / run["retriever"]["per_user"])
    assert list(reranked["user"]) == list(retrieved["user"])
    moved = reranked["rank"] != retrieved["rank"]
    assert (retrieved.loc[moved, "rank"] <= 20).all(), "only retrieved targets can move"
    versus = script.against_retriever([run])
    assert versus["mean_a"] == pytest.approx(alone["ndcg@10"])
    assert versus["mean_b"] == pytest.approx(run["test"]["all"]["ndcg@10"])
    assert versus["verdict"] in {"beats", "level with", "loses to"}
    assert run["ms_per_user_added"] == pytest.approx(run["ms_per_user"] - run["retriever"]["ms_per_user"])


def test_screens_never_touch_test_users(script: ModuleType) -> None:
    split = leave_one_out(make_tiny_data(num_users=48, num_items=40))
    run = script.run_one(split, "tiny-reranker", 0, 1, True, "tiny")
    assert "test" not in run and "test" not in run["retriever"]
    assert not (script.RESULTS / "per_user").exists()


def test_zero_shot_rows_render_beside_their_references(script: ModuleType) -> None:
    metrics = {"ndcg@10": 0.3, "hr@1": 0.1, "hr@5": 0.4, "hr@10": 0.6}
    out = {
        "users": 5,
        "commit": "abcdef1",
        "command": "python benchmarks/llm_direct.py --zero-shot",
        "candidate_protocol": {
            "zero-shot-lm (in-context 0)": {**metrics, "ms_per_user": 12.0},
            "popularity": {**metrics, "ms_per_user": 0.1},
            "random-expected": {**metrics, "ms_per_user": None},
        },
        "full_ranking": {
            "zero-shot-lm (in-context 0)": {"hr@10": 0.2, "ndcg@10": 0.1, "ms_per_user": 900.0},
            "popularity": {"hr@10": 0.1, "ndcg@10": 0.05, "ms_per_user": 0.1},
        },
    }
    text = load_script("llm_direct_report").markdown(
        {"command": "x", "datasets": {}, "zero_shot": {"ml-100k": {"0": out}}}, False
    )
    assert "| random-expected | 0.3000 | 0.1000 | 0.4000 | 0.6000 | - |" in text
    assert "| popularity | 0.1000 | 0.0500 | 0.1 |" in text
