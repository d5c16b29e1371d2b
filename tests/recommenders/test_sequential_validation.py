"""The neural baselines' validation NDCG@10 is the evaluator's NDCG@10 (one definition of the metric)."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.data import LeaveOneOutSplit
from genrec.evaluation.evaluator import evaluate
from genrec.evaluation.metrics import target_ranks
from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender


@pytest.fixture(scope="module")
def sasrec(tiny_split: LeaveOneOutSplit) -> SASRecRecommender:
    cfg = SASRecConfig(hidden_size=16, max_len=8, epochs=3, batch_size=16, num_threads=1, eval_batch_size=7)
    rec = SASRecRecommender(cfg)
    rec.fit(tiny_split.train_data(), tiny_split.valid_set())
    return rec


def test_validation_ndcg_equals_the_evaluators(
    sasrec: SASRecRecommender, tiny_split: LeaveOneOutSplit
) -> None:
    valid = tiny_split.valid_set()
    expected = evaluate(sasrec, valid, k_max=sasrec.num_items).metrics["ndcg@10"]
    assert sasrec.validation_ndcg(valid) == pytest.approx(expected, rel=1e-12)
    assert sasrec.training_log["history"][-1]["valid_ndcg@10"] == pytest.approx(expected, rel=1e-12)


def test_exact_ranks_match_full_top_k_lists(sasrec: SASRecRecommender, tiny_split: LeaveOneOutSplit) -> None:
    valid = tiny_split.valid_set()
    items = sasrec.recommend(valid.histories, sasrec.num_items).items  # (users, items), history excluded
    exact = sasrec.exact_target_ranks(valid.histories, valid.targets)
    np.testing.assert_array_equal(exact, target_ranks(items, valid.targets))
    # a target inside its own history is excluded from ranking, so it has no rank
    histories = [[*h, int(t)] for h, t in zip(valid.histories, valid.targets, strict=True)]
    assert sasrec.exact_target_ranks(histories, valid.targets).tolist() == [0] * len(valid)
