"""`benchmarks/llm_efficiency.py`: every variant is a valid override set that changes the recipe."""

from __future__ import annotations

from types import ModuleType

import pytest
from benchmark_scripts import load_script

from genrec.training.config import load_config


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script("llm_efficiency")


@pytest.mark.parametrize("dataset", ["office", "scientific"])
def test_every_variant_loads_and_all_but_base_change_the_recipe(script: ModuleType, dataset: str) -> None:
    recipe = f"{dataset}-atomic-smollm2"
    shipped = load_config(recipe)
    for name, (_what, overrides) in script.VARIANTS.items():
        config = load_config(recipe, overrides)  # a ConfigError here names the bad override
        assert (config == shipped) == (name == "base"), name
