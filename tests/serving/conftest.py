"""Tiny catalogues and saved runs shared by the serving tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from genrec.data.catalogue import Catalogue
from genrec.data.split import TrainData
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.run_dir import save_run

CATEGORIES = ("Pens", "Paper", "Ink, Pens", "Desks")


def tiny_catalogue(n: int = 12) -> Catalogue:
    """n items "i0".."i{n-1}" titled "Item <name> <j>", categories cycling through CATEGORIES."""
    names = ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot")
    records = {
        f"i{j}": {"title": f"Item {names[j % len(names)]} {j}", "categories": CATEGORIES[j % len(CATEGORIES)]}
        for j in range(n)
    }
    return Catalogue.from_records([f"i{j}" for j in range(n)], records)


def tiny_train(catalogue: Catalogue) -> TrainData:
    """Sequences making popularity strictly decreasing with the index (item 0 most popular)."""
    n = len(catalogue)
    sequences = [list(range(0, n - u)) for u in range(n)]  # item j appears n - j times
    return TrainData(catalogue, sequences, tuple(f"u{u}" for u in range(n)))


@pytest.fixture(scope="session")
def make_catalogue() -> Callable[[int], Catalogue]:
    return tiny_catalogue


@pytest.fixture(scope="session")
def make_train() -> Callable[[Catalogue], TrainData]:
    return tiny_train


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return tiny_catalogue()


@pytest.fixture(scope="session")
def popularity_run(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Path:
    train = tiny_train(catalogue)
    model = PopularityRecommender(seed=0)
    model.fit(train)
    return save_run(model, catalogue, tmp_path_factory.mktemp("pop_run"), dataset="tiny", train=train)


@pytest.fixture(scope="session")
def sasrec_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender

    cat = tiny_catalogue(30)
    train = TrainData(
        cat, [[(u + j) % 30 for j in range(8)] for u in range(30)], tuple(f"u{u}" for u in range(30))
    )
    model = SASRecRecommender(
        SASRecConfig(
            hidden_size=16, n_layers=1, n_heads=1, inner_size=32, max_len=10, epochs=2, num_threads=1
        )
    )
    model.fit(train)
    return save_run(model, cat, tmp_path_factory.mktemp("sasrec_run"), dataset="tiny30", train=train)


POSTGRES_URL_ENV = "GENREC_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty event store: a SQLite file, or the PostgreSQL database of $GENREC_TEST_POSTGRES_URL.

    The PostgreSQL case skips when the variable is unset, except in CI (CI=true), where it fails.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.sqlite'}"
    import os

    from sqlalchemy import create_engine

    from genrec.serving.store import normalise_url
    from genrec.serving.store.tables import metadata

    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        reason = f"PostgreSQL store tests need ${POSTGRES_URL_ENV} (.ci/postgres.sh prints one)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true: they must run in CI")
        pytest.skip(reason)
    engine = create_engine(normalise_url(url))
    metadata.drop_all(engine)  # every test starts from an empty database
    engine.dispose()
    return url
