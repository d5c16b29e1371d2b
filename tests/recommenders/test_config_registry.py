"""Configs validate themselves; the registry builds, resolves and loads models."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.data import LeaveOneOutSplit
from genrec.errors import ConfigError, GenrecError
from genrec.recommenders.config import config_from_mapping, parse_overrides
from genrec.recommenders.registry import build_recommender, load_recommender, resolve_config
from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender


def test_unknown_key_names_the_key() -> None:
    with pytest.raises(ConfigError, match="hiden_size"):
        config_from_mapping(SASRecConfig, {"hiden_size": 32})


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"loss": "bpr"}, "loss"),
        ({"hidden_size": 30, "n_heads": 4}, "divisible"),
        ({"lr": 0}, "lr"),
        ({"epochs": "10"}, "epochs must be int"),
        ({"hidden_dropout": 1.0}, "hidden_dropout"),
        ({"max_len": True}, "max_len must be int"),
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


def test_parse_overrides() -> None:
    assert parse_overrides(["lr=0.01", "loss=bce", "epochs=3"]) == {"lr": 0.01, "loss": "bce", "epochs": 3}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["lr"])


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
