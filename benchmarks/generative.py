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
from genrec.training.provenance import NOT_IDENTITY, config_sha  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "generative"
COLUMNS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20", "validity")


HARNESS = Path(__file__).parent / "results"


def _harness_rows(dataset: str) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Baseline rows (mean ± std over seeds) from ``benchmarks/baselines.py``'s results, if it has run.

    Same split (leave-one-out, history excluded) and the same evaluator as the generative rows, so the
    numbers stand side by side without retraining the baselines here.
    """
    rows: dict[str, dict[str, float]] = {}
    seeds: dict[str, int] = {}
    for path in sorted(HARNESS.glob("baselines*.json")):
        models = json.loads(path.read_text()).get("datasets", {}).get(dataset, {})
        for model, entry in models.items():
            runs = entry.get("runs", [])
            if not runs or len(runs) <= seeds.get(model, 0):
                continue
            row: dict[str, float] = {}
            for key in (*COLUMNS, "train_s"):
                if key == "validity":
                    values = [1.0 for _ in runs]  # a ranking model only returns catalogue items
                elif key == "train_s":
                    values = [r["train_wall_time_s"] for r in runs]
                else:
                    values = [r["test"][key] for r in runs]
                row[key], row[f"{key}_std"] = float(np.mean(values)), float(np.std(values))
            rows[model], seeds[model] = row, len(runs)
    return rows, seeds


def _baselines(
    dataset: str, data_dir: Path | None, seed: int, max_minutes: float
) -> dict[str, dict[str, float]]:
    """Popularity and SASRec trained here on the same split (when the harness results lack them)."""
    from genrec.recommenders.sasrec import SASRecConfig, SASRecRecommender

    split = leave_one_out(load_dataset(dataset, data_dir), max_history=20)
    rows: dict[str, dict[str, float]] = {}
    sas_cfg = SASRecConfig(seed=seed, max_train_seconds=60.0 * max_minutes)
    candidates: list[tuple[str, Any]] = [
        ("popularity", PopularityRecommender(seed=seed)), ("sasrec-ce", SASRecRecommender(sas_cfg))
    ]  # fmt: skip
    for name, rec in candidates:
        start = time.perf_counter()
        rec.fit(split.train_data(), split.valid_set())
        fit_s = time.perf_counter() - start
        result = evaluate(rec, split.test_set(), k_max=20)
        rows[name] = {**result.metrics, "validity": float((result.items >= 0).mean()), "train_s": fit_s}
    return rows


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
        for suffix in (".json", ".md"):
            if plain.with_suffix(suffix).is_file():
                plain.with_suffix(suffix).rename(RESULTS / f"{stale}{suffix}")
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


def _overrides_label(overrides: list[str]) -> str:
    speed = tuple(".".join(path) + "=" for path in NOT_IDENTITY)
    shown = [o for o in overrides if not o.startswith(speed)]
    return f" (recipe + {', '.join(shown)})" if shown else ""


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
        + " | ".join(c if c == "validity" else c.upper() for c in COLUMNS)
        + " | train time (s) |"
    )
    lines = [f"## {title}", "", head, "|" + "---|" * (len(COLUMNS) + 3)]
    for name, row in rows.items():
        cells = []
        for col in (*COLUMNS, "train_s"):
            value, std = row.get(col), row.get(f"{col}_std")
            fmt = "{:.0f}" if col == "train_s" else "{:.4f}"
            cell = "–" if value is None else fmt.format(value)
            if value is not None and std is not None and n_seeds.get(name, 1) > 1:
                cell += " ± " + fmt.format(std)
            cells.append(cell)
        lines.append(f"| {name} | {n_seeds.get(name, 1)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def combined_table() -> str:
    """One Markdown table of every generative row written so far, with the harness baselines per dataset."""
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(RESULTS.glob("*.json")):
        payload = json.loads(path.read_text())
        if payload.get("runs"):
            by_dataset.setdefault(payload.get("dataset", payload["recipe"].split("-")[0]), []).append(
                {**payload, "file": path.stem}
            )
    parts = ["# Generative recommenders beside the baselines (test, full ranking, history excluded)", ""]
    for dataset, payloads in by_dataset.items():
        rows, n_seeds = _harness_rows(dataset)
        for payload in payloads:
            name = payload["recipe"]
            current = payload.get("config_sha")
            if current is None or current != config_sha(name, payload.get("overrides", [])):
                # several older configs of one recipe: each keeps its own row, named by its config
                name += f"@{current or payload['file'].partition('@')[2] or 'older'}"
                name += _overrides_label(payload.get("overrides", [])) + " (older recipe)"
            elif current != config_sha(name, []):
                name += _overrides_label(payload.get("overrides", []))
            if payload.get("test_users"):
                first = payload["runs"][0]
                name += (
                    f" (test: {first.get('users', '?')} of {first.get('users_total', '?')} users, sampled)"
                )
            if payload.get("accelerator"):
                name += (
                    f" (trained on {payload.get('machine', {}).get('accelerator', payload['accelerator'])})"
                )
            rows[name] = _summary(payload["runs"])
            n_seeds[name] = len(payload["runs"])
        parts.append(_markdown(dataset, rows, n_seeds))
    parts.append("Rows: `python benchmarks/generative.py --dataset D --ids I --backbone B --seeds 0 1 2`; "
                 "baselines: `python benchmarks/baselines.py`.\n")  # fmt: skip
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset")
    parser.add_argument(
        "--ids", help="identifier part of the recipe name (prebuilt, semantic, atomic, collaborative, title)"
    )
    parser.add_argument("--backbone", default="compact")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="training budget per seed (0: recipe)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--baselines", action="store_true",
        help="put popularity and SASRec rows in the table: from benchmarks/baselines.py results, else trained here",
    )  # fmt: skip
    parser.add_argument(
        "--test-users", type=int, default=0,
        help="test on this many test users drawn at random (seed 0) instead of all; the row says so (0: all)",
    )  # fmt: skip
    parser.add_argument("--override", action="append", default=[], help="section.key=value (repeatable)")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument(
        "--table", action="store_true", help="only rebuild benchmarks/results/generative.md from the rows"
    )
    args = parser.parse_args()
    if args.table:
        write_text_atomic(RESULTS.parent / "generative.md", combined_table())
        print(combined_table())
        return
    if not args.dataset or not args.ids:
        parser.error("--dataset and --ids are required (or --table)")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    recipe = recipe_name(args.dataset, args.ids, args.backbone)
    overrides = [*args.override, f"training.num_threads={args.threads}"]
    if args.max_minutes:
        overrides.append(f"training.max_minutes={args.max_minutes}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    sha = config_sha(recipe, overrides)
    if sha is None:
        parser.error(f"recipe {recipe!r} with overrides {args.override} does not load")
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
        "recipe": recipe, "config_sha": sha, "dataset": args.dataset, "overrides": overrides,
        **({"test_users": args.test_users} if args.test_users else {}),
        **({"accelerator": accelerator} if accelerator != "cpu" else {}),
        # seeds run earlier under the same config stay: rows grow one seed (one session) at a time
        "runs": [kept[s] for s in sorted(kept) if s not in args.seeds],
        "machine": machine,
    }  # fmt: skip
    for seed in args.seeds:
        if seed in kept:  # finished earlier with the same overrides: a re-run only adds missing seeds
            payload["runs"].append(kept[seed])
            print(f"seed {seed}: kept from {out}")
            continue
        # An unfinished seed resumes from its checkpoint in the work dir (one per recipe version).
        metrics = train_command(
            recipe,
            args.work_dir / f"{recipe}-seed{seed}-{sha}",
            seed,
            args.data_dir,
            overrides,
            test_users=args.test_users,
        )
        row = {**metrics["test"], "train_s": metrics["training"]["wall_time_s"], "seed": seed}
        payload["runs"].append(row)
        _merge_concurrent_seeds(out, payload)
        write_json_atomic(out, payload)  # after every seed
        print(json.dumps({"seed": seed, **{k: row[k] for k in (*COLUMNS, "train_s")}}))
    _merge_concurrent_seeds(out, payload)
    payload["runs"].sort(key=lambda r: r["seed"])
    rows = {recipe: _summary(payload["runs"])}
    n_seeds = {recipe: len(payload["runs"])}
    if args.baselines:
        harness, harness_seeds = _harness_rows(args.dataset)
        if not harness:
            harness = _baselines(args.dataset, args.data_dir, args.seeds[0], args.max_minutes or 10.0)
        rows.update(harness)
        n_seeds.update(harness_seeds)
    payload["rows"] = rows
    write_json_atomic(out, payload)
    md = _markdown(f"{args.dataset}: {args.ids} identifiers, {args.backbone} backbone", rows, n_seeds)
    write_text_atomic(out.with_suffix(".md"), md)
    write_text_atomic(RESULTS.parent / "generative.md", combined_table())
    print(md)


if __name__ == "__main__":
    main()
