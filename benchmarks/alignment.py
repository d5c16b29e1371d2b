"""Preference alignment benchmark: a recipe's SFT model, then +DPO, +S-DPO and +RL (GRPO) rows.

    python benchmarks/alignment.py --recipe office-atomic-compact --seeds 0 1 2 \\
        --candidate dpo:beta=0.5 --candidate dpo:beta=1.0 --candidate sdpo:negatives=5 \\
        --candidate grpo:group_size=8 --common epochs=2 --common lr=0.00005

For every seed: train the recipe (SFT; resumes from the work directory), then align it with every
candidate setting (`genrec.recommenders.generative_preference.align_run`; each run keeps the best of its
epochs by validation NDCG@10, the SFT weights included). Per objective the candidate with the highest
validation NDCG@10 (on the same validation users for all) is chosen, and only the chosen model, like the
SFT model, is tested once on the held-out test users: HR@10, NDCG@10 and the beyond-accuracy measures
(coverage@10, Gini@10, popularity percentile@10 of training counts). Per-user test values go to
``results/alignment/per_user/<recipe>-<row>-seed<S>.parquet`` for ``genrec compare``. Rows store mean and
sample std (ddof=1) over seeds; the JSON also holds every candidate's validation figure and training time,
the command, the commit and the machine. Results: ``benchmarks/results/alignment.{json,md}`` (one entry
per recipe and candidate set; other entries are kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from genrec.config import apply_overrides
from genrec.evaluation.beyond_accuracy import item_counts
from genrec.evaluation.evaluator import evaluate
from genrec.io.files import read_json, write_json_atomic, write_text_atomic
from genrec.recommenders.generative_preference import PREFERENCE_FILE, align_run
from genrec.recommenders.run_dir import load_run
from genrec.training.config import load_config
from genrec.training.preference_data import PreferenceConfig
from genrec.workflows.train import train_and_evaluate
from measured_at import current_commit
from seed_stats import mean_and_std

RESULTS = Path(__file__).parent / "results"
OBJECTIVES = ("dpo", "sdpo", "grpo")
TEST_KEYS = ("hr@10", "ndcg@10", "coverage@10", "gini@10", "popularity_percentile@10")
ROW_KEYS = ("valid_ndcg@10", *TEST_KEYS, "train_s")
DEFAULT_CANDIDATES = ("dpo:negatives=1", "sdpo:negatives=3,negative_source=model", "grpo:group_size=8")


def parse_candidate(text: str, common: list[str]) -> PreferenceConfig:
    """``OBJECTIVE[:key=value,...]`` plus the ``common`` values -> a validated `PreferenceConfig`."""
    objective, _, rest = text.partition(":")
    if objective not in OBJECTIVES:
        raise SystemExit(f"--candidate {text!r}: the objective must be one of {', '.join(OBJECTIVES)}")
    values = [v for v in rest.split(",") if v]
    return PreferenceConfig(**apply_overrides({}, [*common, f"objective={objective}", *values]))


def candidate_key(config: PreferenceConfig) -> str:
    """A short stable name of one candidate's config (its work sub-directory)."""
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:10]
    return f"{config.objective}-{digest}"


def kept_validation(summary: dict[str, Any]) -> float:
    """Validation NDCG@10 of the weights an align run handed back (its best epoch, 0 = the SFT model)."""
    rows = {int(r["epoch"]): r for r in summary["validation"]}
    return float(rows[int(summary["best_epoch"])]["ndcg@10"])


