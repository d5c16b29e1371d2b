"""Shared fixtures: tiny synthetic datasets and the location of the benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genrec.data.registry import default_data_dir

SHARED_DATA = default_data_dir()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if (SHARED_DATA / "office").is_dir():
        return
    skip = pytest.mark.skip(reason=f"benchmark data not found at {SHARED_DATA} (set GENREC_DATA_DIR)")
    for item in items:
        if "shared_data" in item.keywords:
            if os.environ.get("CI") == "true":
                continue  # in CI the data must be there: let the test fail loudly
            item.add_marker(skip)


@pytest.fixture
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty genrec cache directory for tests that must not touch the real one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GENREC_CACHE_DIR", str(cache))
    return cache
