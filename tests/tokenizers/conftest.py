"""Fixtures for tokenizer tests (helpers live in tokenizer_fixtures.py)."""

from __future__ import annotations

import pytest
from tokenizer_fixtures import make_catalogue, make_sequences

from genrec.data.catalogue import Catalogue


@pytest.fixture
def catalogue() -> Catalogue:
    return make_catalogue()


@pytest.fixture
def sequences() -> list[list[int]]:
    return make_sequences()
