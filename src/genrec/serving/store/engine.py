"""Store URLs and engines: which databases the event store accepts and how each is opened.

SQLite is the default (an embedded file, no setup). Its file is opened in WAL mode with
``synchronous=FULL``, so a write is on disk before it is acknowledged and survives a crash of the
server or of the machine. PostgreSQL is reached through a URL; ``postgresql://`` and ``postgres://``
are mapped to the psycopg 3 driver that genrec installs. A bare file path means a SQLite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from genrec.errors import ConfigError

_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}


def normalise_url(spec: str) -> URL:
    """The SQLAlchemy URL of a store spec: a ``sqlite:///`` or PostgreSQL URL, or a SQLite file path."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("--store: empty store URL")
    if "://" not in spec:
        return URL.create("sqlite", database=str(Path(spec).expanduser().resolve()))
    try:
        url = make_url(spec)
    except ArgumentError as exc:
        raise ConfigError(f"--store: cannot parse {spec.split('://')[0]}:// URL: {exc}") from exc
    if url.drivername in _POSTGRES_SCHEMES:
        return url.set(drivername="postgresql+psycopg")
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        return url.set(drivername="sqlite")
    raise ConfigError(
        f"--store: unsupported database {url.drivername!r} in {url.render_as_string(hide_password=True)}; "
        "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB"
    )


def is_in_memory(url: URL) -> bool:
    return url.drivername == "sqlite" and url.database in (None, "", ":memory:")


def _sqlite_durability(dbapi_connection: Any, _record: Any) -> None:
    """Every new SQLite connection: write-ahead log, fsync on every commit, wait for a locked file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: URL) -> Engine:
    """An engine for ``url`` (see the module docstring); a SQLite file's directory is created if missing."""
    if url.drivername == "sqlite":
        if is_in_memory(url):
            # one shared connection: every thread must see the same in-memory database
            return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_durability)
        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True, pool_timeout=30)
