"""`genrec evaluate`: train (or load) a registered recommender on a dataset and write a run directory.

The run directory holds ``config.json`` (the resolved configuration), ``model/`` (the fitted recommender),
``metrics.json``, ``metrics.md``, ``per_user.parquet`` (for `genrec.evaluation.compare`) and
``curves.png`` (HR@K and NDCG@K).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genrec.config import apply_overrides
from genrec.data import leave_one_out, load_dataset
from genrec.data.spec import dataset_reference
from genrec.errors import ConfigError
from genrec.evaluation.evaluator import evaluate
from genrec.evaluation.report import metrics_markdown, plot_curves
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.recommenders.registry import build_recommender, load_recommender, resolve_config
from genrec.recommenders.run_dir import save_run


def train_item_counts(sequences: Sequence[Sequence[int]], num_items: int) -> np.ndarray:
    """Training interactions per item, shape (num_items,)."""
    flat = np.fromiter((i for s in sequences for i in s), dtype=np.int64)
    return np.bincount(flat, minlength=num_items)


def evaluate_command(
    dataset: str,
    model: str,
    output_dir: Path,
    seed: int = 0,
    data_dir: Path | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    exclude_history: bool = True,
    load_dir: Path | None = None,
    k_max: int = 20,
    progress: bool = True,
) -> dict[str, Any]:
    """Fit ``model`` (or load it from ``load_dir``) on ``dataset`` and evaluate it on the test users.

    ``dataset`` is a name or a data spec path (`genrec.data.spec`; recorded as an absolute path).
    ``overrides`` are model config values (``["loss=bce", "epochs=5"]`` or a mapping). Returns the
    metrics written to ``metrics.json``.
    """
    if k_max < 10:
        raise ConfigError(f"k_max must be >= 10 (HR@10 / NDCG@10 are reported), got {k_max}")
    dataset = dataset_reference(dataset)
    values = dict(overrides) if isinstance(overrides, Mapping) else apply_overrides({}, overrides)
    resolved = {
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "exclude_history": exclude_history,
        "k_max": k_max,
        "load_dir": None if load_dir is None else str(load_dir),
        "model_config": resolve_config(model, values, seed),
    }
    output_dir = Path(output_dir)
    write_json_atomic(output_dir / "config.json", resolved)
    start = time.perf_counter()
    data = load_dataset(dataset, data_dir)
    split = leave_one_out(data)
    train = split.train_data()
    if load_dir is None:
        recommender = build_recommender(model, values, seed=seed, progress=progress)
        recommender.fit(train, split.valid_set())
        train_time = time.perf_counter() - start
        # a servable run directory: `genrec serve --model OUT/model` and `genrec recommend` load it as is
        save_run(
            recommender, data.catalogue, output_dir / "model", dataset=dataset, data_dir=data_dir, train=train
        )
    else:
        recommender = load_recommender(Path(load_dir))
        train_time = 0.0
    counts = train_item_counts(train.sequences, train.num_items)
    result = evaluate(
        recommender,
        split.test_set(),
        k_max=k_max,
        exclude_history=exclude_history,
        num_items=train.num_items,
        item_counts=counts,
        progress=progress,
    )
    metrics: dict[str, Any] = {"test": result.metrics, "train_wall_time_s": train_time}
    log = getattr(recommender, "training_log", None)
    if log:
        metrics["training"] = {k: v for k, v in log.items() if k != "history"}
    write_json_atomic(output_dir / "metrics.json", metrics)
    title = f"{model} on {dataset} (seed {seed}, full ranking, history {'excluded' if exclude_history else 'included'})"
    write_text_atomic(output_dir / "metrics.md", metrics_markdown(title, result.metrics))
    result.save_per_user(output_dir / "per_user.parquet")
    plot_curves(result.ranks, k_max, output_dir / "curves.png", f"{model} on {dataset}")
    return metrics
