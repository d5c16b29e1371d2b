"""What ``training.confirm_users`` would have handed back for finished runs: their kept best weights and their
final weights scored again on validation users, the better one scored on the test users.

    python benchmarks/confirm_checkpoints.py runs/benchmarks/<run> [<run> ...] [--confirm-users 0]

A run trained without ``confirm_users`` chose its best checkpoint on ``training.eval_users`` validation users;
the training itself (early stopping included) does not depend on ``confirm_users``, so applying the
comparison to a finished run gives exactly what the run would have handed back with it. The decision uses
`genrec.training.confirm.confirm_best` on validation users only (``--confirm-users``, 0: all of them);
the test users are scored once, for the weights kept. Writes
``benchmarks/results/confirm_checkpoints/<dataset>.{json,md}`` (one row per run, replaced when run again).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from pathlib import Path
from typing import Any

import torch

from genrec.data import leave_one_out, load_dataset
from genrec.evaluation.evaluator import evaluate
from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.recommenders.generative import GenerativeRecommender
from genrec.training import checkpoint as ckpt
from genrec.training.confirm import confirm_best
from seed_stats import format_mean_std, mean_and_std

RESULTS = Path(__file__).parent / "results" / "confirm_checkpoints"
COLUMNS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10")


def step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1])


def confirm_run(run: Path, data_dir: Path | None, confirm_users: int) -> dict[str, Any]:
    """Compare the run's best and final weights on validation; score the kept ones on the test users."""
    best, latest = ckpt.committed(run, "best"), ckpt.committed(run, "latest")
    if best is None or latest is None:
        raise SystemExit(f"{run}: needs both a best and a latest checkpoint (checkpoints/pointer.json)")
    rec = GenerativeRecommender.load(run / "model")
    cfg = rec.config
    if cfg.backbone.kind != "compact" and cfg.backbone.finetune == "lora":
        raise SystemExit(f"{run}: a LoRA run's checkpoints hold adapter weights, its model/ the merged ones")
    split = leave_one_out(load_dataset(cfg.data.dataset, data_dir), cfg.data.max_history)
    valid = split.valid_set()
    check = valid.sample(confirm_users or len(valid), cfg.seed)
    start = time.perf_counter()
    ckpt.load_weights(best, rec.model)  # the weights the run handed back
    rec.model.eval()
    confirmed = confirm_best(
        rec.model, run, step_of(best), step_of(latest), rec._validator(check), cfg.training.ema_decay > 0
    ) or {"best_step": step_of(best), "final_step": step_of(latest), "kept": "best"}
    test = evaluate(rec, split.test_set(), k_max=10).metrics
    return {
        "run": run.name,
        "dataset": cfg.data.dataset,
        "seed": cfg.seed,
        "validation_users": len(check),
        **confirmed,
        "test": {c: test[c] for c in COLUMNS},
        "seconds": time.perf_counter() - start,
    }


def table(dataset: str, rows: list[dict[str, Any]]) -> str:
    """One line per run, then the test mean ± sample std of each row (runs that differ only in their seed)."""
    lines = [
        f"## {dataset}: best vs final weights confirmed on validation, kept weights on test",
        "",
        "| run | validation users | best step | NDCG@10 | final step | NDCG@10 | kept | test "
        + " | test ".join(c.upper() for c in COLUMNS)
        + " |",
        "|---" * (7 + len(COLUMNS)) + "|",
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        scores = [f"{r[k]:.4f}" if k in r else "–" for k in ("best", "final")]
        lines.append(
            f"| {r['run']} | {r['validation_users']} | {r['best_step']} | {scores[0]} | {r['final_step']} | "
            f"{scores[1]} | {r['kept']} | " + " | ".join(f"{r['test'][c]:.4f}" for c in COLUMNS) + " |"
        )
        groups.setdefault(re.sub(r"-seed\d+-", "-", r["run"]), []).append(r)
    lines += [
        "",
        "| row | seeds | test " + " | test ".join(c.upper() for c in COLUMNS) + " |",
        "|---" * (2 + len(COLUMNS)) + "|",
    ]
    for name, members in groups.items():
        cells = []
        for c in COLUMNS:
            cells.append(format_mean_std(*mean_and_std(m["test"][c] for m in members)))
        seeds = ", ".join(str(m["seed"]) for m in sorted(members, key=lambda m: m["seed"]))
        lines.append(f"| {name} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", type=Path, nargs="+", help="finished training runs (their output folders)")
    parser.add_argument("--confirm-users", type=int, default=0, help="validation users (0: all)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $GENREC_DATA_DIR")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for run in args.runs:
        rows.append(confirm_run(run, args.data_dir, args.confirm_users))
        print(json.dumps(rows[-1]), flush=True)
    for dataset in sorted({r["dataset"] for r in rows}):
        path = RESULTS / f"{dataset}.json"
        previous = json.loads(path.read_text())["rows"] if path.is_file() else []
        mine = [r for r in rows if r["dataset"] == dataset]
        kept = [r for r in previous if r["run"] not in {m["run"] for m in mine}] + mine
        payload = {"rows": kept, "machine": {"platform": platform.platform(), "torch_threads": args.threads}}
        RESULTS.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, payload)
        markdown = table(dataset, kept)
        write_text_atomic(RESULTS / f"{dataset}.md", markdown)
        print(markdown)


if __name__ == "__main__":
    main()
