"""The `genrec` command line: thin typed wrappers over the Python API.

Every command is one function that parses options and calls the matching Python entry point
(``genrec.<stage>.command``); user-facing errors (`GenrecError`) are printed without a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from genrec.cli.data import assets_app, data_app
from genrec.cli.options import (
    DATASET_HELP,
    DataDirOption,
    SeedOption,
    SetOption,
    console,
)
from genrec.cli.options import print_metrics as _print_metrics
from genrec.errors import ConfigError, GenrecError

app = typer.Typer(help="LLM-based generative recommendation with grounded decoding.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(assets_app, name="assets")


@app.command()
def demo(
    seed: SeedOption = 0,
    output_dir: Annotated[
        Path,
        typer.Option(
            "--output-dir",
            help="Write config.json, summary.json and the servable run directory model/ here (a model/ "
            "left by an earlier demo is replaced; one holding files of yours is kept aside).",
        ),
    ] = Path("runs/demo"),
    generative: Annotated[
        bool,
        typer.Option(
            "--generative/--no-generative",
            help="Also train and show the compact generative recommender (semantic IDs).",
        ),
    ] = True,
    train_steps: Annotated[
        int,
        typer.Option(
            "--train-steps",
            help="Optimiser steps of the generative model (0: the backbone's default, 800 compact / 60 smollm2).",
        ),
    ] = 0,
    train_minutes: Annotated[
        float,
        typer.Option(
            "--train-minutes",
            help="Wall-clock cap on the generative training; a run it cuts short says so.",
        ),
    ] = 5.0,
    backbone: Annotated[
        str,
        typer.Option(
            "--backbone",
            help="Generative backbone: compact (from scratch) or smollm2 (SmolLM2-135M-Instruct, "
            "fine-tuned; also shows a generated explanation).",
        ),
    ] = "compact",
) -> None:
    """Run the main job on the embedded MovieLens-100K dataset and print held-out metrics."""
    from genrec.workflows.demo import DemoConfig, run_demo

    config = DemoConfig(
        seed=seed,
        generative=generative,
        train_steps=train_steps,
        train_minutes=train_minutes,
        backbone=backbone,
    )
    run_demo(config, output_dir=output_dir, console=console)


@app.command()
def evaluate(
    dataset: Annotated[str, typer.Argument(help=DATASET_HELP)],
    model: Annotated[
        str,
        typer.Argument(help="A registry name: popularity, sasrec, sasrec-text, gru4rec, content, reranker."),
    ],
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Run directory to write.")],
    seed: SeedOption = 0,
    data_dir: DataDirOption = None,
    values: SetOption = None,
    include_history: Annotated[
        bool, typer.Option("--include-history", help="Let history items be recommended.")
    ] = False,
    load_dir: Annotated[
        Path | None, typer.Option("--load-dir", help="Evaluate a saved model instead of training one.")
    ] = None,
    k_max: Annotated[int, typer.Option("--k-max", help="Largest K of the HR/NDCG curves.")] = 20,
) -> None:
    """Train (or load) a recommender and evaluate it on the held-out test users (full ranking).

    Writes config.json, metrics.json, metrics.md, per_user.parquet, curves.png and model/ to OUTPUT_DIR.
    """
    from genrec.workflows.evaluate import evaluate_command

    metrics = evaluate_command(
        dataset,
        model,
        output_dir,
        seed=seed,
        data_dir=data_dir,
        overrides=values or [],
        exclude_history=not include_history,
        load_dir=load_dir,
        k_max=k_max,
    )
    _print_metrics(f"{model} on {dataset} (test)", metrics["test"])
    console.print(f"run directory: {output_dir}")


@app.command()
def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="RUN_A RUN_B: run directories (or per_user.parquet files), A the reference. More pairs "
            "(RUN_A2 RUN_B2 ...: one pair per seed) pool the comparison over seeds."
        ),
    ],
    metric: Annotated[str, typer.Option("--metric", help="Per-user metric column.")] = "ndcg@10",
    n_bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples.")] = 10_000,
    seed: SeedOption = 0,
) -> None:
    """Paired comparison of evaluation runs: bootstrap CI of B - A, paired t-test and Wilcoxon."""
    from genrec.evaluation.compare import compare_command

    if len(runs) < 2 or len(runs) % 2:
        raise ConfigError(f"compare takes pairs RUN_A RUN_B [RUN_A2 RUN_B2 ...], got {len(runs)} paths")
    compare_command(runs[0::2], runs[1::2], metric=metric, n_bootstrap=n_bootstrap, seed=seed)


@app.command()
def tokenize(
    dataset: Annotated[str, typer.Argument(help=DATASET_HELP)],
    tokenizer: Annotated[
        str,
        typer.Argument(
            help="atomic, title, semantic (rqvae), residual_kmeans, collaborative or prebuilt[:variant]."
        ),
    ],
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Directory to write.")],
    seed: SeedOption = 0,
    data_dir: DataDirOption = None,
    values: SetOption = None,
) -> None:
    """Fit an item tokenizer and write its identifiers plus a stats report (stats.json, stats.md)."""
    from genrec.config import apply_overrides
    from genrec.workflows.tokenize import stats_markdown, tokenize_command

    stats = tokenize_command(
        dataset, tokenizer, output_dir, seed, data_dir=data_dir, options=apply_overrides({}, values or [])
    )
    console.print(stats_markdown(f"{tokenizer} identifiers for {dataset}", stats), markup=False)
    console.print(f"identifiers written to {output_dir}")


@app.command()
def train(
    config: Annotated[
        str,
        typer.Argument(
            help="A shipped recipe name or a YAML file; --set data.dataset=DATA trains on a named set "
            "or a data spec (your own .csv/.parquet/.yaml, see evaluate --help)."
        ),
    ],
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Run directory (resumable).")],
    seed: Annotated[int | None, typer.Option("--seed", help="Overrides the recipe's seed.")] = None,
    data_dir: DataDirOption = None,
    values: SetOption = None,
    test: Annotated[
        bool, typer.Option("--test/--no-test", help="Evaluate the best model on the test users.")
    ] = True,
) -> None:
    """Train a generative recommender from a recipe; re-running the same command resumes a killed run.

    Works under `accelerate launch` (DDP). Shipped recipes: `genrec recipes`.
    """
    from genrec.workflows.train import train_command

    metrics = train_command(
        config, output_dir, seed=seed, data_dir=data_dir, overrides=values or [], test=test
    )
    if "test" in metrics:
        _print_metrics(f"{config} (test)", metrics["test"])
    console.print(f"run directory: {output_dir}")


@app.command()
def align(
    run_dir: Annotated[Path, typer.Argument(help="A generative run directory (e.g. a train run's model/).")],
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="The new run directory (resumable).")
    ],
    data_dir: DataDirOption = None,
    values: Annotated[
        list[str] | None,
        typer.Option("--set", help="A preference config value (repeatable): --set objective=grpo"),
    ] = None,
) -> None:
    """Preference-train (DPO / S-DPO) or RL-train (GRPO) a generative run into a new run directory;
    re-running the same command resumes a killed run."""
    from genrec.workflows.align import align_command

    summary = align_command(run_dir, output_dir, values or [], data_dir=data_dir)
    console.print(json.dumps(summary["validation"], indent=1))
    if "beyond_accuracy" in summary:
        console.print(json.dumps(summary["beyond_accuracy"], indent=1))
    console.print(f"run directory: {output_dir}")


@app.command("recipes")
def recipes() -> None:
    """List the shipped training recipes (YAML configs)."""
    from genrec.training.config import shipped_recipes

    for name in shipped_recipes():
        console.print(name)


@app.command()
def recommend(
    model_dir: Annotated[Path, typer.Option("--model", help="A saved run directory.")],
    users_from: Annotated[
        str,
        typer.Option(
            "--users",
            help="test / valid (the run's dataset split), DATASET:SPLIT (DATASET may be a data spec "
            "path, e.g. shop.yaml:test), or a .jsonl/.parquet of histories.",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .jsonl or .parquet file.")],
    k: Annotated[int, typer.Option("-k", help="Items per user.")] = 10,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Users per forward batch.")] = 256,
    include_history: Annotated[
        bool, typer.Option("--include-history", help="Let history items be recommended.")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Batch top-K recommendations for many users; shards across processes under `accelerate launch`."""
    from genrec.serving.batch import recommend_command

    summary = recommend_command(
        model_dir,
        output,
        users_from,
        k=k,
        batch_size=batch_size,
        exclude_history=not include_history,
        data_dir=data_dir,
    )
    console.print(json.dumps(summary))


