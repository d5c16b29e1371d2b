"""Run directories, business rules inside ranking, and the micro-batcher."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from genrec.errors import DataError, GenrecError
from genrec.recommenders.base import Recommendations
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.run_dir import load_run, recommender_class, save_run
from genrec.serving.batching import BatchingConfig, MicroBatcher
from genrec.serving.metrics import ServerMetrics
from genrec.serving.rules import recommend_with_rules
from genrec.serving.service import Query, RecommendService


def test_run_dir_round_trip(popularity_run: Path, make_catalogue: Callable) -> None:
    model, cat, info = load_run(popularity_run)
    assert isinstance(model, PopularityRecommender)
    assert cat == make_catalogue(12) and info.recommender == "popularity" and info.dataset == "tiny"
    assert info.has_fallback
    assert model.recommend([[0]], 2).items.tolist() == [[1, 2]]


def test_sasrec_run_round_trip(sasrec_run: Path) -> None:
    model, cat, info = load_run(sasrec_run)
    assert info.recommender == "sasrec" and len(cat) == 30
    recs = model.recommend([[1, 2, 3]], 5)
    assert recs.items.shape == (1, 5) and not {1, 2, 3} & set(recs.items[0].tolist())


def test_run_dir_errors(
    tmp_path: Path, popularity_run: Path, make_catalogue: Callable, make_train: Callable
) -> None:
    with pytest.raises(DataError, match=r"model\.json"):
        load_run(tmp_path)
    with pytest.raises(GenrecError, match="unknown recommender 'nope'"):
        recommender_class("nope")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text(
        json.dumps({"format": 1, "recommender": "popularity", "num_items": 12})
    )
    (broken / "popularity.json").write_text((popularity_run / "popularity.json").read_text())
    (broken / "catalogue.json").write_text(json.dumps({"item_ids": ["a", "b"], "fields": {}}))
    with pytest.raises(DataError, match=r"catalogue\.json has 2 items"):
        load_run(broken)
    (broken / "catalogue.json").write_text(json.dumps({"ids": []}))
    with pytest.raises(DataError, match="item_ids"):
        load_run(broken)
    (broken / "model.json").write_text(json.dumps({"format": 99, "recommender": "popularity"}))
    with pytest.raises(DataError, match="format"):
        load_run(broken)
    with pytest.raises(DataError, match="items"):
        save_run(
            PopularityRecommender(), make_catalogue(12), tmp_path / "x", train=make_train(make_catalogue(5))
        )


def brute_force(scores: np.ndarray, history: Sequence[int], banned: set[int], k: int) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [i for i in order if i not in set(history) | banned][:k]


def test_overfetch_is_exact_for_popularity(make_catalogue: Callable, make_train: Callable) -> None:
    model = PopularityRecommender()
    model.fit(make_train(make_catalogue(40)))
    assert model.counts is not None
    rng = np.random.default_rng(0)
    histories = [sorted(rng.choice(40, 3, replace=False).tolist()) for _ in range(6)]
    exclusions = [set(rng.choice(40, size, replace=False).tolist()) for size in (0, 1, 5, 20, 30, 37)]
    recs = recommend_with_rules(model, histories, 4, exclusions, True, 40)
    for row in range(6):
        want = brute_force(model.counts, histories[row], exclusions[row], 4)
        got = [i for i in recs.items[row].tolist() if i >= 0]
        assert got == want, row
    assert (recs.items[5] == -1).sum() >= 1  # 37 banned + 3 history of 40: fewer than 4 left


def test_dense_score_path_is_exact(sasrec_run: Path) -> None:
    model, _, _ = load_run(sasrec_run)
    histories = [[1, 2, 3], [7, 8]]
    scores = model.score(histories).numpy()  # type: ignore[attr-defined]
    exclusions = [set(range(10, 30)), {0, 4, 5}]
    recs = recommend_with_rules(model, histories, 5, exclusions, True, 30)
    for row in range(2):
        assert recs.items[row].tolist() == brute_force(scores[row], histories[row], exclusions[row], 5)


def test_native_exclusions_are_preferred() -> None:
    calls: list[list[list[int]]] = []

    class Native:
        name = "native"

        def recommend(
            self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
        ) -> Recommendations:
            raise AssertionError("recommend() must not be used when recommend_excluding() exists")

        def recommend_excluding(
            self,
            histories: Sequence[Sequence[int]],
            k: int,
            exclusions: Sequence[Sequence[int]],
            exclude_history: bool = True,
        ) -> Recommendations:
            calls.append([list(e) for e in exclusions])
            return Recommendations(np.zeros((len(histories), k), np.int64), np.zeros((len(histories), k)))

    recommend_with_rules(Native(), [[1]], 2, [{3, 2}], True, 10)  # type: ignore[arg-type]
    assert calls == [[[2, 3]]]


def _service(popularity_run: Path) -> RecommendService:
    return RecommendService.from_run(popularity_run)


@pytest.mark.parametrize("enabled", [True, False])
def test_micro_batcher_gathers_concurrent_requests(popularity_run: Path, enabled: bool) -> None:
    service = _service(popularity_run)
    metrics = ServerMetrics()
    batcher = MicroBatcher(
        service, BatchingConfig(enabled=enabled, max_batch_size=8, max_wait_ms=50), metrics
    )
    queries = [Query(history=(i,), k=2 + i % 3) for i in range(12)]

    async def main() -> list:
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(q) for q in queries))
        finally:
            await batcher.stop()

    results = asyncio.run(main())
    for q, r in zip(queries, results, strict=True):  # each caller gets its own answer
        assert r == service.recommend_batch([q])[0]
        assert len(r.items) == q.k and q.history[0] not in r.items
    batches = metrics._batches
    if enabled:
        assert batches.count == 2 and batches.total == 12  # 8 + 4: gathered, capped at max_batch_size
    else:
        assert batches.count == 12 and batches.total == 12


def test_batching_config_validates() -> None:
    with pytest.raises(GenrecError):
        BatchingConfig(max_batch_size=0)
    with pytest.raises(GenrecError):
        BatchingConfig(max_wait_ms=-1)


def test_mixed_batch_answers_each_row(popularity_run: Path) -> None:
    service = _service(popularity_run)
    out = service.recommend_batch(
        [
            Query(history=(), k=2),
            Query(history=(0,), k=3, exclude_history=False),
            Query(history=(0,), k=2, include_categories=("Desks",), exclude_items=(3,)),
        ]
    )
    assert out[0].items == [0, 1] and out[0].fallback == "popular"
    assert out[1].items == [0, 1, 2] and out[1].fallback is None
    assert out[2].items == [7, 11]
