"""`genrec demo`: the main job on the embedded default dataset (MovieLens-100K).

It prints the dataset's statistics and held-out test metrics of popularity, SASRec and a generative
recommender. SASRec and the generative model train for fixed run lengths (epochs, steps), so a seed prints the
same figures on any machine with the time; the minutes are caps, and a run a cap cuts short says so.
With an output directory the demo also leaves a servable run directory there (``OUTPUT/model``: the generative
model, or popularity with ``generative=False``) and prints the `genrec serve` command that serves it.
"""

from __future__ import annotations

import json
import shlex
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from genrec.data import leave_one_out, load_dataset
from genrec.data.stats import format_stats
from genrec.errors import ConfigError
from genrec.evaluation.evaluator import evaluate
from genrec.io.files import write_text_atomic
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.run_dir import save_run
from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender
from genrec.workflows.demo_generative import (
    CUT_SHORT_WARNING,
    check_run_destination,
    demo_generative,
    explanation_text,
    install_run_directory,
)


@dataclass(frozen=True)
class DemoConfig:
    """Resolved configuration of a demo run (written next to its outputs)."""

    dataset: str = "ml-100k"
    seed: int = 0
    max_history: int = 20
    k: int = 10
    #: Also train SASRec and the generative recommender (semantic IDs with the compact backbone).
    generative: bool = True
    #: Generative run length in optimiser steps (0: the backbone's default, ``DEMO_STEPS``).
    train_steps: int = 0
    #: Wall-clock cap on the generative training; it only binds on a machine too slow for the steps.
    train_minutes: float = 5.0
    #: SASRec run length (its library defaults otherwise) and its wall-clock cap.
    sasrec_epochs: int = 20
    sasrec_minutes: float = 3.0
    #: Generative backbone: ``compact`` (from scratch) or ``smollm2`` (SmolLM2-135M-Instruct, fine-tuned).
    backbone: str = "compact"

    def __post_init__(self) -> None:
        if self.k < 1 or self.max_history < 1:
            raise ConfigError(
                f"k and max_history must be >= 1, got k={self.k}, max_history={self.max_history}"
            )
        if self.backbone not in ("compact", "smollm2"):
            raise ConfigError(f"backbone must be 'compact' or 'smollm2', got {self.backbone!r}")
        if self.train_steps < 0 or self.sasrec_epochs < 1:
            raise ConfigError(
                f"train_steps must be >= 0 and sasrec_epochs >= 1, got {self.train_steps}, {self.sasrec_epochs}"
            )
        caps = self.train_minutes + self.sasrec_minutes
        if self.generative and not (self.train_minutes > 0 and self.sasrec_minutes > 0 and caps <= 8):
            raise ConfigError(
                "train_minutes and sasrec_minutes must be > 0 and add up to at most 8 (the demo must finish in "
                f"10 minutes), got {self.train_minutes} + {self.sasrec_minutes}"
            )


