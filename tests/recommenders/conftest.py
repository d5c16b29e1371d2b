from __future__ import annotations

import pytest

from genrec.data import LeaveOneOutSplit
from recommenders.tiny_data import make_tiny_split


@pytest.fixture(scope="session")
def tiny_split() -> LeaveOneOutSplit:
    return make_tiny_split()
