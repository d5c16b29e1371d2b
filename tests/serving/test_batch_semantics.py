"""Per-request semantics in every micro-batch: a batched answer equals the same request served alone.

k, exclusions, category filters, the popularity fallback and errors belong to one request; nothing a
batch-mate asks for (a k of 100, exclusions covering the whole catalogue, a failing history) may change
another request's answer. Scores may differ by float noise (batched matmuls), never items or order.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from genrec.recommenders.base import Recommendations, Recommender
from genrec.serving.app import create_app
from genrec.serving.batching import BatchingConfig, MicroBatcher
from genrec.serving.metrics import ServerMetrics
from genrec.serving.service import Query, Ranked, RecommendService
from tiny_train import tiny_train_values

TINY_GENERATIVE = tiny_train_values("ml-100k", eval_users=20, max_steps=20, num_beams=12)


@pytest.fixture(scope="module")
def generative_service(tmp_path_factory: pytest.TempPathFactory) -> RecommendService:
    """A tiny semantic-ID generative model on ml-100k (multi-token identifiers, so beams really branch)."""
    from genrec.workflows.train import train_command

    out = tmp_path_factory.mktemp("gen_run")
    train_command("ml100k-semantic-compact", out, seed=0, overrides=TINY_GENERATIVE, test=False)
    return RecommendService.from_run(out / "model")


def covering_request(service: RecommendService) -> Query:
    """The issue's case: history plus exclude_items cover the whole catalogue, so nothing is left."""
    n = len(service.catalogue)
    history = tuple(range(n - n // 3))
    return Query(history, 10, True, tuple(range(n - n // 3, n)))


def random_queries(service: RecommendService, count: int, seed: int) -> list[Query]:
    """Mixed requests: k from 1 to 40, with and without exclusions, filters and history exclusion."""
    rng = random.Random(seed)
    n = len(service.catalogue)
    categories = sorted(service._known_categories)
    queries = []
    for _ in range(count):
        history = tuple(rng.sample(range(n), rng.randint(0, min(25, n // 2))))
        excluded = tuple(rng.sample(range(n), min(n // 2, rng.choice([0, 0, 5, 60]))))
        include = tuple(rng.sample(categories, 1)) if categories and rng.random() < 0.2 else ()
        k = rng.choice([1, 5, 10, 10, 40])
        queries.append(Query(history, k, rng.random() < 0.85, excluded, include))
    return queries


def assert_same(alone: Ranked, batched: Ranked) -> None:
    assert batched.items == alone.items
    assert batched.fallback == alone.fallback
    np.testing.assert_allclose(batched.scores, alone.scores, rtol=0, atol=1e-5)


def check_batched_equals_alone(service: RecommendService, queries: Sequence[Query]) -> None:
    alone = [service.recommend_batch([q])[0] for q in queries]
    for a, b in zip(alone, service.recommend_batch(queries), strict=True):
        assert_same(a, b)


def test_covering_request_does_not_empty_its_batch_mate(generative_service: RecommendService) -> None:
    service = generative_service
    ordinary = Query(service.resolve(["50", "181"]), 10)
    (alone,) = service.recommend_batch([ordinary])
    assert len(alone.items) == 10
    covering, batched = service.recommend_batch([covering_request(service), ordinary])
    assert covering.items == []
    assert_same(alone, batched)


def test_wide_request_does_not_widen_its_batch_mates(generative_service: RecommendService) -> None:
    service = generative_service
    ordinary = Query(service.resolve(["1", "2", "3"]), 5)
    (alone,) = service.recommend_batch([ordinary])
    wide = Query(service.resolve(["4"]), 100)
    _, batched = service.recommend_batch([wide, ordinary])
    assert_same(alone, batched)


def test_generative_mixed_batches_equal_unbatched(generative_service: RecommendService) -> None:
    queries = [*random_queries(generative_service, 40, seed=0), covering_request(generative_service)]
    check_batched_equals_alone(generative_service, queries)


@pytest.mark.parametrize("run", ["popularity_run", "sasrec_run"])
def test_score_models_mixed_batches_equal_unbatched(run: str, request: pytest.FixtureRequest) -> None:
    service = RecommendService.from_run(request.getfixturevalue(run))
    queries = random_queries(service, 40, seed=1)
    n = len(service.catalogue)
    queries.append(Query(tuple(range(n - 2)), 10, True, (n - 2, n - 1)))  # nothing left
    check_batched_equals_alone(service, queries)


def test_http_batch_with_the_issue_case(
    generative_service: RecommendService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTP with micro-batching on: both requests land in one batch; each gets its own answer."""
    service = generative_service
    n = len(service.catalogue)
    covering = {
        "history": [service.catalogue.id_of(i) for i in range(n - 1000)],
        "exclude_items": [service.catalogue.id_of(i) for i in range(n - 1000, n)],
        "k": 10,
    }
    ordinary = {"history": ["50", "181"], "k": 10}
    batch_sizes: list[int] = []
    rank = service.recommend_batch

    def recording(queries: Sequence[Query]) -> list[Ranked]:
        batch_sizes.append(len(queries))
        return rank(queries)

    monkeypatch.setattr(service, "recommend_batch", recording)
    app = create_app(service, BatchingConfig(enabled=True, max_batch_size=8, max_wait_ms=300.0))
    with TestClient(app) as client:
        expected = client.post("/v1/recommend", json=ordinary).json()["items"]
        assert len(expected) == 10
        answers: dict[str, dict[str, object]] = {}
        barrier = threading.Barrier(2)

        def send(name: str, body: dict[str, object]) -> None:
            barrier.wait()
            response = client.post("/v1/recommend", json=body)
            assert response.status_code == 200, response.text
            answers[name] = response.json()

        threads = [threading.Thread(target=send, args=a) for a in (("covering", covering), ("ord", ordinary))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert answers["covering"]["items"] == []
    got = answers["ord"]["items"]
    assert isinstance(got, list)
    assert [it["id"] for it in got] == [it["id"] for it in expected]
    assert batch_sizes == [1, 2]  # the warm-up request alone, then both in one micro-batch


class _FailsOnItem:
    """Wraps a recommender; raises for any history containing ``poison`` (a stand-in for a model bug)."""

    name = "fails-on-item"

    def __init__(self, inner: Recommender, poison: int) -> None:
        self.inner, self.poison = inner, poison

    def fit(self, *args: object, **kwargs: object) -> None:  # pragma: no cover - never trained
        raise NotImplementedError

    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, exclude_history: bool = True
    ) -> Recommendations:
        if any(self.poison in h for h in histories):
            raise RuntimeError("model failure on this history")
        return self.inner.recommend(histories, k, exclude_history=exclude_history)


def test_one_failing_request_never_fails_its_batch_mates(popularity_run: Path) -> None:
    service = RecommendService.from_run(popularity_run)
    service.recommender = _FailsOnItem(service.recommender, poison=3)  # type: ignore[assignment]
    good, bad = Query((1, 2), 3), Query((3,), 3)
    (expected,) = service.recommend_batch([good])
    batcher = MicroBatcher(service, BatchingConfig(max_batch_size=8, max_wait_ms=200.0), ServerMetrics())

    async def both() -> list[Ranked | BaseException]:
        await batcher.start()
        try:
            return await asyncio.gather(batcher.submit(good), batcher.submit(bad), return_exceptions=True)
        finally:
            await batcher.stop()

    ok, failed = asyncio.run(both())
    assert isinstance(ok, Ranked)
    assert_same(expected, ok)
    assert isinstance(failed, RuntimeError) and "model failure" in str(failed)


def test_explain_runs_on_the_model_worker_thread(popularity_run: Path) -> None:
    """Explanations share the single model thread with ranking, so they never run beside a batch."""
    service = RecommendService.from_run(popularity_run)
    seen: list[str] = []

    def explain(history: list[int], item: int) -> str:
        seen.append(threading.current_thread().name)
        return f"because of {len(history)} items"

    service.recommender.explain = explain  # type: ignore[attr-defined]
    with TestClient(create_app(service)) as client:
        response = client.post("/v1/explain", json={"history": ["i0"], "item": "i1"})
    assert response.status_code == 200, response.text
    assert response.json()["reason"] == "because of 1 items"
    assert seen and seen[0].startswith("genrec-model")
