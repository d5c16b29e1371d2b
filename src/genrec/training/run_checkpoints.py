"""A training run's checkpoints: what `Trainer` writes every N steps and at the end, and resumes from.

A step checkpoint holds the weights, the weight average (if kept), the scheduler, the trainer state, every
rank's RNG state and, unsharded, the optimizer; under DeepSpeed / FSDP each rank also writes its shard of
model and optimizer state through ``accelerate.save_state``. A best checkpoint holds the weights that
scored best and their metrics. Each is written into a staging directory and committed by an atomic
pointer update (`genrec.training.checkpoint`), so a run killed mid-write resumes from the previous one to
the same weights an uninterrupted run reaches.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list
from torch.optim.swa_utils import AveragedModel

from genrec.errors import GenrecError
from genrec.training import checkpoint as ckpt
from genrec.training.state import TrainState

logger = logging.getLogger(__name__)

#: Sub-directory of a checkpoint holding ``accelerate.save_state`` output (sharded runs only).
ENGINE_STATE = "engine"


class RunCheckpoints:
    """Checkpoints of one run in ``output_dir``; ``sharded``: parameters or optimizer state are sharded."""

    def __init__(self, accelerator: Accelerator, output_dir: Path, sharded: bool) -> None:
        self.accelerator = accelerator
        self.output_dir = output_dir
        self.sharded = sharded

    def save(
        self,
        model: torch.nn.Module,
        optimizer: Any,
        scheduler: Any,
        state: TrainState,
        ema: AveragedModel | None,
    ) -> None:
        """Commit a step checkpoint as ``latest``; every rank calls this (it synchronises them)."""
        acc = self.accelerator
        name = f"step-{state.step:08d}"
        staging = [ckpt.new_staging_dir(self.output_dir, name) if acc.is_main_process else None]
        if acc.num_processes > 1:
            broadcast_object_list(staging)
        directory = Path(str(staging[0]))
        ckpt.save_rng(directory, acc.process_index)
        if self.sharded:  # each rank writes its shard of the model and optimizer state
            acc.save_state(str(directory / ENGINE_STATE))
        weights = acc.get_state_dict(model)  # collective under FSDP / DeepSpeed ZeRO-3
        acc.wait_for_everyone()
        if acc.is_main_process:
            ckpt.save_weights(directory, weights)
            saved = {
                "scheduler": scheduler.state_dict(),
                "trainer": asdict(state),
                "world_size": acc.num_processes,
            }
            if not self.sharded:
                saved["optimizer"] = optimizer.state_dict()
            if ema is not None:
                ckpt.save_weights(directory, ema.module, ckpt.EMA_WEIGHTS)
                saved["ema_n_averaged"] = int(ema.n_averaged)
            ckpt.save_state(directory, saved)
            ckpt.commit(self.output_dir, directory, name, "latest")
        acc.wait_for_everyone()

    def save_best(self, weights: Any, step: int, metrics: dict[str, float]) -> None:
        """Commit ``weights`` (a module or a state dict) and their ``metrics`` as ``best`` (rank 0 writes)."""
        if not self.accelerator.is_main_process:
            return
        name = f"best-{step:08d}"
        staging = ckpt.new_staging_dir(self.output_dir, name)
        ckpt.save_weights(staging, weights)
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=1))
        ckpt.commit(self.output_dir, staging, name, "best")

    def resume(
        self, model: torch.nn.Module, optimizer: Any, scheduler: Any
    ) -> tuple[Path, TrainState] | None:
        """Restore weights, schedule and RNG (and, unsharded, the optimizer) from ``latest`` before
        ``prepare``; returns that checkpoint and its trainer state, None when there is none (sharded: load
        its engine state after ``prepare`` with `load_engine_state`)."""
        latest = ckpt.committed(self.output_dir, "latest")
        if latest is None:
            return None
        saved = ckpt.load_state(latest)
        processes = self.accelerator.num_processes
        if int(saved.get("world_size", 1)) != processes:
            logger.warning("resuming a %s-process run with %s processes", saved.get("world_size"), processes)
        ckpt.load_weights(latest, model)
        if "optimizer" in saved:
            optimizer.load_state_dict(saved["optimizer"])
        elif not self.sharded:
            raise GenrecError(
                f"{latest}: written by a sharded run (DeepSpeed / FSDP); resume it the same way"
            )
        scheduler.load_state_dict(saved["scheduler"])
        state = TrainState(**saved["trainer"])
        ckpt.load_rng(latest, self.accelerator.process_index)
        logger.info("resumed from %s (step %d)", latest, state.step)
        return latest, state

    def load_engine_state(self, checkpoint: Path) -> None:
        """A sharded run's per-rank model and optimizer shards, into the prepared engine."""
        self.accelerator.load_state(str(checkpoint / ENGINE_STATE))

    @staticmethod
    def restore_average(ema: AveragedModel, checkpoint: Path) -> None:
        """The weight average and its count as ``checkpoint`` saved them."""
        n_averaged = ckpt.load_state(checkpoint).get("ema_n_averaged")
        if n_averaged is None:
            raise GenrecError(
                f"{checkpoint}: written without a weight average; resume with the run's training.ema_decay"
            )
        ckpt.load_weights(checkpoint, ema.module, ckpt.EMA_WEIGHTS)
        ema.n_averaged.fill_(int(n_averaged))
