"""The event store's schema: one SQLAlchemy `MetaData` with the two tables the server persists.

``events`` holds user-item interactions; ``event_id`` is unique so a retried insert is a no-op, and ``seq``
(an autoincrementing key) keeps the order events were received in. ``catalogue_changes`` is an append-only
log of item upserts (with their text fields) and deletions; replaying it in ``seq`` order rebuilds the
live catalogue at startup.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Double, Index, Integer, MetaData, String, Table

#: Longest accepted user id, item id, event id and event type (the API enforces the same bounds).
MAX_USER_ID = 200
MAX_ITEM_ID = 500
MAX_EVENT_ID = 200
MAX_EVENT_TYPE = 64

#: SQLite only aliases the rowid (and so autoincrements) for a column declared exactly INTEGER.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

events = Table(
    "genrec_events",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("event_id", String(MAX_EVENT_ID), nullable=False, unique=True),
    Column("user_id", String(MAX_USER_ID), nullable=False),
    Column("item_id", String(MAX_ITEM_ID), nullable=False),
    Column("event_type", String(MAX_EVENT_TYPE), nullable=False),
    Column("timestamp", Double(), nullable=False, comment="seconds since the Unix epoch, UTC"),
    Column("received_at", Double(), nullable=False, comment="server clock when stored"),
    Index("ix_genrec_events_user_time", "user_id", "timestamp", "seq"),
)

catalogue_changes = Table(
    "genrec_catalogue_changes",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("item_id", String(MAX_ITEM_ID), nullable=False),
    Column("action", String(16), nullable=False, comment='"upsert" or "delete"'),
    Column("fields", JSON(), nullable=True, comment="text fields of an upsert"),
    Column("recorded_at", Double(), nullable=False),
)
