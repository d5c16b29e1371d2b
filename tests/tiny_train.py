"""The settings that shrink a shipped recipe to a training run of seconds, for CLI and serving tests."""

from __future__ import annotations


def tiny_train_values(dataset: str, eval_users: int, max_steps: int = 2, num_beams: int = 5) -> list[str]:
    """``["data.dataset=...", ...]``: a one-layer 16-wide backbone trained for ``max_steps`` optimiser steps."""
    return [
        f"data.dataset={dataset}",
        "backbone.num_layers=1",
        "backbone.hidden_size=16",
        "backbone.num_heads=2",
        "backbone.intermediate_size=32",
        f"training.max_steps={max_steps}",
        "training.batch_size=32",
        "training.eval_every=0",
        "training.progress=false",
        "training.num_threads=1",
        f"training.eval_users={eval_users}",
        f"decoding.num_beams={num_beams}",
    ]


def tiny_train_sets(dataset: str, eval_users: int) -> list[str]:
    """The same as CLI arguments: ``["--set", "data.dataset=...", "--set", ...]``."""
    return [arg for value in tiny_train_values(dataset, eval_users) for arg in ("--set", value)]
