"""Run configs: every shipped recipe loads; unknown keys and bad values are `ConfigError`s."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    with pytest.raises(ConfigError, match=r"unknown keys \['bogus'\]"):
        config_from_dict({"bogus": 1})


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"training": {"prefixes": "some"}}, "prefixes must be one of"),
        ({"training": {"batch_size": 0}}, "batch_size must be >= 1"),
        ({"training": {"lr": "fast"}}, r"training.lr: expected float"),
        ({"backbone": {"hidden_size": 130, "num_heads": 4}}, "divisible"),
        ({"data": {"max_history": 0}}, "max_history"),
        ({"training": {"ema_decay": 1.0}}, r"ema_decay must be in \[0, 1\)"),
        ({"training": {"loss_temperature": 0}}, "loss_temperature must be > 0"),
        ({"seed": True}, "expected int"),
    ],
)
def test_bad_values_are_config_errors(raw: dict[str, object], match: str) -> None:
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
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
