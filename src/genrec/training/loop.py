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

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from genrec.errors import GenrecError
from genrec.training import checkpoint as ckpt
from genrec.training.config import TrainingConfig
from genrec.training.examples import ExampleBuilder, bucket_batches, collate, epoch_rng, shard_batches
from genrec.training.launch import SHARDING_ENGINES, check_launch, configure_deepspeed
from genrec.training.losses import identifier_loss, identifier_vocabulary, target_loss
from genrec.training.optimizer import weight_decay_groups
from genrec.training.run_checkpoints import RunCheckpoints
from genrec.training.schedule import build_scheduler
from genrec.training.state import TrainResult, TrainState

logger = logging.getLogger(__name__)

#: Validation callback: the (unwrapped, eval-mode) model -> metrics including "ndcg@10" and "hr@10".
Validate = Callable[[torch.nn.Module], dict[str, float]]
SELECT_METRIC = "ndcg@10"


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
        self.checkpoints = RunCheckpoints(self.accelerator, self.output_dir, self.sharded)

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
        self.checkpoints.save(self.model, optimizer, scheduler, self.state, self.ema)

    def _save_best(self, metrics: dict[str, float]) -> None:
        """Rank 0 writes the weights; sharded, every rank must call this (the gather is collective)."""
        weights = self.accelerator.get_state_dict(self.model) if self.sharded else self._scored_model()
        self.checkpoints.save_best(weights, self.state.step, metrics)

    def _resume(self, optimizer: Any, scheduler: Any) -> Path | None:
        """Restore the latest checkpoint, if any, before ``prepare``; returns the checkpoint resumed from."""
        resumed = self.checkpoints.resume(self.model, optimizer, scheduler)
        if resumed is None:
            return None
        checkpoint, self.state = resumed
        return checkpoint

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

    # ------------------------------------------------------------------ main loop
    def train(self, halt_at_step: int | None = None) -> TrainResult:
        """Train to the end (or resume and finish). ``halt_at_step`` stops right after that step exactly as
        a killed process would (no final validation or save) — used to test resumption."""
        check_launch(self.accelerator, self.config.ema_decay, self.sharded)
        self._set_up_process()
        total = self.total_steps()
        vocabulary = self._loss_vocabulary()
        optimizer, scheduler = self._optimizer_and_scheduler(total)
        model, optimizer = self._prepare(optimizer, scheduler)
        run = _Run(model, optimizer, scheduler, vocabulary, total, self._progress_bar(total), self.state)
        halted = self._train_steps(run, halt_at_step)
        run.bar.close()
        if halted:
            return TrainResult(self.state, total, halted=True)
        self._validate_final_weights()
        if not self.state.stopped:
            self.state.stopped = "completed"
        self._save_checkpoint(optimizer, scheduler)
        self._hand_back_best_weights(model)
        self.accelerator.wait_for_everyone()
        done_steps = self.state.step - run.start_step
        logger.info("trained %d steps in %.1f s", done_steps, time.perf_counter() - run.start)
        return TrainResult(self.state, total, halted=False)

    def _set_up_process(self) -> None:
        """Thread count, stale staging directories of a killed run removed (rank 0), the seed of this rank."""
        acc = self.accelerator
        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)
        if acc.is_main_process:
            root = ckpt.checkpoints_root(self.output_dir)
            for stale in root.glob(".*.tmp") if root.is_dir() else []:
                shutil.rmtree(stale, ignore_errors=True)
        acc.wait_for_everyone()
        torch.manual_seed(self.seed + acc.process_index)

    def _loss_vocabulary(self) -> torch.Tensor | None:
        """The token ids the loss normalises over (``loss_vocabulary: identifiers``), None for all."""
        if self.config.loss_vocabulary != "identifiers":
            return None
        return identifier_vocabulary(self.builder.item_ids)

    def _optimizer_and_scheduler(self, total: int) -> tuple[torch.optim.Optimizer, Any]:
        """AdamW over the model's decay groups and the learning-rate schedule over ``total`` steps."""
        cfg = self.config
        optimizer = torch.optim.AdamW(weight_decay_groups(self.model, cfg.weight_decay), lr=cfg.lr)
        budget_fraction = None
        if cfg.schedule_clock == "budget":

            def budget_fraction() -> float:  # the trainer state's clock, restored on resume
                return self.state.elapsed_s / (60 * cfg.max_minutes)

        scheduler = build_scheduler(optimizer, cfg.scheduler, cfg.warmup_steps, total, budget_fraction)
        return optimizer, scheduler

    def _prepare(self, optimizer: Any, scheduler: Any) -> tuple[torch.nn.Module, Any]:
        """Resume from the latest checkpoint if there is one, hand model and optimizer to accelerate and
        start the weight average; returns the prepared (model, optimizer), the model in train mode."""
        acc = self.accelerator
        resumed = self._resume(optimizer, scheduler)
        configure_deepspeed(acc, self.config.batch_size, self.config.grad_clip)
        model, optimizer = acc.prepare(self.model, optimizer)
        self.model = model
        if resumed is not None and self.sharded:
            self.checkpoints.load_engine_state(resumed)
        if self.config.ema_decay:
            self._start_average(model, resumed)
        model.train()
        return model, optimizer

    def _start_average(self, model: torch.nn.Module, resumed: Path | None) -> None:
        """The weight average: a copy of the (resumed) weights on the training device, in eval mode."""
        average = get_ema_multi_avg_fn(self.config.ema_decay)
        self.ema = AveragedModel(self.accelerator.unwrap_model(model), multi_avg_fn=average, use_buffers=True)
        self.ema.eval()
        if resumed is not None:
            self.checkpoints.restore_average(self.ema, resumed)

    def _progress_bar(self, total: int) -> Any:
        """A bar over the run's steps, starting where a resumed run left off (rank 0, if ``progress``)."""
        return tqdm(
            total=total,
            initial=self.state.step,
            disable=not (self.config.progress and self.accelerator.is_main_process),
            unit="step",
            dynamic_ncols=True,
        )

    def _train_steps(self, run: _Run, halt_at_step: int | None) -> bool:
        """Optimizer steps, epoch after epoch, until the run's end or a stop; True when ``halt_at_step``
        cut it short."""
        while not self.state.stopped and self.state.step < run.total:
            examples, batches = self._epoch_batches(self.state.epoch)
            for b in range(self.state.batch_in_epoch, len(batches)):
                batch = self._device_batch([examples[i] for i in batches[b]])
                loss = self._loss(run, batch)
                self._optimizer_step(run, loss)
                self._count_step(b, len(batches), batch)
                self._show_progress(run, loss)
                validated = self._validate_if_due(run.total)
                self._stop_if_out_of_time()
                if validated or self.state.stopped or self._checkpoint_due():
                    self._save_checkpoint(run.optimizer, run.scheduler)
                if halt_at_step is not None and self.state.step >= halt_at_step:
                    return True
                if self.state.stopped or self.state.step >= run.total:
                    break
        return False

    def _device_batch(self, examples: list[Any]) -> dict[str, torch.Tensor]:
        """``examples`` padded into one batch on the training device: (batch, length) tensors."""
        batch = collate(examples, self.pad_token_id)
        return {k: v.to(self.accelerator.device) for k, v in batch.items()}

    def _loss(self, run: _Run, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The batch's mean loss on its target identifier tokens (a scalar)."""
        cfg = self.config
        with torch.autocast(self.accelerator.device.type, dtype=torch.bfloat16, enabled=cfg.autocast_bf16):
            if run.vocabulary is None:
                return target_loss(run.model, batch, cfg.loss_temperature)
            return identifier_loss(run.model, batch, run.vocabulary, cfg.loss_temperature)

    def _optimizer_step(self, run: _Run, loss: torch.Tensor) -> None:
        """Backward, clip, step, update the average, then advance the schedule (on the run's clock)."""
        acc = self.accelerator
        acc.backward(loss)
        if self.config.grad_clip:
            acc.clip_grad_norm_(run.model.parameters(), self.config.grad_clip)
        run.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(acc.unwrap_model(run.model))
        self.state.elapsed_s = run.elapsed_before + time.perf_counter() - run.start  # the schedule reads it
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)

    def _count_step(self, batch_index: int, batches_in_epoch: int, batch: dict[str, torch.Tensor]) -> None:
        """Advance the position (step, batch, epoch) and the count of tokens trained on, all ranks'."""
        st = self.state
        st.step += 1
        st.batch_in_epoch = batch_index + 1
        st.tokens += int(batch["attention_mask"].sum()) * self.accelerator.num_processes
        if st.batch_in_epoch == batches_in_epoch:
            st.epoch, st.batch_in_epoch = st.epoch + 1, 0

    def _show_progress(self, run: _Run, loss: torch.Tensor) -> None:
        """Advance the bar; show the loss, this process's tokens per second and the learning rate."""
        rate = (self.state.tokens - run.start_tokens) / max(time.perf_counter() - run.start, 1e-9)
        run.bar.update(1)
        run.bar.set_postfix(
            loss=f"{loss.item():.3f}", tok_s=f"{rate:,.0f}", lr=f"{run.scheduler.get_last_lr()[0]:.2e}"
        )

    def _validate_if_due(self, total: int) -> bool:
        """Validate every ``eval_every`` steps before the last (which `train` validates after the loop);
        stops the run when early stopping triggers. True when it validated."""
        every, step = self.config.eval_every, self.state.step
        if not (every and step % every == 0 and step < total):
            return False
        if self._run_validation():
            self.state.stopped = "early_stopping"
        return True

    def _stop_if_out_of_time(self) -> None:
        """Stop the run once it has trained ``max_minutes`` (rank 0's clock decides for every rank)."""
        if not self.config.max_minutes:
            return
        flag = [self.state.elapsed_s > 60 * self.config.max_minutes]
        if self.accelerator.num_processes > 1:
            broadcast_object_list(flag)
        if flag[0] and not self.state.stopped:
            self.state.stopped = "time_budget"

    def _checkpoint_due(self) -> bool:
        """True every ``checkpoint_every`` steps."""
        every = self.config.checkpoint_every
        return bool(every and self.state.step % every == 0)

    def _validate_final_weights(self) -> None:
        """Validate the final weights unless the last validation already scored this step."""
        history = self.state.history
        if self.validate is not None and (not history or history[-1]["step"] != self.state.step):
            self._run_validation()

    def _hand_back_best_weights(self, model: torch.nn.Module) -> None:
        """Leave the best weights (else the average, else the final ones) in the model `train` hands back."""
        acc = self.accelerator
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


class _Run:
    """What one call of `Trainer.train` steps with: the prepared model, optimizer and schedule, the loss
    vocabulary, the progress bar, and where this process started (clock, tokens, step, time trained)."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Any,
        scheduler: Any,
        vocabulary: torch.Tensor | None,
        total: int,
        bar: Any,
        state: TrainState,
    ) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.vocabulary = vocabulary
        self.total = total
        self.bar = bar
        self.start = time.perf_counter()
        self.start_tokens, self.start_step = state.tokens, state.step
        self.elapsed_before = state.elapsed_s
