"""Atomic, resumable training checkpoints.

Layout under ``<output>/checkpoints/``::

    pointer.json            {"latest": "step-00000500", "best": "best-00000400"}  (replaced atomically)
    step-00000500/          model.safetensors, state.pt (optimizer, scheduler, trainer state), rng-<rank>.pt,
                            ema.safetensors (the weight average, when training.ema_decay is on)
    best-00000400/          model.safetensors, metrics.json

A checkpoint directory is written under a temporary name and renamed when complete; only then is the
pointer file replaced (write temp + `os.replace`), and only then are unreferenced directories deleted.
A process killed at any moment therefore leaves the previous pointer and the directories it names
intact. Tensor state is saved with safetensors (weights) and ``torch.save`` (optimiser moments, RNG),
and read back with ``weights_only=True``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_file, save_model

from genrec.errors import GenrecError
from genrec.io.files import write_text_atomic

POINTER = "pointer.json"
WEIGHTS = "model.safetensors"
EMA_WEIGHTS = "ema.safetensors"
STATE = "state.pt"


def checkpoints_root(output_dir: Path) -> Path:
    return output_dir / "checkpoints"


def read_pointer(output_dir: Path) -> dict[str, str]:
    """The pointer file's content ({} when no checkpoint was committed yet)."""
    path = checkpoints_root(output_dir) / POINTER
    if not path.is_file():
        return {}
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise GenrecError(f"{path}: corrupt checkpoint pointer ({exc.msg})") from None
    return {str(k): str(v) for k, v in payload.items()} if isinstance(payload, dict) else {}


def _write_pointer(output_dir: Path, pointer: dict[str, str]) -> None:
    write_text_atomic(checkpoints_root(output_dir) / POINTER, json.dumps(pointer), durable=True)


def new_staging_dir(output_dir: Path, name: str) -> Path:
    """A fresh temporary directory that `commit` will rename to ``name``."""
    root = checkpoints_root(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=root))


def save_weights(
    directory: Path, model: torch.nn.Module | dict[str, torch.Tensor], filename: str = WEIGHTS
) -> None:
    """Model weights as safetensors (tied weights stored once).

    Pass a state dict gathered with ``accelerator.get_state_dict`` under FSDP / DeepSpeed, a module else.
    """
    if isinstance(model, torch.nn.Module):
        save_model(model, str(directory / filename))
        return
    seen: set[tuple[int, int]] = set()
    unique: dict[str, torch.Tensor] = {}
    for key, tensor in model.items():
        ident = (int(tensor.untyped_storage().data_ptr()), int(tensor.storage_offset()))
        if ident in seen:  # a tied weight: stored once, restored by the model's tying
            continue
        seen.add(ident)
        unique[key] = tensor.detach().cpu().contiguous()
    save_file(unique, str(directory / filename))


def load_weights(directory: Path, model: torch.nn.Module, filename: str = WEIGHTS) -> None:
    path = directory / filename
    if not path.is_file():
        raise GenrecError(f"checkpoint weights missing: {path}")
    missing, unexpected = load_model(model, str(path), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise GenrecError(
            f"{path}: weights do not match the model (missing {missing}, unexpected {unexpected})"
        )


def save_state(directory: Path, state: dict[str, Any]) -> None:
    torch.save(state, directory / STATE)


def load_state(directory: Path) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(directory / STATE, weights_only=True)
    return state


def rng_state() -> dict[str, Any]:
    """This process's torch RNG state (CPU, and CUDA when present)."""
    state: dict[str, Any] = {"cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def save_rng(directory: Path, rank: int) -> None:
    torch.save(rng_state(), directory / f"rng-{rank}.pt")


def load_rng(directory: Path, rank: int) -> None:
    path = directory / f"rng-{rank}.pt"
    if not path.is_file():
        raise GenrecError(f"{path}: no RNG state for rank {rank}; resume with the same number of processes")
    state = torch.load(path, weights_only=True)
    torch.random.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def commit(output_dir: Path, staging: Path, name: str, role: str) -> Path:
    """Rename ``staging`` to ``name``, point ``role`` ("latest" or "best") at it, drop stale directories."""
    root = checkpoints_root(output_dir)
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    pointer = read_pointer(output_dir)
    pointer[role] = name
    _write_pointer(output_dir, pointer)
    keep = set(pointer.values())
    for child in root.iterdir():
        if child.is_dir() and child.name not in keep and not child.name.startswith("."):
            shutil.rmtree(child, ignore_errors=True)
    return final


def committed(output_dir: Path, role: str) -> Path | None:
    """The committed checkpoint directory for ``role``, or None."""
    name = read_pointer(output_dir).get(role)
    return None if name is None else checkpoints_root(output_dir) / name
