"""Learning-rate schedules: over the step count, or fitted to a wall-clock budget.

A run capped by ``training.max_minutes`` usually stops long before its planned step count, so a schedule
laid out over the steps is still near its peak learning rate when time runs out (a cosine over 3,000 steps
stopped at step 400 sits at 96% of the peak). ``schedule_clock: budget`` lays the decay out over the time
budget instead: after the warm-up, progress is the larger of the share of steps done and the share of the
budget spent, so the learning rate reaches its floor when either runs out. Wall-clock progress makes the
schedule depend on the machine's speed, as the time budget itself already does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from transformers import get_scheduler


def lr_multiplier(
    scheduler: str, step: int, warmup_steps: int, total_steps: int, budget_fraction: float = 0.0
) -> float:
    """The factor on the peak learning rate at ``step``: a linear warm-up over ``warmup_steps``, then
    ``cosine`` / ``linear`` decay to 0 or ``constant_with_warmup``, by progress = max(share of the steps
    after warm-up done, ``budget_fraction``) clipped to [0, 1]."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if scheduler == "constant_with_warmup":
        return 1.0
    by_steps = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, by_steps, budget_fraction))
    if scheduler == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if scheduler == "linear":
        return 1.0 - progress
    raise ValueError(f"unknown scheduler {scheduler!r}")


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    scheduler: str,
    warmup_steps: int,
    total_steps: int,
    budget_fraction: Callable[[], float] | None = None,
) -> Any:
    """A step-wise LR scheduler; with ``budget_fraction`` (the share of the time budget spent so far, read
    at every step) the decay follows :func:`lr_multiplier`, otherwise transformers' schedule of that name."""
    warmup = min(warmup_steps, total_steps)
    if budget_fraction is None:
        return get_scheduler(scheduler, optimizer, warmup, total_steps)
    fraction = budget_fraction

    def factor(step: int) -> float:
        return lr_multiplier(scheduler, step, warmup, total_steps, fraction())

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
