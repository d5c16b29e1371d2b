"""`genrec serve`: load a run directory and serve it over HTTP with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from genrec.errors import ConfigError
from genrec.serving.app import DEFAULT_MAX_BODY_BYTES, create_app
from genrec.serving.batching import BatchingConfig
from genrec.serving.service import RecommendService

logger = logging.getLogger(__name__)


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
) -> None:
    """Serve the run in ``model_dir`` until interrupted (blocks).

    ``num_threads`` caps torch's intra-op threads for the model worker (None: torch's default).
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be in [0, 65535], got {port}")
    if num_threads is not None:
        import torch

        torch.set_num_threads(num_threads)
    service = RecommendService.from_run(Path(model_dir))
    app = create_app(
        service,
        BatchingConfig(enabled=batching, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms),
        max_body_bytes=max_body_bytes,
    )
    logger.warning("serving %s (%s) on http://%s:%d", model_dir, service.model_name, host, port)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
