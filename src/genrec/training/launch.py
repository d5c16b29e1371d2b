"""How a training run was launched (one process, DDP, DeepSpeed, FSDP) and what each launch needs.

`genrec.training.loop.Trainer` runs as is in one process or under ``accelerate launch``. Engines that shard
parameters or optimizer state across processes (DeepSpeed, FSDP) change how weights are checkpointed and
handed back; this module names them, refuses launches that would train wrongly, and fills in the DeepSpeed
settings that accelerate cannot infer when no dataloader is prepared.
"""

from __future__ import annotations

import os

from accelerate import Accelerator
from accelerate.utils import DistributedType

from genrec.errors import GenrecError

#: Engines that shard parameters and/or optimizer state across processes.
SHARDING_ENGINES = (DistributedType.DEEPSPEED, DistributedType.FSDP)


def check_launch(accelerator: Accelerator, ema_decay: float, sharded: bool) -> None:
    """Refuse a launch whose processes would not train together, and a weight average over shards."""
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if launched > 1 and accelerator.num_processes == 1:
        # e.g. `accelerate launch --use_fsdp` without GPUs: every process would train alone as "rank 0"
        # and write the same output directory
        raise GenrecError(
            f"launched as {launched} processes (WORLD_SIZE) but accelerate set up a single-process run; "
            "DeepSpeed and FSDP need GPUs — on CPUs launch DDP with `accelerate launch --multi_gpu`"
        )
    if ema_decay and sharded:
        raise GenrecError(
            "training.ema_decay needs unsharded weights: use one process or DDP, not DeepSpeed / FSDP"
        )


def configure_deepspeed(accelerator: Accelerator, batch_size: int, grad_clip: float) -> None:
    """DeepSpeed needs the micro-batch size and clipping in its config when no dataloader is prepared."""
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is None:
        return
    config = plugin.deepspeed_config
    if config.get("train_micro_batch_size_per_gpu", "auto") == "auto":
        config["train_micro_batch_size_per_gpu"] = batch_size
    if config.get("gradient_clipping", "auto") == "auto":
        config["gradient_clipping"] = grad_clip or 0.0
