"""The `genrec` command line: thin typed wrappers over the Python API."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from genrec.errors import GenrecError

app = typer.Typer(help="LLM-based generative recommendation with grounded decoding.", no_args_is_help=True)
data_app = typer.Typer(help="Inspect datasets.", no_args_is_help=True)
assets_app = typer.Typer(help="Install and locate offline model/data assets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(assets_app, name="assets")

console = Console()

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Folder holding the Amazon sets (default: $GENREC_DATA_DIR or ../shared/data)."
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (every run is reproducible).")]


@app.command()
def demo(
    seed: SeedOption = 0,
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", help="Write config + summary here.")
    ] = None,
) -> None:
    """Run the main job on the embedded MovieLens-100K dataset and print held-out metrics."""
    from genrec.demo import DemoConfig, run_demo

    run_demo(DemoConfig(seed=seed), output_dir=output_dir, console=console)


@data_app.command("stats")
def data_stats(
    name: Annotated[str, typer.Argument(help="ml-100k, office, scientific or beauty.")],
    data_dir: DataDirOption = None,
) -> None:
    """Print users, items, interactions, average sequence length, density and text-field coverage."""
    from genrec.data.stats import dataset_stats, format_stats

    stats = dataset_stats(name, data_dir)
    table = Table(title=f"{name}")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for label, value in format_stats(stats):
        table.add_row(label, value)
    console.print(table)


@assets_app.command("prepare")
def assets_prepare(
    skip_smollm2: Annotated[bool, typer.Option(help="Do not convert SmolLM2 to safetensors now.")] = False,
) -> None:
    """Extract MovieLens-100K from the RecBole wheel and cache SmolLM2 as safetensors (once)."""
    from genrec.assets import prepare_assets

    for name, path in prepare_assets(convert_smollm2=not skip_smollm2).items():
        console.print(f"{name}: {path}")


def main() -> None:
    """Console-script entry point: user-facing errors are printed without a traceback (exit code 2)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except GenrecError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
