"""Typed, self-validating configuration for the trained baselines (SASRec, GRU4Rec).

Configs are frozen `genrec.config.ConfigModel`s, the same machinery as a generative run's recipe.
`config_from_mapping` builds one from a plain mapping (a JSON file, ``--set key=value`` overrides) and
rejects unknown keys and values of the wrong type with a `ConfigError` naming the key, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

from genrec.config import ConfigModel, validate_config

C = TypeVar("C", bound=ConfigModel)


class SequentialConfig(ConfigModel):
    """Options shared by the neural sequential baselines; defaults follow RecBole 1.2.1 where it has one.

    ``max_len`` is RecBole's ``MAX_ITEM_LIST_LENGTH`` (50); ``lr`` its ``learning_rate`` (0.001);
    ``patience`` its ``stopping_step`` (10 validations without improvement of validation NDCG@10).
    ``batch_size`` counts training windows (one window = up to ``max_len`` consecutive next-item targets).
    ``loss`` is ``ce`` (softmax over the full catalogue) or ``bce`` (one sampled negative per target).
    """

    seed: int = 0
    max_len: PositiveInt = 50
    batch_size: PositiveInt = 256
    lr: PositiveFloat = 0.001
    weight_decay: NonNegativeFloat = 0.0
    epochs: PositiveInt = 200
    patience: PositiveInt = 10
    loss: Literal["ce", "bce"] = "ce"
    num_threads: PositiveInt = 2
    eval_batch_size: PositiveInt = 1024
    max_train_seconds: NonNegativeFloat = 0.0


def config_from_mapping(cls: type[C], values: Mapping[str, Any]) -> C:
    """Build ``cls`` from ``values``; unknown keys or wrongly typed values raise `ConfigError`."""
    return validate_config(cls, values, root=cls.__name__)
