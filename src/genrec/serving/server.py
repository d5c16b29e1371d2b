"""`genrec serve`: load a run directory and its event store, and serve them over HTTP with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from genrec.errors import ConfigError
from genrec.serving.app import DEFAULT_MAX_BODY_BYTES, create_app
from genrec.serving.auth import check_bind, configured_api_key
from genrec.serving.batching import BatchingConfig
from genrec.serving.service import RecommendService
from genrec.serving.store import EventStore

logger = logging.getLogger(__name__)

#: The event store's file inside the run directory when no ``--store`` is given.
DEFAULT_STORE_FILE = "events.sqlite"


def default_store_url(model_dir: Path) -> str:
    """``sqlite:///MODEL_DIR/events.sqlite``: the run's own store, kept beside its weights."""
    return f"sqlite:///{(Path(model_dir) / DEFAULT_STORE_FILE).resolve()}"


def serve_command(
    model_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_batch_size: int = 64,
    max_wait_ms: float = 2.0,
    batching: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    num_threads: int | None = None,
    log_level: str = "warning",
    store: str | None = None,
    api_key: str | None = None,
) -> None:
    """Serve the run in ``model_dir`` until interrupted (blocks).

    ``num_threads`` caps torch's intra-op threads for the model worker (None: torch's default).
    ``store`` is the event store's URL (None: `default_store_url`); ``api_key`` (None: ``$GENREC_API_KEY``)
    guards the write endpoints, and without one the server only listens on loopback.
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be in [0, 65535], got {port}")
    key = configured_api_key(api_key)
    check_bind(host, key)
    if num_threads is not None:
        import torch

        torch.set_num_threads(num_threads)
    service = RecommendService.from_run(Path(model_dir))
    event_store = EventStore(store or default_store_url(Path(model_dir)))
    app = create_app(
        service,
        BatchingConfig(enabled=batching, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms),
        max_body_bytes=max_body_bytes,
        store=event_store,
        api_key=key,
    )
    writes = "need the API key" if key else "open (loopback only)"
    where = f"http://{host}:{port}"
    logger.warning("serving %s (%s) on %s", model_dir, service.model_name, where)
    logger.warning("events and catalogue changes in %s; writes %s", event_store.display_url, writes)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    finally:
        event_store.close()
