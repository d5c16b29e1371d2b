"""`benchmarks/llm_efficiency.py`: every variant is a valid override set that changes the recipe."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from genrec.training.config import load_config

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "llm_efficiency.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llm_efficiency_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["llm_efficiency_script"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dataset", ["office", "scientific"])
def test_every_variant_loads_and_all_but_base_change_the_recipe(script: ModuleType, dataset: str) -> None:
    recipe = f"{dataset}-atomic-smollm2"
    shipped = load_config(recipe)
    for name, (_what, overrides) in script.VARIANTS.items():
        config = load_config(recipe, overrides)  # a ConfigError here names the bad override
        assert (config == shipped) == (name == "base"), name
