"""The one training loop shared by every causal-LM backbone (the compact decoder and pretrained LMs).

Next-item prediction with the loss on target identifier tokens only, length-bucketed batches, AdamW with
warm-up and decay, gradient clipping, a progress bar with tokens/s and ETA, validation every N steps with
early stopping and the best weights kept, and atomic checkpoints from which a killed run resumes to the
same weights as an uninterrupted one. Runs as is in one process or under ``accelerate launch`` (DDP):
each rank takes a disjoint share of every epoch's batches; rank 0 validates and writes checkpoints.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list
from tqdm.auto import tqdm
from transformers import get_scheduler

from genrec.training import checkpoint as ckpt
from genrec.training.config import TrainingConfig
from genrec.training.examples import (
    ExampleBuilder,
    bucket_batches,
    collate,
    epoch_rng,
    shard_batches,
)
from genrec.training.losses import identifier_loss, identifier_vocabulary, target_loss

logger = logging.getLogger(__name__)

#: Validation callback: the (unwrapped, eval-mode) model -> metrics including "ndcg@10" and "hr@10".
Validate = Callable[[torch.nn.Module], dict[str, float]]
SELECT_METRIC = "ndcg@10"


@dataclass
class TrainState:
    """Everything besides tensors needed to resume: position, early-stopping state, history."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    best_metric: float = float("-inf")
    best_step: int = -1
    bad_evals: int = 0
    stopped: str = ""
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or halted) run reports."""

    state: TrainState
    total_steps: int
    halted: bool

    @property
    def best_metrics(self) -> dict[str, float]:
        for row in self.state.history:
            if row.get("step") == self.state.best_step:
                return row
        return {}


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases and norm weights (1-D tensors)."""
    seen: set[int] = set()
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class Trainer:
    """Trains ``model`` on ``sequences`` with examples from ``builder``; checkpoints into ``output_dir``."""

    def __init__(
        self,
        model: torch.nn.Module,
        builder: ExampleBuilder,
        sequences: list[list[int]],
        config: TrainingConfig,
        seed: int,
        output_dir: Path,
        pad_token_id: int,
        validate: Validate | None = None,
        accelerator: Accelerator | None = None,
    ) -> None:
        self.model = model
        self.builder = builder
        self.sequences = sequences
        self.config = config
        self.seed = seed
        self.output_dir = Path(output_dir)
        self.pad_token_id = pad_token_id
        self.validate = validate
        self.accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
        self.state = TrainState()

    # ------------------------------------------------------------------ data
    def _epoch_batches(self, epoch: int) -> tuple[list[Any], list[list[int]]]:
        cfg = self.config
        rng = epoch_rng(self.seed, epoch)
        examples = self.builder.build(self.sequences, cfg.prefixes, cfg.last_n, cfg.sample_budget, rng)
        batches = bucket_batches([len(e.input_ids) for e in examples], cfg.batch_size, rng)
        acc = self.accelerator
        return examples, shard_batches(batches, acc.process_index, acc.num_processes)

    def total_steps(self) -> int:
        """Run length in optimiser steps (max_steps, else epochs x this rank's batches per epoch)."""
        if self.config.max_steps:
            return self.config.max_steps
        _, batches = self._epoch_batches(0)
        return max(1, self.config.epochs * len(batches))

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, optimizer: Any, scheduler: Any) -> None:
        acc = self.accelerator
        name = f"step-{self.state.step:08d}"
        staging = [ckpt.new_staging_dir(self.output_dir, name) if acc.is_main_process else None]
        if acc.num_processes > 1:
            broadcast_object_list(staging)
        directory = Path(str(staging[0]))
        ckpt.save_rng(directory, acc.process_index)
        weights = acc.get_state_dict(self.model)  # collective under FSDP / DeepSpeed ZeRO-3
        acc.wait_for_everyone()
        if acc.is_main_process:
            ckpt.save_weights(directory, weights)
            state = {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "trainer": asdict(self.state),
                "world_size": acc.num_processes,
            }
            ckpt.save_state(directory, state)
            ckpt.commit(self.output_dir, directory, name, "latest")
        acc.wait_for_everyone()

    def _save_best(self, metrics: dict[str, float]) -> None:
        name = f"best-{self.state.step:08d}"
        staging = ckpt.new_staging_dir(self.output_dir, name)
        ckpt.save_weights(staging, self.accelerator.unwrap_model(self.model))
        (staging / "metrics.json").write_text(str(metrics))
        ckpt.commit(self.output_dir, staging, name, "best")

    def _resume(self, optimizer: Any, scheduler: Any) -> bool:
        latest = ckpt.committed(self.output_dir, "latest")
        if latest is None:
            return False
        state = ckpt.load_state(latest)
        if int(state.get("world_size", 1)) != self.accelerator.num_processes:
            logger.warning(
                "resuming a %s-process run with %s processes",
                state.get("world_size"),
                self.accelerator.num_processes,
            )
        ckpt.load_weights(latest, self.model)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        self.state = TrainState(**state["trainer"])
        ckpt.load_rng(latest, self.accelerator.process_index)
        logger.info("resumed from %s (step %d)", latest, self.state.step)
        return True

    # ------------------------------------------------------------------ validation
    def _run_validation(self) -> bool:
        """Validate on rank 0, keep the best weights; returns True when early stopping triggers."""
        acc = self.accelerator
        result: list[Any] = [None]
        if acc.is_main_process and self.validate is not None:
            model = acc.unwrap_model(self.model)
            model.eval()
            with torch.no_grad():
                metrics = dict(self.validate(model))
            model.train()
            metrics["step"] = float(self.state.step)
            self.state.history.append(metrics)
            value = metrics[SELECT_METRIC]
            if value > self.state.best_metric:
                self.state.best_metric, self.state.best_step, self.state.bad_evals = value, self.state.step, 0
                self._save_best(metrics)
            else:
                self.state.bad_evals += 1
            result = [(self.state.best_metric, self.state.best_step, self.state.bad_evals, metrics)]
        if acc.num_processes > 1:
            broadcast_object_list(result)
        if result[0] is None:
            return False
        best, best_step, bad, metrics = result[0]
        if not acc.is_main_process:
            self.state.best_metric, self.state.best_step, self.state.bad_evals = best, best_step, bad
            self.state.history.append(metrics)
        return bool(self.config.patience and bad >= self.config.patience)

    # ------------------------------------------------------------------ main loop
    def train(self, halt_at_step: int | None = None) -> TrainResult:
        """Train to the end (or resume and finish). ``halt_at_step`` stops right after that step exactly as
        a killed process would (no final validation or save) — used to test resumption."""
        cfg, acc = self.config, self.accelerator
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        if acc.is_main_process:
            root = ckpt.checkpoints_root(self.output_dir)
            for stale in root.glob(".*.tmp") if root.is_dir() else []:
                shutil.rmtree(stale, ignore_errors=True)
        acc.wait_for_everyone()
        torch.manual_seed(self.seed + acc.process_index)
        total = self.total_steps()
        vocabulary = (
            identifier_vocabulary(self.builder.item_ids) if cfg.loss_vocabulary == "identifiers" else None
        )
        optimizer = torch.optim.AdamW(_param_groups(self.model, cfg.weight_decay), lr=cfg.lr)
        scheduler = get_scheduler(cfg.scheduler, optimizer, min(cfg.warmup_steps, total), total)
        self._resume(optimizer, scheduler)
        model, optimizer = acc.prepare(self.model, optimizer)
        self.model = model
        model.train()
        bar = tqdm(
            total=total,
            initial=self.state.step,
            disable=not (cfg.progress and acc.is_main_process),
            unit="step",
            dynamic_ncols=True,
        )
        start, start_tokens, start_step = time.perf_counter(), self.state.tokens, self.state.step
        elapsed0 = self.state.elapsed_s
        stop = self.state.stopped
        while not stop and self.state.step < total:
            examples, batches = self._epoch_batches(self.state.epoch)
            for b in range(self.state.batch_in_epoch, len(batches)):
                batch = collate([examples[i] for i in batches[b]], self.pad_token_id)
                batch = {k: v.to(acc.device) for k, v in batch.items()}
                with torch.autocast(acc.device.type, dtype=torch.bfloat16, enabled=cfg.autocast_bf16):
                    if vocabulary is None:
                        loss = target_loss(model, batch)
                    else:
                        loss = identifier_loss(model, batch, vocabulary)
                acc.backward(loss)
                if cfg.grad_clip:
                    acc.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                st = self.state
                st.step += 1
                st.batch_in_epoch = b + 1
                st.tokens += int(batch["attention_mask"].sum()) * acc.num_processes
                st.elapsed_s = elapsed0 + time.perf_counter() - start
                rate = (st.tokens - start_tokens) / max(time.perf_counter() - start, 1e-9)
                bar.update(1)
                bar.set_postfix(
                    loss=f"{loss.item():.3f}", tok_s=f"{rate:,.0f}", lr=f"{scheduler.get_last_lr()[0]:.2e}"
                )
                if st.batch_in_epoch == len(batches):
                    st.epoch, st.batch_in_epoch = st.epoch + 1, 0
                evaluated = False
                if cfg.eval_every and st.step % cfg.eval_every == 0 and st.step < total:
                    evaluated = True
                    if self._run_validation():
                        stop = st.stopped = "early_stopping"
                if cfg.max_minutes:
                    flag = [st.elapsed_s > 60 * cfg.max_minutes]  # rank 0's clock decides for all
                    if acc.num_processes > 1:
                        broadcast_object_list(flag)
                    if flag[0] and not stop:
                        stop = st.stopped = "time_budget"
                if evaluated or stop or (cfg.checkpoint_every and st.step % cfg.checkpoint_every == 0):
                    self._save_checkpoint(optimizer, scheduler)
                if halt_at_step is not None and st.step >= halt_at_step:
                    bar.close()
                    return TrainResult(self.state, total, halted=True)
                if stop or st.step >= total:
                    break
        bar.close()
        if self.validate is not None and (
            not self.state.history or self.state.history[-1]["step"] != self.state.step
        ):
            self._run_validation()
        if not self.state.stopped:
            self.state.stopped = "completed"
        self._save_checkpoint(optimizer, scheduler)
        best = ckpt.committed(self.output_dir, "best")
        if best is not None:
            ckpt.load_weights(best, acc.unwrap_model(model))
        acc.wait_for_everyone()
        done_steps = self.state.step - start_step
        logger.info("trained %d steps in %.1f s", done_steps, time.perf_counter() - start)
        return TrainResult(self.state, total, halted=False)
