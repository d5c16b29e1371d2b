"""The evaluator on a scripted recommender whose lists are known in advance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genrec.data import EvalSet
from genrec.evaluation.compare import compare_runs, paired_comparison
from genrec.evaluation.evaluator import evaluate
from genrec.recommenders.base import Recommendations


class Scripted:
    """Returns fixed lists; records the exclude flag it was called with."""

    name = "scripted"
    num_items = 10

    def __init__(self, lists: list[list[int]]) -> None:
        self.lists = lists
        self.calls: list[bool] = []
        self.pos = 0

    def fit(self, train: object, valid: object = None) -> None: ...

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        self.calls.append(exclude_history)
        rows = self.lists[self.pos : self.pos + len(histories)]
        self.pos += len(histories)
        items = np.array([(r + [-1] * k)[:k] for r in rows], dtype=np.int64)
        return Recommendations(items, np.where(items >= 0, 1.0, -np.inf))

    def save(self, directory: Path) -> None: ...

    @classmethod
    def load(cls, directory: Path) -> Scripted:
        raise NotImplementedError


def _eval_set() -> EvalSet:
    return EvalSet(("a", "b", "c", "d"), [[0], [1], [2], [3]], np.array([5, 6, 7, 8]))


def test_metrics_of_known_lists() -> None:
    rec = Scripted([[5, 1], [2, 6], [1, 2], [8, 11]])
    res = evaluate(rec, _eval_set(), k_max=20, batch_size=3, item_counts=np.arange(10))
    m = res.metrics
    assert res.ranks.tolist() == [1, 2, 0, 1]
    assert m["hr@1"] == pytest.approx(0.5) and m["hr@10"] == pytest.approx(0.75)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3) + 0 + 1) / 4)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert m["validity"] == pytest.approx(7 / 80)  # 7 valid ids among 4 x 20 slots (11 is out of range)
    assert m["coverage@10"] == pytest.approx(5 / 10)  # items 1, 2, 5, 6, 8
    assert 0 < m["gini@10"] < 1 and m["users"] == 4 and m["ms_per_user"] >= 0
    assert rec.calls == [True, True]
    per_user = res.per_user()
    assert per_user["user"].tolist() == ["a", "b", "c", "d"]
    assert per_user["ndcg@10"].mean() == pytest.approx(m["ndcg@10"])


def test_exclude_flag_is_passed_through() -> None:
    rec = Scripted([[5]] * 4)
    evaluate(rec, _eval_set(), exclude_history=False)
    assert rec.calls == [False]


def test_paired_comparison_and_runs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a = rng.random(400)
    b = a + 0.05 + rng.normal(0, 0.01, 400)
    cmp = paired_comparison(a, b, "x", n_bootstrap=2000)
    assert cmp.ci_low > 0 and cmp.t_pvalue < 1e-6 and cmp.wilcoxon_pvalue < 1e-6
    same = paired_comparison(a, a.copy(), "x", n_bootstrap=500)
    assert same.mean_difference == 0 and same.t_pvalue == 1.0
    for name, values in (("ra", a), ("rb", b)):
        (tmp_path / name).mkdir()
        pd.DataFrame({"user": [str(i) for i in range(400)], "ndcg@10": values}).to_parquet(
            tmp_path / name / "per_user.parquet"
        )
    res = compare_runs(tmp_path / "ra", tmp_path / "rb", n_bootstrap=500)
    assert res.mean_difference == pytest.approx(float((b - a).mean()))
