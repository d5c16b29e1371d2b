"""Generative-recommender benchmark: one command per row of dataset x identifier x backbone.

    python benchmarks/generative.py --dataset beauty --ids prebuilt --backbone compact --seeds 0 1 2

trains the recipe ``<dataset>-<ids>-<backbone>`` (genrec/configs/) once per seed and evaluates each model on
the held-out test users once (full ranking, history excluded; HR/NDCG@5/10/20, validity = share of
returned slots holding a real item). Each seed records what selection may look at, the validation NDCG@10
of the weights handed back on every validation user (``valid_ndcg@10``), beside its test figures, the
training wall time, the commit it ran from, and its per-user test values
(``results/generative/per_user/<row>-seed<S>.parquet``, for `genrec compare` pooled over seeds). The row
stores mean ± sample std (ddof=1) over seeds. Results: ``benchmarks/results/generative/<row>.json``; the
table of record is ``python benchmarks/record.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from genrec.evaluation.evaluator import evaluate
from genrec.io.files import write_json_atomic
from genrec.training.config import load_config
from genrec.training.provenance import config_sha
from genrec.workflows.train import train_and_evaluate
from measured_at import current_commit
from seed_stats import mean_and_std

RESULTS = Path(__file__).parent / "results" / "generative"
PER_USER = RESULTS / "per_user"
COLUMNS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20", "validity")


def recipe_name(dataset: str, ids: str, backbone: str) -> str:
    """The shipped recipe of a row: ``ml-100k`` recipes are spelled ``ml100k-...``."""
    return f"{dataset.replace('-', '')}-{ids}-{backbone}"


def results_file(recipe: str, sha: str, test_users: int = 0, accelerator: str = "cpu") -> Path:
    """Where a row of (recipe, resolved config) lives: the file already holding that config, else
    ``<recipe>.json`` for the recipe as shipped and ``<recipe>@<sha>.json`` for an override experiment
    (so an experiment never overwrites the recipe's row, nor another experiment's). A row tested on a
    sample of the test users (``test_users``) lives apart, in ``<recipe>@<sha>+test<N>.json``; so does a
    row trained on an accelerator (``<recipe>@<sha>+cuda.json``): its seeds never average with CPU ones."""
    for path in sorted(RESULTS.glob(f"{recipe}*.json")):
        payload = json.loads(path.read_text())
        same_test = payload.get("test_users", 0) == test_users
        same_device = payload.get("accelerator", "cpu") == accelerator
        if payload.get("recipe") == recipe and payload.get("config_sha") == sha and same_test and same_device:
            return path
    if test_users or accelerator != "cpu":
        device = "" if accelerator == "cpu" else f"+{accelerator}"
        sample = f"+test{test_users}" if test_users else ""
        return RESULTS / f"{recipe}@{sha}{sample}{device}.json"
    plain = RESULTS / f"{recipe}.json"
    if sha != config_sha(recipe, []):
        return RESULTS / f"{recipe}@{sha}.json"
    if plain.is_file():  # the recipe changed since its old row was written: keep that row aside
        stale = f"{recipe}@{json.loads(plain.read_text()).get('config_sha') or 'older'}"
        plain.rename(RESULTS / f"{stale}.json")
    return plain


def _merge_concurrent_seeds(out: Path, payload: dict[str, Any]) -> None:
    """Adopt seeds that another process (``--seeds 1`` beside ``--seeds 2``) wrote to ``out`` meanwhile.

    Each process read the file when it started; without this, the last one to finish would drop the
    seeds the others finished in between.
    """
    if not out.is_file():
        return
    current = json.loads(out.read_text())
    if current.get("config_sha") != payload["config_sha"]:
        return
    have = {r["seed"] for r in payload["runs"]}
    payload["runs"].extend(r for r in current.get("runs", []) if r["seed"] not in have)


def summary(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    """Mean and sample std (ddof=1, ``<key>_std``; None for one seed) over seeds of every reported figure."""
    out: dict[str, float | None] = {}
    for key in (*COLUMNS, "valid_ndcg@10", "train_s"):
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            out[key], out[f"{key}_std"] = mean_and_std(values)
    return out


def validation_ndcg(rec: Any, valid: Any, metrics: dict[str, Any]) -> tuple[float, int]:
    """Validation NDCG@10 of the weights handed back, on every validation user, and how many users.

    The trainer's own confirmation (``training.confirm_users``) already scored the kept weights on that
    many users; when it covered all of them its figure is taken, else the kept model is scored here.
    """
    confirmed = metrics.get("training", {}).get("confirmed") or {}
    users = len(valid.users)
    if confirmed.get("validation_users", 0) >= users and confirmed.get("kept") in ("best", "final"):
        return float(confirmed[confirmed["kept"]]), users
    return float(evaluate(rec, valid, k_max=10).metrics["ndcg@10"]), users


def keep_per_user(run_dir: Path, stem: str, seed: int) -> str | None:
    """Copy the run's per-user test values next to the results (the columns `genrec compare` pairs on)."""
    source = run_dir / "per_user.parquet"
    if not source.is_file():
        return None
    frame = pd.read_parquet(source)
    keep = ["user", "rank", *(c for c in COLUMNS if c in frame.columns)]
    target = PER_USER / f"{stem}-seed{seed}.parquet"
    PER_USER.mkdir(parents=True, exist_ok=True)
    frame[keep].to_parquet(target, index=False)
    return str(target.relative_to(RESULTS))


