"""Serving: run directories, batch recommendations, the HTTP API with micro-batching, and a web page."""

from genrec.recommenders.run_dir import load_run, save_run
from genrec.serving.batching import BatchingConfig
from genrec.serving.service import Query, Ranked, RecommendService, UnknownItemsError

__all__ = [
    "BatchingConfig",
    "Query",
    "Ranked",
    "RecommendService",
    "UnknownItemsError",
    "load_run",
    "save_run",
]
