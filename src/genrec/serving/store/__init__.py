"""The server's event store: user events and catalogue changes in SQLite (default) or PostgreSQL."""

from genrec.serving.store.engine import normalise_url
from genrec.serving.store.event_store import AddResult, CatalogueChange, Event, EventStore, StoreError

__all__ = ["AddResult", "CatalogueChange", "Event", "EventStore", "StoreError", "normalise_url"]
