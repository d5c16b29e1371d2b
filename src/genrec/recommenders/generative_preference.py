"""Preference training (DPO / S-DPO / GRPO) of a fitted `GenerativeRecommender`, and the run directory it writes.

`align` starts from the recommender's current (SFT) weights: a frozen copy becomes the reference. DPO and
S-DPO train on each epoch's preference pairs from `genrec.training.preference_data` (hard negatives from
the SFT model's own constrained beam, drawn before any update) with the loss of
`genrec.training.preference_loss`; GRPO rolls out groups from the current policy each batch
(`genrec.recommenders.generative_rl`). After every epoch the model is scored by the recommender's own
validation (NDCG@10 through `recommend`, as SFT training validates); the best weights, the SFT weights
included (epoch 0), are kept, so an objective that does not help hands back the model it started from and
says so in the record. The record also holds the beyond-accuracy measures (coverage@10, Gini, popularity
percentile; `genrec.evaluation.beyond_accuracy`) of the SFT model, of every epoch and of the model handed
back, on the same validation users (one more ranking pass of those users per epoch).

`align_run` does this for a saved run directory and writes a NEW run directory, staged and moved into
place only when complete, that loads, evaluates and serves like any other; the preference record (config,
per-epoch validation, training time) is in its ``metrics.json`` under ``preference`` and in
``preference.json`` (GRPO's reward curves also in ``rewards.json``). The SFT run directory is never
modified. While it runs, every epoch is checkpointed into the output directory
(`genrec.recommenders.preference_checkpoint`): re-running the same command on it resumes a killed run to
the same result.

The policy is trained in eval mode (dropout off), so policy and reference agree exactly before the first
update and the log-ratios measure the updates alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.evaluation.beyond_accuracy import item_counts
from genrec.evaluation.evaluator import evaluate
from genrec.io.files import atomic_directory, write_json_atomic
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.generative_rl import CURVE_KEYS, grpo_epoch
from genrec.recommenders.preference_checkpoint import AlignProgress, restore_progress, save_progress
from genrec.recommenders.run_dir import load_run, save_run
from genrec.training.checkpoint import checkpoints_root
from genrec.training.examples import epoch_rng
from genrec.training.preference_data import PairBuilder, PreferenceConfig, PreferencePairs, target_positions
from genrec.training.preference_loss import frozen_reference, preference_batch, preference_loss

PREFERENCE_FILE = "preference.json"
REWARDS_FILE = "rewards.json"
#: What `evaluate` reports that the record keeps for the SFT and the aligned model.
LIST_KEYS = ("hr@10", "ndcg@10", "coverage@10", "gini@10", "popularity_percentile@10")

#: ``run(optimizer, epoch) -> the epoch's mean stats and "steps"``.
EpochRunner = Callable[[torch.optim.Optimizer, int], dict[str, float]]


def align(
    rec: GenerativeRecommender,
    train: TrainData,
    valid: EvalSet | None,
    config: PreferenceConfig,
    *,
    cache_dir: Path | None = None,
    model_key: str = "",
    checkpoint_dir: Path | None = None,
) -> dict[str, Any]:
    """Train ``rec.model`` with the objective of ``config``; returns the record it also stores under
    ``rec.metrics["preference"]``. ``model_key`` identifies the SFT weights in the pair cache and the
    checkpoints; with ``checkpoint_dir`` every epoch is checkpointed there and a run found there resumes."""
    rec._require_fit()
    model = rec.model
    reference = frozen_reference(model)
    run_epoch, targets = _epoch_runner(rec, reference, train, config, cache_dir, model_key)  # SFT weights
    subset = valid.sample(config.eval_users, config.seed) if valid is not None and len(valid) else None
    validate = None if subset is None else rec._validator(subset)
    counts = item_counts(train.sequences, train.num_items)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    fingerprint = {"config": config.to_dict(), "model_key": model_key}
    restored = None
    if checkpoint_dir is not None:
        restored = restore_progress(checkpoint_dir, model, optimizer, fingerprint)
    progress = restored or AlignProgress()
    if restored is None and subset is not None:
        assert validate is not None
        progress.history.append({"epoch": 0, **validate(model)})
        progress.best_score = progress.history[-1]["ndcg@10"]
        progress.sft_lists = _list_measures(rec, subset, counts)
    for epoch in range(progress.epoch + 1, config.epochs + 1):
        start = time.perf_counter()
        model.eval()  # dropout off; see the module docstring
        stats = run_epoch(optimizer, epoch)
        progress.steps += int(stats.pop("steps"))
        record = {"epoch": float(epoch), **stats}
        if validate is not None and subset is not None:
            record.update(validate(model))
            lists = _list_measures(rec, subset, counts)  # does this epoch push popular items?
            record.update({k: v for k, v in lists.items() if k not in record})
            progress.keep_if_best(epoch, record["ndcg@10"], model)
        progress.history.append(record)
        progress.epoch = epoch
        progress.wall_time_s += time.perf_counter() - start
        if checkpoint_dir is not None:
            save_progress(checkpoint_dir, model, optimizer, progress, fingerprint)
    if validate is not None and progress.best_state is None:  # no epoch beat the SFT weights: keep those
        model.load_state_dict(reference.state_dict())
    elif progress.best_state is not None and progress.best_epoch != config.epochs:
        model.load_state_dict(progress.best_state)
    model.eval()
    summary: dict[str, Any] = {
        "config": config.to_dict(),
        "best_epoch": progress.best_epoch if validate is not None else config.epochs,
        "validation": progress.history,
        "steps": progress.steps,
        "pairs_per_epoch": targets,
        "wall_time_s": progress.wall_time_s,
    }
    if subset is not None:
        summary["beyond_accuracy"] = {
            "sft": progress.sft_lists,
            "aligned": _list_measures(rec, subset, counts),
        }
    rec.metrics["preference"] = summary
    return summary


def _epoch_runner(
    rec: GenerativeRecommender,
    reference: torch.nn.Module,
    train: TrainData,
    config: PreferenceConfig,
    cache_dir: Path | None,
    model_key: str,
) -> tuple[EpochRunner, int]:
    """How one epoch of ``config.objective`` trains, and the number of training targets per epoch.

    DPO / S-DPO draw every epoch's pairs here, before any update (hard negatives are the SFT model's).
    """
    sequences = [[int(i) for i in s] for s in train.sequences]
    if config.objective == "grpo":
        targets = target_positions(sequences, config.targets)

        def run_grpo(optimizer: torch.optim.Optimizer, epoch: int) -> dict[str, float]:
            return grpo_epoch(rec, reference, optimizer, sequences, targets, config, epoch)

        return run_grpo, len(targets[0])
    builder = PairBuilder(
        sequences,
        train.num_items,
        config,
        rank=lambda histories, k: rec.recommend(histories, k).items,
        cache_dir=cache_dir,
        model_key=model_key,
    )
    all_pairs = [builder.pairs(epoch) for epoch in range(config.epochs)]

    def run_pairs(optimizer: torch.optim.Optimizer, epoch: int) -> dict[str, float]:
        return _train_epoch(rec, reference, optimizer, sequences, all_pairs[epoch - 1], config, epoch)

    return run_pairs, len(all_pairs[0]) if all_pairs else 0


def _list_measures(rec: GenerativeRecommender, subset: EvalSet, counts: np.ndarray) -> dict[str, float]:
    """HR/NDCG@10 and the beyond-accuracy measures of ``rec``'s top-10 lists for ``subset``."""
    batch = rec.config.decoding.batch_size
    metrics = evaluate(rec, subset, k_max=10, batch_size=batch, num_items=rec.num_items, item_counts=counts)
    return {key: float(metrics.metrics[key]) for key in LIST_KEYS if key in metrics.metrics}


