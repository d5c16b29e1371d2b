"""A result row's identity survives the move of the configs to pydantic (issue 51).

``config_shas_before_pydantic.json`` holds `config_sha` for every shipped recipe and for every committed
result file that records its recipe and overrides, as computed by the dataclass configs before the move
(some result files hold an older recipe version, so their recorded hash differs from today's: what
matters is that the hash of the same recipe + overrides did not change). The resolved dict is hashed, so
an int turned float (``1`` vs ``1.0``) or a list turned tuple would change every hash.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genrec.training.config import load_config, shipped_recipes
from genrec.training.provenance import config_sha

BEFORE = json.loads((Path(__file__).parent / "config_shas_before_pydantic.json").read_text())
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def test_every_shipped_recipe_keeps_its_hash() -> None:
    assert set(shipped_recipes()) == set(BEFORE["recipes"])
    for recipe, sha in BEFORE["recipes"].items():
        assert config_sha(recipe, []) == sha, recipe


def test_the_fixture_covers_every_committed_result_with_a_hash() -> None:
    recorded = {
        str(path.relative_to(RESULTS))
        for path in RESULTS.rglob("*.json")
        if {"recipe", "config_sha"} <= set(json.loads(path.read_text()) if path.stat().st_size else {})
    }
    assert recorded == set(BEFORE["results"])


@pytest.mark.parametrize("name", sorted(BEFORE["results"]))
def test_every_committed_result_keeps_its_hash(name: str) -> None:
    payload = json.loads((RESULTS / name).read_text())
    assert config_sha(payload["recipe"], payload.get("overrides", [])) == BEFORE["results"][name]


def test_the_resolved_dict_keeps_ints_ints_floats_floats_and_lists_lists() -> None:
    resolved = load_config("office-semantic-compact", ["training.lr=1", "training.epochs=3"]).to_dict()
    assert resolved["training"]["lr"] == 1.0 and isinstance(resolved["training"]["lr"], float)
    assert type(resolved["training"]["epochs"]) is int
    assert type(resolved["backbone"]["lora_targets"]) is list
    assert type(resolved["training"]["alignment_tasks"]) is list
