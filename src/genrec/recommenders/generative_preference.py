"""Preference training (DPO / S-DPO) of a fitted `GenerativeRecommender`, and the new run directory it writes.

`align` starts from the recommender's current (SFT) weights: a frozen copy becomes the reference, each
epoch's preference pairs come from `genrec.training.preference_data` (hard negatives from the SFT model's
own constrained beam, drawn before any update), and the loss from `genrec.training.preference_loss`.
After every epoch the model is scored by the recommender's own validation (NDCG@10 through `recommend`,
as SFT training validates); the best weights, the SFT weights included (epoch 0), are kept, so an
objective that does not help hands back the model it started from and says so in the record.

`align_run` does this for a saved run directory and writes a NEW run directory, staged and moved into
place only when complete, that loads, evaluates and serves like any other; the preference record (config,
per-epoch validation, training time) is in its ``metrics.json`` under ``preference`` and in
``preference.json``. The SFT run directory is never modified.

The policy is trained in eval mode (dropout off), so policy and reference agree exactly before the first
update and the log-ratios measure the updates alone.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.data.split import EvalSet, TrainData
from genrec.errors import GenrecError
from genrec.io.files import atomic_directory, write_json_atomic
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.run_dir import load_run, save_run
from genrec.training.examples import epoch_rng
from genrec.training.preference_data import PairBuilder, PreferenceConfig, PreferencePairs
from genrec.training.preference_loss import frozen_reference, preference_batch, preference_loss

PREFERENCE_FILE = "preference.json"


def align(
    rec: GenerativeRecommender,
    train: TrainData,
    valid: EvalSet | None,
    config: PreferenceConfig,
    *,
    cache_dir: Path | None = None,
    model_key: str = "",
) -> dict[str, Any]:
    """Train ``rec.model`` with the preference objective of ``config``; returns the record it also stores
    under ``rec.metrics["preference"]``. ``model_key`` identifies the SFT weights in the pair cache."""
    rec._require_fit()
    model = rec.model
    reference = frozen_reference(model)
    builder = PairBuilder(
        train.sequences,
        train.num_items,
        config,
        rank=lambda histories, k: rec.recommend(histories, k).items,
        cache_dir=cache_dir,
        model_key=model_key,
    )
    all_pairs = [builder.pairs(epoch) for epoch in range(config.epochs)]  # hard negatives: the SFT model's
    sequences = builder.sequences
    validate = None
    if valid is not None and len(valid):
        validate = rec._validator(valid.sample(config.eval_users, config.seed))
    history: list[dict[str, float]] = []
    best_epoch, best_score, best_state = 0, float("-inf"), None
    if validate is not None:
        history.append({"epoch": 0, **validate(model)})
        best_score = history[-1]["ndcg@10"]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    start, steps = time.perf_counter(), 0.0
    for epoch, pairs in enumerate(all_pairs, start=1):
        model.eval()  # dropout off; see the module docstring
        stats = _train_epoch(rec, reference, optimizer, sequences, pairs, config, epoch)
        steps += stats.pop("steps")
        record = {"epoch": float(epoch), **stats}
        if validate is not None:
            record.update(validate(model))
            if record["ndcg@10"] > best_score:
                best_epoch, best_score = epoch, record["ndcg@10"]
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        history.append(record)
    wall_time_s = time.perf_counter() - start
    if validate is not None and best_state is None:  # no epoch beat the SFT weights: keep those
        model.load_state_dict(reference.state_dict())
    elif best_state is not None and best_epoch != config.epochs:
        model.load_state_dict(best_state)
    model.eval()
    summary = {
        "config": config.to_dict(),
        "best_epoch": best_epoch if validate is not None else config.epochs,
        "validation": history,
        "steps": int(steps),
        "pairs_per_epoch": len(all_pairs[0]) if all_pairs else 0,
        "wall_time_s": wall_time_s,
    }
    rec.metrics["preference"] = summary
    return summary


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
            model, reference, batch, 1 + config.negatives, config.objective, config.beta
        )
        if not torch.isfinite(loss):
            raise GenrecError(f"preference loss became {float(loss)} at epoch {epoch}; lower lr or beta")
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        totals["loss"] += float(loss.detach())
        for name, value in stats.items():
            totals[name] += value
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

    ``output_dir`` must not exist yet (or be empty): a user's earlier run is never overwritten. The pair
    cache defaults to ``run_dir/../.preference-cache``, keyed by the SFT weights' file size and time.
    """
    run_dir, output_dir = Path(run_dir), Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
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
    summary = align(rec, train, valid, config, cache_dir=cache, model_key=model_key)
    summary["started_from"] = str(run_dir.resolve())
    with atomic_directory(output_dir, replace=True) as staging:
        save_run(
            rec,
            catalogue,
            staging,
            dataset=info.dataset,
            data_dir=None if info.data_dir is None else Path(info.data_dir),
            train=train if info.has_fallback else None,
        )
        write_json_atomic(staging / PREFERENCE_FILE, summary)
    return summary
