"""The generative part of `genrec demo`: a generative recommender on MovieLens-100K with semantic IDs.

Trains the ``ml100k-semantic-compact`` recipe (or, with ``backbone="smollm2"``, ``ml100k-atomic-smollm2``:
SmolLM2-135M-Instruct fine-tuned for a few steps) for a fixed number of optimiser steps, evaluates it on the
held-out test users (full ranking, history excluded) and shows one user's recent history and top-10 with
titles; the SmolLM2 path also shows one generated explanation. With ``keep_model`` the trained model is kept
as a servable run directory (`genrec serve --model DIR`); `install_run_directory` puts it in place.

The run length is a step count, not a time budget, so the same seed prints the same figures on a fast machine
and on a loaded one; the wall clock is only a cap. A run the cap cuts short says so, since its figures then
depend on the machine's speed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from genrec.errors import ConfigError
from genrec.recommenders.explain import GENERATED_LABEL
from genrec.recommenders.run_dir import MODEL_FILE
from genrec.training.config import load_config
from genrec.workflows.train import train_and_evaluate

DEMO_RECIPE = "ml100k-semantic-compact"
DEMO_RECIPES = {"compact": DEMO_RECIPE, "smollm2": "ml100k-atomic-smollm2"}
#: Default optimiser steps per backbone: a few minutes of one core (compact) or two (SmolLM2) when unloaded.
DEMO_STEPS = {"compact": 800, "smollm2": 60}

#: Printed under a run the wall-clock cap stopped: the same seed gives other figures on a faster machine.
CUT_SHORT_WARNING = (
    "[yellow]warning: the time cap cut training short, so these figures depend on this machine's speed; "
    "an unloaded machine (or a larger cap) runs the full length and prints the reproducible figures[/]"
)


def demo_generative(
    seed: int = 0,
    output_dir: Path | None = None,
    data_dir: Path | None = None,
    max_minutes: float = 5.0,
    max_steps: int = 0,
    user_index: int = 0,
    console: Console | None = None,
    show: bool = True,
    backbone: str = "compact",
    keep_model: Path | None = None,
) -> dict[str, Any]:
    """Train and test the demo's generative recommender; returns metrics, one user's history and top-10.

    ``max_steps`` is the run length in optimiser steps (0: the backbone's default in ``DEMO_STEPS``); the
    learning-rate schedule is laid out over it. ``max_minutes`` caps training time (validation included) in
    case the machine is too slow for the steps; the test evaluation comes on top. ``keep_model`` (optional)
    receives a copy of the servable run directory once training and testing are done.
    Returned keys: ``test`` (HR/NDCG@5/10/20 ...), ``training``, ``user``, ``history`` and ``top10``
    (lists of ``{"item", "title"}``), ``model_dir`` (the kept run directory, or None),
    ``previous_model_kept`` (see `install_run_directory`), ``wall_time_s``.
    """
    console = console or Console()
    start = time.perf_counter()
    if backbone not in DEMO_RECIPES:
        raise ConfigError(f"demo backbone must be one of {sorted(DEMO_RECIPES)}, got {backbone!r}")
    if max_steps < 0 or max_minutes <= 0:
        raise ConfigError(f"demo needs max_steps >= 0 and max_minutes > 0, got {max_steps}, {max_minutes}")
    recipe = DEMO_RECIPES[backbone]
    steps = max_steps or DEMO_STEPS[backbone]
    overrides = [f"seed={seed}", f"training.max_steps={steps}", f"training.max_minutes={max_minutes}"]
    config = load_config(recipe, [*overrides, "training.progress=false"])
    with tempfile.TemporaryDirectory(prefix="genrec-demo-") as scratch:
        out = output_dir if output_dir is not None else Path(scratch)
        console.print(
            f"training a {backbone} generative recommender ({recipe}, {steps:,} steps, capped at {max_minutes} min)"
        )
        recommender, split, metrics = train_and_evaluate(config, out, data_dir=data_dir, test=True)
        kept = None if keep_model is None else install_run_directory(out / "model", keep_model)
    console.print(training_summary(metrics.get("training", {})))
    catalogue = split.data.catalogue
    test = split.test_set()
    user = user_index % len(test)
    history = test.histories[user][-10:]
    top = recommender.recommend([test.histories[user]], k=10).items[0].tolist()
    table = Table(title=f"user {test.users[user]}: last {len(history)} items and generative top-10")
    table.add_column("recent history (oldest first)")
    table.add_column("top-10 recommendations")
    for row in range(max(len(history), len(top))):
        left = catalogue.title(history[row]) if row < len(history) else ""
        right = catalogue.title(top[row]) if row < len(top) and top[row] >= 0 else ""
        if row < len(top) and top[row] == int(test.targets[user]):
            right = f"[bold green]{right} (held-out next item)[/]"
        table.add_row(left, right)
    explanation = None
    if recommender.has_language_head and top and top[0] >= 0:
        reason = recommender.explain(test.histories[user], top[0])
        explanation = {"item": catalogue.id_of(top[0]), "title": catalogue.title(top[0]), "reason": reason}
    if show:
        console.print(table)
        if explanation:
            console.print(explanation_text(explanation))
    return {
        "table": table,
        "explanation": explanation,
        "recipe": recipe,
        "test": metrics.get("test", {}),
        "training": metrics.get("training", {}),
        "user": test.users[user],
        "history": [{"item": catalogue.id_of(i), "title": catalogue.title(i)} for i in history],
        "top10": [{"item": catalogue.id_of(i), "title": catalogue.title(i)} for i in top if i >= 0],
        "target": catalogue.id_of(int(test.targets[user])),
        "model_dir": None if keep_model is None else str(keep_model),
        "previous_model_kept": None if kept is None else str(kept),
        "wall_time_s": time.perf_counter() - start,
    }


def install_run_directory(source: Path, destination: Path) -> Path | None:
    """Copy the run directory ``source`` to ``destination``, replacing an earlier run directory there.

    The copy is written beside ``destination`` first and swapped in only when complete, so a crash never
    leaves a half-written model where a server would load it. Nothing the user saved is deleted: a
    ``destination`` that is not a run directory (no ``model.json``) is refused, and an earlier run directory
    holding files the new one does not have (say the event store `genrec serve` keeps beside the weights) is
    kept under ``<name>.replaced-<UTC time>``, whose path is returned (None when nothing was kept).
    """
    destination = Path(destination)
    if destination.resolve() == Path(source).resolve():
        return None
    incoming = destination.with_name(f"{destination.name}.incoming")
    outgoing = destination.with_name(f"{destination.name}.outgoing")
    if outgoing.is_dir() and not destination.exists():  # a run killed mid-swap: put the old one back first
        outgoing.rename(destination)
    check_run_destination(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (incoming, outgoing):  # from a run killed while copying or swapping
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(source, incoming)
    kept = None
    if destination.exists():
        added_since = [path for path in destination.iterdir() if not (incoming / path.name).exists()]
        if added_since:
            kept = destination.with_name(
                f"{destination.name}.replaced-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
            )
            destination.rename(kept)
        else:
            destination.rename(outgoing)
    incoming.rename(destination)
    shutil.rmtree(outgoing, ignore_errors=True)
    return kept


def check_run_destination(destination: Path) -> None:
    """`ConfigError` when ``destination`` exists but is not a run directory (no ``model.json``).

    Called before training as well, so a demo that could not keep its model fails in seconds, not minutes.
    """
    if destination.exists() and not (destination / MODEL_FILE).is_file():
        raise ConfigError(
            f"{destination} exists and is not a run directory (no {MODEL_FILE}); refusing to replace it, "
            "choose another --output-dir"
        )


def training_summary(training: dict[str, Any]) -> str:
    """One line on how far training got; a run the time cap cut short is flagged, its figures move with speed."""
    if not training:
        return "training: no record"
    line = (
        f"trained {training['steps']:,} steps ({training['epochs']} epochs) in {training['wall_time_s']:.0f} s, "
        f"ending: {training['stopped']}; weights kept from step {training['best_step']}"
    )
    if training["stopped"] == "time_budget":
        line += f"\n{CUT_SHORT_WARNING}"
    return line


def explanation_text(explanation: dict[str, Any]) -> str:
    """How the demo prints a generated explanation: labelled as generated text."""
    return f"why {explanation['title']!r}? [italic]{explanation['reason']}[/]\n[dim]({GENERATED_LABEL})[/]"