def build_parser() -> argparse.ArgumentParser:
    """The command line: the row (dataset, ids, backbone), its seeds, and ``--set`` config values."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", required=True)
    parser.add_argument(
        "--ids",
        required=True,
        help="identifier part of the recipe name (prebuilt, semantic, atomic, collaborative, title)",
    )
    parser.add_argument("--backbone", default="compact")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="training budget per seed (0: recipe)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--test-users",
        type=int,
        default=0,
        help="test on this many test users drawn at random (seed 0) instead of all; the row says so (0: all)",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="DOTTED.KEY=VALUE")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/benchmarks"))
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    recipe = recipe_name(args.dataset, args.ids, args.backbone)
    overrides = [*args.overrides, f"training.num_threads={args.threads}"]
    if args.max_minutes:
        overrides.append(f"training.max_minutes={args.max_minutes}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    sha = config_sha(recipe, overrides)
    if sha is None:
        parser.error(f"recipe {recipe!r} with --set {args.overrides} does not load")
    # the training loop (accelerate) runs on a GPU when one is visible, and such rows live apart
    accelerator = "cuda" if torch.cuda.is_available() else "cpu"
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads}
    if accelerator != "cpu":
        machine["accelerator"] = torch.cuda.get_device_name(0)
    out = results_file(recipe, sha, args.test_users, accelerator)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    same = previous.get("config_sha") == sha
    kept = {r["seed"]: r for r in previous.get("runs", []) if same}
    payload: dict[str, Any] = {
        "recipe": recipe,
        "config_sha": sha,
        "dataset": args.dataset,
        "overrides": overrides,
        **({"test_users": args.test_users} if args.test_users else {}),
        **({"accelerator": accelerator} if accelerator != "cpu" else {}),
        # seeds run earlier under the same config stay: rows grow one seed (one session) at a time
        "runs": [kept[s] for s in sorted(kept) if s not in args.seeds],
        "machine": machine,
    }
    commit = current_commit()  # the code this process runs, before any result file changes
    for seed in args.seeds:
        if seed in kept:  # finished earlier with the same overrides: a re-run only adds missing seeds
            payload["runs"].append(kept[seed])
            print(f"seed {seed}: kept from {out}")
            continue
        # An unfinished seed resumes from its checkpoint in the work dir (one per recipe version).
        run_dir = args.work_dir / f"{recipe}-seed{seed}-{sha}"
        config = load_config(recipe, [*overrides, f"seed={seed}"])
        rec, split, metrics = train_and_evaluate(config, run_dir, args.data_dir, True, args.test_users)
        valid_ndcg, valid_users = validation_ndcg(rec, split.valid_set(), metrics)
        row = {
            **metrics["test"],
            "train_s": metrics["training"]["wall_time_s"],
            "seed": seed,
            "valid_ndcg@10": valid_ndcg,
            "valid_users": valid_users,
            "commit": commit,
            "per_user": keep_per_user(run_dir, out.stem, seed),
        }
        payload["runs"].append(row)
        _merge_concurrent_seeds(out, payload)
        write_json_atomic(out, payload)  # after every seed
        print(json.dumps({"seed": seed, **{k: row[k] for k in (*COLUMNS, "valid_ndcg@10", "train_s")}}))
    _merge_concurrent_seeds(out, payload)
    payload["runs"].sort(key=lambda r: r["seed"])
    payload["rows"] = {recipe: summary(payload["runs"])}
    write_json_atomic(out, payload)
    print(f"{out}: " + json.dumps(payload["rows"][recipe]))
    print("table of record: python benchmarks/record.py")


if __name__ == "__main__":
    main()