def run_demo(
    config: DemoConfig, output_dir: Path | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Load the dataset, split it leave-one-out, fit the recommenders and report test HR@10 / NDCG@10.

    With ``output_dir`` it writes ``config.json``, ``summary.json`` and the servable run directory
    ``model/`` there, and prints the `genrec serve` command for it.
    """
    console = console or Console()
    start = time.perf_counter()
    model_dir = None if output_dir is None else Path(output_dir) / "model"
    if model_dir is not None:
        check_run_destination(model_dir)
    data = load_dataset(config.dataset)
    split = leave_one_out(data, max_history=config.max_history)

    stats_table = Table(title=f"{config.dataset} statistics")
    stats_table.add_column("statistic")
    stats_table.add_column("value", justify="right")
    for label, value in format_stats(data.stats()):
        stats_table.add_row(label, value)
    console.print(stats_table)
    console.print(
        f"leave-one-out split: {split.num_users:,} users, {split.dropped_users} dropped (< 3 interactions)"
    )

    results: dict[str, dict[str, float]] = {}
    popularity = PopularityRecommender(seed=config.seed)
    popularity.fit(split.train_data(), split.valid_set())
    results["popularity"] = evaluate(popularity, split.test_set(), k_max=20).metrics
    generative: dict[str, Any] = {}
    previous_kept: str | None = None  # an earlier model directory holding the user's files, kept aside
    if config.generative:
        # SASRec (cross-entropy) for a fixed number of epochs: the yardstick the generative model is shown beside.
        sasrec = SASRecRecommender(
            SASRecConfig(
                seed=config.seed, epochs=config.sasrec_epochs, max_train_seconds=60.0 * config.sasrec_minutes
            )
        )
        console.print(
            f"training SASRec ({config.sasrec_epochs} epochs, capped at {config.sasrec_minutes} min)"
        )
        sasrec.fit(split.train_data(), split.valid_set())
        console.print(sasrec_summary(sasrec.training_log))
        results["sasrec"] = evaluate(sasrec, split.test_set(), k_max=20).metrics
        generative = demo_generative(
            seed=config.seed,
            max_minutes=config.train_minutes,
            max_steps=config.train_steps,
            console=console,
            show=False,
            backbone=config.backbone,
            keep_model=model_dir,
        )
        results[f"generative ({generative['recipe']})"] = generative["test"]
        previous_kept = generative["previous_model_kept"]
    elif model_dir is not None:
        with tempfile.TemporaryDirectory(prefix="genrec-demo-") as scratch:
            save_run(popularity, data.catalogue, Path(scratch) / "model", dataset=config.dataset)
            kept = install_run_directory(Path(scratch) / "model", model_dir)
            previous_kept = None if kept is None else str(kept)

    table = Table(title=f"held-out test metrics ({config.dataset}, full ranking, history excluded)")
    table.add_column("recommender")
    k = config.k
    for col in (f"HR@{k}", f"NDCG@{k}"):
        table.add_column(col, justify="right")
    for name, metrics in results.items():
        table.add_row(name, f"{metrics[f'hr@{k}']:.4f}", f"{metrics[f'ndcg@{k}']:.4f}")
    console.print(table)
    if generative:
        console.print(generative["table"])
        if generative.get("explanation"):
            console.print(explanation_text(generative["explanation"]))

    summary = {
        "config": asdict(config),
        "stats": data.stats(),
        "results": results,
        "generative_example": {k: v for k, v in generative.items() if k != "table"},
        "model_dir": None if model_dir is None else str(model_dir),
        "wall_time_s": time.perf_counter() - start,
    }
    if output_dir is not None:
        for name, payload in (("config.json", summary["config"]), ("summary.json", summary)):
            write_text_atomic(output_dir / name, json.dumps(payload, indent=2))
    console.print(f"demo finished in {summary['wall_time_s']:.1f} s")
    if model_dir is not None:
        if previous_kept:
            console.print(
                f"the previous model held files of yours; it was kept as {previous_kept}", markup=False
            )
        kind = "generative" if config.generative else "popularity"
        console.print(f"serve the {kind} model: {serve_command(model_dir)}", markup=False, soft_wrap=True)
    return summary


def serve_command(model_dir: Path) -> str:
    """The shell command that serves the run directory ``model_dir`` (quoted for a POSIX shell)."""
    return f"genrec serve --model {shlex.quote(str(model_dir))}"


def sasrec_summary(log: dict[str, Any]) -> str:
    """One line on SASRec's run; a run the time cap cut short is flagged, its figures move with speed."""
    line = (
        f"SASRec: {log['epochs']} epochs in {log['wall_time_s']:.0f} s, ending: {log['stopped']}; "
        f"weights kept from epoch {log['best_epoch']}"
    )
    return f"{line}\n{CUT_SHORT_WARNING}" if log["stopped"] == "time budget" else line
