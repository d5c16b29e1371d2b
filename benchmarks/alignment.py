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
per recipe and candidate set; other entries are kept). Each objective's row is set beside SFT by the paired
comparison of per-user test NDCG@10, pooled over seeds (`genrec.evaluation.compare.compare_runs`).

Seeds may run as separate processes (one per core): each merges its seed into the entry on disk under a
lock, and the entry's command lists every seed it holds.

``--screen`` runs the same SFT and candidates but never touches test users: validation figures only, in
``alignment_screens.{json,md}``. Use it to narrow the candidate set before the command of record.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from alignment_report import (
    HELD_OUT,
    TEST_KEYS,
    candidate_key_of,
    markdown,
    summarise,
)
from genrec.config import apply_overrides
from genrec.data.registry import default_data_dir
from genrec.data.split import TrainData
from genrec.evaluation.beyond_accuracy import item_counts
from genrec.evaluation.compare import compare_runs
from genrec.evaluation.evaluator import evaluate
from genrec.io.files import read_json, write_json_atomic
from genrec.recommenders.generative import GenerativeRecommender
from genrec.recommenders.generative_preference import PREFERENCE_FILE, align_run
from genrec.recommenders.run_dir import load_run, save_run
from genrec.training.config import load_config
from genrec.training.preference_data import PreferenceConfig
from genrec.workflows.train import train_and_evaluate
from locked_results import locked_results
from measured_at import current_commit

RESULTS = Path(__file__).parent / "results"
OBJECTIVES = ("dpo", "sdpo", "grpo")
DEFAULT_CANDIDATES = ("dpo:negatives=1", "sdpo:negatives=3,negative_source=model", "grpo:group_size=8")


def parse_candidate(text: str, common: list[str]) -> PreferenceConfig:
    """``OBJECTIVE[:key=value,...]`` plus the ``common`` values -> a validated `PreferenceConfig`."""
    objective, _, rest = text.partition(":")
    if objective not in OBJECTIVES:
        raise SystemExit(f"--candidate {text!r}: the objective must be one of {', '.join(OBJECTIVES)}")
    values = [v for v in rest.split(",") if v]
    return PreferenceConfig(**apply_overrides({}, [*common, f"objective={objective}", *values]))


def sft_stem(recipe: str, overrides: list[str]) -> str:
    """Work sub-directory name of a recipe's SFT runs: shared by every candidate set (and by screens), so a
    new candidate never retrains SFT, and a candidate finished earlier is reused (its key names its config)."""
    digest = hashlib.sha256(json.dumps([recipe, overrides]).encode()).hexdigest()[:8]
    return f"{Path(recipe).stem}-{digest}"