def _train_epoch(
    rec: GenerativeRecommender,
    reference: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    sequences: list[list[int]],
    pairs: PreferencePairs,
    config: PreferenceConfig,
    epoch: int,
) -> dict[str, float]:
    """One pass over ``pairs`` in an epoch-seeded order; mean loss and diagnostics, and the step count."""
    model = rec.model
    device = next(model.parameters()).device
    order = epoch_rng(config.seed, epoch).permutation(len(pairs))
    pad = int(rec.lm_tokenizer.pad_token_id)
    totals: dict[str, float] = {"loss": 0.0, "reward_accuracy": 0.0, "margin": 0.0}
    steps = 0
    for first in range(0, len(order), config.batch_size):
        rows = order[first : first + config.batch_size]
        prompts, candidates = _batch_rows(rec, sequences, pairs, rows)
        batch = preference_batch(prompts, candidates, rec.item_ids, pad)
        batch = {k: v.to(device) for k, v in batch.items()}
        loss, stats = preference_loss(
            model, reference, batch, 1 + config.negatives, config.objective, config.beta, config.sft_weight
        )
        if not torch.isfinite(loss):
            raise GenrecError(f"preference loss became {float(loss)} at epoch {epoch}; lower lr or beta")
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        totals["loss"] += float(loss.detach())
        for name, value in stats.items():
            totals[name] = totals.get(name, 0.0) + value
        steps += 1
    means = {name: value / max(steps, 1) for name, value in totals.items()}
    return {**means, "steps": float(steps)}