@app.command()
def explain(
    model_dir: Annotated[Path, typer.Option("--model", help="A saved run directory.")],
    history: Annotated[
        list[str],
        typer.Option("--history", help="A history item id or exact title, oldest first (repeatable)."),
    ],
    item: Annotated[
        str | None, typer.Option("--item", help="Item to explain (default: the run's top-1 for the history).")
    ] = None,
    grounded: Annotated[
        bool,
        typer.Option(
            "--grounded/--free-text",
            help="Name only attributes the item shares with the history, or let the LM write freely.",
        ),
    ] = True,
    lm: Annotated[
        str, typer.Option("--lm", help="Explaining LM: smollm2 (bundled) or a Hugging Face model directory.")
    ] = "smollm2",
) -> None:
    """Explain a recommendation of a saved run; prints JSON with the text and the attributes it names."""
    from genrec.workflows.explain import explain_command

    result = explain_command(model_dir, history, item, grounded=grounded, lm_path=lm)
    console.print_json(json.dumps(result))


@app.command()
def serve(
    model_dir: Annotated[Path, typer.Option("--model", help="A saved run directory.")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    max_batch_size: Annotated[int, typer.Option("--max-batch-size", help="Micro-batch size cap.")] = 64,
    max_wait_ms: Annotated[
        float, typer.Option("--max-wait-ms", help="How long a request waits for batch-mates.")
    ] = 2.0,
    batching: Annotated[
        bool, typer.Option("--batching/--no-batching", help="Micro-batch concurrent requests.")
    ] = True,
    threads: Annotated[int | None, typer.Option("--threads", help="torch intra-op threads.")] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Event store: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB "
            "[default: sqlite:///MODEL/events.sqlite].",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="GENREC_API_KEY",
            show_envvar=True,
            help="Key the write endpoints require (Authorization: Bearer KEY); without one, loopback only.",
        ),
    ] = None,
) -> None:
    """Serve a saved recommender over HTTP: recommendations, users and events, items, explain, metrics, /."""
    from genrec.serving.server import serve_command

    serve_command(
        model_dir,
        host=host,
        port=port,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        batching=batching,
        num_threads=threads,
        store=store,
        api_key=api_key,
    )


def main() -> None:
    """Console-script entry point: user-facing errors are printed without a traceback (exit code 2)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except GenrecError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
