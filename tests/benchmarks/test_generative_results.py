"""Committed benchmark rows stay attached to the recipes they were measured with.

A results file named after a recipe alone (``<recipe>.json``, no ``@sha``) is the row the README quotes as
that recipe's figure. Its recorded config hash must equal the shipped recipe's: a new config field that
silently changes every hash (one missing from ``provenance.ADDED_LATER``) would otherwise relabel every row
"older recipe" on the next table rebuild, and a changed recipe would keep quoting figures it never produced.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genrec.training.provenance import config_sha

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "generative"
CURRENT = sorted(p for p in RESULTS.glob("*.json") if "@" not in p.name)


def test_there_are_committed_rows() -> None:
    assert len(CURRENT) >= 10


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_a_recipe_named_results_file_matches_the_shipped_recipe(path: Path) -> None:
    payload = json.loads(path.read_text())
    assert payload["recipe"] == path.stem
    shipped = config_sha(payload["recipe"], payload.get("overrides", []))
    assert shipped == payload["config_sha"], (
        f"{path.name}: recorded for config {payload['config_sha']}, the shipped recipe is now {shipped}: "
        "rerun it, or rename the file <recipe>@<old sha>.json (benchmarks/generative.py does so on the next run)"
    )
