"""The HTTP API: happy paths, business rules, every bad-input case, explain, health, metrics, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from genrec.serving.app import create_app
from genrec.serving.batching import BatchingConfig
from genrec.serving.service import RecommendService
from tiny_train import tiny_train_values


@pytest.fixture(scope="module")
def client(popularity_run: Path) -> Iterator[TestClient]:
    app = create_app(
        RecommendService.from_run(popularity_run), BatchingConfig(max_wait_ms=1.0), max_body_bytes=4096
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def ids(resp_json: dict) -> list[str]:
    return [it["id"] for it in resp_json["items"]]


def test_recommend_by_id_and_title_excludes_history(client: TestClient) -> None:
    r = client.post("/v1/recommend", json={"history": ["i0", "Item Bravo 1"], "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert ids(body) == ["i2", "i3", "i4"]  # popularity decreases with the index; i0, i1 excluded
    assert [it["rank"] for it in body["items"]] == [1, 2, 3]
    assert body["items"][0]["title"] == "Item Charlie 2"
    assert body["items"][0]["score"] > body["items"][2]["score"]
    assert body["fallback"] is None and body["model"] == "popularity"


def test_numeric_ids_and_exclude_history_false(client: TestClient) -> None:
    r = client.post("/v1/recommend", json={"history": ["i0"], "k": 2, "exclude_history": False})
    assert ids(r.json()) == ["i0", "i1"]


def test_exclude_items_still_returns_k(client: TestClient) -> None:
    r = client.post(
        "/v1/recommend", json={"history": ["i0"], "k": 4, "exclude_items": ["i1", "i2", "i3", "i4"]}
    )
    assert r.status_code == 200
    assert ids(r.json()) == ["i5", "i6", "i7", "i8"]


def test_include_categories_filters_inside_ranking(client: TestClient) -> None:
    # "Pens" is carried by j % 4 in {0, 2} ("Pens" and "Ink, Pens"); case-insensitive.
    r = client.post("/v1/recommend", json={"history": ["i0"], "k": 4, "include_categories": ["pens"]})
    assert ids(r.json()) == ["i2", "i4", "i6", "i8"]
    r = client.post("/v1/recommend", json={"history": [], "k": 5, "include_categories": ["Desks"]})
    assert ids(r.json()) == ["i3", "i7", "i11"]  # only 3 desks exist: fewer than k, never other items


def test_empty_history_is_flagged_popular(client: TestClient) -> None:
    r = client.post("/v1/recommend", json={"history": [], "k": 2})
    assert r.status_code == 200
    assert r.json()["fallback"] == "popular"
    assert ids(r.json()) == ["i0", "i1"]
    assert client.post("/v1/recommend", json={}).json()["fallback"] == "popular"


def test_unknown_items_are_422_naming_them(client: TestClient) -> None:
    r = client.post("/v1/recommend", json={"history": ["i0", "nope", "Item Zulu"], "k": 3})
    assert r.status_code == 422
    assert r.json()["unknown"] == ["nope", "Item Zulu"] and r.json()["field"] == "history"
    assert "nope" in r.json()["detail"]
    r = client.post("/v1/recommend", json={"history": ["i0"], "exclude_items": ["ghost"]})
    assert r.status_code == 422 and r.json()["field"] == "exclude_items" and r.json()["unknown"] == ["ghost"]
    r = client.post("/v1/recommend", json={"history": ["i0"], "include_categories": ["Chairs"]})
    assert r.status_code == 422 and r.json()["unknown"] == ["Chairs"]


@pytest.mark.parametrize(
    "payload",
    [
        {"history": ["i0"], "k": 0},
        {"history": ["i0"], "k": 101},
        {"history": ["i0"], "k": "ten"},
        {"history": "i0"},
        {"history": [None]},
        {"history": [""]},
        {"history": ["i0"], "unexpected": 1},
        {"history": ["i0"], "exclude_history": "maybe"},
        [1, 2, 3],
    ],
)
def test_invalid_fields_are_422(client: TestClient, payload: object) -> None:
    r = client.post("/v1/recommend", json=payload)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("body", [b"{not json", b"", b'{"history": ["i0"],}', b"\xff\xfe"])
def test_malformed_json_is_4xx_not_500(client: TestClient, body: bytes) -> None:
    r = client.post("/v1/recommend", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), (r.status_code, r.text)


def test_oversized_body_is_413(client: TestClient) -> None:
    big = {"history": ["i0"] * 900}  # ~6.3 KB > the 4096-byte limit of this app
    r = client.post("/v1/recommend", json=big)
    assert r.status_code == 413
    assert "4096" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must still hold
        yield b'{"history": ['
        for _ in range(900):
            yield b'"i0",'
        yield b'"i0"]}'

    r = client.post("/v1/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_item_search(client: TestClient) -> None:
    r = client.get("/v1/items", params={"q": "charlie"})
    assert r.status_code == 200
    assert [it["id"] for it in r.json()["items"]] == ["i2", "i8"]
    assert r.json()["items"][0]["title"] == "Item Charlie 2"
    assert [it["id"] for it in client.get("/v1/items", params={"q": "i11"}).json()["items"]] == ["i11"]
    assert client.get("/v1/items", params={"q": "item", "limit": 3}).json()["items"].__len__() == 3
    assert client.get("/v1/items", params={"q": "zzz"}).json()["items"] == []
    assert client.get("/v1/items").status_code == 422
    assert client.get("/v1/items", params={"q": "a", "limit": 0}).status_code == 422


def test_explain_without_language_head_is_501(client: TestClient) -> None:
    r = client.post("/v1/explain", json={"history": ["i0"], "item": "i1"})
    assert r.status_code == 501
    assert "language head" in r.json()["detail"]


def test_explain_with_language_head(popularity_run: Path) -> None:
    service = RecommendService.from_run(popularity_run)

    class Talking:  # wraps the model and adds an explain() method
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def explain(self, history: list[int], item: int) -> str:
            return f"because you liked {len(history)} items, try {item}"

    service.recommender = Talking(service.recommender)  # type: ignore[assignment]
    with TestClient(create_app(service)) as c:
        r = c.post("/v1/explain", json={"history": ["i0", "i3"], "item": "Item Echo 4"})
        assert r.status_code == 200
        assert r.json() == {
            "item": {"id": "i4", "title": "Item Echo 4", "categories": "Pens"},
            "reason": "because you liked 2 items, try 4",
            "generated": True,
            "grounded": False,
            "mentions": [],
            "names_unknown_item": False,
        }
        bad = c.post("/v1/explain", json={"history": ["x"], "item": "i4"})
        assert bad.status_code == 422 and bad.json()["unknown"] == ["x"]


def test_health_metrics_openapi_and_page(client: TestClient) -> None:
    h = client.get("/health").json()
    assert h == {"status": "ok", "model": "popularity", "items": 12, "batching": True}
    client.post("/v1/recommend", json={"history": ["i0"], "k": 1})
    m = client.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    text = m.text
    assert 'genrec_requests_total{endpoint="/v1/recommend",status="200"}' in text
    assert 'genrec_requests_total{endpoint="/v1/recommend",status="422"}' in text
    assert 'genrec_request_latency_seconds_bucket{endpoint="/v1/recommend",le="+Inf"}' in text
    assert "# TYPE genrec_batch_size histogram" in text and "genrec_batch_size_count" in text
    schema = client.get("/openapi.json").json()
    assert {"/v1/recommend", "/v1/items", "/v1/explain", "/health", "/metrics"} <= set(schema["paths"])
    props = schema["components"]["schemas"]["RecommendRequest"]["properties"]
    assert props["k"]["maximum"] == 100 and props["k"]["minimum"] == 1
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/nope").status_code == 404


def test_sasrec_run_ranks_with_rules(sasrec_run: Path) -> None:
    service = RecommendService.from_run(sasrec_run)
    with TestClient(create_app(service, BatchingConfig(enabled=False))) as c:
        free = c.post("/v1/recommend", json={"history": ["i1", "i2", "i3"], "k": 5}).json()
        assert len(free["items"]) == 5 and free["fallback"] is None
        top = [it["id"] for it in free["items"]]
        ruled = c.post(
            "/v1/recommend", json={"history": ["i1", "i2", "i3"], "k": 5, "exclude_items": top[:2]}
        ).json()
        assert [it["id"] for it in ruled["items"]][:3] == top[2:]
        assert not set(top[:2]) & {it["id"] for it in ruled["items"]}
        empty = c.post("/v1/recommend", json={"history": [], "k": 3}).json()
        assert empty["fallback"] == "popular"


def test_generative_run_applies_rules_inside_decoding(tmp_path: Path) -> None:
    """A trained generative run serves as is; exclusions and category filters still give K items."""
    from genrec.workflows.train import train_command

    tiny = tiny_train_values("ml-100k", eval_users=20, num_beams=12)
    train_command("office-atomic-compact", tmp_path / "run", seed=0, overrides=tiny, test=False)
    service = RecommendService.from_run(tmp_path / "run" / "model")
    history = ["1", "2", "Star Wars (1977)"]
    with TestClient(create_app(service, BatchingConfig(enabled=False))) as c:
        free = c.post("/v1/recommend", json={"history": history, "k": 5})
        assert free.status_code == 200, free.text
        top = [it["id"] for it in free.json()["items"]]
        assert len(set(top)) == 5 and not set(top) & {"1", "2", "50"}
        ruled = c.post("/v1/recommend", json={"history": history, "k": 5, "exclude_items": top[:2]}).json()
        assert len(ruled["items"]) == 5 and not set(top[:2]) & set(ids(ruled))
        horror = c.post("/v1/recommend", json={"history": history, "k": 5, "include_categories": ["Horror"]})
        assert horror.status_code == 200, horror.text
        horror_ids = ids(horror.json())
        assert len(horror_ids) == 5
        for item in horror_ids:
            assert "horror" in service.catalogue.text(service.catalogue.index_of(item), "categories").lower()
        # a compact backbone has no language head: explain is a clear 501, not a crash
        r = c.post("/v1/explain", json={"history": history, "item": "3"})
        assert r.status_code == 501 and "language head" in r.json()["detail"]