def candidate_key(config: PreferenceConfig) -> str:
    """A short stable name of one candidate's config (its work sub-directory)."""
    return candidate_key_of(config.to_dict())


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
    work = args.work_dir / f"{sft_stem(args.recipe, args.overrides)}-seed{seed}"
    start = time.perf_counter()
    sft, split, metrics = train_and_evaluate(
        load_config(args.recipe, overrides), work / "sft", args.data_dir, False
    )
    sft_s = float(metrics.get("training", {}).get("wall_time_s", time.perf_counter() - start))
    train, valid = split.train_data(), split.valid_set()
    counts = item_counts(train.sequences, train.num_items)
    per_user = args.results_dir / "alignment" / "per_user"
    test = not args.screen
    start_dir, prefix = work / "sft" / "model", ""
    if args.start == HELD_OUT:
        start_dir, held_out_s = fit_held_out(
            load_config(args.recipe, overrides), work / HELD_OUT, split, args
        )
        prefix = f"{HELD_OUT}-"
    candidates: list[dict[str, Any]] = []
    for config in configs:
        out = work / f"{prefix}{candidate_key(config)}"
        if (out / PREFERENCE_FILE).is_file():  # finished earlier: its record is reused, not retrained
            summary = read_json(out / PREFERENCE_FILE)
        else:
            summary = align_run(start_dir, out, config, train, valid)
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
    start_valid = float(candidates[0]["validation"][0]["ndcg@10"]) if candidates else float("nan")
    rows: dict[str, dict[str, Any]] = {"sft": {"valid_ndcg@10": start_valid, "train_s": sft_s}}
    if args.start == HELD_OUT:  # the control is the usual SFT model; the start row is the one aligned
        rows["sft"]["valid_ndcg@10"] = validation_ndcg(sft, valid, candidates[0]["config"])
        rows[HELD_OUT] = {"valid_ndcg@10": start_valid, "train_s": held_out_s}
    if test:
        rows["sft"].update(held_out_figures(sft, split, counts, per_user / per_user_name(stem, "sft", seed)))
        if args.start == HELD_OUT:
            rec, _, _ = load_run(start_dir)
            path = per_user / per_user_name(stem, HELD_OUT, seed)
            rows[HELD_OUT].update(held_out_figures(rec, split, counts, path))
    for objective in OBJECTIVES:
        mine = [c for c in candidates if c["objective"] == objective]
        if not mine:
            continue
        chosen = choose(mine)
        rows[f"+{objective}"] = {
            "valid_ndcg@10": chosen["valid_ndcg@10"],
            "train_s": chosen["train_s"],
            "chosen": chosen["config"],
            "best_epoch": chosen["best_epoch"],
        }
        if test:
            rec, _, _ = load_run(Path(chosen["dir"]))
            path = per_user / per_user_name(stem, objective, seed)
            rows[f"+{objective}"].update(held_out_figures(rec, split, counts, path))
    return {"seed": seed, "rows": rows, "candidates": candidates}


def held_out_sequences(sequences: list[list[int]]) -> list[list[int]]:
    """Each training sequence without its last item (kept whole below 2 items, where it is no SFT target)."""
    return [list(seq[:-1]) if len(seq) >= 2 else list(seq) for seq in sequences]


def fit_held_out(config: Any, out: Path, split: Any, args: argparse.Namespace) -> tuple[Path, float]:
    """The recipe's SFT model fitted without each user's last training item (``--start held-out-last``):
    the targets `targets=last` preference training then learns from are ones this model never fitted, as
    validation and test targets are. Early stopping on the same validation users. Its run directory and
    training time; a finished one is reused."""
    model_dir = out / "model"
    if (model_dir / "run.json").is_file():
        return model_dir, float(read_json(out / "metrics.json")["training_s"])
    start = time.perf_counter()
    full = split.train_data()
    held = TrainData(full.catalogue, held_out_sequences(full.sequences), full.users)
    rec = GenerativeRecommender(config, data_dir=args.data_dir or default_data_dir(), output_dir=out)
    rec.fit(held, split.valid_set())
    elapsed = time.perf_counter() - start
    save_run(rec, full.catalogue, model_dir, dataset=config.data.dataset, data_dir=args.data_dir, train=held)
    write_json_atomic(out / "metrics.json", {"training_s": elapsed, **rec.metrics})
    return model_dir, elapsed


def validation_ndcg(rec: Any, valid: Any, preference_config: dict[str, Any]) -> float:
    """NDCG@10 of ``rec`` on the validation users every align run scores (same sample, same seed)."""
    config = PreferenceConfig(**preference_config)
    subset = valid.sample(config.eval_users, config.seed)
    return float(rec._validator(subset)(rec.model)["ndcg@10"])


def per_user_name(stem: str, row: str, seed: int) -> str:
    """File name of one row's per-user test values for one seed (``row``: ``sft`` or an objective)."""
    return f"{stem}-{row.lstrip('+')}-seed{seed}.parquet"


