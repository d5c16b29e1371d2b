"""`genrec data ...` and `genrec assets ...`: inspecting datasets and installing the offline assets."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from genrec.cli.options import DATASET_HELP, DataDirOption, SeedOption, console

data_app = typer.Typer(help="Inspect datasets.", no_args_is_help=True)
assets_app = typer.Typer(help="Install and locate offline model/data assets.", no_args_is_help=True)


@data_app.command("stats")
def data_stats(
    name: Annotated[str, typer.Argument(help=DATASET_HELP)],
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


@data_app.command("new-items")
def data_new_items(
    name: Annotated[str, typer.Argument(help=DATASET_HELP)],
    fraction: Annotated[
        float, typer.Option("--fraction", help="Share of the catalogue held out as new.")
    ] = 0.1,
    seed: SeedOption = 0,
    data_dir: DataDirOption = None,
) -> None:
    """Print the group sizes of the new-item split (docs/new-items.md): new items, users, target groups."""
    from genrec.data.new_items import dataset_group_sizes, format_group_sizes

    sizes = dataset_group_sizes(name, data_dir, fraction=fraction, seed=seed)
    table = Table(title=f"{name}: new-item split (fraction {fraction}, seed {seed})")
    table.add_column("group")
    table.add_column("size", justify="right")
    for label, value in format_group_sizes(sizes):
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
