"""The ``--set`` arguments that shrink a shipped recipe to a training run of seconds, for the CLI tests."""

from __future__ import annotations


def tiny_train_sets(dataset: str, eval_users: int) -> list[str]:
    """``["--set", "data.dataset=...", "--set", ...]``: a one-layer 16-wide backbone, two optimiser steps."""
    values = [
        f"data.dataset={dataset}",
        "backbone.num_layers=1",
        "backbone.hidden_size=16",
        "backbone.num_heads=2",
        "backbone.intermediate_size=32",
        "training.max_steps=2",
        "training.batch_size=32",
        "training.eval_every=0",
        "training.progress=false",
        "training.num_threads=1",
        f"training.eval_users={eval_users}",
        "decoding.num_beams=5",
    ]
    return [arg for value in values for arg in ("--set", value)]