def versus(entry: dict[str, Any], per_user: Path, baseline: str = "sft") -> dict[str, dict[str, float]]:
    """Per other row: the paired comparison of test NDCG@10 against the ``baseline`` row, per-user values
    pooled over the entry's seeds (the same seeds on both sides); rows without per-user files are left out."""
    seeds = sorted(int(s["seed"]) for s in entry["seeds"])
    out: dict[str, dict[str, float]] = {}
    for row in entry["rows"]:
        if row == baseline:
            continue
        sft = [per_user / per_user_name(entry["stem"], baseline, s) for s in seeds]
        aligned = [per_user / per_user_name(entry["stem"], row, s) for s in seeds]
        if all(p.is_file() for p in [*sft, *aligned]):
            result = compare_runs(sft, aligned, "ndcg@10")
            out[row] = {
                k: float(getattr(result, k))
                for k in ("mean_a", "mean_b", "mean_difference", "ci_low", "ci_high", "seeds")
            }
    return out


def command_for(argv: list[str], seeds: list[int]) -> str:
    """The one command that reproduces an entry: ``argv`` with its ``--seeds`` replaced by every seed held."""
    kept: list[str] = []
    skipping = False
    for arg in argv:
        if arg == "--seeds" or arg.startswith("--seeds="):
            skipping = arg == "--seeds"
            continue
        if skipping and arg.lstrip("-").isdigit():
            continue
        skipping = False
        kept.append(arg)
    return shlex.join(["python", "benchmarks/alignment.py", *kept, "--seeds", *map(str, sorted(seeds))])


@contextmanager
def locked(json_path: Path) -> Iterator[dict[str, Any]]:
    """The results file, read under an exclusive lock and written back atomically with its Markdown, so
    processes running other seeds of the same entry never overwrite each other."""
    screens = json_path.stem.endswith("screens")
    with locked_results(json_path, {"entries": {}}, lambda p: markdown(p, screens)) as payload:
        yield payload


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
    parser.add_argument(
        "--start",
        choices=["sft", HELD_OUT],
        default="sft",
        help="the model aligned: the SFT model, or one fitted without each user's last training item "
        "(the preference targets are then unseen by it; the usual SFT model stays the control row)",
    )
    parser.add_argument(
        "--screen", action="store_true", help="validation only, into alignment_screens.{json,md}"
    )
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configs = [parse_candidate(c, args.common) for c in (args.candidate or DEFAULT_CANDIDATES)]
    identity = json.dumps(
        [args.recipe, args.overrides, [c.to_dict() for c in configs], args.start], sort_keys=True
    )
    stem = f"{Path(args.recipe).stem}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"
    commit = current_commit()
    start = time.perf_counter()
    fresh = [{**run_seed(args, seed, configs, stem), "commit": commit} for seed in args.seeds]
    name = "alignment_screens.json" if args.screen else "alignment.json"
    with locked(args.results_dir / name) as payload:
        earlier = payload["entries"].get(stem, {})
        mine = {int(s["seed"]) for s in fresh}
        seeds = sorted(
            [s for s in earlier.get("seeds", []) if int(s["seed"]) not in mine] + fresh,
            key=lambda s: int(s["seed"]),
        )
        entry = {
            "stem": stem,
            "recipe": args.recipe,
            "overrides": args.overrides,
            "start": args.start,
            "candidates": [c.to_dict() for c in configs],
            "command": command_for(sys.argv[1:] if argv is None else argv, [int(s["seed"]) for s in seeds]),
            "commit": ", ".join(sorted({str(s.get("commit", earlier.get("commit"))) for s in seeds})),
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "torch_threads": args.threads,
            },
            "wall_time_s": float(earlier.get("wall_time_s", 0.0)) + time.perf_counter() - start,
            "rows": summarise(seeds),
            "seeds": seeds,
        }
        if not args.screen:
            per_user = args.results_dir / "alignment" / "per_user"
            entry["versus_sft"] = versus(entry, per_user, "sft")
            if args.start == HELD_OUT:
                entry["versus_start"] = versus(entry, per_user, HELD_OUT)
        payload["entries"][stem] = entry
    print(json.dumps(entry["rows"], indent=1))
    return entry


if __name__ == "__main__":
    main()
