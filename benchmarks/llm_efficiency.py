"""CPU-efficiency switches of the SmolLM2 backbone: each switch's effect on quality and training time.

    python benchmarks/llm_efficiency.py --dataset office --minutes 30          # every variant, seed 0
    python benchmarks/llm_efficiency.py --dataset office --variants base lora --minutes 30

Every variant trains the recipe ``<dataset>-atomic-smollm2`` (``--ids`` picks another) with a few overrides under the same
wall-clock budget and seed, then is tested on the held-out users (full ranking, history excluded).
Reported per variant: test HR@10 / NDCG@10, validity, best validation NDCG@10, optimiser steps, training
tokens/s and training wall time, so a switch that makes steps cheaper but learning worse shows both.
Runs already in the output JSON (same variant, resolved config, budget and seed) are kept: the command
resumes. A run made on an older recipe stays in the table as ``<variant>@<config sha>``, labelled
"(older recipe)", and the variant runs again.
Results: ``benchmarks/results/llm_efficiency-<dataset>-<ids>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from genrec.io.files import write_json_atomic, write_text_atomic
from genrec.training.provenance import config_sha
from genrec.workflows.train import train_command

RESULTS = Path(__file__).parent / "results"
#: variant -> (what it switches, overrides on top of the recipe)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "base": (
        "the recipe as shipped (atomic: 8 of 30 layers, full fine-tune, bf16, short packed prompt, token rows from title + collaborative vector, dropout 0.2)",
        [],
    ),
    "layers-4": ("keep the first 4 layers", ["backbone.keep_layers=4"]),
    "layers-16": ("keep the first 16 layers", ["backbone.keep_layers=16"]),
    "layers-all": ("all 30 layers", ["backbone.keep_layers=0"]),
    "lora": (
        "LoRA r16 (+ new token rows) instead of full fine-tuning",
        ["backbone.finetune=lora", "training.lr=0.002"],
    ),
    "sampled-2": (
        "sampled budget: 2 targets per user per epoch",
        ["training.prefixes=sampled", "training.sample_budget=2"],
    ),
    "chat-prompt": ("chat template + one-sentence instruction (longer prompt)", ["prompt=sequence"]),
    "titles-in-prompt": (
        "each history item followed by its title (longer prompts)",
        ["prompt=sequence-titles"],
    ),
    "fp32": ("bf16 autocast off", ["training.autocast_bf16=false"]),
    "identifier-loss": (
        "softmax over identifier tokens only at targets (skips the 49k-row text head)",
        ["training.loss_vocabulary=identifiers"],
    ),
    "random-token-init": (
        "new token rows random instead of from item text",
        ["backbone.init_new_tokens=random"],
    ),
    "title-token-init": (
        "new token rows from the item's title only (no collaborative vector)",
        ["backbone.init_new_tokens=text"],
    ),
    "no-dropout": (
        "hidden_dropout 0 instead of 0.2 (same steps, less regularisation)",
        ["backbone.hidden_dropout=0.0"],
    ),
}


def _recipe(dataset: str, ids: str) -> str:
    """The shipped SmolLM2 recipe of a table: ``ml-100k`` recipes are spelled ``ml100k-...``."""
    return f"{dataset.replace('-', '')}-{ids}-smollm2"


def markdown(payload: dict[str, Any]) -> str:
    lines = [
        f"# SmolLM2 efficiency switches — {payload['dataset']}, seed {payload['seed']}, "
        f"{payload['minutes']} min budget each",
        "",
        "| variant | switch | test HR@10 | test NDCG@10 | validity | best valid NDCG@10 | steps | tokens/s | train s | stopped |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    recipe = _recipe(payload["dataset"], payload.get("ids", "atomic"))
    current = {
        key: run.get("config_sha") == config_sha(recipe, run["overrides"])
        for key, run in payload["runs"].items()
    }
    # current runs first, in the order VARIANTS lists them; runs of older recipes after them
    rank = {name: i for i, name in enumerate(VARIANTS)}
    for key in sorted(
        payload["runs"], key=lambda k: (not current[k], rank.get(k.partition("@")[0], len(rank)), k)
    ):
        run = payload["runs"][key]
        t, tr = run["test"], run["training"]
        name = key if current[key] else f"{key} (older recipe)"
        switch = run.get("switch") or VARIANTS.get(key.partition("@")[0], ("(variant retired)", []))[0]
        tok_s = tr["tokens"] / max(tr["wall_time_s"], 1e-9)
        best = max((v["ndcg@10"] for v in tr.get("validation", [])), default=float("nan"))
        lines.append(
            f"| {name} | {switch} | {t['hr@10']:.4f} | {t['ndcg@10']:.4f} | {t['validity']:.3f} | "
            f"{best:.4f} | {tr['steps']} | {tok_s:.0f} | {tr['wall_time_s']:.0f} | {tr['stopped']} |"
        )
    m = payload["machine"]
    platforms = sorted({run.get("machine", "not recorded") for run in payload["runs"].values()})
    lines += [
        "",
        f"Machine: {m['cpus']} CPUs, {m['threads']} torch threads; runs made on {'; '.join(platforms)}.",
        '"(older recipe)": the recipe changed since that run; its switch column says what it trained.',
        f"Last command: `{payload['command']}`",
        "",
    ]
    return "\n".join(lines)


def merge_concurrent_runs(path: Path, payload: dict[str, Any], trained: set[str]) -> None:
    """Adopt the runs another process of this table wrote to ``path`` since this one read it.

    Two cores run two variant lists side by side; each read the JSON when it started. A run this
    process trained (``trained``) is its own; every other key takes the file's newer entry.
    """
    if not path.is_file():
        return
    current = json.loads(path.read_text())
    if (current["seed"], current["minutes"], current.get("ids")) != (
        payload["seed"],
        payload["minutes"],
        payload["ids"],
    ):
        return
    for key, run in current["runs"].items():
        if key not in trained:
            payload["runs"][key] = run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="office")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per variant")
    parser.add_argument("--ids", default="atomic", help="identifier part of the recipe name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=Path("runs/llm_efficiency"))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # times are only comparable at one thread count: each count has its own table (2 threads: no suffix)
    suffix = "" if args.threads == 2 else f"-{args.threads}threads"
    stem = RESULTS / f"llm_efficiency-{args.dataset}-{args.ids}{suffix}"
    payload: dict[str, Any] = {
        "dataset": args.dataset,
        "ids": args.ids,
        "seed": args.seed,
        "minutes": args.minutes,
        "runs": {},
        "command": "python " + " ".join(sys.argv),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads},
    }
    if stem.with_suffix(".json").is_file():
        previous = json.loads(stem.with_suffix(".json").read_text())
        if (previous["seed"], previous["minutes"], previous.get("ids")) == (
            args.seed,
            args.minutes,
            args.ids,
        ):
            payload["runs"] = previous["runs"]
    recipe = _recipe(args.dataset, args.ids)
    trained: set[str] = set()
    for name in args.variants:
        overrides = [
            *VARIANTS[name][1],
            f"training.max_minutes={args.minutes}",
            f"training.num_threads={args.threads}",
            "training.progress=false",
        ]
        sha = config_sha(recipe, overrides)
        kept = payload["runs"].get(name)
        if kept is not None and kept.get("config_sha") == sha:
            print(f"{name}: kept from {stem.with_suffix('.json')}")
            continue
        if kept is not None:  # trained on an older recipe: keep it aside, labelled, and run the variant again
            payload["runs"][f"{name}@{kept.get('config_sha') or 'older'}"] = payload["runs"].pop(name)
        out = args.work_dir / f"{recipe}-{name}-seed{args.seed}"
        metrics = train_command(recipe, out, args.seed, args.data_dir, overrides)
        payload["runs"][name] = {
            "switch": VARIANTS[name][0],
            "config_sha": sha,
            "overrides": overrides,
            "test": metrics["test"],
            "training": metrics["training"],
            "machine": payload["machine"]["platform"],  # runs of one table may come from several sessions
        }
        trained.add(name)
        print(name, json.dumps({k: metrics["test"][k] for k in ("hr@10", "ndcg@10", "validity")}))
        RESULTS.mkdir(parents=True, exist_ok=True)
        merge_concurrent_runs(stem.with_suffix(".json"), payload, trained)
        write_json_atomic(stem.with_suffix(".json"), payload)
        write_text_atomic(stem.with_suffix(".md"), markdown(payload))
    if payload["runs"]:  # also when every run was kept: the table follows the current recipe and layout
        RESULTS.mkdir(parents=True, exist_ok=True)
        write_text_atomic(stem.with_suffix(".md"), markdown(payload))
    print(markdown(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
