"""Options and output helpers shared by the `genrec` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Folder holding the Amazon sets (default: $GENREC_DATA_DIR or ../shared/data)."
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (every run is reproducible).")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="A config value as dotted.key=value, the value read as YAML (repeatable): e.g. --set loss=bce "
        "(evaluate), --set training.lr=0.002 (train), --set codebook_size=128 (tokenize).",
    ),
]
DATASET_HELP = (
    "ml-100k, office, scientific, beauty, or a data spec: your own .csv/.tsv/.parquet interactions file "
    "(columns user, item, timestamp) or a .yaml naming files and columns (docs/own-data.md)."
)


def print_metrics(title: str, metrics: dict[str, float]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, int | float):
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else f"{value:,}")
    console.print(table)
