"""`genrec train`: load a recipe, train a generative recommender, evaluate it on the held-out test set.

Outputs in ``output_dir``: ``config.yaml`` (the resolved config, written before training), ``checkpoints/``
(resumable state: re-running the same command continues a killed run), ``model/`` (the run directory of
the best model; `GenerativeRecommender.load` restores it) and ``metrics.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from genrec.data import LeaveOneOutSplit, leave_one_out, load_dataset
from genrec.data.spec import dataset_reference
from genrec.errors import ConfigError
from genrec.evaluation.evaluator import evaluate
from genrec.evaluation.metrics import validity_rate
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.run_dir import save_run
from genrec.training.config import RunConfig, config_from_dict, load_config

logger = logging.getLogger(__name__)


def _write_resolved(output_dir: Path, config: RunConfig) -> None:
    """Write ``config.yaml``; a different config already there (a run being resumed) is an error.

    The saved config is read back with today's defaults, so a run saved before a field existed resumes when
    the field holds its default (the behaviour the run had)."""
    path = output_dir / "config.yaml"
    if path.is_file():
        previous = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            saved = config_from_dict(previous).to_dict()
        except ConfigError as exc:
            raise ConfigError(f"{path} no longer loads ({exc}); use a new output_dir") from None
        differences = _differing_fields(saved, config.to_dict())
        if differences:
            shown = "; ".join(differences[:5]) + ("; ..." if len(differences) > 5 else "")
            raise ConfigError(
                f"{path} holds a different config ({shown}); resume with the same config or use a new "
                "output_dir"
            )
        return
    write_text_atomic(path, config.to_yaml())


def _differing_fields(saved: Any, requested: Any, prefix: str = "") -> list[str]:
    """``"section.field: saved X, requested Y"`` for every dotted field that differs between two config dicts."""
    if isinstance(saved, dict) and isinstance(requested, dict):
        out: list[str] = []
        for key in sorted(set(saved) | set(requested), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in saved or key not in requested:
                out.append(f"{name}: only in {'the saved' if key in saved else 'the requested'} config")
            else:
                out.extend(_differing_fields(saved[key], requested[key], name))
        return out
    return [] if saved == requested else [f"{prefix}: saved {saved!r}, requested {requested!r}"]


#: Seed of the test-user sample (``test_users``): every seed and every model is tested on the same users.
TEST_SAMPLE_SEED = 0


def train_and_evaluate(
    run_config: RunConfig,
    output_dir: Path,
    data_dir: Path | None = None,
    test: bool = True,
    test_users: int = 0,
) -> tuple[GenerativeRecommender, LeaveOneOutSplit, dict[str, Any]]:
    """Write the resolved config, train (resuming if ``output_dir`` holds checkpoints), test, save.

    ``test_users`` > 0 tests on that many test users drawn at random (seed ``TEST_SAMPLE_SEED``) instead
    of all of them, for models whose decoding is too slow for the whole test set; ``metrics["test"]`` then
    records ``users`` (how many were tested) and ``users_total``."""
    from accelerate import PartialState

    from genrec.data.registry import default_data_dir

    # a data spec path resolves against the working directory and is recorded absolute (resume, recommend)
    data_config = run_config.data.model_copy(update={"dataset": dataset_reference(run_config.data.dataset)})
    run_config = run_config.model_copy(update={"data": data_config})
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    main = PartialState().is_main_process
    if main:
        _write_resolved(output_dir, run_config)
    start = time.perf_counter()
    data = load_dataset(run_config.data.dataset, data_dir)
    split = leave_one_out(data, max_history=run_config.data.max_history)
    recommender = GenerativeRecommender(
        run_config, data_dir=data_dir or default_data_dir(), output_dir=output_dir
    )
    recommender.fit(split.train_data(), split.valid_set())
    metrics: dict[str, Any] = dict(recommender.metrics)
    if main:
        if test:
            test_set = split.test_set()
            total = len(test_set)
            if 0 < test_users < total:
                rng = np.random.default_rng(TEST_SAMPLE_SEED)
                test_set = test_set.subset(sorted(rng.choice(total, size=test_users, replace=False).tolist()))
            result = evaluate(recommender, test_set, k_max=20, batch_size=256)
            result.save_per_user(output_dir / "per_user.parquet")  # for `genrec compare`
            metrics["test"] = dict(result.metrics)
            if len(test_set) < total:
                metrics["test"]["users"], metrics["test"]["users_total"] = len(test_set), total
            metrics["test"]["validity"] = validity_rate(result.items, None)
        metrics["total_wall_time_s"] = time.perf_counter() - start
        recommender.metrics = metrics
        # a servable run directory: `genrec serve --model OUT/model` and `genrec recommend` load it as is
        save_run(
            recommender,
            data.catalogue,
            output_dir / "model",
            dataset=run_config.data.dataset,
            data_dir=data_dir,
            train=split.train_data(),
        )
        write_json_atomic(output_dir / "metrics.json", metrics)
    return recommender, split, metrics


def train_command(
    config: str | Path,
    output_dir: Path,
    seed: int | None = None,
    data_dir: Path | None = None,
    overrides: Sequence[str] = (),
    test: bool = True,
    test_users: int = 0,
) -> dict[str, Any]:
    """Train the recipe ``config`` (shipped name or YAML path) into ``output_dir``; returns the metrics.

    ``seed`` overrides the recipe's seed; ``overrides`` are ``section.key=value`` strings; ``test`` also
    evaluates the best model on the held-out test users (full ranking, history excluded; ``test_users`` > 0:
    a seeded sample of that many, see `train_and_evaluate`). Re-running the
    same command on the same ``output_dir`` resumes a killed run. Works under ``accelerate launch``.
    """
    extra = [*overrides, *([f"seed={seed}"] if seed is not None else [])]
    _, _, metrics = train_and_evaluate(
        load_config(config, extra), Path(output_dir), data_dir, test, test_users
    )
    return metrics
