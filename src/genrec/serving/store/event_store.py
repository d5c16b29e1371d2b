"""`EventStore`: the one interface through which the server persists events and catalogue changes.

Everything that touches the database goes through this class (SQLAlchemy Core statements built from
`genrec.serving.store.tables`), so the HTTP layer never sees SQL. All methods are blocking; the server
calls them from a thread pool. Inserts are idempotent by ``event_id``: re-sending an event (a client
retry after a timeout) stores nothing new and is counted as a duplicate. Each call is one transaction,
committed before the method returns, so a returned call is durable (see `genrec.serving.store.engine`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from genrec.errors import GenrecError
from genrec.serving.store.engine import is_in_memory, make_engine, normalise_url
from genrec.serving.store.tables import catalogue_changes, events, metadata


class StoreError(GenrecError):
    """The event store cannot be opened or used; the message names the store (without its password)."""


@dataclass(frozen=True)
class Event:
    """One user-item interaction; ``timestamp`` is seconds since the Unix epoch (UTC)."""

    event_id: str
    user: str
    item: str
    type: str
    timestamp: float


@dataclass(frozen=True)
class AddResult:
    """What `EventStore.add_events` did: how many events were new and how many were already stored."""

    new: int
    duplicates: int


@dataclass(frozen=True)
class CatalogueChange:
    """One logged catalogue change, in the order it was made: an upsert with text fields, or a deletion."""

    seq: int
    item_id: str
    action: Literal["upsert", "delete"]
    fields: Mapping[str, str]


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's message when there is one (SQLAlchemy's own wraps it in a long preamble)."""
    return str(getattr(exc, "orig", None) or exc).strip()


class EventStore:
    """Events and catalogue changes in SQLite or PostgreSQL (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.display_url = self.url.render_as_string(hide_password=True)
        self._engine = make_engine(self.url)
        self._dialect = self._engine.dialect.name
        # SQLite has one writer at a time: queue writers here instead of spinning on the file lock.
        # An in-memory database is one shared connection, so its reads queue too.
        self._write_lock = threading.Lock() if self._dialect == "sqlite" else None
        self._read_lock = self._write_lock if is_in_memory(self.url) else None
        try:
            metadata.create_all(self._engine)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(f"cannot open the event store {self.display_url}: {_reason(exc)}") from exc

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        lock = self._write_lock if write else self._read_lock
        with lock if lock is not None else contextlib.nullcontext():
            try:
                with self._engine.begin() as conn:
                    yield conn
            except SQLAlchemyError as exc:
                raise StoreError(f"event store {self.display_url}: {_reason(exc)}") from exc

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        return dialect.insert(table)

    def add_events(self, batch: Sequence[Event]) -> AddResult:
        """Store the events whose ``event_id`` is new (the first of repeated ids in ``batch`` wins)."""
        rows: dict[str, dict[str, Any]] = {}
        now = time.time()
        for e in batch:
            row = {"user_id": e.user, "item_id": e.item, "event_type": e.type, "timestamp": e.timestamp}
            rows.setdefault(e.event_id, {"event_id": e.event_id, **row, "received_at": now})
        if not rows:
            return AddResult(0, 0)
        stmt = (
            self._insert(events)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(events.c.event_id)
        )
        with self._transaction(write=True) as conn:
            inserted = conn.execute(stmt, list(rows.values())).all()
        return AddResult(new=len(inserted), duplicates=len(batch) - len(inserted))

    def history(self, user: str, limit: int = 1000) -> list[Event]:
        """The user's latest ``limit`` events, oldest first (by timestamp, then by order received)."""
        stmt = (
            select(events)
            .where(events.c.user_id == user)
            .order_by(events.c.timestamp.desc(), events.c.seq.desc())
            .limit(limit)
        )
        with self._transaction(write=False) as conn:
            rows = conn.execute(stmt).all()
        return [
            Event(r.event_id, r.user_id, r.item_id, r.event_type, float(r.timestamp)) for r in reversed(rows)
        ]

    def count_events(self) -> int:
        with self._transaction(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())

    def record_upsert(self, item_id: str, fields: Mapping[str, str]) -> int:
        """Log an item upsert with its text fields; returns the change's sequence number."""
        return self._record(item_id, "upsert", dict(fields))

    def record_deletion(self, item_id: str) -> int:
        """Log an item deletion; returns the change's sequence number."""
        return self._record(item_id, "delete", None)

    def _record(self, item_id: str, action: str, fields: dict[str, str] | None) -> int:
        row = {"item_id": item_id, "action": action, "fields": fields, "recorded_at": time.time()}
        with self._transaction(write=True) as conn:
            seq = conn.execute(
                self._insert(catalogue_changes).values(row).returning(catalogue_changes.c.seq)
            ).scalar_one()
        return int(seq)

    def discard_change(self, seq: int) -> None:
        """Remove a logged change that could not be applied (so a restart does not replay it)."""
        with self._transaction(write=True) as conn:
            conn.execute(delete(catalogue_changes).where(catalogue_changes.c.seq == seq))

    def catalogue_changes(self) -> list[CatalogueChange]:
        """Every logged catalogue change, oldest first: replaying them rebuilds the live catalogue."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(select(catalogue_changes).order_by(catalogue_changes.c.seq)).all()
        return [
            CatalogueChange(
                int(r.seq), r.item_id, "delete" if r.action == "delete" else "upsert", r.fields or {}
            )
            for r in rows
        ]

    def close(self) -> None:
        self._engine.dispose()
