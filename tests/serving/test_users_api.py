"""Users, events and the live catalogue over HTTP, on SQLite and PostgreSQL stores.

The tiny popularity run ranks items by index (i0 most popular), so every expected list below follows
from the stored history, exclusions and hidden items alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from genrec.errors import ConfigError
from genrec.serving.app import create_app
from genrec.serving.auth import check_bind, configured_api_key
from genrec.serving.batching import BatchingConfig
from genrec.serving.server import serve_command
from genrec.serving.service import RecommendService
from genrec.serving.store import Event, EventStore

KEY = "s3cret-key"


@contextmanager
def serving(run: Path, store_url: str, api_key: str | None = None) -> Iterator[TestClient]:
    """A fresh service of ``run`` on the store at ``store_url`` (as after a restart)."""
    store = EventStore(store_url)
    app = create_app(
        RecommendService.from_run(run), BatchingConfig(max_wait_ms=1.0), store=store, api_key=api_key
    )
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        store.close()


def ids(body: dict) -> list[str]:
    return [it["id"] for it in body["items"]]


def event(event_id: str, item: str, user: str = "alice", ts: str = "2024-01-01T00:00:00Z") -> dict:
    return {"event_id": event_id, "user": user, "item": item, "type": "view", "timestamp": ts}


def test_events_drive_history_and_recommendations(popularity_run: Path, store_url: str) -> None:
    with serving(popularity_run, store_url) as client:
        r = client.post("/v1/events", json=event("e1", "i1", ts="2024-01-02T00:00:00Z"))
        assert r.status_code == 200, r.text
        assert r.json() == {"received": 1, "new": 1, "duplicates": 0}
        batch = [event("e2", "Item Alpha 0", ts="2024-01-01T00:00:00Z"), event("e1", "i1"), event("e3", "i4")]
        r = client.post("/v1/events", json={"events": batch})
        assert r.json() == {"received": 3, "new": 2, "duplicates": 1}

        history = client.get("/v1/users/alice/history").json()
        # by timestamp: e2 (Jan 1) before e1 (Jan 2); e3 has the same Jan 1 stamp, received after e2
        assert [e["event_id"] for e in history["events"]] == ["e2", "e3", "e1"]
        assert history["events"][0]["item"] == {"id": "i0", "title": "Item Alpha 0", "categories": "Pens"}
        assert history["events"][0]["timestamp"].startswith("2024-01-01T00:00:00")
        assert (
            client.get("/v1/users/alice/history", params={"limit": 1}).json()["events"][0]["event_id"] == "e1"
        )

        r = client.get("/v1/users/alice/recommendations", params={"k": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert ids(body) == ["i2", "i3", "i5"]  # the stored i0, i1, i4 are excluded
        assert (body["user"], body["known_user"], body["history_length"]) == ("alice", True, 3)
        assert body["fallback"] is None
        same = client.post("/v1/recommend", json={"history": ["i0", "i4", "i1"], "k": 3}).json()
        assert ids(same) == ids(body)
        keep = client.get("/v1/users/alice/recommendations", params={"k": 2, "exclude_history": False})
        assert ids(keep.json()) == ["i0", "i1"]


def test_unknown_user_gets_the_flagged_popular_fallback(popularity_run: Path, store_url: str) -> None:
    with serving(popularity_run, store_url) as client:
        body = client.get("/v1/users/nobody/recommendations", params={"k": 2}).json()
        assert ids(body) == ["i0", "i1"]
        assert (body["fallback"], body["known_user"], body["history_length"]) == ("popular", False, 0)
        assert client.get("/v1/users/nobody/history").json() == {"user": "nobody", "events": []}


def test_bad_events_are_422_naming_the_item_or_field(popularity_run: Path, store_url: str) -> None:
    with serving(popularity_run, store_url) as client:
        r = client.post(
            "/v1/events", json={"events": [event("a", "i1"), event("b", "ghost"), event("c", "nope")]}
        )
        assert r.status_code == 422
        assert (r.json()["field"], r.json()["unknown"]) == ("item", ["ghost", "nope"])
        assert client.get("/v1/users/alice/history").json()["events"] == []  # nothing of it stored
        cases = [
            ({**event("a", "i1"), "usr": "bob"}, "usr"),
            ({"user": "alice", "item": "i1"}, "event_id"),
            ({**event("a", "i1"), "type": "no spaces allowed"}, "type"),
            ({**event("a", "i1"), "timestamp": "yesterday"}, "timestamp"),
            ({**event("a", "i1"), "user": ""}, "user"),
            ({"events": []}, "events"),
            ({"events": [event("a", "i1")], "extra": 1}, "extra"),
        ]
        for body, field in cases:
            r = client.post("/v1/events", json=body)
            assert r.status_code == 422, body
            assert field in r.text, (field, r.text)
        assert client.get("/v1/users/alice/recommendations", params={"k": 0}).status_code == 422
        assert client.get("/v1/users/alice/history", params={"limit": 5000}).status_code == 422
        assert client.get("/v1/users/" + "u" * 201 + "/history").status_code == 422


def test_stored_items_missing_from_the_run_are_409(popularity_run: Path, store_url: str) -> None:
    store = EventStore(store_url)  # written by a server of another run, say
    store.add_events([Event("x", "carol", "gone-item", "view", 1.0)])
    store.close()
    with serving(popularity_run, store_url) as client:
        r = client.get("/v1/users/carol/recommendations")
        assert r.status_code == 409 and "gone-item" in r.json()["detail"]


def test_writes_need_the_api_key_reads_stay_open(popularity_run: Path, store_url: str) -> None:
    with serving(popularity_run, store_url, api_key=KEY) as client:
        writes = [
            ("POST", "/v1/events", event("a", "i1")),
            ("PUT", "/v1/items/new1", {"title": "New"}),
            ("DELETE", "/v1/items/i1", None),
        ]
        for method, path, body in writes:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"X-API-Key": "wrong"},
                {"Authorization": KEY},
            ):
                r = client.request(method, path, json=body, headers=headers)
                assert r.status_code == 401, (method, path, headers)
                assert "API key" in r.json()["detail"]
        assert client.get("/v1/users/alice/history").json()["events"] == []  # no 401 write got through
        r = client.post("/v1/events", json=event("a", "i1"), headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200
        r = client.post("/v1/events", json=event("b", "i2"), headers={"X-API-Key": KEY})
        assert r.json()["new"] == 1
        assert client.get("/v1/users/alice/history").status_code == 200
        assert client.get("/v1/users/alice/recommendations").status_code == 200
        assert client.post("/v1/recommend", json={"history": ["i1"]}).status_code == 200


def test_put_and_delete_items_change_what_is_served(popularity_run: Path, store_url: str) -> None:
    with serving(popularity_run, store_url) as client:
        r = client.put(
            "/v1/items/pen-x", json={"title": "Pen X Deluxe", "categories": "Pens", "brand": "Acme"}
        )
        assert r.status_code == 201, r.text
        assert r.json() == {
            "item": {"id": "pen-x", "title": "Pen X Deluxe", "categories": "Pens"},
            "created": True,
            "hidden": False,
        }
        assert [it["id"] for it in client.get("/v1/items", params={"q": "deluxe"}).json()["items"]] == [
            "pen-x"
        ]
        assert client.post("/v1/events", json=event("e1", "pen-x")).json()["new"] == 1  # now a known item
        assert client.get("/health").json()["items"] == 13

        r = client.put("/v1/items/pen-x", json={"title": "Pen X"})
        assert (r.status_code, r.json()["created"], r.json()["item"]["title"]) == (200, False, "Pen X")

        r = client.delete("/v1/items/i0")
        assert (r.status_code, r.json()["hidden"]) == (200, True)
        assert ids(client.get("/v1/users/nobody/recommendations", params={"k": 2}).json()) == ["i1", "i2"]
        assert ids(client.post("/v1/recommend", json={"history": ["i5"], "k": 2}).json()) == ["i1", "i2"]
        r = client.put("/v1/items/i0", json={"title": "Item Alpha 0", "categories": "Pens"})
        assert r.status_code == 200  # an existing item: updated and un-hidden
        assert ids(client.post("/v1/recommend", json={"history": ["i5"], "k": 2}).json()) == ["i0", "i1"]

        assert client.delete("/v1/items/ghost").status_code == 404
        assert client.put("/v1/items/x", json={"categories": "Pens"}).status_code == 422  # no title
        assert client.put("/v1/items/x", json={"title": "T", "colour": "red"}).status_code == 422
        assert client.put("/v1/items/%20padded", json={"title": "T"}).status_code == 422
        assert (
            client.get("/v1/items", params={"q": "padded"}).json()["items"] == []
        )  # the failed PUT left nothing


def test_restart_keeps_events_and_catalogue_changes(popularity_run: Path, store_url: str) -> None:
    with serving(popularity_run, store_url) as client:
        client.post("/v1/events", json={"events": [event("e1", "i1"), event("e2", "i3")]})
        client.put("/v1/items/pen-x", json={"title": "Pen X Deluxe", "categories": "Pens"})
        client.put("/v1/items/pen-x", json={"title": "Pen X Mark II", "categories": "Pens"})
        client.delete("/v1/items/i0")
        client.put("/v1/items/i0", json={"title": "Item Alpha 0 (reissue)"})
        client.delete("/v1/items/i2")
        client.put("/v1/items/%20bad", json={"title": "T"})  # rejected: must not be replayed
    with serving(popularity_run, store_url) as client:  # a new service: only the store remembers
        assert [e["event_id"] for e in client.get("/v1/users/alice/history").json()["events"]] == ["e1", "e2"]
        found = client.get("/v1/items", params={"q": "Mark II"}).json()["items"]
        assert [it["id"] for it in found] == ["pen-x"]
        assert client.get("/v1/items", params={"q": "reissue"}).json()["items"][0]["id"] == "i0"
        body = client.get("/v1/users/alice/recommendations", params={"k": 3}).json()
        assert ids(body) == ["i0", "i4", "i5"]  # i1, i3 are history; i2 is hidden; i0 is back
        assert client.get("/health").json()["items"] == 13


def test_write_access_rules_for_the_bind_address(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GENREC_API_KEY", raising=False)
    assert configured_api_key(None) is None
    monkeypatch.setenv("GENREC_API_KEY", "from-env")
    assert configured_api_key(None) == "from-env" and configured_api_key("given") == "given"
    monkeypatch.setenv("GENREC_API_KEY", "")
    assert configured_api_key(None) is None
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_bind(host, None)
    check_bind("0.0.0.0", KEY)
    for host in ("0.0.0.0", "192.168.1.10", "example.org", "::"):
        with pytest.raises(ConfigError, match="api-key"):
            check_bind(host, None)
    with pytest.raises(ConfigError, match=r"--host 0\.0\.0\.0"):  # before loading anything
        serve_command(tmp_path / "no-such-run", host="0.0.0.0")
