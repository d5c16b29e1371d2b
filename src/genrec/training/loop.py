"""The one training loop shared by every causal-LM backbone (the compact decoder and pretrained LMs).

Next-item prediction with the loss on target identifier tokens only, length-bucketed batches, AdamW with
warm-up and decay, gradient clipping, a progress bar with tokens/s and ETA, validation every N steps with
early stopping and the best weights kept, and atomic checkpoints from which a killed run resumes to the
same weights as an uninterrupted one. Runs as is in one process or under ``accelerate launch``: each rank
takes a disjoint share of every epoch's batches. Under DDP rank 0 validates and writes checkpoints. Under an
engine that shards parameters or optimizer state (DeepSpeed, FSDP) every rank takes part: all ranks run the
validation forward passes, the best weights are gathered collectively, checkpoints hold each rank's shard
(``accelerate.save_state``), and the trained model is handed back as a fresh unsharded copy (``rebuild``)
holding the best weights. With ``ema_decay`` an exponential moving average of the weights is kept beside
the trained ones (unsharded runs): it is what validation scores, the best checkpoint keeps and the run hands
back, and it is checkpointed so a resumed run averages exactly as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, broadcast_object_list
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from genrec.errors import GenrecError
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
from genrec.training.optimizer import weight_decay_groups
from genrec.training.schedule import build_scheduler
from genrec.training.state import TrainResult, TrainState

logger = logging.getLogger(__name__)

#: Validation callback: the (unwrapped, eval-mode) model -> metrics including "ndcg@10" and "hr@10".
Validate = Callable[[torch.nn.Module], dict[str, float]]
SELECT_METRIC = "ndcg@10"
#: Engines that shard parameters and/or optimizer state across processes.
SHARDING_ENGINES = (DistributedType.DEEPSPEED, DistributedType.FSDP)
#: Sub-directory of a checkpoint holding ``accelerate.save_state`` output (sharded runs only).
ENGINE_STATE = "engine"


class Trainer:
    """Trains ``model`` on ``sequences`` with examples from ``builder``; checkpoints into ``output_dir``.

    ``rebuild`` makes a fresh, unsharded copy of the model (same architecture, any weights); it is required
    under DeepSpeed / FSDP, whose trained module keeps its parameters sharded. ``sharded`` forces the
    sharded-engine code path (None: on exactly under DeepSpeed / FSDP) so it can be tested under DDP.
    """

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
        rebuild: Callable[[], torch.nn.Module] | None = None,
        sharded: bool | None = None,
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
        engine = self.accelerator.distributed_type
        self.sharded = engine in SHARDING_ENGINES if sharded is None else sharded
        if engine in SHARDING_ENGINES and rebuild is None:
            raise GenrecError(
                f"training under {engine.value} needs Trainer(rebuild=...) to hand back the model"
            )
        self.rebuild = rebuild
        self.state = TrainState()
        self.ema: AveragedModel | None = None

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
        if self.sharded:  # each rank writes its shard of the model and optimizer state
            acc.save_state(str(directory / ENGINE_STATE))
        weights = acc.get_state_dict(self.model)  # collective under FSDP / DeepSpeed ZeRO-3
        acc.wait_for_everyone()
        if acc.is_main_process:
            ckpt.save_weights(directory, weights)
            state = {
                "scheduler": scheduler.state_dict(),
                "trainer": asdict(self.state),
                "world_size": acc.num_processes,
            }
            if not self.sharded:
                state["optimizer"] = optimizer.state_dict()
            if self.ema is not None:
                ckpt.save_weights(directory, self.ema.module, ckpt.EMA_WEIGHTS)
                state["ema_n_averaged"] = int(self.ema.n_averaged)
            ckpt.save_state(directory, state)
            ckpt.commit(self.output_dir, directory, name, "latest")
        acc.wait_for_everyone()

    def _save_best(self, metrics: dict[str, float]) -> None:
        """Rank 0 writes the weights; sharded, every rank must call this (the gather is collective)."""
        acc = self.accelerator
        weights = acc.get_state_dict(self.model) if self.sharded else self._scored_model()
        if not acc.is_main_process:
            return
        name = f"best-{self.state.step:08d}"
        staging = ckpt.new_staging_dir(self.output_dir, name)
        ckpt.save_weights(staging, weights)
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=1))
        ckpt.commit(self.output_dir, staging, name, "best")

    def _resume(self, optimizer: Any, scheduler: Any) -> Path | None:
        """Restore weights, schedule, RNG and trainer state (and, unsharded, the optimizer) before
        ``prepare``; returns the checkpoint resumed from (sharded: its engine state is loaded after)."""
        latest = ckpt.committed(self.output_dir, "latest")
        if latest is None:
            return None
        state = ckpt.load_state(latest)
        if int(state.get("world_size", 1)) != self.accelerator.num_processes:
            logger.warning(
                "resuming a %s-process run with %s processes",
                state.get("world_size"),
                self.accelerator.num_processes,
            )
        ckpt.load_weights(latest, self.model)
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
        elif not self.sharded:
            raise GenrecError(
                f"{latest}: written by a sharded run (DeepSpeed / FSDP); resume it the same way"
            )
        scheduler.load_state_dict(state["scheduler"])
        self.state = TrainState(**state["trainer"])
        ckpt.load_rng(latest, self.accelerator.process_index)
        logger.info("resumed from %s (step %d)", latest, self.state.step)
        return latest

    def _restore_ema(self, checkpoint: Path) -> None:
        assert self.ema is not None
        n_averaged = ckpt.load_state(checkpoint).get("ema_n_averaged")
        if n_averaged is None:
            raise GenrecError(
                f"{checkpoint}: written without a weight average; resume with the run's training.ema_decay"
            )
        ckpt.load_weights(checkpoint, self.ema.module, ckpt.EMA_WEIGHTS)
        self.ema.n_averaged.fill_(int(n_averaged))

    # ------------------------------------------------------------------ validation
    def _scored_model(self) -> torch.nn.Module:
        """The weights validation scores and the best checkpoint keeps: the average when there is one."""
        return self.ema.module if self.ema is not None else self.accelerator.unwrap_model(self.model)

    def _run_validation(self) -> bool:
        """Validate (rank 0; sharded: every rank runs the same forward passes), keep the best weights;
        returns True when early stopping triggers."""
        acc = self.accelerator
        result: list[Any] = [None]
        if self.validate is not None and (acc.is_main_process or self.sharded):
            model = self._scored_model()
            model.eval()
            with torch.no_grad():
                metrics = dict(self.validate(model))
            if self.ema is None:
                model.train()
            if acc.is_main_process:
                metrics["step"] = float(self.state.step)
                improved = metrics[SELECT_METRIC] > self.state.best_metric
                result = [(improved, metrics)]
        if acc.num_processes > 1:
            broadcast_object_list(result)
        if result[0] is None:
            return False
        improved, metrics = result[0]
        st = self.state
        st.history.append(metrics)
        if improved:
            st.best_metric, st.best_step, st.bad_evals = metrics[SELECT_METRIC], st.step, 0
            if acc.is_main_process or self.sharded:
                self._save_best(metrics)
        else:
            st.bad_evals += 1
        return bool(self.config.patience and st.bad_evals >= self.config.patience)

    def _configure_deepspeed(self) -> None:
        """DeepSpeed needs the micro-batch size and clipping in its config when no dataloader is prepared."""
        plugin = getattr(self.accelerator.state, "deepspeed_plugin", None)
        if plugin is None:
            return
        config = plugin.deepspeed_config
        if config.get("train_micro_batch_size_per_gpu", "auto") == "auto":
            config["train_micro_batch_size_per_gpu"] = self.config.batch_size
        if config.get("gradient_clipping", "auto") == "auto":
            config["gradient_clipping"] = self.config.grad_clip or 0.0

    # ------------------------------------------------------------------ main loop
    def train(self, halt_at_step: int | None = None) -> TrainResult:
        """Train to the end (or resume and finish). ``halt_at_step`` stops right after that step exactly as
        a killed process would (no final validation or save) — used to test resumption."""
        cfg, acc = self.config, self.accelerator
        launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
        if launched > 1 and acc.num_processes == 1:
            # e.g. `accelerate launch --use_fsdp` without GPUs: every process would train alone as "rank 0"
            # and write the same output directory
            raise GenrecError(
                f"launched as {launched} processes (WORLD_SIZE) but accelerate set up a single-process run; "
                "DeepSpeed and FSDP need GPUs — on CPUs launch DDP with `accelerate launch --multi_gpu`"
            )
        if cfg.ema_decay and self.sharded:
            raise GenrecError(
                "training.ema_decay needs unsharded weights: use one process or DDP, not DeepSpeed / FSDP"
            )
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
        optimizer = torch.optim.AdamW(weight_decay_groups(self.model, cfg.weight_decay), lr=cfg.lr)
        budget_fraction = None
        if cfg.schedule_clock == "budget":

            def budget_fraction() -> float:  # the trainer state's clock, restored on resume
                return self.state.elapsed_s / (60 * cfg.max_minutes)

        scheduler = build_scheduler(optimizer, cfg.scheduler, cfg.warmup_steps, total, budget_fraction)
        resumed = self._resume(optimizer, scheduler)
        self._configure_deepspeed()
        model, optimizer = acc.prepare(self.model, optimizer)
        self.model = model
        if resumed is not None and self.sharded:
            acc.load_state(str(resumed / ENGINE_STATE))
        if cfg.ema_decay:  # a copy of the (resumed) weights on the training device, in eval mode
            self.ema = AveragedModel(
                acc.unwrap_model(model), multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True
            )
            self.ema.eval()
            if resumed is not None:
                self._restore_ema(resumed)
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
                        loss = target_loss(model, batch, cfg.loss_temperature)
                    else:
                        loss = identifier_loss(model, batch, vocabulary, cfg.loss_temperature)
                acc.backward(loss)
                if cfg.grad_clip:
                    acc.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                if self.ema is not None:
                    self.ema.update_parameters(acc.unwrap_model(model))
                st = self.state
                st.elapsed_s = elapsed0 + time.perf_counter() - start  # before the schedule reads it
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                st.step += 1
                st.batch_in_epoch = b + 1
                st.tokens += int(batch["attention_mask"].sum()) * acc.num_processes
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
        if self.sharded and self.rebuild is not None:
            # the trained module's parameters stay sharded: hand back a plain copy with the gathered weights
            acc.wait_for_everyone()
            source = best or ckpt.committed(self.output_dir, "latest")
            self.model = self.rebuild()
            if source is not None:
                ckpt.load_weights(source, self.model)
        elif best is not None:
            ckpt.load_weights(best, acc.unwrap_model(model))
        elif self.ema is not None:  # no validation: hand back the average
            acc.unwrap_model(model).load_state_dict(self.ema.module.state_dict())
        acc.wait_for_everyone()
        done_steps = self.state.step - start_step
        logger.info("trained %d steps in %.1f s", done_steps, time.perf_counter() - start)
        return TrainResult(self.state, total, halted=False)