def _batch_rows(
    rec: GenerativeRecommender, sequences: list[list[int]], pairs: PreferencePairs, rows: np.ndarray
) -> tuple[list[list[int]], list[list[int]]]:
    """Prompt ids of each row's prefix and its candidates (the positive, then the negatives)."""
    prompts, candidates = [], []
    for r in rows:
        seq, position = sequences[int(pairs.users[r])], int(pairs.positions[r])
        prompts.append(rec.prompt_ids(seq[:position]))
        candidates.append([seq[position], *(int(i) for i in pairs.negatives[r])])
    return prompts, candidates


def align_run(
    run_dir: Path,
    output_dir: Path,
    config: PreferenceConfig,
    train: TrainData,
    valid: EvalSet | None,
    *,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Load the SFT run ``run_dir``, preference-train it and write the new run ``output_dir``.

    ``output_dir`` must not exist yet, be empty, or hold only the checkpoints of a killed run of the same
    config and SFT run (which then resumes): a user's finished run is never overwritten. The pair cache
    defaults to ``run_dir/../.preference-cache``, keyed by the SFT weights' file size and time.
    """
    run_dir, output_dir = Path(run_dir), Path(output_dir)
    checkpoints = checkpoints_root(output_dir)
    if output_dir.exists() and any(p != checkpoints for p in output_dir.iterdir()):
        raise GenrecError(f"{output_dir} already exists and is not empty; choose a new output directory")
    rec, catalogue, info = load_run(run_dir)
    if not isinstance(rec, GenerativeRecommender):
        raise GenrecError(
            f"{run_dir} holds a {info.recommender!r} run; preference training needs 'generative'"
        )
    if train.num_items != rec.num_items:
        raise GenrecError(f"the training data has {train.num_items} items, the run {run_dir} {rec.num_items}")
    weights = sorted((run_dir / "model").glob("*.safetensors"))
    model_key = "-".join(f"{w.stat().st_size}.{w.stat().st_mtime_ns}" for w in weights)
    cache = cache_dir if cache_dir is not None else run_dir.parent / ".preference-cache"
    summary = align(
        rec, train, valid, config, cache_dir=cache, model_key=model_key, checkpoint_dir=output_dir
    )
    summary["started_from"] = str(run_dir.resolve())
    with atomic_directory(output_dir, replace=True) as staging:  # the checkpoints go with the old directory
        save_run(
            rec,
            catalogue,
            staging,
            dataset=info.dataset,
            data_dir=None if info.data_dir is None else Path(info.data_dir),
            train=train if info.has_fallback else None,
        )
        write_json_atomic(staging / PREFERENCE_FILE, summary)
        if config.objective == "grpo":
            curves = [
                {k: row[k] for k in ("epoch", *CURVE_KEYS) if k in row} for row in summary["validation"]
            ]
            write_json_atomic(staging / REWARDS_FILE, [c for c in curves if "reward" in c])
    return summary
