"""The event store on SQLite and PostgreSQL: idempotent inserts, history order, catalogue log, reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from genrec.errors import ConfigError
from genrec.serving.store import Event, EventStore, StoreError, normalise_url


def ev(event_id: str, user: str = "u1", item: str = "i1", ts: float = 0.0, kind: str = "view") -> Event:
    return Event(event_id, user, item, kind, ts)


def test_inserts_are_idempotent_by_event_id(store_url: str) -> None:
    store = EventStore(store_url)
    first = store.add_events([ev("a", item="i1"), ev("b", item="i2"), ev("a", item="i9")])
    assert (first.new, first.duplicates) == (2, 1)  # the repeated id inside one batch is a duplicate
    again = store.add_events([ev("a", item="i5"), ev("b"), ev("c", item="i3")])
    assert (again.new, again.duplicates) == (1, 2)
    assert [e.item for e in store.history("u1")] == ["i1", "i2", "i3"]  # the first "a" wins
    assert store.count_events() == 3
    assert store.add_events([]).new == 0
    store.close()


def test_history_is_per_user_ordered_by_time_then_arrival_and_limited(store_url: str) -> None:
    store = EventStore(store_url)
    store.add_events([ev("e1", item="late", ts=30.0), ev("e2", item="early", ts=10.0)])
    store.add_events([ev("e3", item="tie-first", ts=20.0), ev("e4", item="tie-second", ts=20.0)])
    store.add_events([ev("x1", user="u2", item="other", ts=15.0)])
    assert [e.item for e in store.history("u1")] == ["early", "tie-first", "tie-second", "late"]
    assert [e.item for e in store.history("u1", limit=2)] == ["tie-second", "late"]  # the latest two
    assert [e.event_id for e in store.history("u2")] == ["x1"]
    assert store.history("nobody") == []
    latest = store.history("u1")[-1]
    assert (latest.type, latest.timestamp, latest.user) == ("view", 30.0, "u1")
    store.close()


def test_catalogue_changes_replay_in_order_and_discard(store_url: str) -> None:
    store = EventStore(store_url)
    s1 = store.record_upsert("new1", {"title": "New One", "categories": "Pens"})
    s2 = store.record_deletion("i3")
    s3 = store.record_upsert("new1", {"title": "New One v2"})
    assert s1 < s2 < s3
    store.discard_change(s2)
    changes = store.catalogue_changes()
    assert [(c.item_id, c.action) for c in changes] == [("new1", "upsert"), ("new1", "upsert")]
    assert changes[0].fields == {"title": "New One", "categories": "Pens"}
    assert changes[1].fields == {"title": "New One v2"}
    store.close()


def test_reopening_keeps_events_and_changes(store_url: str) -> None:
    store = EventStore(store_url)
    store.add_events([ev("a", ts=1.0), ev("b", item="i2", ts=2.0)])
    store.record_upsert("new1", {"title": "T"})
    store.record_deletion("new1")
    store.close()
    reopened = EventStore(store_url)
    assert [e.event_id for e in reopened.history("u1")] == ["a", "b"]
    assert [c.action for c in reopened.catalogue_changes()] == ["upsert", "delete"]
    assert reopened.add_events([ev("a")]).duplicates == 1  # the unique index survived too
    reopened.close()


def test_sqlite_file_is_wal_with_full_sync(tmp_path: Path) -> None:
    store = EventStore(f"sqlite:///{tmp_path / 'sub' / 'events.sqlite'}")  # the folder is created
    store.add_events([ev("a")])
    with store._engine.connect() as conn:  # a pooled connection, configured like every other
        raw = conn.connection.driver_connection
        assert raw is not None
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    with sqlite3.connect(tmp_path / "sub" / "events.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file


def test_urls_are_normalised() -> None:
    assert normalise_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u:p@h:5433/db").port == 5433
    assert normalise_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:////tmp/x.sqlite").database == "/tmp/x.sqlite"
    bare = normalise_url("runs/events.sqlite")
    assert bare.drivername == "sqlite" and Path(str(bare.database)).is_absolute()


@pytest.mark.parametrize(
    ("spec", "message"),
    [("", "empty store URL"), ("mysql://u:secret@h/db", "unsupported database 'mysql'")],
)
def test_bad_urls_are_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        normalise_url(spec)
    assert "secret" not in str(info.value)


def test_unreachable_postgres_names_the_store_without_password() -> None:
    with pytest.raises(
        StoreError, match=r"cannot open the event store postgresql\+psycopg://u:\*\*\*@"
    ) as info:
        EventStore("postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2")
    assert "hunter2" not in str(info.value)
