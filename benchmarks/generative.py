"""Generative-recommender benchmark: one command per row of dataset x identifier x backbone.

    python benchmarks/generative.py --dataset beauty --ids prebuilt --backbone compact --seeds 0 1 2

trains the recipe ``<dataset>-<ids>-<backbone>`` (genrec/configs/) once per seed, evaluates each model on
the held-out test users (full ranking, history excluded; HR/NDCG@5/10/20, validity = share of returned
slots holding a real item) and reports mean ± std over seeds with the training wall time. With
``--baselines`` the popularity and SASRec rows of the evaluation harness are computed on the same split
and put in the same table. Results: ``benchmarks/results/generative/<dataset>-<ids>-<backbone>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

# `python benchmarks/generative.py` puts benchmarks/ first on sys.path, where benchmarks/tokenizers.py
# would shadow the `tokenizers` package that transformers imports: drop that entry before importing.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from genrec.data import leave_one_out, load_dataset  # noqa: E402
from genrec.evaluation.evaluator import evaluate  # noqa: E402
from genrec.recommenders.popularity import PopularityRecommender  # noqa: E402
from genrec.tokenizers.persist import write_json_atomic, write_text_atomic  # noqa: E402
from genrec.training.command import train_command  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "generative"
COLUMNS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20", "validity")


def _baselines(
    dataset: str, data_dir: Path | None, seed: int, max_minutes: float
) -> dict[str, dict[str, float]]:
    """Popularity and SASRec rows on the same leave-one-out split (SASRec only if available)."""
    split = leave_one_out(load_dataset(dataset, data_dir), max_history=20)
    rows: dict[str, dict[str, float]] = {}
    candidates: list[tuple[str, Any]] = [("popularity", PopularityRecommender(seed=seed))]
    try:
        from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender

        sas_cfg = SASRecConfig(seed=seed, max_train_seconds=60.0 * max_minutes)
        candidates.append(("sasrec", SASRecRecommender(sas_cfg)))
    except ImportError:  # pragma: no cover - baselines land in a sibling issue
        pass
    for name, rec in candidates:
        start = time.perf_counter()
        rec.fit(split.train_data(), split.valid_set())
        fit_s = time.perf_counter() - start
        result = evaluate(rec, split.test_set(), k_max=20)
        rows[name] = {**result.metrics, "validity": float((result.items >= 0).mean()), "train_s": fit_s}
    return rows


def _summary(runs: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in (*COLUMNS, "train_s"):
        values = [r[key] for r in runs if key in r]
        if values:
            out[key] = float(np.mean(values))
            out[f"{key}_std"] = float(np.std(values))
    return out


def _markdown(title: str, rows: dict[str, dict[str, float]], n_seeds: dict[str, int]) -> str:
    head = (
        "| model | seeds | "
        + " | ".join(c.upper().replace("HR", "HR") for c in COLUMNS)
        + " | train time (s) |"
    )
    lines = [f"## {title}", "", head, "|" + "---|" * (len(COLUMNS) + 3)]
    for name, row in rows.items():
        cells = []
        for col in (*COLUMNS, "train_s"):
            value, std = row.get(col), row.get(f"{col}_std")
            fmt = "{:.0f}" if col == "train_s" else "{:.4f}"
            cell = "–" if value is None else fmt.format(value)
            if std and n_seeds.get(name, 1) > 1:
                cell += " ± " + fmt.format(std)
            cells.append(cell)
        lines.append(f"| {name} | {n_seeds.get(name, 1)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", required=True)
    parser.add_argument(
        "--ids", required=True, help="identifier part of the recipe name (prebuilt, semantic, ...)"
    )
    parser.add_argument("--backbone", default="compact")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="training budget per seed (0: recipe)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--baselines", action="store_true", help="also run popularity and SASRec rows")
    parser.add_argument("--override", action="append", default=[], help="section.key=value (repeatable)")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/benchmarks"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    recipe = f"{args.dataset}-{args.ids}-{args.backbone}"
    overrides = [*args.override, f"training.num_threads={args.threads}"]
    if args.max_minutes:
        overrides.append(f"training.max_minutes={args.max_minutes}")
    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        metrics = train_command(
            recipe, args.work_dir / f"{recipe}-seed{seed}", seed, args.data_dir, overrides
        )
        row = {**metrics["test"], "train_s": metrics["training"]["wall_time_s"], "seed": seed}
        runs.append(row)
        print(json.dumps({"seed": seed, **{k: row[k] for k in (*COLUMNS, "train_s")}}))
    rows = {recipe: _summary(runs)}
    n_seeds = {recipe: len(runs)}
    if args.baselines:
        rows.update(_baselines(args.dataset, args.data_dir, args.seeds[0], args.max_minutes or 10.0))
    payload = {
        "recipe": recipe, "seeds": args.seeds, "overrides": overrides, "runs": runs, "rows": rows,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads},
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS / f"{recipe}.json", payload)
    md = _markdown(f"{args.dataset}: {args.ids} identifiers, {args.backbone} backbone", rows, n_seeds)
    write_text_atomic(RESULTS / f"{recipe}.md", md)
    print(md)


if __name__ == "__main__":
    main()
