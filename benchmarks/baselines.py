"""Baseline benchmark: popularity, SASRec (CE and BCE) and GRU4Rec, leave-one-out, full ranking.

    python benchmarks/baselines.py                      # all 4 datasets x 4 models x seeds 0 1 2
    python benchmarks/baselines.py --datasets office --models sasrec-ce --seeds 0 --recbole

Writes benchmarks/results/baselines.json and baselines.md (mean ± sample std over seeds, test metrics,
training wall time). ``--recbole`` also trains RecBole 1.2.1's SASRec (CE) on the identical split, in its own venv,
and prints the two side by side. ``--max-train-minutes`` caps each training run (reported when it binds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from genrec.config import apply_overrides
from genrec.data import DATASETS, leave_one_out, load_dataset
from genrec.evaluation.evaluator import evaluate
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.recommenders.registry import build_recommender
from genrec.workflows.evaluate import train_item_counts
from measured_at import current_commit
from seed_stats import format_mean_std, mean_and_std

MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "popularity": ("popularity", {}),
    "sasrec-ce": ("sasrec", {"loss": "ce"}),
    "sasrec-bce": ("sasrec", {"loss": "bce"}),
    "gru4rec": ("gru4rec", {}),
}
REPORTED = ("hr@1", "hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20", "mrr", "coverage@10", "gini@10")


PER_USER_COLUMNS = ("user", "rank", "hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20")


def run_one(
    split: Any, model: str, seed: int, extra: dict[str, Any], progress: bool, per_user: Path | None = None
) -> dict[str, Any]:
    """Train and test one model x seed; ``per_user``: also write its per-user test values there (Parquet),
    which `genrec compare` pairs by user, pooled over seeds."""
    name, options = MODELS[model]
    overrides = {} if name == "popularity" else {**options, **extra}
    rec = build_recommender(name, overrides, seed=seed, progress=progress)
    train = split.train_data()
    start = time.perf_counter()
    rec.fit(train, split.valid_set())
    train_s = time.perf_counter() - start
    counts = train_item_counts(train.sequences, train.num_items)
    result = evaluate(rec, split.test_set(), k_max=20, num_items=train.num_items, item_counts=counts)
    log = {k: v for k, v in getattr(rec, "training_log", {}).items() if k != "history"}
    run = {"seed": seed, "test": result.metrics, "train_wall_time_s": train_s, "training": log}
    if per_user is not None:
        per_user.parent.mkdir(parents=True, exist_ok=True)
        result.per_user()[list(PER_USER_COLUMNS)].to_parquet(per_user, index=False)
        run["per_user"] = f"per_user/{per_user.name}"
    return run


def summarise(runs: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    """[mean, sample std (ddof=1; None for one seed)] over seeds of each reported metric and the training time."""
    out: dict[str, list[float | None]] = {}
    for key in (*REPORTED, "train_wall_time_s", "ms_per_user"):
        vals = [r["train_wall_time_s"] if key == "train_wall_time_s" else r["test"][key] for r in runs]
        out[key] = list(mean_and_std(vals))
    return out


def _cell(summary: dict[str, list[float | None]], key: str) -> str:
    mean, std = summary[key]
    assert mean is not None
    return format_mean_std(mean, std)


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Baselines (leave-one-out, full ranking, history excluded; test set; mean ± sample std over seeds)",
        "",
        "| dataset | model | seeds | HR@10 | NDCG@10 | HR@20 | NDCG@20 | MRR | coverage@10 | train s | stopped |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ds, models in results["datasets"].items():
        for model, entry in models.items():
            s = entry["summary"]
            stops = ",".join(sorted({str(r["training"].get("stopped", "-")) for r in entry["runs"]}))
            lines.append(
                f"| {ds} | {model} | {len(entry['runs'])} | {_cell(s, 'hr@10')} | {_cell(s, 'ndcg@10')} | {_cell(s, 'hr@20')}"
                f" | {_cell(s, 'ndcg@20')} | {_cell(s, 'mrr')} | {_cell(s, 'coverage@10')} | {s['train_wall_time_s'][0] or 0:.0f}"
                f" | {stops} |"
            )
    if results.get("recbole"):
        lines += [
            "",
            "## Cross-check: RecBole 1.2.1 SASRec (CE) on the identical split",
            "",
            "| dataset | seed | epochs cap | batch | epochs run | RecBole train s | RecBole HR@10 | RecBole NDCG@10 | ours sasrec-ce NDCG@10 | split verified |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for ds, rb in results["recbole"].items():
            ours = (
                results["datasets"]
                .get(ds, {})
                .get("sasrec-ce", {})
                .get("summary", {})
                .get("ndcg@10", [float("nan")])
            )
            lines.append(
                f"| {ds} | {rb['seed']} | {rb['epochs']} | {rb.get('train_batch_size', 2048)} | {rb.get('epochs_run')} | "
                f"{rb['train_wall_time_s']:.0f} | {rb['test'].get('hit@10', float('nan')):.4f} | "
                f"{rb['test'].get('ndcg@10', float('nan')):.4f} | {ours[0]:.4f} | {rb['split_verified']} |"
            )
    lines += ["", f"Command: `{results['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--name", default="baselines", help="output file stem")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a neural config value as key=value, read as YAML (repeatable), as in genrec evaluate --set",
    )
    parser.add_argument(
        "--max-train-minutes", type=float, default=0.0, help="cap per training run (0 = none)"
    )
    parser.add_argument("--recbole", action="store_true", help="also run RecBole 1.2.1 SASRec (CE)")
    parser.add_argument(
        "--recbole-epochs", type=int, default=300, help="RecBole epochs cap (its default: 300)"
    )
    parser.add_argument(
        "--recbole-batch-size",
        type=int,
        default=2048,
        help="RecBole train_batch_size (its default 2048 = few steps per epoch; 256 = ours, converges in fewer epochs)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads per training run (ours and RecBole's); not a result setting, so --resume ignores it",
    )
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--merge",
        nargs="*",
        default=[],
        metavar="NAME",
        help="first take the runs (and RecBole entries) from these result stems in --output, e.g. chains run in parallel",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already in the output JSON (same dataset, model, seed and settings); run the rest",
    )
    args = parser.parse_args(argv)
    console = Console()
    extra = apply_overrides({}, args.set)
    if args.max_train_minutes:
        extra["max_train_seconds"] = 60.0 * args.max_train_minutes
    stem = args.output / args.name
    settings = {"set": extra}  # RecBole's own settings are stored with each RecBole entry
    results: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv),
        "settings": settings,
        "datasets": {},
        "recbole": {},
    }
    if args.resume and stem.with_suffix(".json").is_file():
        previous = json.loads(stem.with_suffix(".json").read_text())
        if previous.get("settings") != settings:
            raise SystemExit(
                f"--resume: {stem.with_suffix('.json')} was written with other settings {previous.get('settings')}"
            )
        results["datasets"], results["recbole"] = previous["datasets"], previous.get("recbole", {})
        results["command"] = " && ".join(dict.fromkeys([previous["command"], results["command"]]))
    for other in args.merge:
        merged = json.loads((args.output / other).with_suffix(".json").read_text())
        if merged.get("settings") != settings:
            raise SystemExit(f"--merge {other}: written with other settings {merged.get('settings')}")
        for ds, models in merged["datasets"].items():
            for model, entry in models.items():
                target = results["datasets"].setdefault(ds, {}).setdefault(model, {"runs": []})
                seeds = {r["seed"] for r in target["runs"]}
                target["runs"] += [r for r in entry["runs"] if r["seed"] not in seeds]
                target["runs"].sort(key=lambda r: r["seed"])
                target["summary"] = summarise(target["runs"])
        for ds, rb in merged.get("recbole", {}).items():
            results["recbole"].setdefault(ds, rb)
        results["command"] = " && ".join(dict.fromkeys([merged["command"], results["command"]]))

    def flush() -> None:
        write_json_atomic(stem.with_suffix(".json"), results)
        write_text_atomic(stem.with_suffix(".md"), markdown(results))

    for ds in args.datasets:
        split = leave_one_out(load_dataset(ds, args.data_dir))
        done = results["datasets"].setdefault(ds, {})
        for model in args.models:
            kept = {r["seed"]: r for r in done.get(model, {}).get("runs", [])}
            runs = [r for s, r in kept.items() if s not in args.seeds]
            for seed in args.seeds:
                if seed in kept:
                    runs.append(kept[seed])
                    console.print(f"{ds} {model} seed {seed}: kept from {stem.with_suffix('.json')}")
                    continue
                per_user = args.output / "per_user" / f"{args.name}-{ds}-{model}-seed{seed}.parquet"
                settings_ = {**extra, "num_threads": args.threads}
                run = run_one(split, model, seed, settings_, args.progress, per_user)
                run["threads"], run["commit"] = args.threads, current_commit()
                runs.append(run)
                runs.sort(key=lambda r: r["seed"])
                # Saved after every seed, so a killed chain loses at most the run in progress.
                results["datasets"][ds][model] = {"runs": runs, "summary": summarise(runs)}
                flush()
                console.print(
                    f"{ds} {model} seed {seed}: HR@10 {run['test']['hr@10']:.4f} NDCG@10 "
                    f"{run['test']['ndcg@10']:.4f} ({run['train_wall_time_s']:.0f} s, {run['training']})"
                )
            runs.sort(key=lambda r: r["seed"])
            results["datasets"][ds][model] = {"runs": runs, "summary": summarise(runs)}
            flush()
        if args.recbole and ds not in results["recbole"]:
            from recbole_bridge import run_recbole

            seed = args.seeds[0]
            rb = run_recbole(
                split, seed, args.recbole_epochs, threads=args.threads, batch_size=args.recbole_batch_size
            )
            results["recbole"][ds] = {
                "seed": seed,
                "epochs": args.recbole_epochs,
                "train_batch_size": args.recbole_batch_size,
                **rb,
            }
            console.print(f"{ds} RecBole SASRec: {rb['test']} ({rb['train_wall_time_s']:.0f} s)")
            flush()
    table = Table(title="NDCG@10 / HR@10 (test, mean over seeds)")
    for col in ("dataset", "model", "HR@10", "NDCG@10", "RecBole NDCG@10"):
        table.add_column(col)
    for ds, models in results["datasets"].items():
        rb = results["recbole"].get(ds, {}).get("test", {})
        for model, entry in models.items():
            s = entry["summary"]
            rb_cell = f"{rb['ndcg@10']:.4f}" if rb and model == "sasrec-ce" else ""
            table.add_row(ds, model, _cell(s, "hr@10"), _cell(s, "ndcg@10"), rb_cell)
    console.print(table)
    console.print(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