def choose(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate with the highest validation NDCG@10 (the first on ties): choices use validation only."""
    return max(candidates, key=lambda c: (c["valid_ndcg@10"], -candidates.index(c)))


def held_out_figures(rec: Any, split: Any, counts: Any, per_user: Path) -> dict[str, float]:
    """Test figures of one model (full ranking, history excluded); per-user values written to ``per_user``."""
    result = evaluate(
        rec, split.test_set(), k_max=20, batch_size=256, num_items=rec.num_items, item_counts=counts
    )
    per_user.parent.mkdir(parents=True, exist_ok=True)
    result.save_per_user(per_user)
    return {k: float(result.metrics[k]) for k in TEST_KEYS}


def run_seed(
    args: argparse.Namespace, seed: int, configs: list[PreferenceConfig], stem: str
) -> dict[str, Any]:
    """SFT and every candidate for one seed; the chosen model of each objective tested."""
    overrides = [*args.overrides, f"training.num_threads={args.threads}", f"seed={seed}"]
    work = args.work_dir / f"{stem}-seed{seed}"
    start = time.perf_counter()
    sft, split, metrics = train_and_evaluate(
        load_config(args.recipe, overrides), work / "sft", args.data_dir, False
    )
    sft_s = float(metrics.get("training", {}).get("wall_time_s", time.perf_counter() - start))
    train, valid = split.train_data(), split.valid_set()
    counts = item_counts(train.sequences, train.num_items)
    per_user = args.results_dir / "alignment" / "per_user"
    candidates: list[dict[str, Any]] = []
    for config in configs:
        out = work / candidate_key(config)
        if (out / PREFERENCE_FILE).is_file():  # finished earlier: its record is reused, not retrained
            summary = read_json(out / PREFERENCE_FILE)
        else:
            summary = align_run(work / "sft" / "model", out, config, train, valid)
        candidates.append(
            {
                "objective": config.objective,
                "config": config.to_dict(),
                "dir": str(out),
                "best_epoch": int(summary["best_epoch"]),
                "valid_ndcg@10": kept_validation(summary),
                "train_s": float(summary["wall_time_s"]),
                "validation": summary["validation"],
                "valid_beyond_accuracy": summary.get("beyond_accuracy"),
            }
        )
    sft_valid = float(candidates[0]["validation"][0]["ndcg@10"]) if candidates else float("nan")
    rows: dict[str, dict[str, Any]] = {
        "sft": {
            "valid_ndcg@10": sft_valid,
            "train_s": sft_s,
            **held_out_figures(sft, split, counts, per_user / f"{stem}-sft-seed{seed}.parquet"),
        }
    }
    for objective in OBJECTIVES:
        mine = [c for c in candidates if c["objective"] == objective]
        if not mine:
            continue
        chosen = choose(mine)
        rec, _, _ = load_run(Path(chosen["dir"]))
        rows[f"+{objective}"] = {
            "valid_ndcg@10": chosen["valid_ndcg@10"],
            "train_s": chosen["train_s"],
            "chosen": chosen["config"],
            "best_epoch": chosen["best_epoch"],
            **held_out_figures(rec, split, counts, per_user / f"{stem}-{objective}-seed{seed}.parquet"),
        }
    return {"seed": seed, "rows": rows, "candidates": candidates}


def summarise(seeds: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per row: mean and sample std (ddof=1; None for one seed) over seeds of every figure."""
    out: dict[str, dict[str, float | None]] = {}
    names = [name for name in seeds[0]["rows"]] if seeds else []
    for name in names:
        row: dict[str, float | None] = {"seeds": float(len(seeds))}
        for key in ROW_KEYS:
            values = [s["rows"][name][key] for s in seeds if name in s["rows"]]
            if values:
                row[key], row[f"{key}_std"] = mean_and_std(values)
        out[name] = row
    return out


def _cell(row: dict[str, float | None], key: str) -> str:
    mean, std = row.get(key), row.get(f"{key}_std")
    if mean is None:
        return "–"
    digits = 1 if key == "train_s" else 4
    return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def markdown(payload: dict[str, Any]) -> str:
    """The results as Markdown: one table per entry; test columns are for the validation-chosen setting."""
    lines = ["# Preference alignment: SFT, +DPO, +S-DPO, +RL (GRPO)", ""]
    lines.append(
        "Each objective's setting was chosen on validation NDCG@10; test figures are of that setting only."
    )
    for name, entry in sorted(payload["entries"].items()):
        lines += ["", f"## {name}", "", f"`{entry['command']}` (commit {entry['commit']})", ""]
        lines.append(
            "| row | seeds | valid NDCG@10 | test NDCG@10 | test HR@10 | coverage@10 | Gini@10 | pop. pct@10 | train s |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for row_name, row in entry["rows"].items():
            cells = [_cell(row, k) for k in ("valid_ndcg@10", "ndcg@10", "hr@10", "coverage@10", "gini@10",
                                             "popularity_percentile@10", "train_s")]  # fmt: skip
            lines.append(f"| {row_name} | {int(row['seeds'] or 0)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipe", required=True, help="a shipped recipe (genrec recipes) or YAML path")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--candidate", action="append", default=[], metavar="OBJECTIVE[:KEY=VALUE,...]")
    parser.add_argument("--common", action="append", default=[], metavar="KEY=VALUE", help="every candidate")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="DOTTED.KEY=VALUE")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=Path("runs/benchmarks/alignment"))
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configs = [parse_candidate(c, args.common) for c in (args.candidate or DEFAULT_CANDIDATES)]
    identity = json.dumps([args.recipe, args.overrides, [c.to_dict() for c in configs]], sort_keys=True)
    stem = f"{Path(args.recipe).stem}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"
    commit = current_commit()
    start = time.perf_counter()
    seeds = [run_seed(args, seed, configs, stem) for seed in args.seeds]
    entry = {
        "recipe": args.recipe,
        "overrides": args.overrides,
        "candidates": [c.to_dict() for c in configs],
        "command": shlex.join(
            ["python", "benchmarks/alignment.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "commit": commit,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads},
        "wall_time_s": time.perf_counter() - start,
        "rows": summarise(seeds),
        "seeds": seeds,
    }
    json_path = args.results_dir / "alignment.json"
    payload = read_json(json_path) if json_path.is_file() else {"entries": {}}
    payload["entries"][stem] = entry
    write_json_atomic(json_path, payload)
    write_text_atomic(args.results_dir / "alignment.md", markdown(payload))
    print(json.dumps(entry["rows"], indent=1))
    return entry


if __name__ == "__main__":
    main()
