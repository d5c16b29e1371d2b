"""`benchmarks/zero_shot_rows.py`: the 20-candidate lists, pessimistic ties, the random reference, the rows."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from benchmark_scripts import load_script

from genrec.data import LeaveOneOutSplit, leave_one_out
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.popularity import PopularityRecommender
from recommenders.tiny_data import make_tiny_data
from recommenders.zero_shot_fixtures import make_zero_shot_lm


@pytest.fixture
def script() -> ModuleType:
    return load_script("zero_shot_rows")


@pytest.fixture(scope="module")
def split() -> LeaveOneOutSplit:
    return leave_one_out(make_tiny_data(num_users=48, num_items=40))


def test_candidate_lists_hold_the_target_once_and_no_history(
    script: ModuleType, split: LeaveOneOutSplit
) -> None:
    sample, grid, position = script.candidate_lists(split, 30, seed=4)
    assert len(sample) == 30 and grid.shape == (30, 20) and position.shape == (30,)
    for row, (history, target) in enumerate(zip(sample.histories, sample.targets, strict=True)):
        items = grid[row].tolist()
        assert len(set(items)) == 20, "20 distinct items"
        assert items.count(int(target)) == 1 and items[position[row]] == target
        assert not set(items) & (set(history) - {int(target)}), "no history item besides the target"
        assert all(0 <= i < split.num_items for i in items)
    again = script.candidate_lists(split, 30, seed=4)
    np.testing.assert_array_equal(again[1], grid)
    np.testing.assert_array_equal(again[2], position)
    other = script.candidate_lists(split, 30, seed=5)
    assert not np.array_equal(other[1], grid)
    assert len(set(position.tolist())) > 1, "the target's position is shuffled"


def test_random_reference_is_the_analytic_expectation(script: ModuleType) -> None:
    expected = script.expected_random_metrics(20)
    assert expected["ndcg@10"] == pytest.approx(sum(1 / math.log2(r + 1) for r in range(1, 11)) / 20)
    assert expected["ndcg@10"] == pytest.approx(0.2272, abs=1e-4)
    assert (expected["hr@1"], expected["hr@5"], expected["hr@10"]) == pytest.approx((0.05, 0.25, 0.5))


def test_ties_rank_the_target_below_every_tied_candidate(script: ModuleType) -> None:
    scores = np.array([[1.0, 2.0, 2.0, 0.5], [3.0, 3.0, 3.0, 3.0], [0.0, 1.0, 5.0, 1.0]])
    ranks = script.pessimistic_ranks(scores, np.array([1, 0, 2]))
    assert ranks.tolist() == [2, 4, 1]


def test_candidate_rows_from_given_scores(script: ModuleType, split: LeaveOneOutSplit) -> None:
    sample, grid, position = script.candidate_lists(split, 20, seed=0)
    perfect = np.zeros(grid.shape)
    perfect[np.arange(len(grid)), position] = 1.0
    rows = script.candidate_protocol_row(perfect, split, sample, grid, position, seed=0)
    assert rows["zero-shot-lm"]["ndcg@10"] == 1.0 and rows["zero-shot-lm"]["hr@1"] == 1.0
    flat = script.candidate_protocol_row(np.zeros(grid.shape), split, sample, grid, position, seed=0)
    assert flat["zero-shot-lm"]["hr@10"] == 0.0, "all tied: the target ranks 20th"
    assert set(rows) == {"zero-shot-lm", "popularity", "random-expected", "random-draw"}
    assert 0.0 <= rows["random-draw"]["ndcg@10"] <= 1.0


def test_lm_rows_under_both_protocols(script: ModuleType, split: LeaveOneOutSplit, tmp_path: Path) -> None:
    lm = str(make_zero_shot_lm(tmp_path / "lm"))
    sample, grid, position = script.candidate_lists(split, 6, seed=0)
    rec, _ = script.fitted_zero_shot(split, lm=lm, examples=1, seed=0, threads=1)
    rows = script.candidate_protocol_row(rec, split, sample, grid, position, seed=0)
    scores = rec.score_candidates(sample.histories, grid)
    direct = script.candidate_metrics(script.pessimistic_ranks(scores, position))
    assert {k: rows["zero-shot-lm"][k] for k in direct} == direct
    assert rows["zero-shot-lm"]["ms_per_user"] > 0
    full = script.full_ranking_row(split, sample, lm=lm, threads=1, seed=0, examples=(0, 1))
    assert set(full) == {"zero-shot-lm (in-context 0)", "zero-shot-lm (in-context 1)", "popularity"}
    for row in full.values():
        assert row["users"] == 6 and 0.0 <= row["ndcg@10"] <= row["hr@10"] <= 1.0 and row["ms_per_user"] > 0
    popularity = PopularityRecommender()
    popularity.fit(split.train_data())
    alone = evaluate(popularity, sample, k_max=20).metrics
    assert full["popularity"]["ndcg@10"] == pytest.approx(alone["ndcg@10"]), "the same sampled users"
