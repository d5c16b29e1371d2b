"""Run configs: every shipped recipe loads; unknown keys and bad values are `ConfigError`s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from genrec.errors import ConfigError
from genrec.prompts.template import get_template
from genrec.tokenizers.registry import canonical_name
from genrec.training.config import config_from_dict, load_config, recipe_path, shipped_recipes


def test_every_shipped_recipe_loads_and_names_real_components() -> None:
    names = shipped_recipes()
    assert {"beauty-prebuilt-compact", "ml100k-semantic-compact", "office-semantic-compact"} <= set(names)
    for name in names:
        config = load_config(name)
        canonical_name(config.identifiers.kind)  # raises for an unknown tokenizer
        get_template(config.prompt)
        assert config.training.num_threads >= 0
        # the resolved YAML round-trips to an equal config
        assert config_from_dict(config.to_dict()) == config


def test_unknown_keys_are_rejected_with_their_section() -> None:
    with pytest.raises(ConfigError, match=r"training: unknown keys \['learning_rate'\]"):
        config_from_dict({"training": {"learning_rate": 0.1}})
    with pytest.raises(ConfigError, match=r"config: unknown keys \['bogus'\]; allowed: \['backbone', "):
        config_from_dict({"bogus": 1})


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (
            {"training": {"prefixes": "some"}},
            r"training.prefixes: Input should be 'all', 'last_n' or 'sampled'",
        ),
        ({"training": {"batch_size": 0}}, r"training.batch_size: Input should be greater than 0 \(got 0\)"),
        ({"training": {"lr": "fast"}}, r"training.lr: Input should be a valid number \(got 'fast'\)"),
        ({"backbone": {"hidden_size": 130, "num_heads": 4}}, "backbone: hidden_size 130 must be divisible"),
        ({"data": {"max_history": 0}}, "data.max_history: Input should be greater than 0"),
        ({"training": {"ema_decay": 1.0}}, "training.ema_decay: Input should be less than 1"),
        ({"training": {"loss_temperature": 0}}, "training.loss_temperature: Input should be greater than 0"),
        ({"seed": True}, r"seed: Input should be a valid integer \(got True\)"),
        ({"training": {"epochs": "10"}}, "training.epochs: Input should be a valid integer"),
        ({"training": {"epochs": 0, "max_steps": 0}}, "training: set epochs or max_steps > 0"),
        (
            {"training": {"schedule_clock": "budget"}},
            r"training: schedule_clock: budget .* set training\.max_minutes > 0",
        ),
        (
            {"training": {"alignment_tasks": ["title_to_id", "x"]}},
            r"training.alignment_tasks\[1\]: Input should be",
        ),
        ({"backbone": {"lora_targets": []}}, "backbone.lora_targets: .*at least 1 item"),
        ({"backbone": {"lora_targets": "q_proj"}}, r"backbone.lora_targets: Input should be a valid tuple"),
        ({"decoding": {"grounding": "nearest"}}, "decoding.grounding: Input should be 'trie' or 'embedding'"),
        ({"training": 3}, "training: Input should be a valid dictionary"),
        ([1, 2], "config: expected a mapping"),
    ],
)
def test_bad_values_are_config_errors(raw: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config_from_dict(raw)


def test_overrides_apply_and_are_validated(tmp_path: Path) -> None:
    config = load_config("office-atomic-compact", ["training.lr=0.01", "seed=3", "backbone.num_layers=2"])
    assert (config.training.lr, config.seed, config.backbone.num_layers) == (0.01, 3, 2)
    with pytest.raises(ConfigError, match=r"office-atomic-compact\.yaml: training: unknown keys"):
        load_config("office-atomic-compact", ["training.nope=1"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config("office-atomic-compact", ["training.lr"])
    with pytest.raises(ConfigError, match="unknown recipe 'nope'; shipped recipes:"):
        recipe_path("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid YAML"):
        load_config(bad)
    listed = tmp_path / "listed.yaml"
    listed.write_text("- 1\n")
    with pytest.raises(ConfigError, match=r"listed\.yaml: expected a mapping at the top level"):
        load_config(listed)


def test_the_config_is_frozen_and_copies_with_updates() -> None:
    config = load_config("office-atomic-compact")
    with pytest.raises(ValidationError, match="frozen"):
        config.training.lr = 0.5  # type: ignore[misc]
    moved = config.model_copy(update={"data": config.data.model_copy(update={"dataset": "/abs/shop.yaml"})})
    assert (moved.data.dataset, config.data.dataset) == ("/abs/shop.yaml", "office")


def test_the_yaml_form_round_trips() -> None:
    config = load_config("beauty-prebuilt-compact", ["identifiers.options.collision_level=3"])
    assert config_from_dict(yaml.safe_load(config.to_yaml())) == config
