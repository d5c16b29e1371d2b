"""Typed, self-validating configuration for the trained baselines (SASRec, GRU4Rec).

Configs are frozen dataclasses. `config_from_mapping` builds one from a plain mapping (a JSON file, CLI
overrides) and rejects unknown keys and values of the wrong type with a `ConfigError` naming the key, so
a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

import yaml

from genrec.errors import ConfigError

C = TypeVar("C", bound="TrainingConfig")


@dataclass(frozen=True)
class TrainingConfig:
    """Options shared by the neural sequential baselines; defaults follow RecBole 1.2.1 where it has one.

    ``max_len`` is RecBole's ``MAX_ITEM_LIST_LENGTH`` (50); ``lr`` its ``learning_rate`` (0.001);
    ``patience`` its ``stopping_step`` (10 validations without improvement of validation NDCG@10).
    ``batch_size`` counts training windows (one window = up to ``max_len`` consecutive next-item targets).
    ``loss`` is ``ce`` (softmax over the full catalogue) or ``bce`` (one sampled negative per target).
    """

    seed: int = 0
    max_len: int = 50
    batch_size: int = 256
    lr: float = 0.001
    weight_decay: float = 0.0
    epochs: int = 200
    patience: int = 10
    loss: str = "ce"
    num_threads: int = 2
    eval_batch_size: int = 1024
    max_train_seconds: float = 0.0

    def __post_init__(self) -> None:
        positive = ("max_len", "batch_size", "epochs", "patience", "num_threads", "eval_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        if self.weight_decay < 0 or self.max_train_seconds < 0:
            raise ConfigError("weight_decay and max_train_seconds must be >= 0")
        if self.loss not in ("ce", "bce"):
            raise ConfigError(f"loss must be 'ce' or 'bce', got {self.loss!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_type(cls: type, key: str, value: Any, expected: Any) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected in (int, float, str, bool) and (
        not isinstance(value, expected) or (expected is not bool and isinstance(value, bool))
    ):
        raise ConfigError(
            f"{cls.__name__}: {key} must be {expected.__name__}, got {value!r} ({type(value).__name__})"
        )
    return value


def config_from_mapping(cls: type[C], values: Mapping[str, Any]) -> C:
    """Build ``cls`` from ``values``; unknown keys or wrongly typed values raise `ConfigError`."""
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"{cls.__name__}: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(names))}"
        )
    checked = {k: _check_type(cls, k, v, hints[k]) for k, v in values.items()}
    return cls(**checked)


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``["lr=0.01", "loss=bce"]`` -> ``{"lr": 0.01, "loss": "bce"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r} is not of the form key=value")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out
