"""Per-epoch checkpoints of a preference / RL run, so a killed `align_run` resumes to the same result.

After every epoch the run's state is committed under ``<output>/checkpoints/`` with the atomic
staging-directory-and-pointer scheme of `genrec.training.checkpoint` (a process killed mid-write leaves
the previous epoch's checkpoint intact)::

    epoch-00002/   model.safetensors (the current weights), best.safetensors (the best-so-far weights,
                   when an epoch beat the SFT model), state.pt (optimizer, torch RNG, epoch, best epoch and
                   score, validation history, steps, wall time, the SFT list measures, a fingerprint)

The fingerprint (the preference config and the SFT weights' key) must match on resume: a different
recipe in the same directory is an error, never a silent mix. Everything else a run draws (pairs,
rollout order) is seeded by epoch, so restoring these is enough for identical weights and history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from genrec.errors import GenrecError
from genrec.training import checkpoint as ckpt

BEST = "best.safetensors"


@dataclass
class AlignProgress:
    """Where a preference run stands after ``epoch`` epochs (0 = before the first update)."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = float("-inf")
    best_state: dict[str, torch.Tensor] | None = None
    steps: int = 0
    wall_time_s: float = 0.0
    sft_lists: dict[str, float] = field(default_factory=dict)

    def keep_if_best(self, epoch: int, score: float, model: torch.nn.Module) -> None:
        """Remember ``model``'s weights (a CPU copy) when ``score`` beats every earlier epoch's."""
        if score > self.best_score:
            self.best_epoch, self.best_score = epoch, score
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def save_progress(
    output_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: AlignProgress,
    fingerprint: dict[str, Any],
) -> Path:
    """Commit ``progress`` (and the model and optimizer) as the ``latest`` checkpoint of ``output_dir``."""
    name = f"epoch-{progress.epoch:05d}"
    staging = ckpt.new_staging_dir(output_dir, name)
    ckpt.save_weights(staging, model)
    if progress.best_state is not None:
        save_file({k: v.contiguous() for k, v in progress.best_state.items()}, str(staging / BEST))
    state = {
        "optimizer": optimizer.state_dict(),
        "rng": ckpt.rng_state(),
        "epoch": progress.epoch,
        "history": progress.history,
        "best_epoch": progress.best_epoch,
        "best_score": progress.best_score,
        "steps": progress.steps,
        "wall_time_s": progress.wall_time_s,
        "sft_lists": progress.sft_lists,
        "fingerprint": fingerprint,
    }
    ckpt.save_state(staging, state)
    return ckpt.commit(output_dir, staging, name, "latest")


def restore_progress(
    output_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    fingerprint: dict[str, Any],
) -> AlignProgress | None:
    """Load the latest checkpoint of ``output_dir`` into ``model`` and ``optimizer`` (None: none yet).

    Raises `GenrecError` when it was written by another preference config or another SFT model.
    """
    latest = ckpt.committed(output_dir, "latest")
    if latest is None:
        return None
    state = ckpt.load_state(latest)
    if state.get("fingerprint") != fingerprint:
        raise GenrecError(
            f"{latest} was written by another preference run ({state.get('fingerprint')}); resume it with the "
            "same config and SFT run, or choose a new output directory"
        )
    ckpt.load_weights(latest, model)
    optimizer.load_state_dict(state["optimizer"])
    torch.random.set_rng_state(state["rng"]["cpu"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    best = latest / BEST
    return AlignProgress(
        epoch=int(state["epoch"]),
        history=list(state["history"]),
        best_epoch=int(state["best_epoch"]),
        best_score=float(state["best_score"]),
        best_state=load_file(str(best)) if best.is_file() else None,
        steps=int(state["steps"]),
        wall_time_s=float(state["wall_time_s"]),
        sft_lists=dict(state["sft_lists"]),
    )
