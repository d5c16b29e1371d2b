"""Configs validate themselves; the registry builds, resolves and loads models."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.config import apply_overrides
from genrec.data import LeaveOneOutSplit
from genrec.errors import ConfigError, GenrecError
from genrec.recommenders.config import config_from_mapping
from genrec.recommenders.registry import build_recommender, load_recommender, resolve_config
from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender


def test_unknown_key_names_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"SASRecConfig: unknown keys \['hiden_size'\]; allowed: .*'hidden_size'"
    ):
        config_from_mapping(SASRecConfig, {"hiden_size": 32})


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"loss": "bpr"}, r"loss: Input should be 'ce' or 'bce' \(got 'bpr'\)"),
        ({"hidden_size": 30, "n_heads": 4}, "SASRecConfig: hidden_size 30 is not divisible by n_heads 4"),
        ({"lr": 0}, "lr: Input should be greater than 0"),
        ({"epochs": "10"}, r"epochs: Input should be a valid integer \(got '10'\)"),
        ({"hidden_dropout": 1.0}, "hidden_dropout: Input should be less than 1"),
        ({"max_len": True}, r"max_len: Input should be a valid integer \(got True\)"),
        ({"n_layers": 0}, "n_layers: Input should be greater than 0"),
    ],
)
def test_bad_values_rejected(values: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config_from_mapping(SASRecConfig, values)


def test_int_accepted_for_float_and_defaults_match_recbole() -> None:
    cfg = config_from_mapping(SASRecConfig, {"lr": 1})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    d = SASRecConfig()
    assert (d.max_len, d.hidden_size, d.n_layers, d.n_heads, d.inner_size) == (50, 64, 2, 2, 256)
    assert (d.hidden_dropout, d.attn_dropout, d.lr, d.patience) == (0.5, 0.5, 0.001, 10)


def test_set_overrides_of_a_baseline_are_yaml_typed() -> None:
    assert apply_overrides({}, ["lr=0.01", "loss=bce", "epochs=3"]) == {
        "lr": 0.01,
        "loss": "bce",
        "epochs": 3,
    }
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["lr"])


def test_a_saved_config_round_trips_with_its_types() -> None:
    config = config_from_mapping(SASRecConfig, {"lr": 1, "epochs": 3})
    dumped = config.to_dict()
    assert dumped["lr"] == 1.0 and isinstance(dumped["lr"], float) and isinstance(dumped["epochs"], int)
    assert config_from_mapping(SASRecConfig, dumped) == config


def test_registry(tiny_split: LeaveOneOutSplit, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        build_recommender("bert4rec")
    with pytest.raises(ConfigError, match="popularity"):
        resolve_config("popularity", {"lr": 0.1}, seed=0)
    assert resolve_config("sasrec", {"loss": "bce"}, seed=7)["seed"] == 7
    rec = build_recommender("sasrec", {"epochs": 1, "hidden_size": 8, "n_heads": 1}, seed=1)
    assert isinstance(rec, SASRecRecommender) and rec.config.seed == 1
    rec.fit(tiny_split.train_data())
    rec.save(tmp_path / "m")
    assert isinstance(load_recommender(tmp_path / "m"), SASRecRecommender)
    with pytest.raises(GenrecError, match="no saved recommender"):
        load_recommender(tmp_path)
    with pytest.raises(GenrecError, match="not fitted"):
        build_recommender("gru4rec").recommend([[1]], 3)
