"""POST /v1/chat: turns refine a session's state, items follow it, bad turns are 4xx and change nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from genrec.errors import GenrecError
from genrec.recommenders.conversation_parser import ConversationParser, ParserSlot
from genrec.recommenders.conversation_state import CatalogueFacets, ConversationState
from genrec.serving.app import create_app
from genrec.serving.batching import BatchingConfig
from genrec.serving.chat_sessions import ChatSessions
from genrec.serving.service import RecommendService

NEGATIONS = {"no", "not", "without", "avoid", "drop"}


class KeywordParser(ConversationParser):
    """The real grounding and schema, with polarity from keywords instead of an LM (deterministic)."""

    def __init__(self, facets: CatalogueFacets) -> None:
        stub = SimpleNamespace(eval=lambda: stub)
        super().__init__(stub, SimpleNamespace(eos_token_id=0), facets)

    def channel_scores(self, clause: str, options: Sequence[Any]) -> torch.Tensor:
        negative = bool(NEGATIONS & set(clause.split()))
        return torch.tensor([0.0, 1.0] if negative else [1.0, 0.0])


def make_client(
    run: Path, sessions: ChatSessions | None = None, slot: ParserSlot | None = None
) -> TestClient:
    service = RecommendService.from_run(run)
    app = create_app(service, BatchingConfig(max_wait_ms=1.0))
    app.state.chat_parser = slot or ParserSlot(KeywordParser)
    if sessions is not None:
        app.state.chat_sessions = sessions
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(popularity_run: Path) -> Iterator[TestClient]:
    with make_client(popularity_run) as c:
        yield c


def ids(body: dict) -> list[str]:
    return [it["id"] for it in body["items"]]


def turn(client: TestClient, **body: Any) -> dict:
    r = client.post("/v1/chat", json={"k": 4, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_turns_refine_the_state_and_items_follow_it(client: TestClient) -> None:
    # popularity ranks by index; categories cycle Pens, Paper, "Ink, Pens", Desks (tests/serving/conftest.py)
    first = turn(client, message="No paper please")
    assert first["turn"] == 1 and first["actions"] == ["exclude category paper"]
    assert ids(first) == ["i0", "i2", "i3", "i4"] and first["fallback"] == "popular"
    assert first["state"]["exclude_categories"] == ["paper"] and "without paper" in first["state"]["summary"]
    sid = first["session_id"]
    second = turn(client, session_id=sid, message="more like the second one, but not desks")
    assert second["clauses"] == ["more like the second one", "not desks"]
    assert second["actions"] == ["like Item Charlie 2", "exclude category desks"]
    assert second["turn"] == 2 and second["session_id"] == sid
    assert [r["id"] for r in second["state"]["references"]] == ["i2"]
    assert ids(second) == ["i0", "i4", "i6", "i8"]  # i2 is history now; paper and desks stay out
    third = turn(client, session_id=sid, message="only ink", k=10)
    assert third["state"]["include_categories"] == ["ink"] and ids(third) == ["i6", "i10"]  # fewer than k


def test_history_and_avoid(client: TestClient) -> None:
    body = turn(client, message="hello", history=["i0", "Item Bravo 1"])
    assert body["actions"] == [] and body["state"]["history_length"] == 2
    assert ids(body) == ["i2", "i3", "i4", "i5"] and body["fallback"] is None  # history excluded
    body = turn(client, session_id=body["session_id"], message="drop the first one")
    assert body["actions"] == ["avoid Item Charlie 2"] and ids(body) == ["i3", "i4", "i5", "i6"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 1001}, "message"),
        ({"message": "no paper", "k": 0}, "k"),
        ({"message": "no paper", "k": 101}, "k"),
        ({"message": "no paper", "colour": "red"}, "colour"),
        ({}, "message"),
    ],
)
def test_malformed_requests_are_422_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    r = client.post("/v1/chat", json=body)
    assert r.status_code == 422
    assert field in str(r.json()["detail"])


def test_unknown_session_and_items_are_4xx(client: TestClient) -> None:
    r = client.post("/v1/chat", json={"session_id": "nope", "message": "no paper"})
    assert r.status_code == 404 and r.json()["field"] == "session_id" and "nope" in r.json()["detail"]
    r = client.post("/v1/chat", json={"message": "no paper", "history": ["ghost"]})
    assert r.status_code == 422 and r.json()["field"] == "history" and r.json()["unknown"] == ["ghost"]


def test_a_bad_turn_never_changes_the_session(client: TestClient) -> None:
    a = turn(client, message="no paper")
    for bad in ({"k": 0}, {"history": ["ghost"]}, {"message": ""}, {"message": "y" * 2000}):
        r = client.post("/v1/chat", json={"session_id": a["session_id"], "message": "no pens", **bad})
        assert r.status_code == 422
    after_bad = turn(client, session_id=a["session_id"], message="only desks")
    b = turn(client, message="no paper")
    alone = turn(client, session_id=b["session_id"], message="only desks")
    assert after_bad["turn"] == alone["turn"] == 2
    assert after_bad["state"] == alone["state"] and after_bad["items"] == alone["items"]


def test_sessions_never_see_each_other(client: TestClient) -> None:
    def conversation(n: int) -> dict:
        word = ("pens", "paper", "desks", "ink")[n % 4]
        body = turn(client, message=f"no {word}")
        for _ in range(3):
            body = turn(client, session_id=body["session_id"], message=f"no {word}")
        return body

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(conversation, range(16)))
    assert len({r["session_id"] for r in results}) == 16
    for n, body in enumerate(results):
        assert body["turn"] == 4
        assert body["state"]["exclude_categories"] == [("pens", "paper", "desks", "ink")[n % 4]]


def test_items_honour_every_exclusion(sasrec_run: Path) -> None:
    with make_client(sasrec_run) as c:
        body = turn(c, message="no pens", history=["i3", "i4"], k=10)
        body = turn(c, session_id=body["session_id"], message="more like the third one", k=10)
        service = c.app.state.service
        facets = CatalogueFacets(service.catalogue)
        state = ConversationState(
            references=tuple(service.resolve([r["id"] for r in body["state"]["references"]])),
            exclude_categories=tuple(body["state"]["exclude_categories"]),
        )
        assert state.exclude_categories == ("pens",) and len(state.references) == 1
        assert len(body["items"]) == 10
        for item in service.resolve(ids(body)):
            assert facets.allowed(state, item) and item not in (3, 4, *state.references)


def test_expired_sessions_are_404(popularity_run: Path) -> None:
    now = [0.0]
    sessions = ChatSessions(max_sessions=2, ttl_s=10.0, clock=lambda: now[0])
    with make_client(popularity_run, sessions) as c:
        sid = turn(c, message="no paper")["session_id"]
        now[0] = 5.0
        assert turn(c, session_id=sid, message="no pens")["turn"] == 2  # use refreshes the TTL
        now[0] = 14.0
        assert turn(c, session_id=sid, message="no ink")["turn"] == 3
        now[0] = 30.0
        assert c.post("/v1/chat", json={"session_id": sid, "message": "no ink"}).status_code == 404
        first = [turn(c, message="hi")["session_id"] for _ in range(3)]
        assert len(sessions) == 2  # the least recently used was evicted
        assert c.post("/v1/chat", json={"session_id": first[0], "message": "hi"}).status_code == 404


def test_an_unloadable_parser_is_503(popularity_run: Path) -> None:
    def fail(_: CatalogueFacets) -> ConversationParser:
        raise GenrecError("no LM at /nowhere")

    with make_client(popularity_run, slot=ParserSlot(fail)) as c:
        r = c.post("/v1/chat", json={"message": "no paper"})
        assert r.status_code == 503 and "no LM at /nowhere" in r.json()["detail"]
